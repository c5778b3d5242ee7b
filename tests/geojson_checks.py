"""Checks of GeoJSON documents against RFC 7946, shared by the tests."""

from __future__ import annotations

from typing import Any

from shapely.geometry import LinearRing


def positions(coords: Any) -> list[list[float]]:
    """Return every position of a coordinates array, flattened."""
    if isinstance(coords[0], (int, float)):
        return [coords]
    return [p for part in coords for p in positions(part)]


def assert_rfc7946_geometry(geometry: dict[str, Any]) -> None:
    """Assert lon/lat ranges, 2 or 3 numbers a position, closed rings, CCW exteriors and CW holes."""
    assert geometry["type"] in {"Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon"}
    assert geometry["coordinates"], "empty geometry"
    for lon, lat, *rest in positions(geometry["coordinates"]):
        assert len(rest) <= 1
        assert -180 <= lon <= 180 and -90 <= lat <= 90, (lon, lat)
    polygons = []
    if geometry["type"] == "Polygon":
        polygons = [geometry["coordinates"]]
    elif geometry["type"] == "MultiPolygon":
        polygons = geometry["coordinates"]
    for rings in polygons:
        for i, ring in enumerate(rings):
            assert ring[0] == ring[-1] and len(ring) >= 4
            ccw = LinearRing(ring).is_ccw
            assert ccw if i == 0 else not ccw, f"ring {i} has the wrong orientation"


def assert_rfc7946_collection(doc: dict[str, Any]) -> None:
    """Assert a FeatureCollection follows RFC 7946 (no ``crs`` member, valid features)."""
    assert doc["type"] == "FeatureCollection"
    assert "crs" not in doc
    for feature in doc["features"]:
        assert feature["type"] == "Feature"
        assert "crs" not in feature
        assert isinstance(feature["properties"], dict)
        assert_rfc7946_geometry(feature["geometry"])
