"""The territory served (the loaded communes) as an intake :class:`ServiceArea`, cached."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

import shapely
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from geosignal.errors import GeosignalError
from geosignal.models import Commune
from geosignal.services.intake import Limits, ServiceArea


def service_area(session: Session, cache: MutableMapping[str, Any], margin_m: float = 1000.0) -> ServiceArea:
    """Return the :class:`ServiceArea` of the loaded communes, rebuilt only when they change.

    ``cache`` is a per-application dict (or a worker's). A change is any commune row written
    since: its ``xmin`` (the transaction that wrote it) changes, and so does the sum of the
    rows' — a border moved between two communes leaves their number, their total area and
    their codes as they were, and the area built before kept placing reports by the old
    border. One aggregate over the communes per call. Raises ``outside_service_area`` (422)
    when no commune is loaded (nothing can be inside an empty territory).
    """
    count, key = _key(session, margin_m)
    if count == 0:
        raise GeosignalError("outside_service_area", "no commune is loaded: run `geosignal load-communes`")
    if cache.get("key") != key:
        rows = session.execute(
            select(Commune.nis_code, Commune.name_fr, func.ST_AsBinary(Commune.boundary))
        ).all()
        cache["area"] = ServiceArea(
            ((nis, name, shapely.from_wkb(bytes(wkb))) for nis, name, wkb in rows), margin_m=margin_m
        )
        cache["area"].key = key
        cache["key"] = key
    return cache["area"]


def _key(session: Session, margin_m: float) -> tuple[int, tuple[int, int, float]]:
    """The number of communes and what identifies their state (number, sum of the rows'
    ``xmin``, margin)."""
    count, written = session.execute(
        select(func.count(), func.coalesce(func.sum(text("xmin::text::bigint")), 0)).select_from(Commune)
    ).one()
    return count, (count, int(written), margin_m)


def is_current(session: Session, area: ServiceArea) -> bool:
    """Whether ``area`` (from :func:`service_area`) is built from the communes as they are now:
    False when a load of communes committed since. An area built otherwise (by hand, from
    given communes) is taken as it is."""
    key = getattr(area, "key", None)
    return key is None or key == _key(session, area.margin_m)[1]


def limits_from_config(config: Mapping[str, Any]) -> Limits:
    """Return the intake :class:`Limits` from an application's configuration."""
    return Limits(
        min_area_m2=float(config["MIN_AREA_M2"]),
        max_area_m2=float(config["MAX_AREA_M2"]),
        max_vertices=int(config["MAX_VERTICES"]),
        max_upload_bytes=int(config["MAX_UPLOAD_BYTES"]),
        service_margin_m=float(config["SERVICE_MARGIN_M"]),
        max_upload_features=int(config["MAX_UPLOAD_FEATURES"]),
        max_upload_vertices=int(config["MAX_UPLOAD_VERTICES"]),
        max_kml_features=int(config["MAX_UPLOAD_KML_FEATURES"]),
    )
