"""Coordinate reference systems accepted by intake, and cached pyproj transformers.

Only three CRSs are accepted for report geometries, always identified by EPSG code and
built by pyproj from that code (never from a hand-written proj string, which can be tens of
metres off for Lambert 72):

* EPSG:4326 — WGS 84 longitude/latitude (RFC 7946 order, ``[lon, lat]``); the default;
* EPSG:31370 — Belgian Lambert 72 (metres), also used for every area and length;
* EPSG:3812 — Belgian Lambert 2008 (metres).
"""

from __future__ import annotations

import re
from typing import Any

from geosignal.errors import GeosignalError
from geosignal.geo import LAMBERT72, LAMBERT2008, WGS84, transform_xy, transformer
from geosignal.geo import reproject as transform_geom

__all__ = ["ACCEPTED_EPSG", "MEASURE_EPSG", "parse_crs", "transform_geom", "transform_xy", "transformer"]

#: EPSG codes accepted for input geometries.
ACCEPTED_EPSG: tuple[int, ...] = (WGS84, LAMBERT72, LAMBERT2008)
#: The CRS in which areas and lengths are computed (planar metres).
MEASURE_EPSG = LAMBERT72

#: The EPSG code is written in ASCII digits (``int()`` would also read ``EPSG:٣١٣٧٠``).
_CRS_PATTERNS = (
    re.compile(r"^(?:epsg:)?([0-9]{4,5})$", re.I),
    re.compile(r"^urn:ogc:def:crs:epsg:[0-9.]*:([0-9]{4,5})$", re.I),
    re.compile(r"^https?://www\.opengis\.net/def/crs/epsg/[0-9.]+/([0-9]{4,5})$", re.I),
)
_CRS84 = re.compile(r"^(?:urn:ogc:def:crs:ogc:1\.3:crs84|https?://www\.opengis\.net/def/crs/ogc/1\.3/crs84|ogc:crs84|crs84)$", re.I)


def parse_crs(value: Any, *, where: str | None = None) -> int:
    """Return the EPSG code of an accepted CRS name.

    ``value`` may be ``"EPSG:31370"``, ``"31370"``, ``31370``, ``"urn:ogc:def:crs:EPSG::31370"``,
    the OGC http URI form, or CRS84 (treated as EPSG:4326, same axis order as GeoJSON).

    Raises ``GeosignalError("unsupported_crs")`` (422) for anything else.
    """
    if isinstance(value, bool):
        code = None
    elif isinstance(value, int):
        code = value
    elif isinstance(value, str):
        text = value.strip()
        code = None
        if _CRS84.match(text):
            code = WGS84
        for pattern in _CRS_PATTERNS:
            m = pattern.match(text)
            if m:
                code = int(m.group(1))
                break
    else:
        code = None
    if code not in ACCEPTED_EPSG:
        raise GeosignalError(
            "unsupported_crs",
            f"CRS {value!r} is not accepted; use EPSG:4326 (default), EPSG:31370 or EPSG:3812.",
            where=where,
            accepted=[f"EPSG:{c}" for c in ACCEPTED_EPSG],
        )
    return code
