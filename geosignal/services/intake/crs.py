"""Coordinate reference systems accepted by intake, and cached pyproj transformers.

Only three CRSs are accepted for report geometries, always identified by EPSG code and
built by pyproj from that code (never from a hand-written proj string, which can be tens of
metres off for Lambert 72):

* EPSG:4326 — WGS 84 longitude/latitude (RFC 7946 order, ``[lon, lat]``); the default;
* EPSG:31370 — Belgian Lambert 72 (metres), also used for every area and length;
* EPSG:3812 — Belgian Lambert 2008 (metres).

A 3D or compound CRS whose horizontal part is one of these is read as that part (heights
are dropped with the ``z_dropped`` warning, as for any Z): EPSG:4979 (WGS 84 3D, also what
GDAL writes in the ``.prj`` of a Shapefile with Z), EPSG:6190 (Lambert 72 + Ostend height),
EPSG:8370 (Lambert 2008 + Ostend height), EPSG:4326+5710…
"""

from __future__ import annotations

import re
from typing import Any

from geosignal.errors import GeosignalError
from geosignal.geo import LAMBERT72, LAMBERT2008, WGS84, transform_xy, transformer
from geosignal.geo import reproject as transform_geom

__all__ = ["ACCEPTED_EPSG", "MEASURE_EPSG", "horizontal_epsg", "parse_crs", "transform_geom", "transform_xy", "transformer"]

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
    if code is not None and code not in ACCEPTED_EPSG:
        code = horizontal_epsg(f"EPSG:{code}")
    if code not in ACCEPTED_EPSG:
        raise GeosignalError(
            "unsupported_crs",
            f"CRS {value!r} is not accepted; use EPSG:4326 (default), EPSG:31370 or EPSG:3812.",
            where=where,
            accepted=[f"EPSG:{c}" for c in ACCEPTED_EPSG],
        )
    return code


def horizontal_epsg(crs_text: Any) -> int | None:
    """Return the EPSG code of ``crs_text`` (anything :meth:`pyproj.CRS.from_user_input`
    reads: ``"EPSG:6190"``, WKT, PROJJSON) when it is accepted, else of its horizontal part
    when that is accepted — the first member of a compound CRS (EPSG:6190 → 31370), the 2D
    form of a 3D geographic CRS (EPSG:4979 → 4326) — else the CRS's own code, or None when
    pyproj cannot read or identify it. Codes are matched at 70 % confidence (GDAL's names
    differ), then by equivalence (axis order aside: files are longitude first)."""
    from pyproj import CRS

    try:
        crs = CRS.from_user_input(crs_text)
        code = crs.to_epsg(min_confidence=70)
        if code in ACCEPTED_EPSG:
            return code
        horizontal = crs.sub_crs_list[0] if crs.is_compound else crs
        if len(horizontal.axis_info) == 3:
            code_3d = horizontal.to_epsg(min_confidence=70)
            horizontal = (CRS.from_epsg(code_3d) if code_3d else horizontal).to_2d()
        found = horizontal.to_epsg(min_confidence=70)
        if found not in ACCEPTED_EPSG:  # (GDAL's WKT2 of an ESRI "WGS_1984_3D" has no code)
            found = next((c for c in ACCEPTED_EPSG
                          if horizontal.equals(CRS.from_epsg(c), ignore_axis_order=True)), None)
    except Exception:  # noqa: BLE001 - unreadable or without a 2D form: not identified
        return None
    return found or code
