"""One commune's figures as a JSON-ready row, and the territory's row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from geosignal.services.aggregation.filters import BREAKDOWNS
from geosignal.services.aggregation.geometry import Counts


@dataclass(frozen=True)
class CommuneInfo:
    """What the rows need to know about a commune (area in m², EPSG:31370)."""

    nis_code: str
    name_fr: str
    area_m2: float
    population: int | None
    population_year: int | None


#: How far (m²) the white zone of a commune it covers whole may measure beyond the commune's own
#: area: the float noise of two computations of one surface (about 1e-13 of it), never a real
#: square metre. Beyond that the figures stay as computed, so that a fault still shows.
AREA_NOISE_M2 = 1.0


def make_row(info: CommuneInfo, counts: Counts, white_zone_m2: float, line_length_m: float) -> dict[str, Any]:
    """Return one commune's figures as a JSON-ready dict.

    Keys: ``nis_code``, ``name_fr``, ``population``, ``population_year``,
    ``commune_area_km2``, ``report_count``, ``point_count``, ``line_count``, ``zone_count``,
    ``white_zone_area_m2`` (rounded to 1 m²), ``white_zone_area_km2``, ``white_zone_share``
    (0–1), ``line_length_km``, ``reports_per_1000_inhabitants``, ``households_declared``,
    ``inhabitants_affected_estimate`` (rounded to a person; None without population) and
    ``breakdown`` (``{dimension: {value: count}}``).
    """
    if info.area_m2 and info.area_m2 < white_zone_m2 <= info.area_m2 + AREA_NOISE_M2:
        white_zone_m2 = info.area_m2  # a zone covering the whole commune: its area, not a share of 1.0000000000001
    share = white_zone_m2 / info.area_m2 if info.area_m2 else 0.0
    population = info.population
    return {
        "nis_code": info.nis_code,
        "name_fr": info.name_fr,
        "population": population,
        "population_year": info.population_year,
        "commune_area_km2": info.area_m2 / 1e6,
        "report_count": counts.report_count,
        "point_count": counts.point_count,
        "line_count": counts.line_count,
        "zone_count": counts.zone_count,
        "white_zone_area_m2": round(white_zone_m2, 0),
        "white_zone_area_km2": white_zone_m2 / 1e6,
        "white_zone_share": share,
        "line_length_km": line_length_m / 1e3,
        "reports_per_1000_inhabitants": 1000 * counts.report_count / population if population else None,
        "households_declared": counts.households_declared,
        "inhabitants_affected_estimate": round(share * population) if population is not None else None,
        "breakdown": counts.breakdown,
    }


def territory_row(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the territory's figures: the sums of the per-commune rows (shares recomputed)."""
    area_m2 = sum(r["commune_area_km2"] for r in rows) * 1e6
    zone_m2 = sum(r["white_zone_area_km2"] for r in rows) * 1e6
    populations = [r["population"] for r in rows if r["population"] is not None]
    population = sum(populations) if populations else None
    years = sorted({r["population_year"] for r in rows if r["population_year"]})
    breakdown = {dim: dict.fromkeys(values, 0) for dim, values in BREAKDOWNS.items()}
    for r in rows:  # (each commune's values of the vocabulary; any other value is left out)
        for dim, total in breakdown.items():
            counted = r["breakdown"][dim]
            for v in total:
                total[v] += counted[v]
    counts = Counts(
        report_count=sum(r["report_count"] for r in rows),
        point_count=sum(r["point_count"] for r in rows),
        line_count=sum(r["line_count"] for r in rows),
        zone_count=sum(r["zone_count"] for r in rows),
        households_declared=sum(r["households_declared"] for r in rows),
        breakdown=breakdown,
    )
    info = CommuneInfo("", "Territoire", area_m2, population, years[-1] if years else None)
    row = make_row(info, counts, zone_m2, sum(r["line_length_km"] for r in rows) * 1e3)
    row.pop("nis_code")
    row["name_fr"] = "Territoire"
    row["commune_count"] = len(rows)
    row["inhabitants_affected_estimate"] = sum(
        r["inhabitants_affected_estimate"] or 0 for r in rows) if population is not None else None
    return row
