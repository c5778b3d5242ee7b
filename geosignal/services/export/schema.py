"""The JSON Schema (2020-12) of the DWconnect GeoJSON export, built from :mod:`geosignal.vocab`."""

from __future__ import annotations

from typing import Any

from geosignal import vocab
from geosignal.services.export.constants import COLLAPSED, SCHEMA_ID, SCHEMA_VERSION, SOURCE
from geosignal.services.export.sql import PROPERTY_NAMES


def export_schema() -> dict[str, Any]:
    """Return the JSON Schema (2020-12) of the DWconnect export, built from :mod:`geosignal.vocab`.

    ``data/dwconnect-export.schema.json`` is this document (a test keeps them equal).
    """
    def nullable(schema: dict[str, Any]) -> dict[str, Any]:
        return {"anyOf": [schema, {"type": "null"}]}

    date_time = {"type": "string", "format": "date-time",
                 "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2}|Z)$"}
    position = {"type": "array", "minItems": 2, "maxItems": 2,
                "prefixItems": [{"type": "number", "minimum": -180, "maximum": 180},
                                {"type": "number", "minimum": -90, "maximum": 90}]}
    line = {"type": "array", "minItems": 2, "items": {"$ref": "#/$defs/position"}}
    ring = {"type": "array", "minItems": 4, "items": {"$ref": "#/$defs/position"}}
    polygon = {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/ring"}}

    def geometry(kind: str, coordinates: dict[str, Any]) -> dict[str, Any]:
        return {"type": "object", "required": ["type", "coordinates"], "not": {"required": ["crs"]},
                "properties": {"type": {"const": kind}, "coordinates": coordinates}}

    properties = {
        "report_id": {"type": "string", "format": "uuid", "description": "Stable identifier of the report (UUID)."},
        "commune_nis": {"type": "string", "pattern": "^[0-9]{5}$",
                        "description": "NIS (Statbel REFNIS) code of the commune holding most of the geometry."},
        "commune_name": {"type": "string", "minLength": 1, "description": "French name of that commune."},
        "network": {"enum": list(vocab.NETWORKS), "description": "Network concerned."},
        "technologies": {"type": "array", "uniqueItems": True, "items": {"enum": list(vocab.TECHNOLOGIES)}},
        "operators": {"type": "array", "uniqueItems": True, "items": {"enum": list(vocab.OPERATORS)}},
        "issue": nullable({"enum": list(vocab.ISSUES)}),
        "setting": nullable({"enum": list(vocab.SETTINGS)}),
        "households_affected": nullable({"type": "integer", "minimum": 0}),
        "businesses_affected": nullable({"type": "integer", "minimum": 0}),
        "description": {"type": "string", "description": "Free text of the representative (NFC)."},
        "observed_at": nullable({**date_time, "description": "When the problem was observed."}),
        "reported_at": {**date_time, "description": "When the report was filed."},
        "updated_at": {**date_time, "description": "Last change of the report."},
        "revision": {"type": "integer", "minimum": 1,
                     "description": "Change sequence of the report: greater after every change."},
        "status": {"enum": list(vocab.STATUSES)},
        "geometry_kind": {"enum": ["point", "line", "zone"]},
        "area_m2": nullable({"type": "number", "exclusiveMinimum": 0,
                             "description": "Planar area in m² (EPSG:31370), zones only."}),
        "length_m": nullable({"type": "number", "minimum": 0,
                              "description": "Planar length in m (EPSG:31370), lines only."}),
        "merged_reports": {"type": "integer", "minimum": 1,
                           "description": "Reports merged into this feature (always 1 in 1.x)."},
        "reporter_role": nullable({"enum": list(vocab.ROLES)}),
        "reporter_commune_nis": nullable({"type": "string", "pattern": "^[0-9]{5}$"}),
        "schema_version": {"const": SCHEMA_VERSION},
        "source": {"const": SOURCE},
    }
    assert tuple(properties) == PROPERTY_NAMES, "schema and SQL properties differ"
    feature = {
        "type": "object",
        "required": ["type", "id", "geometry", "properties"],
        "not": {"required": ["crs"]},
        "properties": {
            "type": {"const": "Feature"},
            "id": {"type": "string", "format": "uuid"},
            "geometry": {"oneOf": [
                geometry("Point", {"$ref": "#/$defs/position"}),
                geometry("LineString", line),
                geometry("Polygon", polygon),
                geometry("MultiPoint", {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/position"}}),
                geometry("MultiLineString", {"type": "array", "minItems": 1, "items": line}),
                geometry("MultiPolygon", {"type": "array", "minItems": 1, "items": polygon}),
            ]},
            "properties": {"type": "object", "additionalProperties": False,
                           "required": list(PROPERTY_NAMES), "properties": properties},
        },
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": f"geosignal DWconnect export {SCHEMA_VERSION}",
        "description": "White-zone reports of Charleroi Métropole as an RFC 7946 FeatureCollection "
                       "(EPSG:4326 [lon, lat], 6 decimals). See docs/dwconnect.md.",
        "type": "object",
        "required": ["type", "schema_version", "source", "generated_at", "next_since", "features",
                     "numberReturned", "excluded"],
        "not": {"required": ["crs"]},
        "properties": {
            "type": {"const": "FeatureCollection"},
            "schema_version": {"const": SCHEMA_VERSION},
            "source": {"const": SOURCE},
            "generated_at": date_time,
            "next_since": {"type": "string", "pattern": "^seq:[0-9]+$",
                           "description": "Pass it as since= to get the changes after this export."},
            "export_run": {"type": "string", "format": "uuid"},
            "features": {"type": "array", "items": {"$ref": "#/$defs/feature"}},
            "numberReturned": {"type": "integer", "minimum": 0},
            "excluded": {"type": "array", "items": {
                "type": "object", "required": ["id", "reason"], "additionalProperties": False,
                "properties": {"id": {"type": "string", "format": "uuid"}, "reason": {"enum": [COLLAPSED]}}}},
            "next_cursor": {"type": "string", "description": "Present when another page follows."},
        },
        "$defs": {"position": position, "ring": ring, "feature": feature},
    }

