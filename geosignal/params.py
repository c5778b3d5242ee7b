"""Parsing of parameters shared by the API, the OGC API and the CLI."""

from __future__ import annotations

from geosignal.errors import GeosignalError

BBox = tuple[float, float, float, float]


def parse_bbox(raw: str | None, *, required: bool = False) -> BBox | None:
    """Parse ``min_lon,min_lat,max_lon,max_lat`` in degrees (EPSG:4326).

    Returns None for an empty value unless ``required``. Raises ``invalid_request`` (400,
    ``where="bbox"``) when malformed, empty or outside the WGS 84 ranges.
    """
    if not raw:
        if required:
            raise GeosignalError("invalid_request", "bbox is required: min_lon,min_lat,max_lon,max_lat",
                                 where="bbox")
        return None
    try:
        parts = tuple(float(p) for p in raw.split(","))
    except ValueError:
        parts = ()
    if (len(parts) != 4 or not (parts[0] < parts[2] and parts[1] < parts[3])
            or not (-180 <= parts[0] and parts[2] <= 180 and -90 <= parts[1] and parts[3] <= 90)):
        raise GeosignalError("invalid_request", "bbox is min_lon,min_lat,max_lon,max_lat in degrees (EPSG:4326)",
                             where="bbox")
    return parts  # type: ignore[return-value]


def bbox_clause(bbox: BBox, params: dict[str, object], geometry: str = "r.geometry") -> str:
    """Return the SQL condition "``geometry`` intersects ``bbox``" (EPSG:4326) and put its
    bound values (``x0``, ``y0``, ``x1``, ``y1``) in ``params``."""
    params.update(zip(("x0", "y0", "x1", "y1"), bbox, strict=True))
    return f"ST_Intersects({geometry}, ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326))"
