"""The front-end libraries' files and images, served by geosignal from node_modules/: the ones
listed, and nothing else, whatever a URL names (a name longer than the file system allows was a
500 on the images' route)."""

from __future__ import annotations

import pytest

from geosignal.assets import vendor_images


def test_the_libraries_and_their_images_are_served(client) -> None:  # noqa: ANN001
    assert {"marker-icon.png", "marker-shadow.png", "spritesheet.svg"} <= set(vendor_images())
    image = client.get("/vendor/images/marker-icon.png")
    assert (image.status_code, image.mimetype) == (200, "image/png")
    assert image.data[:8] == b"\x89PNG\r\n\x1a\n"
    script = client.get("/vendor/leaflet.js")
    assert script.status_code == 200 and b"Leaflet" in script.data[:2000]


@pytest.mark.parametrize("name", ["a" * 256, "a" * 5000, "..%2Fpackage.json", "%2E%2E%2F%2E%2E%2Fsetup.cfg",
                                  "marker-icon.png%00.js", "leaflet.css"])
def test_any_other_image_name_is_404(client, name: str) -> None:  # noqa: ANN001
    response = client.get(f"/vendor/images/{name}")
    assert response.status_code == 404


@pytest.mark.parametrize("name", ["a" * 256, "package.json", "..%2Fsetup.cfg"])
def test_any_other_library_name_is_404(client, name: str) -> None:  # noqa: ANN001
    assert client.get(f"/vendor/{name}").status_code == 404
