"""Coordinate reference systems and planar measures.

Geometries are stored in WGS84 (EPSG:4326, ``[lon, lat]``); areas and lengths are computed
in Belgian Lambert 72 (EPSG:31370), never in degrees. CRS objects are built from EPSG codes
only (a hand-written proj string for Lambert 72 can be ~66 m off).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import shapely
from pyproj import Transformer
from shapely.geometry.base import BaseGeometry

WGS84 = 4326
LAMBERT72 = 31370
LAMBERT2008 = 3812


@lru_cache(maxsize=16)
def transformer(source_epsg: int, target_epsg: int) -> Transformer:
    """Return a cached pyproj transformer between two EPSG codes (``always_xy``: x=lon/east)."""
    return Transformer.from_crs(f"EPSG:{source_epsg}", f"EPSG:{target_epsg}", always_xy=True)


def reproject(geom: BaseGeometry, source_epsg: int, target_epsg: int) -> BaseGeometry:
    """Return ``geom`` reprojected from one EPSG code to another (2D)."""
    if source_epsg == target_epsg:
        return geom
    t = transformer(source_epsg, target_epsg)
    return shapely.transform(geom, lambda xy: _stack(t.transform(xy[:, 0], xy[:, 1])))


def _stack(xy: tuple) -> object:
    import numpy as np

    return np.column_stack(xy)


def to_lambert72(geom_4326: BaseGeometry) -> BaseGeometry:
    """Return a EPSG:4326 geometry in EPSG:31370 (metres)."""
    return reproject(geom_4326, WGS84, LAMBERT72)


def area_m2(geom_4326: BaseGeometry) -> float:
    """Return the planar area of a EPSG:4326 geometry in m², computed in EPSG:31370."""
    return float(to_lambert72(geom_4326).area)


def length_m(geom_4326: BaseGeometry) -> float:
    """Return the planar length of a EPSG:4326 geometry in m, computed in EPSG:31370."""
    return float(to_lambert72(geom_4326).length)


def rfc7946_oriented(geometry_column: Any) -> Any:
    """Return a SQL expression orienting zones as RFC 7946 wants (exteriors counter-clockwise,
    holes clockwise) and leaving points and lines alone (PostGIS 3.3's ST_ForcePolygonCCW
    reverses lines)."""
    from sqlalchemy import case, func

    return case(
        (func.ST_Dimension(geometry_column) == 2, func.ST_ForcePolygonCCW(geometry_column)),
        else_=geometry_column,
    )
