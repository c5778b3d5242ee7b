"""Small factories of test geometries on the real territory, built in EPSG:31370."""

from __future__ import annotations

import io
import warnings
import zipfile
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


def count_reports(db: Any) -> int:
    """How many reports are stored (what a refusal must leave unchanged)."""
    from sqlalchemy import func, select

    from geosignal.models import Report

    return db.scalar(select(func.count()).select_from(Report))


def upload_file(account: Any, data: bytes, filename: str, **fields: Any) -> Any:
    """``POST /api/v1/imports`` as ``account``: multipart ``file`` plus the form ``fields``."""
    form = {"file": (io.BytesIO(data), filename), **fields}
    return account.post("/api/v1/imports", data=form, content_type="multipart/form-data")


def zipped(*members: tuple[str | zipfile.ZipInfo, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip archive of ``(name or ZipInfo, bytes)`` members, in order (names may repeat)."""
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # duplicate names on purpose
        with zipfile.ZipFile(buf, "w", compression=compression) as z:
            for name, data in members:
                z.writestr(name, data)
    return buf.getvalue()


def border_point(db: Any, a: str = "52011", b: str = "52012") -> tuple[float, float]:
    """A point (x, y, EPSG:31370) on the border of communes ``a`` and ``b`` (NIS codes;
    Charleroi and Châtelet by default), from PostGIS."""
    from sqlalchemy import text

    x, y = db.execute(text(
        "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(ST_Intersection(ST_Transform(a.boundary, 31370), "
        "ST_Transform(b.boundary, 31370))) p FROM communes a, communes b "
        "WHERE a.nis_code = :a AND b.nis_code = :b) s"), {"a": a, "b": b}).one()
    return x, y


def communes_file_with_border_moved(source: Any, target: Any, region_31370: Any, into: str) -> Any:
    """Write to ``target`` the communes' boundary file ``source`` (GeoJSON) with the part of
    ``region_31370`` (EPSG:31370) held by other communes given to commune ``into`` (NIS
    code): a border moved, as a corrected boundary file moves one. Returns ``target``."""
    import json

    import shapely
    from shapely.geometry import MultiPolygon, shape

    data = json.loads(open(source, encoding="utf-8").read())
    region = reproject(region_31370, LAMBERT72, WGS84)
    for f in data["features"]:
        nis = str(f["properties"]["nis_code"]).zfill(5)
        g = shape(f["geometry"])
        if nis != into and not g.intersects(region):
            continue
        g = shapely.union(g, region) if nis == into else shapely.difference(g, region)
        g = shapely.make_valid(g)
        polygons = [p for p in getattr(g, "geoms", [g]) if p.geom_type == "Polygon" and p.area > 0]
        f["geometry"] = _lists(mapping(MultiPolygon(polygons)))
    with open(target, "w", encoding="utf-8") as out:
        json.dump(data, out)
    return target


def said_in_each_language(app: Any, problem: dict[str, Any]) -> dict[str, str | None]:
    """The sentence the pages say of a refusal (its problem document:
    :func:`geosignal.ui_text.specific_message`), in fr, nl and en."""
    from flask_babel import force_locale

    from geosignal import i18n, ui_text

    said = {}
    for lang in ("fr", "nl", "en"):
        with app.test_request_context("/"), force_locale(i18n.BABEL_LOCALES[lang]):
            said[lang] = ui_text.specific_message(problem["code"], problem["where"], problem)
    return said
