"""Configuration: defaults, then ``instance/config.py``, then ``GEOSIGNAL_*`` environment variables.

Every setting is named ``GEOSIGNAL_<NAME>`` in the environment and ``<NAME>`` in
``app.config``. Values from the environment are parsed by the default's type.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

#: Repository root (the folder holding ``geosignal/``, ``static/`` and ``templates/``).
ROOT = Path(__file__).resolve().parent.parent

#: Default local database, provisioned by ``scripts/provision-db.sh``.
DEFAULT_DATABASE_URL = "postgresql+psycopg://geosignal:geosignal@127.0.0.1:5432/geosignal"

#: Default communes file: the shared reference data beside the repository.
DEFAULT_COMMUNES_FILE = str(ROOT.parent / "shared" / "data" / "communes_charleroi_metropole.geojson")

DEFAULTS: dict[str, Any] = {
    "ENV": "production",
    "DATABASE_URL": DEFAULT_DATABASE_URL,
    "SECRET_KEY": None,
    "COMMUNES_FILE": DEFAULT_COMMUNES_FILE,
    # Base map tiles: a URL template with {z}/{x}/{y}; empty = no base map.
    "TILE_URL": "",
    "TILE_ATTRIBUTION": "",
    # Intake limits.
    "MIN_AREA_M2": 100.0,
    "MAX_AREA_M2": 200e6,
    "MAX_VERTICES": 10_000,
    "MAX_UPLOAD_BYTES": 10 * 1024 * 1024,
    "SERVICE_MARGIN_M": 1000.0,
    # A saved upload larger than this (bytes; ~4,000 CSV rows) is run by a job worker.
    "IMPORT_JOB_MIN_BYTES": 256 * 1024,
    # Pages.
    "CONTENT_SECURITY_POLICY": True,
}


def _coerce(raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    return raw


def load_config(instance_path: str | os.PathLike[str], overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the configuration mapping for one application.

    Order (later wins): :data:`DEFAULTS`, ``<instance_path>/config.py``, ``GEOSIGNAL_*``
    environment variables, then ``overrides`` (tests pass theirs here). Without a
    ``SECRET_KEY`` from those, ``<instance_path>/secret_key`` (written by ``scripts/run``)
    is read.

    Raises ``RuntimeError`` when no ``SECRET_KEY`` is set outside development and testing.
    """
    config: dict[str, Any] = dict(DEFAULTS)
    instance_file = Path(instance_path) / "config.py"
    if instance_file.is_file():
        namespace: dict[str, Any] = {}
        exec(compile(instance_file.read_text(encoding="utf-8"), str(instance_file), "exec"), namespace)
        config.update({k: v for k, v in namespace.items() if k.isupper()})
    for key, value in os.environ.items():
        if key.startswith("GEOSIGNAL_"):
            name = key[len("GEOSIGNAL_"):]
            config[name] = _coerce(value, DEFAULTS.get(name, ""))
    config.update(overrides or {})
    key_file = Path(instance_path) / "secret_key"
    if not config.get("SECRET_KEY") and key_file.is_file():
        config["SECRET_KEY"] = key_file.read_text(encoding="utf-8").strip()
    if not config.get("SECRET_KEY"):
        if config["ENV"] in ("development", "testing") or config.get("TESTING"):
            config["SECRET_KEY"] = "dev-only-not-secret"
        else:
            raise RuntimeError(
                "GEOSIGNAL_SECRET_KEY is required outside development "
                "(set GEOSIGNAL_ENV=development for a local trial)"
            )
    return config
