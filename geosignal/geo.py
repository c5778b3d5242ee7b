"""Coordinate reference systems and planar measures.

Geometries are stored in WGS84 (EPSG:4326, ``[lon, lat]``); areas and lengths are computed
in Belgian Lambert 72 (EPSG:31370), never in degrees. CRS objects are built from EPSG codes
only (a hand-written proj string for Lambert 72 can be ~66 m off).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry.base import BaseGeometry

from geosignal.vocab import LAMBERT72, LAMBERT2008, WGS84

__all__ = ["BORDER_TOLERANCE_DEG", "LAMBERT2008", "LINE_GRID_M", "LINE_REACH_DEG", "LINE_REACH_M", "LAMBERT72", "WGS84", "area_m2", "length_m", "reproject", "rfc7946_oriented",
           "to_lambert72", "transform_xy", "transformer"]

#: How far (degrees, EPSG:4326) a point may lie from a commune and still be on its boundary:
#: 1e-8°, about 1 mm (0.7 mm east–west, 1.1 mm north–south in Belgium). A point written on a
#: shared border is never exactly on it in binary floating point (the decimal midpoint of a
#: Charleroi/Châtelet edge is 1.8e-15° from Charleroi); a point within this distance of several
#: communes is on their shared border and goes to the smallest NIS code. Measured in EPSG:4326,
#: where the stored boundaries' edges are straight (projected to EPSG:31370, the midpoint of a
#: 600 m edge lies 9 mm from the projected edge); ten times the API's coordinate resolution
#: (9 decimals), so a point read back and sent again stays on the border.
BORDER_TOLERANCE_DEG = 1e-8

#: Grid (m, EPSG:31370) each line is put on before it is cut and unioned, so that near-identical
#: stretches merge; a stretch within it of a commune's border is on that border (the figures
#: count it, and the home-commune rule measures it, in the commune with the smaller NIS code).
LINE_GRID_M = 0.01
#: How far (m, EPSG:31370) a line may lie from a commune (or a stored cell) and still be its,
#: in part: within :data:`LINE_GRID_M` once on that grid, which moves a vertex by up to 0.71 cm.
LINE_REACH_M = 2 * LINE_GRID_M
#: :data:`LINE_REACH_M` in degrees (EPSG:4326), rounded up in every direction in Belgium
#: (2 cm: 2.8e-7° of longitude, 1.8e-7° of latitude): the communes a line may count in.
LINE_REACH_DEG = 3e-7


@lru_cache(maxsize=16)
def transformer(source_epsg: int, target_epsg: int) -> Transformer:
    """Return a cached pyproj transformer between two EPSG codes (``always_xy``: x=lon/east)."""
    return Transformer.from_crs(f"EPSG:{source_epsg}", f"EPSG:{target_epsg}", always_xy=True)


def transform_xy(xy: np.ndarray, source_epsg: int, target_epsg: int) -> np.ndarray:
    """Transform an (N, 2) array of x/y (lon/lat) positions; return a new (N, 2) array."""
    xy = np.asarray(xy, dtype=float)
    if source_epsg == target_epsg:
        return xy.copy()
    x, y = transformer(source_epsg, target_epsg).transform(xy[:, 0], xy[:, 1])
    return np.column_stack([np.asarray(x, dtype=float), np.asarray(y, dtype=float)])


def reproject(geom: BaseGeometry, source_epsg: int, target_epsg: int) -> BaseGeometry:
    """Return ``geom`` (2D) reprojected from one EPSG code to another."""
    if source_epsg == target_epsg:
        return geom
    return shapely.transform(geom, lambda xy: transform_xy(xy, source_epsg, target_epsg))


def to_lambert72(geom_4326: BaseGeometry) -> BaseGeometry:
    """Return a EPSG:4326 geometry in EPSG:31370 (metres)."""
    return reproject(geom_4326, WGS84, LAMBERT72)


def area_m2(geom_4326: BaseGeometry | None) -> float:
    """Return the planar area in m² of a EPSG:4326 geometry, computed in EPSG:31370
    (points and lines: 0.0; never computed on degrees)."""
    if geom_4326 is None or geom_4326.is_empty:
        return 0.0
    return float(to_lambert72(geom_4326).area)


def length_m(geom_4326: BaseGeometry | None) -> float:
    """Return the planar length in m of a EPSG:4326 geometry, computed in EPSG:31370
    (polygons: their perimeter, holes included)."""
    if geom_4326 is None or geom_4326.is_empty:
        return 0.0
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
