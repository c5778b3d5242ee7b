"""Front-end libraries served by geosignal itself, and folium pointed at them.

Leaflet and its plugins are installed from the npm registry into ``node_modules/`` (see
``package.json``); nothing is loaded from a CDN, so pages work on an intranet and under a
strict Content-Security-Policy. Only the files listed in :data:`VENDOR_FILES` are served.
"""

from __future__ import annotations

import functools
from pathlib import Path

from flask import Blueprint, Flask, abort, send_from_directory, url_for

from geosignal.config import ROOT

NODE_MODULES = ROOT / "node_modules"

#: URL name → file under node_modules/ (directories allowed for images).
VENDOR_FILES: dict[str, str] = {
    "leaflet.js": "leaflet/dist/leaflet.js",
    "leaflet.css": "leaflet/dist/leaflet.css",
    "leaflet.draw.js": "leaflet-draw/dist/leaflet.draw.js",
    "leaflet.draw.css": "leaflet-draw/dist/leaflet.draw.css",
    "leaflet-heat.js": "leaflet.heat/dist/leaflet-heat.js",
    "leaflet.markercluster.js": "leaflet.markercluster/dist/leaflet.markercluster.js",
    "MarkerCluster.css": "leaflet.markercluster/dist/MarkerCluster.css",
    "MarkerCluster.Default.css": "leaflet.markercluster/dist/MarkerCluster.Default.css",
    "proj4.js": "proj4/dist/proj4.js",
}
#: Image folders the CSS files refer to (relative ``images/…`` URLs).
IMAGE_DIRS = {"images": ("leaflet/dist/images", "leaflet-draw/dist/images")}

bp = Blueprint("vendor", __name__, url_prefix="/vendor")


@bp.get("/<name>")
def vendor_file(name: str):  # noqa: ANN201
    """Serve one allow-listed front-end library file from node_modules/."""
    rel = VENDOR_FILES.get(name)
    if rel is None:
        abort(404)
    path = NODE_MODULES / rel
    return send_from_directory(path.parent, path.name, max_age=86400)


@functools.cache
def vendor_images() -> dict[str, Path]:
    """Image name → its folder, for every file of :data:`IMAGE_DIRS` (the first folder holding
    a name wins), listed once: the images served are these, whatever a URL asks for."""
    images: dict[str, Path] = {}
    for folder in IMAGE_DIRS["images"]:
        directory = NODE_MODULES / folder
        if directory.is_dir():
            for path in sorted(directory.iterdir()):
                if path.is_file():
                    images.setdefault(path.name, directory)
    return images


@bp.get("/images/<name>")
def vendor_image(name: str):  # noqa: ANN201
    """Serve Leaflet's and Leaflet.draw's marker and toolbar images (:func:`vendor_images`;
    any other name, however long, is 404: a name longer than the file system allows was a 500)."""
    folder = vendor_images().get(name)
    if folder is None:
        abort(404)
    return send_from_directory(folder, name, max_age=86400)


def point_folium_at_local_assets() -> None:
    """Replace folium's CDN URLs with geosignal's own ``/vendor`` URLs (needs an app context).

    folium's Map also loads jQuery, Bootstrap and Font Awesome by default; geosignal's maps
    need none of them, so they are dropped.
    """
    import folium
    import folium.plugins

    folium.Map.default_js = [("leaflet", url_for("vendor.vendor_file", name="leaflet.js"))]
    folium.Map.default_css = [("leaflet_css", url_for("vendor.vendor_file", name="leaflet.css"))]
    folium.plugins.Draw.default_js = [("leaflet_draw_js", url_for("vendor.vendor_file", name="leaflet.draw.js"))]
    folium.plugins.Draw.default_css = [("leaflet_draw_css", url_for("vendor.vendor_file", name="leaflet.draw.css"))]
    folium.plugins.HeatMap.default_js = [("leaflet-heat.js", url_for("vendor.vendor_file", name="leaflet-heat.js"))]
    folium.plugins.MarkerCluster.default_js = [
        ("markerclusterjs", url_for("vendor.vendor_file", name="leaflet.markercluster.js"))
    ]
    folium.plugins.MarkerCluster.default_css = [
        ("markerclustercss", url_for("vendor.vendor_file", name="MarkerCluster.css")),
        ("markerclusterdefaultcss", url_for("vendor.vendor_file", name="MarkerCluster.Default.css")),
    ]


def installed() -> bool:
    """Whether the front-end libraries are installed (``npm ci`` has run)."""
    return all((NODE_MODULES / rel).is_file() for rel in VENDOR_FILES.values())


def require_installed() -> None:
    """Raise ``RuntimeError`` unless the front-end libraries are installed (pages need them:
    ``geosignal serve`` checks; commands that serve no page do not)."""
    if not installed():
        raise RuntimeError(f"front-end libraries missing in {NODE_MODULES}: run `npm ci` (scripts/bootstrap.sh)")


def init_app(app: Flask) -> None:
    """Register the vendor blueprint (``/vendor``)."""
    app.register_blueprint(bp)
