"""`scripts/run`'s configuration reaches the pages intact (the default base map URL)."""

from __future__ import annotations

import os
import subprocess

from conftest import ROOT

OSM = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"


def _run_env(extra: dict[str, str]) -> dict[str, str]:
    """Source scripts/run-env.sh in a clean shell and return the variables it exports."""
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"),
           "GEOSIGNAL_SECRET_KEY": "x" * 64, **extra}
    out = subprocess.run(
        ["bash", "-c", ". scripts/run-env.sh && env -0"], cwd=ROOT, env=env,
        capture_output=True, check=True,
    ).stdout.decode()
    return dict(item.split("=", 1) for item in out.split("\0") if "=" in item)


def test_default_tile_url_is_the_whole_template() -> None:
    env = _run_env({})
    assert env["GEOSIGNAL_TILE_URL"] == OSM
    assert env["GEOSIGNAL_TILE_ATTRIBUTION"] == "© OpenStreetMap contributors"


def test_tile_url_set_empty_means_no_base_map_and_a_custom_one_is_kept() -> None:
    assert _run_env({"GEOSIGNAL_TILE_URL": ""})["GEOSIGNAL_TILE_URL"] == ""
    custom = "https://geoservices.wallonie.be/arcgis/rest/services/{z}/{y}/{x}"
    assert _run_env({"GEOSIGNAL_TILE_URL": custom})["GEOSIGNAL_TILE_URL"] == custom


def test_default_tile_url_reaches_the_map_page(app, representative) -> None:  # noqa: ANN001
    url = _run_env({})["GEOSIGNAL_TILE_URL"]
    saved = app.config["TILE_URL"]
    app.config["TILE_URL"] = url
    try:
        representative.login()
        page = representative.client.get("/carte")
    finally:
        app.config["TILE_URL"] = saved
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'"{OSM}"' in html
    # OpenStreetMap first, then the standard Walloon layers (geosignal/services/basemaps.py)
    assert ("img-src 'self' data: https://tile.openstreetmap.org https://geoservices.wallonie.be;"
            in page.headers["Content-Security-Policy"])


def test_a_second_start_installs_nothing_and_takes_seconds() -> None:
    """scripts/test ran the bootstrap already: running it again (what scripts/run does on every
    start) must not call pip or npm, nor need the network."""
    import hashlib
    import time

    import pytest

    wanted = hashlib.sha256((ROOT / "setup.cfg").read_bytes() + (ROOT / "pyproject.toml").read_bytes()).hexdigest()
    stamp = ROOT / ".venv" / ".geosignal-installed"
    if not stamp.is_file() or not stamp.read_text().startswith(wanted):
        pytest.skip("setup.cfg changed since the last bootstrap (scripts/test runs it first)")
    started = time.perf_counter()
    out = subprocess.run(["bash", "scripts/bootstrap.sh"], cwd=ROOT, capture_output=True, text=True,
                         check=True, env={**os.environ, "PIP_NO_INDEX": "1", "npm_config_offline": "true"})
    elapsed = time.perf_counter() - started
    assert out.stdout.strip().endswith("bootstrap done (.venv, node_modules, PostGIS)")
    assert "Successfully installed" not in out.stdout + out.stderr
    assert elapsed < 10, elapsed


def test_the_generated_secret_key_is_readable_by_its_owner_only(tmp_path) -> None:  # noqa: ANN001
    """scripts/run writes instance/secret_key with mode 600, even under a permissive umask."""
    import stat

    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    subprocess.run(["bash", "-c", f"umask 022 && . {ROOT / 'scripts' / 'run-env.sh'}"],
                   cwd=tmp_path, env=env, check=True)
    key = tmp_path / "instance" / "secret_key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(key.read_text().strip()) == 64


def test_the_secret_key_goes_where_the_application_reads_it(tmp_path) -> None:  # noqa: ANN001
    """With GEOSIGNAL_INSTANCE_PATH set, scripts/run writes the key there (it wrote instance/
    whatever the setting), and a command run later with the same setting reads that key."""
    from geosignal.config import load_config

    folder = tmp_path / "elsewhere"
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "GEOSIGNAL_INSTANCE_PATH": str(folder)}
    out = subprocess.run(["bash", "-c", f". {ROOT / 'scripts' / 'run-env.sh'} && printf %s \"$GEOSIGNAL_SECRET_KEY\""],
                         cwd=tmp_path, env=env, check=True, capture_output=True, text=True)
    key = (folder / "secret_key").read_text().strip()
    assert out.stdout == key and len(key) == 64 and not (tmp_path / "instance").exists()
    config = load_config(folder, environ={"GEOSIGNAL_ENV": "production", "GEOSIGNAL_INSTANCE_PATH": str(folder)})
    assert config["SECRET_KEY"] == key


def test_only_an_application_that_answers_requests_makes_the_dummy_password_hash() -> None:
    """The sign-in's dummy password hash (scrypt: 0.1 s of CPU, 32 MB) is made when a WSGI server
    or ``serve``'s web worker builds the application, not for every other command (an export,
    an import), which paid both at start-up."""
    import sys

    script = (
        "import sys\n"
        "from geosignal.models.user import dummy_password_hash as made\n"
        "if sys.argv[1] == 'command':\n"
        "    from geosignal.cli import _create_app; _create_app()\n"
        "elif sys.argv[1] == 'worker':\n"
        "    from geosignal.cli import _create_app; _create_app(serving=True)\n"
        "else:\n"
        "    from geosignal import create_app; create_app()\n"
        "print(made.cache_info().currsize)\n")
    import secrets

    env = {**os.environ, "GEOSIGNAL_SECRET_KEY": secrets.token_hex(32), "GEOSIGNAL_ENV": "production"}
    env.pop("GEOSIGNAL_TESTING", None)
    made = {how: subprocess.run([sys.executable, "-c", script, how], cwd=ROOT, env=env, capture_output=True,
                                text=True, check=True).stdout.strip()
            for how in ("command", "worker", "wsgi")}
    assert made == {"command": "0", "worker": "1", "wsgi": "1"}
