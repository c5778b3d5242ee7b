"""Downloads of the commune table: CSV for Excel, and GeoJSON."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

from geosignal.services.aggregation.filters import BREAKDOWNS
from geosignal.textsafety import spreadsheet_text

#: The table's columns for Excel: row key → French heading (the msgid; each download is
#: headed in its reader's language, see :func:`table_csv`).
CSV_COLUMNS: dict[str, str] = {
    "nis_code": "Code INS",
    "name_fr": "Commune",
    "population": "Population",
    "population_year": "Année population",
    "commune_area_km2": "Surface communale (km²)",
    "report_count": "Signalements",
    "point_count": "Points",
    "line_count": "Tronçons",
    "zone_count": "Zones",
    "white_zone_area_km2": "Zone blanche (km²)",
    "white_zone_share": "Part zone blanche (%)",
    "line_length_km": "Tronçons (km)",
    "reports_per_1000_inhabitants": "Signalements / 1 000 hab.",
    "households_declared": "Ménages touchés (déclarés)",
    "inhabitants_affected_estimate": "Habitants touchés (estimation)",
}
#: The survey's columns (a row's ``survey`` member) → French heading.
SURVEY_CSV_COLUMNS: dict[str, str] = {
    "smart_score": "Score smart",
    "connectivity_cited": "Connectivité citée",
    "citizens_informed_score": "Citoyens informés",
    "edition": "Édition enquête",
}
#: The other French words of the download: the territory row's name, the survey's yes and no.
CSV_WORDS: dict[str, str] = {"territory": "Territoire", "yes": "oui", "no": "non",
                             # the status breakdown counts every status, whatever the status filter
                             "status_breakdown": "Signalements, tous statuts"}
#: The report property whose label heads each breakdown dimension's columns.
_BREAKDOWN_PROPERTY: dict[str, str] = {"technology": "technologies", "operator": "operators"}


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
    # a name (commune, from the loaded open data) is text for the spreadsheet, never a formula
    return spreadsheet_text(value) if isinstance(value, str) else str(value)


def _same(text: str) -> str:
    return text


def table_csv(table: dict[str, Any], *, decimal_comma: bool = False, survey: bool = True,
              translate: Callable[[str], str] = _same, colon: str = " : ") -> str:
    """Return the commune table as CSV text for Excel: ``;`` separated, a UTF-8 BOM first,
    CRLF line ends, one row per commune then the territory's row; numbers with a decimal
    point, or a decimal comma when ``decimal_comma``. Breakdown counts follow, one column per
    value headed ``<property><colon><value>`` (``Technologies : 4G``; the status breakdown, which
    counts every status whatever the status filter, ``Signalements, tous statuts : Validé``); the survey's columns
    (``Score smart`` …) when rows carry ``survey``.

    Headings, the territory's name and the survey's yes/no are French, passed through
    ``translate`` (a gettext: French text → the reader's language); ``colon`` is that
    language's label separator (:func:`geosignal.ui_text.colon`)."""
    from geosignal import contract

    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    values = contract.value_labels()
    breakdown_cols = [(dim, v) for dim, vals in BREAKDOWNS.items() for v in vals]
    has_survey = survey and any("survey" in r for r in table["communes"])
    header = [translate(heading) for heading in CSV_COLUMNS.values()]
    header += [translate(CSV_WORDS["status_breakdown"] if d == "status" else contract.label(_BREAKDOWN_PROPERTY.get(d, d)))
               + colon + (translate(values[v]) if v in values else v) for d, v in breakdown_cols]
    if has_survey:
        header += [translate(heading) for heading in SURVEY_CSV_COLUMNS.values()]
    writer.writerow(header)
    territory = {**table["territory"], "nis_code": "", "name_fr": translate(CSV_WORDS["territory"])}
    yes, no = translate(CSV_WORDS["yes"]), translate(CSV_WORDS["no"])
    for row in [*table["communes"], territory]:
        line = [_csv_value(k, row.get(k), decimal_comma) for k in CSV_COLUMNS]
        line += [str(row["breakdown"][d][v]) for d, v in breakdown_cols]
        if has_survey:
            answers = row.get("survey") or {}
            for key in SURVEY_CSV_COLUMNS:
                value = answers.get(key)
                line.append("" if value is None else yes if value is True else no if value is False
                            else str(value))
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
