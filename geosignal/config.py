"""Configuration: defaults, then ``instance/config.py``, then ``GEOSIGNAL_*`` environment variables.

Every setting is declared once in :data:`SETTINGS` (name, type, default, meaning); it is named
``GEOSIGNAL_<NAME>`` in the environment and ``<NAME>`` in ``app.config``. Values from the
environment are parsed by their declared type, strictly: a flag is one of ``1 0 true false
yes no on off`` (any case), an integer or a number must parse whole, a URL must have a scheme
and a host; anything else stops the start with :class:`ConfigError` naming the variable.

Production (``ENV=production``, the default) refuses to start without a secret key of at
least 32 bytes that is not a known development value; the development fallback key exists
only when ``ENV`` is ``development`` or ``testing``.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

#: Repository root (the folder holding ``geosignal/``, ``static/`` and ``templates/``).
ROOT = Path(__file__).resolve().parent.parent


def database_url(user: str, password: str, name: str, host: str = "127.0.0.1", port: int = 5432) -> str:
    """The SQLAlchemy URL (psycopg 3) of database ``name`` on ``host:port`` for role ``user``
    with ``password`` (quoted as a URL needs)."""
    return f"postgresql+psycopg://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}/{quote(name, safe='')}"


#: Default local database, provisioned by ``scripts/provision-db.sh``.
DEFAULT_DATABASE_URL = database_url("geosignal", "geosignal", "geosignal")

#: Default communes file: the shared reference data beside the repository.
DEFAULT_COMMUNES_FILE = str(ROOT.parent / "shared" / "data" / "communes_charleroi_metropole.geojson")

ENVIRONMENTS = ("production", "development", "testing")

#: Secret keys that are never acceptable in production (development and test fallbacks).
DEV_SECRET_KEY = "dev-only-not-secret"
_WEAK_KEYS = {DEV_SECRET_KEY, "test", "secret", "changeme", "dev"}
MIN_SECRET_KEY_BYTES = 32


class ConfigError(RuntimeError):
    """A configuration value that cannot be used; the message names the variable."""


@dataclass(frozen=True)
class Setting:
    """One setting: its type (``bool``, ``int``, ``float``, ``str``, ``url``, ``env``, ``json``),
    default and meaning. ``url`` accepts the empty string (= unset) when ``optional``; ``json``
    is decoded (the empty string = unset, None)."""

    type: str
    default: Any
    doc: str
    optional: bool = True
    #: the smallest and largest values an ``int`` or ``float`` may take (None: no bound)
    low: float | None = None
    high: float | None = None


#: Every setting geosignal reads. A ``GEOSIGNAL_*`` variable not declared here is refused.
SETTINGS: dict[str, Setting] = {
    "ENV": Setting("env", "production", "production, development or testing"),
    "TESTING": Setting("bool", False, "Flask's testing mode (tests only)"),
    "DEBUG": Setting("bool", False, "Flask's debug mode (never in production)"),
    "DATABASE_URL": Setting("str", DEFAULT_DATABASE_URL, "SQLAlchemy URL of the PostGIS database"),
    "SECRET_KEY": Setting("str", None, "session and CSRF signing key, ≥ 32 random bytes in production"),
    "COMMUNES_FILE": Setting("str", DEFAULT_COMMUNES_FILE, "communes loaded by scripts/run"),
    "TILE_URL": Setting("str", "", "base map tiles, a URL template with {z}/{x}/{y}; empty = none"),
    "TILE_ATTRIBUTION": Setting("str", "", "attribution shown for the tiles"),
    "BASEMAPS": Setting("json", None, "base-map layers, a JSON list of {name, type: xyz|wms|wmts, url, "
                        "attribution, …} (geosignal/services/basemaps.py); unset = OpenStreetMap and the "
                        "SPW's PICC and orthophotos when TILE_URL is set, none otherwise; [] = none"),
    "GEOCODER_URL": Setting("url", "https://nominatim.openstreetmap.org/search",
                            "address search, a Nominatim-compatible /search URL proxied by geosignal; empty = off"),
    "GEOCODER_TIMEOUT_S": Setting("float", 5.0, "seconds to wait for the address search service", low=0.1, high=120),
    "MIN_AREA_M2": Setting("float", 100.0, "smallest zone (m², EPSG:31370)", low=0),
    "MAX_AREA_M2": Setting("float", 200e6, "largest zone (m², EPSG:31370)", low=1),
    "MAX_VERTICES": Setting("int", 10_000, "vertices per geometry", low=4),
    "MAX_UPLOAD_BYTES": Setting("int", 10 * 1024 * 1024, "largest upload or body (bytes)", low=1024),
    "MAX_UPLOAD_FEATURES": Setting("int", 200_000, "features (rows, placemarks, records) one upload may hold", low=1),
    "MAX_UPLOAD_KML_FEATURES": Setting("int", 50_000, "placemarks one KML or KMZ upload may hold (GDAL reads a KML whole into memory)", low=1),
    "MAX_UPLOAD_VERTICES": Setting("int", 1_000_000, "vertices (positions) the geometries of one upload may hold in all", low=1),
    "SERVICE_MARGIN_M": Setting("float", 1000.0, "margin around the communes (m, EPSG:31370)", low=0),
    "CONTENT_SECURITY_POLICY": Setting("bool", True, "send the strict Content-Security-Policy"),
    "PUBLIC_BASE_URL": Setting("url", "", "public address (https://…) for absolute links; HSTS when https"),
    "SESSION_COOKIE_SECURE": Setting("bool", False, "send the session cookie over HTTPS only (on when PUBLIC_BASE_URL is https)"),
    "SMTP_HOST": Setting("str", "", "SMTP server for e-mails (invitations, resets, notifications); empty = none sent"),
    "SMTP_PORT": Setting("int", 25, "its port", low=1, high=65535),
    "SMTP_USER": Setting("str", "", "SMTP login (empty = none)"),
    "SMTP_PASSWORD": Setting("str", "", "SMTP password"),
    "SMTP_STARTTLS": Setting("bool", False, "upgrade the SMTP connection with STARTTLS"),
    "MAIL_FROM": Setting("str", "geosignal <noreply@geosignal.local>", "sender of geosignal's e-mails"),
    "TRUSTED_PROXIES": Setting("int", 0, "reverse proxies in front of geosignal whose X-Forwarded-For and "
                               "X-Forwarded-Proto are trusted (werkzeug's ProxyFix); 0 = none: the client address "
                               "is the TCP peer (behind a proxy, every user shares the proxy's address and its "
                               "sign-in limit)", low=0, high=10),
    "WRITE_RATE_LIMIT": Setting("ratelimit", "300 per minute", "writes allowed per user, API and page forms alike (Flask-Limiter notation); 429 beyond"),
    "EXPORT_COPY_RETENTION_DAYS": Setting("int", 730, "days the bytes of a recorded export are kept (geosignal purge)", low=1),
    "PHOTO_RETENTION_DAYS": Setting("int", 365, "days a closed report keeps its evidence photos (geosignal purge)", low=1),
    "INSTANCE_PATH": Setting("str", "", "instance folder (config.py, secret_key)"),
    "PORT": Setting("int", 5000, "port geosignal serve listens on (scripts/run too) unless --port is given",
                    low=1, high=65535),
    "SERVICE_ROLE": Setting("str", "", "geosignal init-db: the PostgreSQL role the service is served with when it is "
                            "not the owner, granted what serving needs (the audit journal read and appended "
                            "to only); empty = served as the owner"),
    "TEST_ADMIN_URL": Setting("str", "", "tests: database for CREATE DATABASE … TEMPLATE"),
    "TEST_SERVICE_ROLE": Setting("str", "", "tests: run the suite's application as this role (password: its name), "
                                 "granted as GEOSIGNAL_SERVICE_ROLE is; empty = as the owner"),
    "TEST_TEMPLATE": Setting("str", "geosignal_template", "tests: template database"),
    "DB_USER": Setting("str", "geosignal", "scripts/provision-db.sh: role to create"),
    "DB_PASSWORD": Setting("str", "geosignal", "scripts/provision-db.sh: its password"),
    "DB_NAME": Setting("str", "geosignal", "scripts/provision-db.sh: database to create"),
    "ZONE_DISTANCE_M": Setting("float", 100.0, "points and lines within this distance (m, EPSG:31370) of another report "
                               "of the same network are proposed as one zone; applied by geosignal init-db",
                               low=0),
    "LOCK_TIMEOUT_S": Setting("float", 20.0, "seconds a web request waits for a lock (behind a large import of its "
                              "network) before 503 busy; below the web worker's timeout (geosignal serve "
                              "--timeout, 30)", low=1, high=600),
    "IMPORT_JOB_MIN_BYTES": Setting("int", 256 * 1024, "a saved upload larger than this (bytes; ~4,000 CSV rows; an archive: what its members inflate to) runs as a job", low=0),
}

#: The defaults alone, as a mapping (kept for callers that read them).
DEFAULTS: dict[str, Any] = {name: s.default for name, s in SETTINGS.items()}

#: A setting's integer and number, as every number geosignal reads: ASCII digits, an optional
#: sign, a decimal point and an exponent for numbers; no digit grouping, no other digits.
_INTEGER = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def parse_value(name: str, raw: str) -> Any:
    """Return the environment value ``raw`` of setting ``name`` parsed to its declared type.

    Raises :class:`ConfigError` naming ``GEOSIGNAL_<name>`` when the value does not parse or
    the name is not a declared setting.
    """
    setting = SETTINGS.get(name)
    var = f"GEOSIGNAL_{name}"
    if setting is None:
        raise ConfigError(f"{var} is not a geosignal setting (known: {', '.join(sorted(SETTINGS))})")
    text = raw.strip()
    if setting.type == "bool":
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ConfigError(f"{var} must be one of 1/0, true/false, yes/no, on/off, not {raw!r}")
    if setting.type == "int":
        if not _INTEGER.fullmatch(text):  # (Python's int() reads 5_000 and ٥٠٠٠ too)
            raise ConfigError(f"{var} must be an integer, not {raw!r}")
        return _in_range(var, setting, int(text))
    if setting.type == "float":
        try:
            value = float(text)
        except ValueError:
            raise ConfigError(f"{var} must be a number, not {raw!r}") from None
        if value == value and value not in (float("inf"), float("-inf")) and not _NUMBER.fullmatch(text):
            raise ConfigError(f"{var} must be a number, not {raw!r}")  # (float() reads 1_000 and ١٠ too)
        if value != value or value in (float("inf"), float("-inf")):
            raise ConfigError(f"{var} must be a finite number, not {raw!r}")
        return _in_range(var, setting, value)
    if setting.type == "ratelimit":
        return _rate_limit(var, text)
    if setting.type == "env":
        if text not in ENVIRONMENTS:
            raise ConfigError(f"{var} must be one of {', '.join(ENVIRONMENTS)}, not {raw!r}")
        return text
    if setting.type == "json":
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"{var} must be JSON ({exc}), not {raw!r}") from None
    if setting.type == "url":
        if not text and setting.optional:
            return ""
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"{var} must be an http(s) URL with a host, not {raw!r}")
        return text
    return raw


def _in_range(var: str, setting: Setting, value: float) -> Any:
    """``value`` when within the setting's bounds, else :class:`ConfigError` naming ``var``."""
    if (setting.low is not None and value < setting.low) or (setting.high is not None and value > setting.high):
        bounds = (f"from {setting.low:g} to {setting.high:g}" if setting.low is not None and setting.high is not None
                  else f"at least {setting.low:g}" if setting.low is not None else f"at most {setting.high:g}")
        raise ConfigError(f"{var} must be {bounds}, not {value!r}")
    return value


def _rate_limit(var: str, text: str) -> str:
    """A rate limit in Flask-Limiter's notation (``300 per minute``, ``10/second``), checked
    as the limiter will read it; else :class:`ConfigError` naming ``var``."""
    from limits import parse_many

    try:
        items = parse_many(text)
        if not items:
            raise ValueError(text)
    except ValueError:
        raise ConfigError(f"{var} must be a rate limit such as '300 per minute', not {text!r}") from None
    if any(item.amount < 1 for item in items):  # 0 per minute refused every write to everybody
        raise ConfigError(f"{var} must allow at least 1 request in each of its periods, not {text!r}")
    return text


def _checked(name: str, value: Any, source: str) -> Any:
    """A value of setting ``name`` given by ``instance/config.py`` (``source``) checked as the
    environment's are: text is parsed by the setting's type, a Python value of the right type
    is bounds-checked; anything else is :class:`ConfigError` naming the file and the name."""
    setting = SETTINGS[name]
    where = f"{name} in {source}"
    if isinstance(value, str) and setting.type != "str":
        try:
            return parse_value(name, value)
        except ConfigError as exc:
            raise ConfigError(str(exc).replace(f"GEOSIGNAL_{name}", where, 1)) from None
    if setting.type == "bool" and isinstance(value, bool):
        return value
    if setting.type == "int" and isinstance(value, int) and not isinstance(value, bool):
        return _in_range(where, setting, value)
    if setting.type == "float" and isinstance(value, int | float) and not isinstance(value, bool):
        return _in_range(where, setting, float(value))
    if setting.type == "str" and isinstance(value, str):  # (text of the other types was parsed above)
        return value
    if setting.type == "json" and (value is None or isinstance(value, list | dict)):
        return value
    if value is None and setting.default is None:
        return value
    raise ConfigError(f"{where} must be of type {setting.type}, not {type(value).__name__} {value!r}")


def check_secret_key(key: Any, env: str) -> None:
    """Refuse a secret key unfit for ``env``: in production, missing; in production and in
    development (``scripts/run``'s mode: a key given there signs real sessions too), shorter
    than :data:`MIN_SECRET_KEY_BYTES` bytes (UTF-8), a known development value, made of fewer
    than 8 distinct characters, or a block repeated (``0123456789abcdef`` twice). Development
    without a key uses :data:`DEV_SECRET_KEY`; ``testing`` takes any. Raises
    :class:`ConfigError`."""
    if env == "testing" or (env == "development" and key == DEV_SECRET_KEY):
        return
    if not key:
        raise ConfigError("GEOSIGNAL_SECRET_KEY is required in production "
                          "(set GEOSIGNAL_ENV=development for a local trial); generate one with "
                          "python3 -c 'import secrets; print(secrets.token_hex(32))'")
    raw = key if isinstance(key, bytes) else str(key).encode()
    if len(raw) < MIN_SECRET_KEY_BYTES or raw.decode(errors="replace") in _WEAK_KEYS \
            or len(set(raw)) < 8 or _repeated_block(raw):
        raise ConfigError(f"GEOSIGNAL_SECRET_KEY must be at least {MIN_SECRET_KEY_BYTES} random bytes "
                          f"in {env} (e.g. python3 -c 'import secrets; print(secrets.token_hex(32))')")


def _repeated_block(raw: bytes) -> bool:
    """Whether ``raw`` is one block written over and over (``abcabcabc…``, a pasted example
    doubled), which a random key never is."""
    return any(raw == (raw[:p] * (len(raw) // p + 1))[:len(raw)] for p in range(1, len(raw) // 2 + 1))


def _owner_only(path: Path) -> None:
    """Make the secret key file readable by its owner only (mode 600) when it is not already:
    keys written before ``scripts/run`` created it with mode 600 were world-readable. A file
    owned by someone else (a read-only deployment) is left as it is."""
    try:
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)
    except OSError:
        pass


def load_config(instance_path: str | os.PathLike[str], overrides: dict[str, Any] | None = None,
                environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Return the configuration mapping for one application.

    Order (later wins): the declared defaults (:data:`SETTINGS`), ``<instance_path>/config.py``,
    ``GEOSIGNAL_*`` environment variables (``environ``, default ``os.environ``) parsed by type,
    then ``overrides`` (tests pass theirs here). Without a ``SECRET_KEY`` from those,
    ``<instance_path>/secret_key`` (written by ``scripts/run``) is read.

    Raises :class:`ConfigError` for a value that does not parse, an unknown ``ENV``, or an
    unfit secret key in production (see :func:`check_secret_key`). The development fallback
    key is used only when ``ENV`` is ``development`` or ``testing``.
    """
    config: dict[str, Any] = dict(DEFAULTS)
    given: set[str] = set()  # the settings an instance file, the environment or the caller gave
    instance_file = Path(instance_path) / "config.py"
    if instance_file.is_file():
        namespace: dict[str, Any] = {}
        exec(compile(instance_file.read_text(encoding="utf-8"), str(instance_file), "exec"), namespace)
        for name, value in namespace.items():
            if not name.isupper():
                continue
            if name in SETTINGS:
                value = _checked(name, value, str(instance_file))
            else:  # Flask's own settings pass; a near miss of one of geosignal's is a typo
                near = difflib.get_close_matches(name, SETTINGS, n=1, cutoff=0.85)
                if near:
                    raise ConfigError(f"{name} in {instance_file} is not a geosignal setting: {near[0]}?")
            config[name] = value
            given.add(name)
    env = os.environ if environ is None else environ
    for key, value in env.items():
        if key.startswith("GEOSIGNAL_"):
            config[key[len("GEOSIGNAL_"):]] = parse_value(key[len("GEOSIGNAL_"):], value)
            given.add(key[len("GEOSIGNAL_"):])
    config.update(overrides or {})
    given.update(overrides or {})
    if "DATABASE_URL" not in given and given & {"DB_NAME", "DB_USER", "DB_PASSWORD"}:
        # the database scripts/provision-db.sh made under those names (as scripts/db-env.sh
        # points the scripts at it), not the default one: a command run beside
        # GEOSIGNAL_DB_NAME=x would otherwise read and write the database "geosignal"
        config["DATABASE_URL"] = database_url(config["DB_USER"], config["DB_PASSWORD"], config["DB_NAME"])
    if config["ENV"] not in ENVIRONMENTS:
        raise ConfigError(f"ENV must be one of {', '.join(ENVIRONMENTS)}, not {config['ENV']!r}")
    key_file = Path(instance_path) / "secret_key"
    if not config.get("SECRET_KEY") and key_file.is_file():
        _owner_only(key_file)
        config["SECRET_KEY"] = key_file.read_text(encoding="utf-8").strip()
    if not config.get("SECRET_KEY") and config["ENV"] in ("development", "testing"):
        config["SECRET_KEY"] = DEV_SECRET_KEY
    check_secret_key(config.get("SECRET_KEY"), config["ENV"])
    if config["ENV"] == "production" and config.get("DEBUG"):
        raise ConfigError("GEOSIGNAL_DEBUG must be off in production")
    if config["MIN_AREA_M2"] >= config["MAX_AREA_M2"]:
        raise ConfigError(f"GEOSIGNAL_MIN_AREA_M2 ({config['MIN_AREA_M2']:g}) must be below GEOSIGNAL_MAX_AREA_M2 "
                          f"({config['MAX_AREA_M2']:g})")
    from geosignal.services import basemaps  # import-light; checks the layers once, at start

    try:
        basemaps.layers_from_config(config)
    except ValueError as exc:
        raise ConfigError(f"GEOSIGNAL_{exc}") from None
    return config
