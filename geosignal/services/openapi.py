"""OpenAPI 3.1 description of geosignal's HTTP API (/api/v1 and /ogc), generated, not hand-kept.

* **Paths** come from the application's URL map: every rule under ``/api/v1`` and ``/ogc``
  becomes an operation (summary and description from the view's docstring, path parameters
  from the rule), so a new route is documented the moment it exists.
* **Parameters and bodies** of the main operations come from :data:`QUERY_PARAMETERS`,
  whose enumerations are :mod:`geosignal.vocab`'s.
* **Report properties** come from the report contract (:mod:`geosignal.contract`): what a
  POST accepts (``ReportProperties``, :func:`report_properties_schema`; a test checks it
  accepts exactly what :func:`~geosignal.services.intake.validate_properties` accepts) and
  what a Feature carries (``Feature``: every API property, no other).
* **Errors**: the ``Problem`` schema lists every code of :data:`geosignal.errors.ERROR_CODES`.

Flask-free: give it a werkzeug ``Map`` and the view functions.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

from werkzeug.routing import Map

from geosignal import contract, vocab
from geosignal.errors import ERROR_CODES
from geosignal.services import audit as audit_service
from geosignal.services import export as export_service
from geosignal.services import imports as import_service
from geosignal.services import reports as report_service
from geosignal.services.export.filters import DWCONNECT, EXPORTABLE_STATUSES
from geosignal.services.queue import SORTS as QUEUE_SORTS
from geosignal.workflow import FORWARDABLE_STATUSES

OPENAPI_VERSION = "3.1.0"
#: 1.1.0: Feature properties follow the report contract (``created_at`` became
#: ``reported_at``; ``revision`` and ``geometry_kind`` added).
API_VERSION = "1.1.0"
_METHODS = ("get", "post", "put", "patch", "delete")


def _vocab_schema(values: tuple[str, ...]) -> dict[str, Any]:
    return {"type": "string", "enum": list(values)}


def report_properties_schema() -> dict[str, Any]:
    """Return the JSON Schema of a report's ``properties`` as the API accepts them (null =
    absent): the contract's input schema (:func:`geosignal.contract.input_properties_schema`)."""
    return contract.input_properties_schema()


def feature_properties_schema() -> dict[str, Any]:
    """Return the JSON Schema of the ``properties`` of a Feature the API returns: every
    property of the contract's API form, no other."""
    return contract.output_properties_schema(contract.API)


def _geometry_schema() -> dict[str, Any]:
    return {"type": "object", "required": ["type", "coordinates"],
            "properties": {"type": {"type": "string", "enum": list(vocab.GEOMETRY_TYPES)},
                           "coordinates": {"$ref": "#/components/schemas/Coordinates"}},
            "description": "RFC 7946 geometry, [lon, lat] EPSG:4326 unless ?crs= says otherwise."}


def _speed_test_schema() -> dict[str, Any]:
    """The JSON Schema of a speed test as ``POST /api/v1/reports/{id}/evidence`` takes it: the
    ranges of :data:`geosignal.models.evidence.SPEED_TEST_RANGES`."""
    from geosignal.models.evidence import SPEED_TEST_RANGES

    props: dict[str, Any] = {name: {"type": ["number", "null"], "minimum": lo, "maximum": hi,
                                    "description": unit} for name, (lo, hi, unit) in SPEED_TEST_RANGES.items()}
    props["operator"] = {"type": ["string", "null"], "enum": [*vocab.OPERATORS, None]}
    props["measured_at"] = {"type": "string", "description": "ISO 8601 date or date-time (Brussels when naive)."}
    return {"type": "object", "required": ["measured_at"], "additionalProperties": False, "properties": props}


def _components() -> dict[str, Any]:
    return {
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "description": "Token from `geosignal create-token`."},
            "session": {"type": "apiKey", "in": "cookie", "name": "session",
                        "description": "Signed-in browser session (writes need the CSRF token)."},
        },
        "schemas": {
            "ReportProperties": report_properties_schema(),
            "Coordinates": {"type": "array", "minItems": 1,
                            "items": {"anyOf": [{"type": "number"}, {"$ref": "#/components/schemas/Coordinates"}]},
                            "description": "Positions (numbers, nested as the geometry type says)."},
            "ReportFeatureInput": {"type": "object", "required": ["type", "geometry", "properties"],
                                   "properties": {"type": {"const": "Feature"},
                                                  "id": {"type": ["string", "number", "null"],
                                                         "description": "RFC 7946 §3.2: a string or a number (an "
                                                                        "object, array or boolean is 422 "
                                                                        "invalid_geojson at /id); null counts as "
                                                                        "absent. Not kept: a report gets its own "
                                                                        "UUID."},
                                                  "geometry": _geometry_schema(),
                                                  "properties": {"$ref": "#/components/schemas/ReportProperties"}}},
            "Feature": {"type": "object", "required": ["type", "geometry", "properties"],
                        "properties": {"type": {"const": "Feature"}, "id": {"type": "string"},
                                       "geometry": _geometry_schema(),
                                       "properties": feature_properties_schema()}},
            "FeatureCollection": {"type": "object", "required": ["type", "features"],
                                  "properties": {"type": {"const": "FeatureCollection"},
                                                 "features": {"type": "array",
                                                              "items": {"$ref": "#/components/schemas/Feature"}},
                                                 "links": {"type": "array", "items": {"type": "object"}}}},
            "ZoneReportIds": {"type": "object", "additionalProperties": False, "properties": {"report_ids": {
                "type": "array", "items": {"type": "string", "format": "uuid"},
                "description": "Confirm: the zone's reports as read (409 zone_changed otherwise; 409 "
                               "zone_would_grow when the zone would take in reports not named). "
                               "Split: the reports to take out."}}},
            "ReportFeaturePatch": {
                "type": "object", "additionalProperties": False, "anyOf": [{"required": ["geometry"]},
                                                                           {"required": ["properties"]}],
                "description": "A partial Feature: a geometry given replaces the report's; each property given "
                               "replaces the stored one, null clears it; the rest is kept. Read-only properties "
                               "(status, reference…) may be sent back as read, not changed.",
                "properties": {"type": {"const": "Feature"}, "id": {"type": ["string", "number", "null"]},
                               "geometry": _geometry_schema(), "properties": {"type": "object"},
                               "crs": {"type": "object"}}},
            "StatusChange": {"type": "object", "required": ["status"], "additionalProperties": False,
                             "properties": {"status": _vocab_schema(vocab.STATUSES),
                                            "reason": {"type": "string", "maxLength": 4000}}},
            "Transition": {"type": "object", "required": ["to"], "additionalProperties": False,
                           "description": "A move along the workflow. `reason` carries the reason (reject), "
                                          "question (ask), answer (resubmit) or note (resolved / not resolved).",
                           "properties": {"to": _vocab_schema(vocab.STATUSES),
                                          "reason": {"type": "string", "maxLength": 4000}}},
            "History": {"type": "object", "required": ["report_id", "reference", "history"],
                        "properties": {"report_id": {"type": "string"}, "reference": {"type": "string"},
                                       "history": {"type": "array", "items": {
                                           "type": "object", "required": ["at", "actor", "action"],
                                           "properties": {"at": {"type": "string", "format": "date-time"},
                                                          "actor": {"type": "string"},
                                                          "action": {"type": "string"},
                                                          "from": {"type": ["string", "null"]},
                                                          "to": {"type": ["string", "null"]},
                                                          "reason": {"type": ["string", "null"]}}}}}},
            "SpeedTestInput": _speed_test_schema(),
            "Evidence": {"type": "object", "required": ["report_id", "speed_tests", "photos", "stale"],
                         "description": "A report's evidence; `stale` when the newest is over 12 months old.",
                         "properties": {"report_id": {"type": "string"}, "speed_tests": {"type": "array"},
                                        "photos": {"type": "array"}, "latest_at": {"type": ["string", "null"]},
                                        "stale": {"type": "boolean"}, "stale_after_months": {"type": "integer"}}},
            "Survey": {
                "type": "object", "required": ["editions", "communes"],
                "description": "The \"Territoire intelligent\" survey: its editions, oldest first, with the "
                               "territory's indicators, and each commune's latest answers by NIS code (as "
                               "/api/v1/stats/communes?survey=1 gives them in its rows).",
                "properties": {
                    "editions": {"type": "array", "items": {
                        "type": "object", "required": ["year", "responses", "smart_score", "indicators"],
                        "properties": {"year": {"type": "integer"}, "title": {"type": ["string", "null"]},
                                       "source": {"type": ["string", "null"]},
                                       "published_only": {"type": "boolean"},
                                       "responses": {"type": "integer", "minimum": 0},
                                       "smart_score": {"type": ["number", "null"]},
                                       "citizens_informed": {"type": ["number", "null"]},
                                       "indicators": {"type": "object"}}}},
                    "communes": {"type": "object", "propertyNames": {"pattern": "^[0-9]{5}$"},
                                 "additionalProperties": {
                        "type": "object",
                        "required": ["edition", "smart_score", "connectivity_cited", "citizens_informed_score",
                                     "trend"],
                        "properties": {
                            "edition": {"type": "integer", "description": "The latest edition it answered."},
                            "smart_score": {"type": ["integer", "null"], "description": "Its self-assessment, /10."},
                            "connectivity_cited": {"type": ["boolean", "null"],
                                                   "description": "Insufficient connectivity among its reasons "
                                                                  "(null: it gave none)."},
                            "citizens_informed_score": {"type": ["integer", "null"], "description": "/10."},
                            "trend": {"type": "array", "description": "Its smart score in every edition it "
                                                                      "answered, oldest first.",
                                      "items": {"type": "object", "required": ["edition", "smart_score"],
                                                "properties": {"edition": {"type": "integer"},
                                                               "smart_score": {"type": ["integer", "null"]}}}}}}}}},
            "Problem": {"type": "object", "required": ["type", "title", "status", "code"],
                        "description": "RFC 9457 problem details.",
                        "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                                       "status": {"type": "integer"}, "detail": {"type": "string"},
                                       "code": {"type": "string", "enum": sorted(ERROR_CODES)},
                                       "where": {"type": "string"}}},
        },
    }


def _q(name: str, schema: dict[str, Any], description: str, required: bool = False,
       methods: tuple[str, ...] | None = None) -> dict[str, Any]:
    """A query parameter; ``methods`` (lower case): the only methods of the endpoint that take it."""
    param = {"name": name, "in": "query", "required": required, "schema": schema, "description": description}
    return {**param, _METHODS_KEY: methods} if methods else param


#: The key of a parameter naming the methods that take it (left out of the document).
_METHODS_KEY = "x-geosignal-methods"
#: A day of a period filter (``YYYY-MM-DD``, 1900 to 2999), or empty: no bound (as a form sends an
#: unfilled field).
_DAY = {"anyOf": [{"type": "string", "format": "date", "pattern": "^(?:19|2[0-9])[0-9]{2}-"},
                  {"type": "string", "maxLength": 0}]}


def _statuses(allowed: tuple[str, ...], *keywords: str) -> dict[str, Any]:
    """A ``status`` filter: empty (the default), ``all`` (or another of ``keywords``), or a
    comma list of ``allowed``."""
    one = "|".join(allowed)
    return {"type": "string", "pattern": f"^(|{'|'.join(('all', *keywords))}|(?:{one})(?:,(?:{one}))*)$"}


#: A number as the bbox parsers read it (no ``nan``, ``inf`` nor hexadecimal).
_NUMBER = r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
_STATUS_FILTER = _q("status", _statuses(EXPORTABLE_STATUSES, DWCONNECT),
                    f"`validated` (default; `{DWCONNECT}` with `since=last_transmitted`), `{DWCONNECT}` (what "
                    f"DWconnect is sent: {', '.join(FORWARDABLE_STATUSES)} reports, plus, in an incremental "
                    "export, the reports withdrawn since their validation that DWconnect may hold, in their new "
                    "status), `all` (every status but draft, reports never validated included: a full export, "
                    "not for DWconnect; refused with `since=last_transmitted`), or a comma list of "
                    f"{', '.join(EXPORTABLE_STATUSES)}.")
_BBOX = _q("bbox", {"type": "string", "pattern": f"^{_NUMBER}(?:,{_NUMBER}){{3}}$"},
           "min_lon,min_lat,max_lon,max_lat (EPSG:4326): geometries intersecting it.")
_COMMUNE = _q("commune", {"type": "string", "pattern": "^[0-9]{5}$"}, "NIS code of a commune.")
_EXPORT_PARAMS = [
    _STATUS_FILTER, _COMMUNE, _BBOX,
    _q("since", {"anyOf": [{"type": "string", "pattern": "^seq:[0-9]+$"}, {"const": "last_transmitted"},
                           {"type": "string", "format": "date-time"}, {"type": "string", "maxLength": 0}]}, "`seq:<n>` (the `next_since` of an earlier export: changes after it), "
       "an ISO 8601 date-time with offset (reports updated after it), or `last_transmitted` (only what is "
       "new since the last export marked as transmitted)."),
    _q("from", _DAY, "Period start (the report's date observed, else filed; "
       "inclusive day, Brussels time)."),
    _q("to", _DAY, "Period end (inclusive day)."),
    _q("mark_transmitted", {"type": "boolean"}, "Mark the reports carried as transmitted to DWconnect (a POST "
       "only: a GET asking for it is 405).", methods=("post",)),
]
_F = _q("f", {"type": "string", "enum": ["json", "html"]}, "Output format (default: by Accept, else JSON).")

#: Query parameters of operations, keyed by (endpoint name).
QUERY_PARAMETERS: dict[str, list[dict[str, Any]]] = {
    "api.list_reports": [_COMMUNE, _BBOX,
                         _q("status", _vocab_schema(vocab.STATUSES), "One status."),
                         _q("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "Page size (100)."),
                         _q("cursor", {"type": "string"}, "`next_cursor` of the previous page.")],
    "api.audit_log": [_q("action", _vocab_schema(audit_service.AUDIT_ACTIONS), "One action."),
                      _COMMUNE, _q("user", {"type": "string"}, "E-mail of the actor."),
                      _q("from", _DAY, "First day (Brussels time)."),
                      _q("to", _DAY, "Last day (Brussels time)."),
                      _q("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "Page size (100)."),
                      _q("before", {"type": "integer", "minimum": 1}, "`next_before_id` of the previous page.")],
    "api.patch_report": [_q("crs", {"type": "string", "enum": ["EPSG:4326", "EPSG:31370", "EPSG:3812"]},
                            "CRS of an edited geometry (EPSG:4326 by default)."),
                         _q("repair", {"type": "boolean"}, "Repair an invalid edited zone.")],
    "api.post_report": [_q("crs", {"type": "string", "enum": ["EPSG:4326", "EPSG:31370", "EPSG:3812"]},
                           "CRS of the coordinates (EPSG:4326 by default)."),
                        _q("repair", {"type": "boolean"}, "Repair invalid zones (make_valid, all lobes kept).")],
    "exports.export_dwconnect": _EXPORT_PARAMS + [
        _q("limit", {"type": "integer", "minimum": 1, "maximum": export_service.MAX_PAGE}, "Page size."),
        _q("cursor", {"type": "string"}, "`next_cursor` of the previous page of the same pass.")],
    "exports.export_dwconnect_csv": _EXPORT_PARAMS + [
        _q("dialect", {"type": "string", "enum": ["excel", "plain"]},
           "`excel` (UTF-8 BOM, `;`, CRLF; default) or `plain` (RFC 4180: `,`, no BOM)."),
        _q("decimal", {"type": "string", "enum": ["point", "comma"]}, "Decimal mark (comma: excel only).")],
    "exports.export_dwconnect_gpkg": _EXPORT_PARAMS,
    "exports.list_runs": [_q("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "How many (100).")],
    "queue.queue_api": [
        _q("status", _statuses(vocab.STATUSES), f"`submitted` (default), `all`, or a comma list of "
           f"{', '.join(vocab.STATUSES)}."),
        _COMMUNE,
        _q("network", _vocab_schema(vocab.NETWORKS), "One network."),
        _q("operator", _vocab_schema(vocab.OPERATORS), "Reports naming this operator."),
        _q("period", {"type": "string", "enum": ["created", "observed"]}, "Which date `from`/`to` filter."),
        _q("from", _DAY, "First day (inclusive, Brussels time)."),
        _q("to", _DAY, "Last day (inclusive)."),
        _q("q", {"type": "string", "maxLength": 200}, "French full-text search in the descriptions "
           "(websearch syntax: quoted phrases, `or`, `-word`)."),
        _q("sort", {"type": "string", "enum": list(QUEUE_SORTS)}, "`oldest` first (default), or the most "
           "`households_affected` / `businesses_affected` first (undeclared last, oldest first among equals)."),
        _q("limit", {"type": "integer", "minimum": 1, "maximum": 200}, "Page size (25)."),
        _q("cursor", {"type": "string"}, "`next_cursor` of the previous page.")],
    "ogc.items": [
        _q("bbox", {"type": "array", "items": {"type": "number"},
                    "oneOf": [{"minItems": 4, "maxItems": 4}, {"minItems": 6, "maxItems": 6}]},
           "CRS84 bounding box: minx,miny,maxx,maxy, or minx,miny,minz,maxx,maxy,maxz (heights ignored: "
           "geometries are 2D).", False) | {"style": "form", "explode": False},
        _q("bbox-crs", {"type": "string", "enum": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"]},
           "CRS of bbox (CRS84 only)."),
        _q("datetime", {"type": "string"}, "RFC 3339 instant or interval (`start/end`, `..` open), with its "
           "offset."),
        _q("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}, "Page size."),
        _q("offset", {"type": "integer", "minimum": 0, "default": 0}, "Features to skip (next links)."),
        _F],
}
QUERY_PARAMETERS["zones.list_zones"] = [
    _q("state", _vocab_schema(("proposed", "confirmed")), "Zones in this state only."),
    _q("network", _vocab_schema(vocab.NETWORKS), "Zones of this network only."),
    _q("commune", {"type": "string", "pattern": "^[0-9]{5}$"}, "Zones whose largest part lies in this commune.")]
#: The statistics filters (:func:`geosignal.services.aggregation.parse_filters`).
_STATS_FILTERS = [
    _q("status", _statuses(vocab.STATUSES), f"`all`, or a comma list of {', '.join(vocab.STATUSES)} (default: the "
       "statuses counted in the figures). A representative counts another commune's reports in those statuses "
       "only (`own_commune` in the response's `filters`)."),
    _q("network", _vocab_schema(vocab.NETWORKS), "One network."),
    _q("technology", _vocab_schema(vocab.TECHNOLOGIES), "Reports naming this technology."),
    _q("operator", _vocab_schema(vocab.OPERATORS), "Reports naming this operator."),
    _q("issue", _vocab_schema(vocab.ISSUES), "One issue."),
    _q("from", _DAY, "First day (the date observed, else filed; Brussels time)."),
    _q("to", _DAY, "Last day (inclusive)."),
]
QUERY_PARAMETERS.update({
    "stats.communes": [*_STATS_FILTERS, _q("survey", {"type": "boolean"}, "Add the survey's answers.")],
    "stats.communes_csv": [*_STATS_FILTERS, _q("decimal", {"type": "string", "enum": ["point", "comma"]},
                                               "Decimal mark.")],
    "stats.communes_geojson": _STATS_FILTERS,
    "stats.commune": [*_STATS_FILTERS, _q("geometry", {"type": "boolean"},
                                          "Add the commune's white-zone and line unions (GeoJSON).")],
    "stats.locations": [*_STATS_FILTERS, _BBOX | {"required": True},
                        _q("zoom", {"type": "integer", "minimum": 0, "maximum": 22}, "The map's zoom level.", True)],
    "locate.limits": [_COMMUNE],
    "locate.read_coordinates": [
        _q("q", {"type": "string"}, "Coordinates as a person types them (decimal degrees, degrees-minutes-seconds, "
           "Lambert 72 or 2008 metres): one position, or several one per line (a road stretch or a zone, see "
           "shape; each fault names its line in `line`), or WKT POINT, LINESTRING or POLYGON (x/longitude first; "
           "EWKT SRID=4326, 31370 or 3812; a fault names its `position`).", True),
        _q("shape", {"type": "string", "enum": ["line", "zone"]}, "What several positions make: a road stretch "
           "(LineString, 2 or more) or a zone (Polygon, 3 or more, closed by the server). Default: a line for 2 "
           "positions, a zone for more. Ignored for one position and for WKT.")],
})
for _endpoint in ("ogc.landing", "ogc.conformance", "ogc.collections", "ogc.collection", "ogc.item"):
    QUERY_PARAMETERS[_endpoint] = [_F]
#: A conditional GET (RFC 9110 §13.1.2): the ETag of a copy the client holds.
_IF_NONE_MATCH = {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"},
                  "description": "An ETag the client holds (weak comparison; * for any): 304 without a body "
                                 "when it is the current one."}
for _endpoint in ("api.get_report", "exports.download_run", "api.list_communes"):
    QUERY_PARAMETERS[_endpoint] = [*QUERY_PARAMETERS.get(_endpoint, []), _IF_NONE_MATCH]
#: A conditional write (RFC 9110 §13.1.1): the ETag of the report as the client read it.
_IF_MATCH = {"name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"},
             "description": "The report's ETag as read (its revision): 412 precondition_failed when it changed "
                            "meanwhile, nothing changed. Required by an edit (428 precondition_required without "
                            "it); optional for a status change."}
QUERY_PARAMETERS["api.patch_report"] = [*QUERY_PARAMETERS.get("api.patch_report", []), _IF_MATCH]
QUERY_PARAMETERS["api.post_transition"] = [*QUERY_PARAMETERS.get("api.post_transition", []),
                                           {**_IF_MATCH, "description": "The report's ETag as read, checked "
                                            "after the status (409 invalid_transition when the current status "
                                            "no longer allows the move): 412 precondition_failed, with the "
                                            "current etag and status_from, when it changed meanwhile, "
                                            "nothing moved."}]
_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "schema": {"type": "string", "pattern": "^[\\x20-\\x7e]+$", "maxLength": report_service.MAX_IDEMPOTENCY_KEY},
    "description": "A key of the client's choosing: the same key and body again (a retry) answers the first "
                   "response, nothing stored twice; the same key with another body is 422 "
                   "idempotency_key_reused."}
for _endpoint in ("api.post_report", "evidence.post_speed_test", "evidence.post_photo"):
    QUERY_PARAMETERS[_endpoint] = [*QUERY_PARAMETERS.get(_endpoint, []), _IDEMPOTENCY_KEY]

_GEOJSON = "application/geo+json"
_PROBLEM = {"description": "Problem (RFC 9457)",
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}

#: Success responses of operations with a known body.
_RESPONSES: dict[str, dict[str, Any]] = {
    "api.post_report": {"201": {"description": "Created: the stored Feature; Location and ETag headers.",
                                "content": {_GEOJSON: {"schema": {"$ref": "#/components/schemas/Feature"}}}},
                        "200": {"description": "Nothing stored: the same body sent again within 10 s, the first "
                                               "report (warning probable_duplicate) while it is still in the "
                                               "status it was filed in.",
                                "content": {_GEOJSON: {"schema": {"$ref": "#/components/schemas/Feature"}}}}},
    "api.list_communes": {"200": {"description": "The communes (open data); ETag header, Cache-Control: no-cache.",
                                  "content": {_GEOJSON: {"schema": {"type": "object"}}}},
                          "304": {"description": "Not Modified: If-None-Match names the communes' ETag (no body)."}},
    "imports.post_import": {
        "200": {"description": "A preview (dry_run): the per-feature report; nothing stored.",
                "content": {"application/json": {"schema": {"type": "object"}}}},
        "201": {"description": "Saved: the per-feature report and the counts.",
                "content": {"application/json": {"schema": {"type": "object"}}}},
        "202": {"description": "Accepted: a save large enough to be a job; Location header of the job "
                               "(GET /api/v1/imports/{import_id}).",
                "content": {"application/json": {"schema": {"type": "object"}}}}},
    "stats.survey": {"200": {"description": "The survey's editions and each commune's latest answers.",
                             "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Survey"}}}}},
    "stats.import_survey": {"201": {"description": "The edition's answers replaced: {edition, responses, replaced, "
                                                   "published}.",
                                    "content": {"application/json": {"schema": {"type": "object"}}}}},
    "api.get_report": {"200": {"description": "The report; ETag header (its revision).",
                               "content": {_GEOJSON: {"schema": {"$ref": "#/components/schemas/Feature"}}}},
                       "304": {"description": "Not Modified: If-None-Match names the report's ETag (no body)."}},
    "exports.download_run": {"200": {"description": "The past export again, byte for byte; ETag (its SHA-256) and "
                                                    "Repr-Digest headers."},
                             "304": {"description": "Not Modified: If-None-Match names the run's ETag (no body)."}},
    "api.post_transition": {"200": {"description": "The report after the move; ETag header.",
                                    "content": {_GEOJSON: {"schema": {"$ref": "#/components/schemas/Feature"}}}}},
    "api.report_history": {"200": {"description": "The report's history, oldest first.",
                                   "content": {"application/json": {"schema": {"$ref": "#/components/schemas/History"}}}}},
    "api.list_reports": {"200": {"description": "A page of reports.", "content": {
        _GEOJSON: {"schema": {"$ref": "#/components/schemas/FeatureCollection"}}}}},
    "exports.export_dwconnect": {"200": {
        "description": "The DWconnect FeatureCollection; its JSON Schema is served at "
                       "/api/v1/exports/dwconnect.schema.json. Headers X-Export-Run, X-Next-Since.",
        "content": {"application/geo+json; charset=utf-8": {"schema": {"type": "object"}}}}},
    "exports.export_dwconnect_csv": {"200": {"description": "CSV export.",
                                             "content": {"text/csv; charset=utf-8": {"schema": {"type": "string"}}}}},
    "evidence.list_evidence": {"200": {"description": "The report's evidence.", "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/Evidence"}}}}},
    "locate.read_coordinates": {"200": {
        "description": "The place read: `shape` (point, line or zone), `geometry` (GeoJSON, EPSG:4326, 7 decimals), "
                       "`positions` (each: lon, lat, crs, notation, order, values, commune), `source` (lines or wkt), "
                       "`settled_lines` (lines whose order, ambiguous alone, was the other lines'); one position "
                       "also has its own members at the top (lon, lat, crs, notation, order, values, commune), as "
                       "before several were read.",
        "content": {"application/json": {"schema": {"type": "object", "required": ["shape", "geometry", "positions"],
                                                    "properties": {
                                                        "shape": {"type": "string", "enum": ["point", "line", "zone"]},
                                                        "geometry": {"type": "object"},
                                                        "positions": {"type": "array", "items": {"type": "object"}},
                                                        "source": {"type": "string", "enum": ["lines", "wkt"]},
                                                        "settled_lines": {"type": "array",
                                                                          "items": {"type": "integer"}}}}}}}},
    "evidence.post_speed_test": {"201": {"description": "Created: the stored speed test."},
                                 "200": {"description": "The same speed test, added by you less than 10 s ago: "
                                                        "that one, with the warning probable_duplicate."}},
    "evidence.post_photo": {"201": {"description": "Created: the photo's description and URL; Location header."},
                            "200": {"description": "The same photo, added by you less than 10 s ago: that one, "
                                                   "with the warning probable_duplicate; Location header."}},
    "exports.export_dwconnect_gpkg": {"200": {"description": "GeoPackage export (layer white_zones).", "content": {
        "application/geopackage+sqlite3": {"schema": {"type": "string", "contentEncoding": "binary"}}}}},
}
_BODIES: dict[str, dict[str, Any]] = {
    "api.post_report": {"required": True, "content": {
        _GEOJSON: {"schema": {"$ref": "#/components/schemas/ReportFeatureInput"}},
        "application/json": {"schema": {"$ref": "#/components/schemas/ReportFeatureInput"}}}},
    "api.patch_report": {"required": True, "content": {
        "application/json": {"schema": {"oneOf": [{"$ref": "#/components/schemas/ReportFeaturePatch"},
                                                  {"$ref": "#/components/schemas/StatusChange"}]}},
        _GEOJSON: {"schema": {"$ref": "#/components/schemas/ReportFeaturePatch"}}}},
    "zones.confirm_zone": {"required": False, "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/ZoneReportIds"}}}},
    "zones.join_zones": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["zone_id"], "additionalProperties": False,
        "properties": {"zone_id": {"type": "integer", "description": "The zone to join to this one (same network)."},
                       "report_ids": {"type": "array", "items": {"type": "string", "format": "uuid"},
                                      "description": "The two zones' reports as read (409 zone_changed otherwise; "
                                                     "409 zone_would_grow when the zone would take in others)."}}}}}},
    "zones.add_to_zone": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["report_id"], "additionalProperties": False,
        "properties": {"report_id": {"type": "string", "format": "uuid",
                                     "description": "The report to add: same network, in no zone, counted."},
                       "report_ids": {"type": "array", "items": {"type": "string", "format": "uuid"},
                                      "description": "The zone's reports as read (409 zone_changed otherwise; "
                                                     "409 zone_would_grow when the zone would take in others)."}}}}}},
    "zones.split_zone": {"required": True, "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/ZoneReportIds", "required": ["report_ids"]}}}},
    "queue.bulk_transition": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["ids", "to"], "additionalProperties": False,
        "properties": {"ids": {"type": "array", "minItems": 1, "maxItems": 1000, "items": {"type": "string"}},
                       "to": _vocab_schema(vocab.STATUSES), "reason": {"type": "string"},
                       "etags": {"type": "object", "additionalProperties": {"type": "string"},
                                 "description": "Report id → the ETag read: a report changed since is refused "
                                                "(precondition_failed, with its current etag)."}}}}}},
    "api.post_transition": {"required": True, "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/Transition"}}}},
    "stats.import_survey": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["file", "edition"],
        "properties": {"file": {"type": "string", "contentMediaType": "text/csv",
                                "description": "The questionnaire's export, CSV or XLSX."},
                       "edition": {"type": "string", "pattern": "^[0-9]{4}$", "description": "The edition's year."}}}}}},
    "imports.post_import": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["file"], "additionalProperties": False,
        "properties": {"file": {"type": "string", "contentEncoding": "binary",
                                "description": "GeoJSON, KML/KMZ, GPX, CSV, GeoPackage or a zipped Shapefile."},
                       **{name: {"type": "string", "description": text}
                          for name, text in import_service.IMPORT_FIELDS.items()}}}}}},
    "evidence.post_photo": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["photo"],
        "properties": {"photo": {"type": "string", "contentMediaType": "image/jpeg",
                                 "description": "JPEG or PNG, at most 5 MB."}}}}}},
}
#: Operations anyone may call (no sign-in).
_PUBLIC = ("api.list_communes", "exports.export_schema", "ogc.")


def _path(rule: str) -> tuple[str, list[str]]:
    names = re.findall(r"<(?:[^:<>]+:)?([^<>]+)>", rule)
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule), names


def _doc(view: Callable | None) -> tuple[str, str]:
    text = inspect.getdoc(view) if view is not None else None
    if not text:
        return "", ""
    summary, _, rest = text.partition("\n")
    return summary.strip(), rest.strip()


def build_openapi(url_map: Map, view_functions: dict[str, Callable], server: str = "/") -> dict[str, Any]:
    """Return the OpenAPI 3.1 document of every rule of ``url_map`` under /api/v1 and /ogc."""
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith(("/api/v1/", "/ogc")):
            continue
        path, names = _path(rule.rule)
        if path.endswith("/") and path != "/":
            path = path.rstrip("/") or "/"
        if path == "/ogc/":
            path = "/ogc"
        tag = "ogc" if path.startswith("/ogc") else path.split("/")[3]
        for method in sorted(m.lower() for m in (rule.methods or ()) if m.lower() in _METHODS):
            if method in paths.get(path, {}):
                continue
            summary, description = _doc(view_functions.get(rule.endpoint))
            op: dict[str, Any] = {
                "operationId": rule.endpoint.replace(".", "_") + ("" if method == "get" else f"_{method}"),
                "tags": [tag],
                "summary": summary or rule.endpoint,
                "parameters": [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
                               for n in names] + [
                    {k: v for k, v in p.items() if k != _METHODS_KEY} for p in QUERY_PARAMETERS.get(rule.endpoint, [])
                    if method in p.get(_METHODS_KEY, (method,))],
                "responses": {**_RESPONSES.get(rule.endpoint, {"200": {"description": "Success."}}),
                              "4XX": _PROBLEM},
            }
            if description:
                op["description"] = description
            if rule.endpoint in _BODIES:
                op["requestBody"] = _BODIES[rule.endpoint]
            if not rule.endpoint.startswith(_PUBLIC):
                op["security"] = [{"bearer": []}, {"session": []}]
            paths.setdefault(path, {})[method] = op
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "geosignal API", "version": API_VERSION,
                 "description": "Connectivity white zones of Charleroi Métropole: reports, statistics, "
                                "DWconnect exports (schema " + export_service.SCHEMA_VERSION + ") and OGC API "
                                "Features. Errors are RFC 9457 problem documents with a stable `code`.",
                 "license": {"name": "EUPL-1.2", "identifier": "EUPL-1.2"}},
        "servers": [{"url": server}],
        "paths": paths,
        "components": _components(),
    }


def operations(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the document's operations flattened for a page: method, path, tag, summary,
    description, parameters, public."""
    out = []
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            out.append({"method": method.upper(), "path": path, "tag": op["tags"][0], "summary": op["summary"],
                        "description": op.get("description", ""), "parameters": op["parameters"],
                        "public": "security" not in op, "body": "requestBody" in op})
    return sorted(out, key=lambda o: (o["tag"], o["path"], o["method"]))
