"""Readiness checks: what must hold before the service takes requests.

Flask-free: :func:`readiness` takes a session and returns plain data.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from geosignal.geo import LAMBERT72, WGS84, transformer

#: Charleroi's centre (lon, lat, EPSG:4326) and its EPSG:31370 coordinates (m); pyproj and
#: PostGIS must both land within :data:`AGREEMENT_M` of them.
CHARLEROI_CENTRE = (4.4440, 50.4108)
CHARLEROI_LAMBERT72 = (155348.97, 122214.95)
AGREEMENT_M = 1.0


def migration_head() -> str | None:
    """Return the newest alembic revision of ``migrations/`` (read from the scripts' headers,
    without running them)."""
    from alembic.script import ScriptDirectory

    from geosignal.migrate import alembic_config

    return ScriptDirectory.from_config(alembic_config("")).get_current_head()


def readiness(session: Session, *, front_end: bool = True) -> dict[str, Any]:
    """Check PostGIS, the CRS transforms, the schema version and (``front_end``: whether the
    front-end libraries are installed, as the caller found) the pages' assets.

    Returns ``{"ready": bool, "checks": {"database": {...}, "crs": {...}, "migrations": {...},
    "front_end": {...}}}``
    where each check has ``ok`` and what was found: PostGIS's version; the EPSG:31370 position
    of Charleroi's centre from PostGIS and from pyproj and their distances (m) to the reference
    (each must be ≤ 1 m); the database's alembic revision and the code's head.
    Database errors propagate (the caller answers 503).
    """
    lon, lat = CHARLEROI_CENTRE
    row = session.execute(text(
        "SELECT postgis_lib_version() AS postgis, "
        "ST_X(ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), :wgs), :lam)) AS x, "
        "ST_Y(ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), :wgs), :lam)) AS y"),
        {"lon": lon, "lat": lat, "wgs": WGS84, "lam": LAMBERT72}).one()
    px, py = transformer(WGS84, LAMBERT72).transform(lon, lat)
    rx, ry = CHARLEROI_LAMBERT72
    d_postgis = ((row.x - rx) ** 2 + (row.y - ry) ** 2) ** 0.5
    d_pyproj = ((px - rx) ** 2 + (py - ry) ** 2) ** 0.5
    from geosignal.migrate import revision_of

    current = revision_of(session.connection())
    head = migration_head()
    checks = {
        "database": {"ok": True, "postgis": row.postgis},
        "crs": {"ok": d_postgis <= AGREEMENT_M and d_pyproj <= AGREEMENT_M,
                "postgis_m": round(d_postgis, 3), "pyproj_m": round(d_pyproj, 3)},
        "migrations": {"ok": current == head, "database": current, "head": head},
        "front_end": {"ok": front_end},
    }
    return {"ready": all(c["ok"] for c in checks.values()), "checks": checks}


def public_readiness(report: dict[str, Any]) -> dict[str, Any]:
    """Return what anyone may read of a :func:`readiness` report: ``{"status": "ready" |
    "not_ready", "ready": bool}`` — no versions, revisions nor distances (they tell an attacker
    which PostGIS and which schema run)."""
    return {"status": "ready" if report["ready"] else "not_ready", "ready": report["ready"]}
