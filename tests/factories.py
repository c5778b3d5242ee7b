"""Small factories of test geometries on the real territory, built in EPSG:31370."""

from __future__ import annotations

from typing import Any

from shapely.geometry import Polygon, box, mapping

from geosignal.geo import LAMBERT72, WGS84, reproject

#: Charleroi centre in EPSG:4326 and EPSG:31370 (checked against PostGIS in the tests).
CHARLEROI_LONLAT = (4.4440, 50.4108)
CHARLEROI_LAMBERT72 = (155348.97, 122214.95)


def square_lambert(x: float, y: float, side_m: float) -> Polygon:
    """Return a square of ``side_m`` metres with its south-west corner at (x, y), EPSG:31370."""
    return box(x, y, x + side_m, y + side_m)


def to_geojson_4326(geom_31370: Any) -> dict[str, Any]:
    """Return a EPSG:31370 geometry as a GeoJSON geometry dict in EPSG:4326 ([lon, lat])."""
    geom = reproject(geom_31370, LAMBERT72, WGS84)
    return _lists(mapping(geom))


def _lists(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _lists(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_lists(v) for v in obj]
    return obj


def feature(geometry: dict[str, Any], **properties: Any) -> dict[str, Any]:
    """Return a GeoJSON Feature with default report attributes (network mobile, 4G, Proximus)."""
    props = {"network": "mobile", "technologies": ["4G"], "operators": ["Proximus"],
             "issue": "no_coverage", "setting": "outdoor", "description": "test"}
    props.update(properties)
    return {"type": "Feature", "geometry": geometry, "properties": props}
