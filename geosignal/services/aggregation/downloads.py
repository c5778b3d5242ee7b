"""Downloads of the commune table: CSV for Excel, and GeoJSON."""

from __future__ import annotations

import csv
import io
from typing import Any

from geosignal.services.aggregation.filters import BREAKDOWNS

CSV_COLUMNS: tuple[tuple[str, str], ...] = (
    ("nis_code", "Code INS"),
    ("name_fr", "Commune"),
    ("population", "Population"),
    ("population_year", "Année population"),
    ("commune_area_km2", "Surface communale (km²)"),
    ("report_count", "Signalements"),
    ("point_count", "Points"),
    ("line_count", "Tronçons"),
    ("zone_count", "Zones"),
    ("white_zone_area_km2", "Zone blanche (km²)"),
    ("white_zone_share", "Part zone blanche (%)"),
    ("line_length_km", "Tronçons (km)"),
    ("reports_per_1000_inhabitants", "Signalements / 1 000 hab."),
    ("households_declared", "Ménages touchés (déclarés)"),
    ("inhabitants_affected_estimate", "Habitants touchés (estimation)"),
)


def _csv_value(key: str, value: Any, decimal_comma: bool) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if key == "white_zone_share":
            text_value = f"{100 * value:.4f}"
        elif key == "commune_area_km2":
            text_value = f"{value:.3f}"
        elif key in ("white_zone_area_km2", "line_length_km"):
            text_value = f"{value:.6f}"
        else:
            text_value = f"{value:.3f}"
        return text_value.replace(".", ",") if decimal_comma else text_value
    return str(value)


def table_csv(table: dict[str, Any], *, decimal_comma: bool = False, survey: bool = True) -> str:
    """Return the commune table as CSV text for Excel: ``;`` separated, a UTF-8 BOM first,
    CRLF line ends, one row per commune then a ``Territoire`` row; numbers with a decimal
    point, or a decimal comma when ``decimal_comma``. Breakdown counts follow as
    ``<dimension>:<value>`` columns; survey columns (``Score smart`` …) when rows carry
    ``survey``."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    breakdown_cols = [(dim, v) for dim, values in BREAKDOWNS.items() for v in values]
    survey_cols = [("smart_score", "Score smart"), ("connectivity_cited", "Connectivité citée"),
                   ("citizens_informed_score", "Citoyens informés"), ("edition", "Édition enquête")]
    has_survey = survey and any("survey" in r for r in table["communes"])
    header = [label for _k, label in CSV_COLUMNS] + [f"{d}:{v}" for d, v in breakdown_cols]
    if has_survey:
        header += [label for _k, label in survey_cols]
    writer.writerow(header)
    rows = [*table["communes"], {**table["territory"], "nis_code": ""}]
    for row in rows:
        line = [_csv_value(k, row.get(k), decimal_comma) for k, _l in CSV_COLUMNS]
        line += [str(row["breakdown"][d][v]) for d, v in breakdown_cols]
        if has_survey:
            answers = row.get("survey") or {}
            for key, _label in survey_cols:
                value = answers.get(key)
                line.append("" if value is None else ("oui" if value is True else "non" if value is False
                                                      else str(value)))
        writer.writerow(line)
    return "\ufeff" + out.getvalue()


def table_geojson(table: dict[str, Any], features: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the commune table as an RFC 7946 FeatureCollection: each commune's boundary
    (``features`` from :func:`geosignal.services.communes.list_communes`) with its row as
    properties (``breakdown`` and ``survey`` nested)."""
    by_nis = {r["nis_code"]: r for r in table["communes"]}
    out = []
    for f in features:
        row = by_nis.get(f["id"])
        if row is not None:
            out.append({"type": "Feature", "id": f["id"], "geometry": f["geometry"], "properties": row})
    return {"type": "FeatureCollection", "features": out, "territory": table["territory"],
            "filters": table["filters"], "estimate_note": table["estimate_note"]}
