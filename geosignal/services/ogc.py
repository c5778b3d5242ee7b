"""OGC API – Features – Part 1: Core (read-only): landing page, conformance, collections, items.

Flask-free: functions take a session and the API's base URL (``…/ogc``) and return the
JSON documents of the standard (OGC 17-069r4) as plain data; the view renders them as JSON
or HTML. Two collections:

* ``communes`` — the 30 communes (public open data; SPF Finances boundaries, Statbel codes);
* ``white-zones`` — the white-zone reports with the DWconnect export's properties
  (:mod:`geosignal.services.export`). **Visibility — decision:** anonymous users and
  representatives see the white zones the referent confirmed (:data:`~geosignal.policy.PUBLIC_STATUSES`:
  validated, transmitted to DWconnect, not resolved by the operator) only; the free-text ``description`` (written for
  the referent, it may name people) only to the referent, admins, and the representatives of
  the report's own commune — as in the REST API; ``reference`` and ``revision`` (sequential:
  they would tell how many reports were filed and changed, unvalidated ones too) only to
  signed-in readers (:attr:`geosignal.contract.Prop.readers`); the referent and admins see every
  status of a filed report (:data:`~geosignal.workflow.FILED_STATUSES`: not its author's drafts).

Coordinates are CRS84 (lon, lat; RFC 7946), 6 decimals, lines and zones reduced to the 1e-6°
grid so that they stay valid as written. The API is described in OpenAPI 3.1 (``service-desc``),
so the ``oas30`` conformance class is not claimed. ``bbox`` (4 numbers, CRS84, or 6 with heights
as the core requires: ``minx,miny,minz,maxx,maxy,maxz``, the heights checked then ignored:
geometries are 2D) selects features whose geometry intersects it; ``datetime`` (an instant or an
interval ``start/end`` with ``..`` for open ends, RFC 3339) applies to ``coalesce(observed_at, reported_at)`` of white zones and is
ignored by ``communes`` (no temporal property); ``limit`` 1–1000 (default 100, larger values
are capped to 1000 as the standard allows); paging by ``offset`` through ``next``/``prev``
links, in insertion order (white zones) or NIS order (communes).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import text
from sqlalchemy.orm import Session

from geosignal import contract, policy, workflow
from geosignal.errors import GeosignalError
from geosignal.geo import LAMBERT72
from geosignal.params import bbox_clause, in_utc, parse_bbox, whole_number
from geosignal.services import export as export_service

CONFORMANCE: tuple[str, ...] = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
)
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
TRS = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
JSON = "application/json"
GEOJSON = "application/geo+json"
HTML = "text/html"
OPENAPI = "application/vnd.oai.openapi+json;version=3.1"
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
#: Largest ``offset`` accepted (beyond it a client should narrow its query with ``bbox`` or
#: ``datetime``): PostgreSQL's OFFSET is a signed 64-bit integer and deep offsets are slow.
MAX_OFFSET = 1_000_000

COLLECTIONS: dict[str, dict[str, str]] = {
    "communes": {
        "title": "Communes de Charleroi Métropole",
        "description": "Limites des 30 communes (SPF Finances – AGDP, 1/1/2021), codes INS et population (Statbel).",
    },
    "white-zones": {
        "title": "Zones blanches signalées",
        "description": "Zones blanches de connectivité (points, tronçons, zones) signalées par les communes. "
                       "Sans connexion et pour les représentant·es : les zones confirmées par le référent "
                       "seulement (validées, transmises, non résolues) ; pour le référent et les "
                       "administrateurs, tous les statuts sauf les brouillons.",
    },
}


@dataclass(frozen=True)
class Viewer:
    """Who reads: ``sees_all`` (referent, admin: every filed status), ``signed_in``, and the
    representative's ``commune_nis`` (None otherwise)."""

    signed_in: bool = False
    sees_all: bool = False
    commune_nis: str | None = None

    def sees_description(self, commune_nis: str) -> bool:
        """Whether this reader may see the description of a report of ``commune_nis``."""
        return self.sees_all or (self.signed_in and self.commune_nis is not None and self.commune_nis == commune_nis)

    def withheld(self, commune_nis: str) -> frozenset[str]:
        """The properties of a report of ``commune_nis`` this reader may not see, as the report
        contract declares them (:attr:`geosignal.contract.Prop.readers`): anonymously, no
        ``description``, ``reference`` nor ``revision`` (both number every report filed and
        every change, unvalidated ones too); signed in, no ``description`` of another commune."""
        return contract.withheld(signed_in=self.signed_in, own_commune=self.sees_description(commune_nis))


@dataclass(frozen=True)
class ItemQuery:
    """Parsed ``items`` parameters: bbox (CRS84), datetime interval (aware, None = open),
    limit, offset."""

    bbox: tuple[float, float, float, float] | None = None
    start: datetime | None = None
    end: datetime | None = None
    limit: int = DEFAULT_LIMIT
    offset: int = 0


#: The French titles of the documents' links and the landing page's description (the JSON
#: says them in French; the HTML pages in the page's language: they are msgids).
TEXTS_FR: dict[str, str] = {
    "description": "Zones blanches de connectivité de Charleroi Métropole (lecture seule).",
    "self_json": "Cette page (JSON)",
    "self_html": "Cette page (HTML)",
    "service_desc": "Description OpenAPI 3",
    "service_doc": "Documentation de l'API",
    "conformance": "Classes de conformité",
    "items_json": "Entités (GeoJSON)",
    "items_html": "Entités (HTML)",
}


def _link(href: str, rel: str, type_: str, title: str | None = None) -> dict[str, str]:
    link = {"href": href, "rel": rel, "type": type_}
    if title:
        link["title"] = title
    return link


def _with(href: str, **params: Any) -> str:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return f"{href}?{query}" if query else href


def landing(base: str, api_doc: str, api_html: str) -> dict[str, Any]:
    """Return the landing page (``/``) with the links the standard requires."""
    return {
        "title": "geosignal — OGC API Features",
        "description": TEXTS_FR["description"],
        "links": [
            _link(_with(base + "/", f="json"), "self", JSON, TEXTS_FR["self_json"]),
            _link(_with(base + "/", f="html"), "alternate", HTML, TEXTS_FR["self_html"]),
            _link(api_doc, "service-desc", OPENAPI, TEXTS_FR["service_desc"]),
            _link(api_html, "service-doc", HTML, TEXTS_FR["service_doc"]),
            _link(base + "/conformance", "conformance", JSON, TEXTS_FR["conformance"]),
            _link(base + "/conformance", "http://www.opengis.net/def/rel/ogc/1.0/conformance", JSON),
            _link(base + "/collections", "data", JSON, "Collections"),
            _link(base + "/collections", "http://www.opengis.net/def/rel/ogc/1.0/data", JSON),
        ],
    }


def conformance(base: str) -> dict[str, Any]:
    """Return the conformance declaration (``/conformance``)."""
    return {
        "conformsTo": list(CONFORMANCE),
        "links": [_link(_with(base + "/conformance", f="json"), "self", JSON),
                  _link(_with(base + "/conformance", f="html"), "alternate", HTML)],
    }


def _where(collection: str, viewer: Viewer, query: ItemQuery | None) -> tuple[str, dict[str, Any]]:
    if collection == "communes":
        clauses, params = ["TRUE"], {}
        if query is not None and query.bbox:
            clauses.append(bbox_clause(query.bbox, params, geometry="c.boundary"))
        return " AND ".join(clauses), params
    clauses, params = ["TRUE"], {}
    clauses.append("r.status = ANY(:statuses)")
    params["statuses"] = list(workflow.FILED_STATUSES if viewer.sees_all else policy.PUBLIC_STATUSES)
    if query is not None:
        if query.bbox:
            clauses.append(bbox_clause(query.bbox, params))
        if query.start is not None:
            clauses.append("coalesce(r.observed_at, r.created_at) >= :start")
            params["start"] = query.start
        if query.end is not None:
            clauses.append("coalesce(r.observed_at, r.created_at) <= :end")
            params["end"] = query.end
    return " AND ".join(clauses), params


def _check_collection(collection_id: str) -> None:
    if collection_id not in COLLECTIONS:
        raise GeosignalError("not_found", f"no collection {collection_id!r}; there are {', '.join(COLLECTIONS)}")


def _extent(session: Session, collection_id: str, viewer: Viewer) -> dict[str, Any]:
    box = session.execute(text(
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(boundary) AS e FROM communes) s"
    )).one()
    bbox = [round(float(v), 6) for v in box] if box[0] is not None else [-180.0, -90.0, 180.0, 90.0]
    interval: list[str | None] = [None, None]
    if collection_id == "white-zones":
        where, params = _where(collection_id, viewer, None)
        lo, hi = session.execute(text(
            f"SELECT min(coalesce(r.observed_at, r.created_at)), max(coalesce(r.observed_at, r.created_at)) "
            f"FROM reports r WHERE {where}"), params).one()
        interval = [_utc(lo), _utc(hi)]
    return {"spatial": {"bbox": [bbox], "crs": CRS84}, "temporal": {"interval": [interval], "trs": TRS}}


def _utc(dt: datetime | None) -> str | None:
    return None if dt is None else dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _collection_doc(session: Session, base: str, collection_id: str, viewer: Viewer) -> dict[str, Any]:
    href = f"{base}/collections/{collection_id}"
    return {
        "id": collection_id,
        **COLLECTIONS[collection_id],
        "itemType": "feature",
        "crs": [CRS84],
        "extent": _extent(session, collection_id, viewer),
        "links": [
            _link(_with(href, f="json"), "self", JSON),
            _link(_with(href, f="html"), "alternate", HTML),
            _link(_with(href + "/items", f="json"), "items", GEOJSON, TEXTS_FR["items_json"]),
            _link(_with(href + "/items", f="html"), "items", HTML, TEXTS_FR["items_html"]),
        ],
    }


def collections(session: Session, base: str, viewer: Viewer) -> dict[str, Any]:
    """Return ``/collections``: both collections with their extents and links."""
    return {
        "links": [_link(_with(base + "/collections", f="json"), "self", JSON),
                  _link(_with(base + "/collections", f="html"), "alternate", HTML)],
        "collections": [_collection_doc(session, base, cid, viewer) for cid in COLLECTIONS],
    }


def collection(session: Session, base: str, collection_id: str, viewer: Viewer) -> dict[str, Any]:
    """Return ``/collections/{collectionId}``; ``not_found`` (404) for an unknown id."""
    _check_collection(collection_id)
    return _collection_doc(session, base, collection_id, viewer)


_COMMUNE_SQL = f"""
SELECT json_build_object(
  'type', 'Feature', 'id', c.nis_code,
  'geometry', ST_AsGeoJSON(ST_ForcePolygonCCW(ST_CollectionExtract(
                ST_ReducePrecision(c.boundary, {export_service.GRID_DEG}), 3)), 6)::json,
  'properties', json_build_object('nis_code', c.nis_code, 'name_fr', normalize(c.name_fr, NFC),
                                  'name_nl', c.name_nl, 'province', c.province, 'population', c.population,
                                  'population_year', c.population_year,
                                  'area_km2', round((c.area_m2 / 1e6)::numeric, 3))
)::text
FROM communes c WHERE {{where}} ORDER BY c.nis_code {{page}}"""

_ZONE_SQL = f"""
SELECT json_build_object(
  'type', 'Feature', 'id', r.id::text,
  'geometry', ST_AsGeoJSON(x.g, 6)::json,
  'properties', json_build_object({export_service.PROPERTIES_SQL})
)::text
FROM reports r
JOIN communes c ON c.nis_code = r.commune_nis
LEFT JOIN users u ON u.id = r.reporter_id
CROSS JOIN LATERAL (SELECT {export_service.GEOMETRY_SQL} AS g) x
WHERE {{where}} AND NOT ST_IsEmpty(x.g) ORDER BY r.seq {{page}}"""

_PARAMS = {"srid": LAMBERT72, "schema_version": export_service.SCHEMA_VERSION, "source": export_service.SOURCE,
           "merged": export_service.MERGED_REPORTS}


def _features(session: Session, collection_id: str, where: str, params: dict[str, Any], page: str,
              viewer: Viewer) -> list[dict[str, Any]]:
    sql = _COMMUNE_SQL if collection_id == "communes" else _ZONE_SQL
    session.execute(text("SET LOCAL TimeZone = 'Europe/Brussels'"))
    rows = session.execute(text(sql.format(where=where, page=page)), {**params, **_PARAMS}).scalars()
    features = [json.loads(row) for row in rows]
    if collection_id == "white-zones":
        for f in features:
            for name in viewer.withheld(f["properties"]["commune_nis"]):
                f["properties"].pop(name, None)
    return features


def items(session: Session, base: str, collection_id: str, query: ItemQuery, viewer: Viewer,
          args: dict[str, str] | None = None) -> dict[str, Any]:
    """Return ``/collections/{id}/items``: a GeoJSON FeatureCollection with ``numberMatched``,
    ``numberReturned``, ``timeStamp`` and self/alternate/next/prev/collection links.
    ``args`` are the request's other query parameters, repeated in the links."""
    _check_collection(collection_id)
    where, params = _where(collection_id, viewer, query)
    table = "communes c" if collection_id == "communes" else "reports r"
    served = ""
    if collection_id == "white-zones":  # as the features are served: none whose geometry collapses at 6 decimals
        served = (" AND NOT EXISTS (SELECT 1 FROM report_features f WHERE f.seq = r.seq AND f.feature_collapsed)")
    matched = session.scalar(text(f"SELECT count(*) FROM {table} WHERE {where}{served}"), params) or 0
    features = _features(session, collection_id, where, {**params, "lim": query.limit, "off": query.offset},
                         "LIMIT :lim OFFSET :off", viewer)
    href = f"{base}/collections/{collection_id}/items"
    keep = {k: v for k, v in (args or {}).items() if k not in ("f", "offset", "limit")}
    page = {"limit": query.limit, **keep}
    links = [
        _link(_with(href, f="json", offset=query.offset or None, **page), "self", GEOJSON),
        _link(_with(href, f="html", offset=query.offset or None, **page), "alternate", HTML),
        _link(f"{base}/collections/{collection_id}", "collection", JSON),
    ]
    # each page link in GeoJSON (for clients: first) and in HTML (for a person reading the HTML page)
    if query.offset + len(features) < matched:
        for f, kind in (("json", GEOJSON), ("html", HTML)):
            links.append(_link(_with(href, f=f, offset=query.offset + query.limit, **page), "next", kind))
    if query.offset > 0:
        for f, kind in (("json", GEOJSON), ("html", HTML)):
            links.append(_link(_with(href, f=f, offset=max(0, query.offset - query.limit) or None, **page),
                               "prev", kind))
    return {
        "type": "FeatureCollection",
        "features": features,
        "numberMatched": matched,
        "numberReturned": len(features),
        "timeStamp": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "links": links,
    }


def columns(features: list[dict[str, Any]]) -> list[str]:
    """Return the columns of a page of ``features`` in HTML: every property any of them carries
    (a reader may see one report's ``description`` and not another's, :meth:`Viewer.withheld`),
    report properties in the report contract's order (:data:`geosignal.contract.EXPORT`), other
    properties (communes) in the order first met. A feature without one leaves its cell empty."""
    order = {name: k for k, name in enumerate(contract.names(contract.EXPORT))}
    met = dict.fromkeys(name for f in features for name in f["properties"])
    return sorted(met, key=lambda name: (0, order[name]) if name in order else (1, 0))


def item(session: Session, base: str, collection_id: str, item_id: str, viewer: Viewer) -> dict[str, Any]:
    """Return ``/collections/{id}/items/{featureId}``; ``not_found`` (404) when absent or hidden."""
    _check_collection(collection_id)
    where, params = _where(collection_id, viewer, None)
    if collection_id == "communes":
        if not (len(item_id) == 5 and item_id.isascii() and item_id.isdigit()):  # no NIS code: no such item
            raise GeosignalError("not_found", f"no feature {item_id[:40]!r} in {collection_id}")
        where += " AND c.nis_code = :fid"
        params["fid"] = item_id
    else:
        try:
            params["fid"] = uuid.UUID(item_id)
        except ValueError:
            raise GeosignalError("not_found", f"no feature {item_id} in {collection_id}") from None
        where += " AND r.id = :fid"
    found = _features(session, collection_id, where, params, "", viewer)
    if not found:
        raise GeosignalError("not_found", f"no feature {item_id} in {collection_id}")
    feature = found[0]
    href = f"{base}/collections/{collection_id}/items/{item_id}"
    feature["links"] = [
        _link(_with(href, f="json"), "self", GEOJSON),
        _link(_with(href, f="html"), "alternate", HTML),
        _link(f"{base}/collections/{collection_id}", "collection", JSON),
    ]
    return feature


def parse_item_query(args: dict[str, str]) -> ItemQuery:
    """Parse ``bbox``, ``datetime``, ``limit`` and ``offset``; ``invalid_request`` (400) when wrong."""
    bbox = None
    if args.get("bbox-crs") not in (None, CRS84):  # (with a bbox or not: a wrong value is said, not ignored)
        raise GeosignalError("invalid_request", "bbox-crs must be CRS84", where="bbox-crs")
    if args.get("bbox"):
        bbox = parse_bbox(args["bbox"], heights=True)
    start = end = None
    if args.get("datetime"):
        start, end = _parse_interval(args["datetime"])
    limit = whole_number(args.get("limit", str(DEFAULT_LIMIT)))
    if limit is None:
        raise GeosignalError("invalid_request", f"limit must be a whole number from 1 to {MAX_LIMIT}", where="limit")
    offset = whole_number(args.get("offset", "0"))
    if offset is None:
        raise GeosignalError("invalid_request", f"offset must be a whole number from 0 to {MAX_OFFSET}",
                             where="offset")
    if limit < 1:
        raise GeosignalError("invalid_request", f"limit must be 1 to {MAX_LIMIT}", where="limit")
    if not 0 <= offset <= MAX_OFFSET:
        raise GeosignalError("invalid_request", f"offset must be 0 to {MAX_OFFSET}", where="offset")
    return ItemQuery(bbox=bbox, start=start, end=end, limit=min(limit, MAX_LIMIT), offset=offset)


#: An RFC 3339 date-time (``date-time`` of its section 5.6; a ``t`` or ``z`` read as ``T``
#: and ``Z``): Python's ``fromisoformat`` alone also reads ISO week dates, ordinal dates and
#: the basic format (``2026-W01-1T00:00:00Z`` was 29 December 2025).
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})", re.ASCII)


def _instant(raw: str) -> datetime:
    # an unencoded "+01:00" arrives as " 01:00" (a query's "+" is a space)
    text = re.sub(r" (\d\d:?\d\d)$", r"+\1", raw.strip()).replace("t", "T").replace("z", "Z")
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00")) if _RFC3339.fullmatch(text) else None
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:  # RFC 3339: a date-time carries its offset
        raise GeosignalError("invalid_request", f"{raw!r} is not an RFC 3339 date-time with its offset "
                             "(e.g. 2026-03-01T00:00:00Z or 2026-03-01T00:00:00+01:00)", where="datetime")
    return in_utc(value, where="datetime")


def _parse_interval(raw: str) -> tuple[datetime | None, datetime | None]:
    if "/" not in raw:
        moment = _instant(raw)
        return moment, moment
    lo, hi = raw.split("/", 1)
    start = None if lo in ("", "..") else _instant(lo)
    end = None if hi in ("", "..") else _instant(hi)
    if start and end and start > end:
        raise GeosignalError("invalid_request", "datetime interval ends before it starts", where="datetime")
    return start, end
