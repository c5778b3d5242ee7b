"""The territory served (:class:`ServiceArea`), intake limits and planar measures."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry

from geosignal.errors import GeosignalError
from geosignal.geo import BORDER_TOLERANCE_DEG

from .crs import LAMBERT72, WGS84, transform_geom


@dataclass(frozen=True)
class Limits:
    """Configurable intake limits.

    ``min_area_m2``/``max_area_m2`` bound the planar area (EPSG:31370, m²) of polygonal
    reports; ``max_vertices`` bounds the coordinates of one geometry; ``max_upload_bytes``
    bounds a raw body or uploaded file; ``service_margin_m`` is the margin (m) around the
    union of the communes within which a report must lie.

    ``max_upload_features`` bounds the features of one upload (rows, placemarks, waypoints,
    tracks, records; each member of a collection split into reports counts) and
    ``max_upload_vertices`` the positions of all its geometries together: a few bytes may
    expand into unbounded work (a 5 MB zip of 1,000,000 identical points inflates under the
    archive limit; a 10 MB KMZ may hold 10,000,000 positions), so both are counted before the
    features are read wherever the file says them (:func:`~.files.read_upload`), and again
    before the geometry checks (:func:`~.core.finish_items`). The default of 200,000 features
    lets the largest legitimate 10 MB CSV (about 166,000 rows) through; 1,000,000 positions,
    every 10 MB file written without compression at a realistic precision (GeoJSON, KML,
    GeoPackage: 500,000 to 700,000 positions).

    ``max_kml_features`` bounds the placemarks of a KML or KMZ upload below that: GDAL reads a
    KML document whole into a tree (about 2 KB per placemark, on top of the 3 to 4 KB every
    feature GDAL reads costs here), so 200,000 placemarks — a 1 MB KMZ — took 1.3 GB to
    preview; 50,000 stay near 370 MB, as much as 100,000 rows of a Shapefile or GeoPackage.
    """

    min_area_m2: float = 100.0
    max_area_m2: float = 200e6
    max_vertices: int = 10_000
    max_upload_bytes: int = 10 * 1024 * 1024
    service_margin_m: float = 1000.0
    max_upload_features: int = 200_000
    max_upload_vertices: int = 1_000_000
    max_kml_features: int = 50_000


def too_many_features(limit: int, count: int | None = None, *, where: str | None = None,
                      **extra: Any) -> GeosignalError:
    """The 413 ``too_many_features`` of an upload holding more than ``limit`` features
    (:attr:`Limits.max_upload_features`): ``value`` the file's count when it is known (the whole
    file was counted; else it was refused where it passed the limit and ``value`` is left out),
    ``limit``, ``where`` the place where the count passed the limit (a row, a layer, a member,
    a line), and ``extra`` (``layer``, ``member``…)."""
    held = f"{count:,}" if count is not None else f"more than {limit:,}"
    return GeosignalError("too_many_features", f"The file holds {held} features (rows, placemarks, records); one "
                          f"upload may hold {limit:,}. Split it into several files.", where=where,
                          **({"value": count} if count is not None else {}), limit=limit, **extra)


def too_many_upload_vertices(limit: int, count: int | None = None, *, where: str | None = None,
                             **extra: Any) -> GeosignalError:
    """The 413 ``too_many_upload_vertices`` of an upload whose geometries hold more than
    ``limit`` positions in all (:attr:`Limits.max_upload_vertices`), shaped as
    :func:`too_many_features`: ``value`` (when the whole file was counted), ``limit``,
    ``where``."""
    held = f"{count:,}" if count is not None else f"more than {limit:,}"
    return GeosignalError("too_many_upload_vertices", f"The file's geometries hold {held} vertices (positions) in "
                          f"all; one upload may hold {limit:,}. Split it into several files, or simplify its "
                          "shapes.", where=where, **({"value": count} if count is not None else {}), limit=limit,
                          **extra)


#: The default limits (a frozen, shared instance).
DEFAULT_LIMITS = Limits()


#: The longest edge of the territory's outline, in degrees, before it is put in EPSG:31370
#: (see :class:`ServiceArea`): at most about 55 m, where an edge straight in EPSG:4326 bows by
#: less than 0.1 mm once transformed.
TERRITORY_SEGMENT_DEG = 0.0005


class ServiceArea:
    """The territory served, built from the loaded communes.

    ``communes`` yields ``(nis_code, name_fr, geometry)`` with geometries in EPSG:4326.
    The service area keeps:

    * ``territory_31370`` — the union of the communes in EPSG:31370 (prepared);
    * ``buffered_31370`` — that union buffered by ``margin_m`` metres (prepared);
    * an STRtree over the communes (EPSG:4326) for :meth:`commune_at`.

    Rule used by intake: a report geometry is *inside* when it intersects the unbuffered
    territory **and** is covered by the buffered one (see :meth:`relation`).
    """

    def __init__(
        self,
        communes: Iterable[tuple[str, str, BaseGeometry]],
        margin_m: float = 1000.0,
    ) -> None:
        items = [(str(nis), str(name), geom) for nis, name, geom in communes]
        if not items:
            raise ValueError("a ServiceArea needs at least one commune")
        # deterministic order: by NIS code, so ties on shared borders go to the smallest NIS
        items.sort(key=lambda t: t[0])
        self.margin_m = float(margin_m)
        self.nis_codes = [t[0] for t in items]
        self.names = [t[1] for t in items]
        self.geometries = [t[2] for t in items]
        self._tree = shapely.STRtree(self.geometries)
        union_4326 = shapely.union_all(self.geometries)
        self.territory_4326 = union_4326
        # (the edges cut first: an edge is straight in EPSG:4326, where the communes are stored
        # and a report's home is chosen, and bows in EPSG:31370, by 16 cm on a 2.6 km edge of
        # Couvin's: a point 10 cm inside it was refused as outside. Cut to 0.0005°, at most
        # about 55 m, an edge bows by less than 0.1 mm)
        self.territory_31370 = transform_geom(shapely.segmentize(union_4326, TERRITORY_SEGMENT_DEG), WGS84, LAMBERT72)
        self.buffered_31370 = self.territory_31370.buffer(self.margin_m)
        shapely.prepare(self.territory_31370)
        shapely.prepare(self.buffered_31370)
        self._bbox_4326 = transform_geom(self.buffered_31370, LAMBERT72, WGS84).bounds

    def __len__(self) -> int:
        return len(self.nis_codes)

    def commune_at(self, lon: float, lat: float) -> tuple[str, str] | None:
        """Return ``(nis_code, name_fr)`` of the commune covering ``(lon, lat)`` (EPSG:4326).

        A point on a shared border (within :data:`~geosignal.geo.BORDER_TOLERANCE_DEG` of
        several communes) belongs to the commune with the smallest NIS code.
        Returns None outside every commune (or for non-finite input).
        """
        if not (np.isfinite(lon) and np.isfinite(lat)):
            return None
        hits = self._tree.query(Point(lon, lat), predicate="dwithin", distance=BORDER_TOLERANCE_DEG)
        if len(hits) == 0:
            return None
        i = int(min(hits))  # geometries are sorted by NIS
        return self.nis_codes[i], self.names[i]

    def relation(self, geom_4326: BaseGeometry) -> str:
        """Classify a geometry: ``"inside"``, ``"outside"`` (no contact with the territory)
        or ``"beyond_margin"`` (touches the territory but leaves the buffered area)."""
        return str(self.relations(np.asarray([transform_geom(geom_4326, WGS84, LAMBERT72)], dtype=object))[0])

    def relations(self, geoms_31370: np.ndarray) -> np.ndarray:
        """Classify an array of geometries **in EPSG:31370** at once, as :meth:`relation`
        does (vectorised predicates on the prepared territory); return an array of
        ``"inside"`` / ``"outside"`` / ``"beyond_margin"``."""
        geoms = np.asarray(geoms_31370, dtype=object)
        out = np.full(len(geoms), "inside", dtype=object)
        touches = shapely.intersects(self.territory_31370, geoms)
        covered = shapely.covers(self.buffered_31370, geoms)
        out[~covered] = "beyond_margin"
        out[~touches] = "outside"
        return out

    def relations_xy(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Classify points given by their coordinates **in EPSG:31370**, as :meth:`relations`
        does for point geometries (a point is covered by an area when it intersects it)."""
        out = np.full(len(x), "inside", dtype=object)
        touches = shapely.intersects_xy(self.territory_31370, x, y)
        covered = shapely.intersects_xy(self.buffered_31370, x, y)
        out[~covered] = "beyond_margin"
        out[~touches] = "outside"
        return out

    def within_margin(self, lon: float, lat: float) -> bool:
        """Whether ``(lon, lat)`` (EPSG:4326) lies within :attr:`margin_m` of the communes (the
        buffered area), where a line or zone touching one may reach; False for non-finite input."""
        if not (np.isfinite(lon) and np.isfinite(lat)):
            return False
        return bool(self.buffered_31370.intersects(transform_geom(Point(lon, lat), WGS84, LAMBERT72)))

    def in_bbox(self, lon: float, lat: float) -> bool:
        """Return True when ``(lon, lat)`` is inside the bounding box of the buffered area."""
        x0, y0, x1, y1 = self._bbox_4326
        return x0 <= lon <= x1 and y0 <= lat <= y1

    @classmethod
    def from_geojson_file(cls, path, margin_m: float = 1000.0) -> ServiceArea:
        """Build a service area from a GeoJSON FeatureCollection of communes (EPSG:4326).

        Each feature needs ``nis_code`` (or the feature ``id``) and ``name_fr`` (or ``name``).
        """
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        communes = []
        for feat in doc["features"]:
            props = feat.get("properties") or {}
            nis = props.get("nis_code") or props.get("nis") or feat.get("id")
            name = props.get("name_fr") or props.get("name") or str(nis)
            communes.append((str(nis), str(name), shape(feat["geometry"])))
        return cls(communes, margin_m=margin_m)
