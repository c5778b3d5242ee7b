"""File mode: the same figures from a reports file and a communes file, no server."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from os import PathLike
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from geosignal.errors import GeosignalError
from geosignal.geo import LAMBERT72, WGS84
from geosignal.services.aggregation.filters import (
    ESTIMATE_NOTE,
    NO_FILTERS,
    StatsFilters,
    _day_start,
)
from geosignal.services.aggregation.geometry import Counts, clipped_unions
from geosignal.services.aggregation.rows import CommuneInfo, make_row, territory_row

#: The columns that date a report in a reports file, the first given winning, as the server dates
#: it (``coalesce(observed_at, created_at)``): the observation date, else the filing time —
#: ``reported_at`` in a DWconnect export and the API (:mod:`geosignal.contract`), ``created_at``
#: in a file written from the table itself.
DATE_COLUMNS = ("observed_at", "reported_at", "created_at")


def _read_vector(path: str | PathLike[str]):  # noqa: ANN202
    """Every feature layer of the vector file at ``path`` (every folder of a KML, every layer of
    a GeoPackage: GDAL's first alone was read, the others dropped without a word) as one
    GeoDataFrame, EPSG:4326 when the file says no CRS. Raises ``unreadable_file`` for a file GDAL
    cannot read or that holds no geometries (a KML named ``.csv`` is read as a table)."""
    import geopandas as gpd
    import pandas as pd
    import pyogrio

    try:
        layers = [str(name) for name, geometry_type in pyogrio.list_layers(path) if geometry_type is not None]
        # dates as written, each read alone by the intake's rule (pyogrio turned a column mixing
        # naive and aware times into UTC timestamps, every naive one then read as UTC)
        frames = [gpd.read_file(path, engine="pyogrio", layer=layer, datetime_as_string=True) for layer in layers]
    except Exception as exc:  # noqa: BLE001 - pyogrio raises several error types
        raise GeosignalError("unreadable_file", f"cannot read {path}: {exc}") from exc
    frames = [f for f in frames if isinstance(f, gpd.GeoDataFrame) and len(f.columns)]
    if not frames:
        raise GeosignalError("unreadable_file", f"{path} holds no geometries (a table? a file whose name says "
                             "another format?)")
    crs = frames[0].crs or WGS84
    frame = gpd.GeoDataFrame(pd.concat([f.set_crs(WGS84) if f.crs is None else f.to_crs(crs) for f in frames],
                                       ignore_index=True), crs=crs)
    return frame


def _check_geometries(geoms_4326: np.ndarray, path: str | PathLike[str]) -> None:
    """Refuse (``non_finite_number``, ``invalid_geometry``, naming the feature, 0-based) a
    reports file whose geometries the figures cannot be computed on: a NaN or infinite
    coordinate, a self-intersecting ring (GEOS failed on them with a traceback)."""
    coordinates, owner = shapely.get_coordinates(geoms_4326, return_index=True)
    bad = ~np.isfinite(coordinates).all(axis=1)
    if bad.any():
        i = int(owner[np.argmax(bad)])
        raise GeosignalError("non_finite_number", f"{path}: feature {i} has a coordinate that is not a finite "
                             "number.", where=f"feature {i}", index=i)
    invalid = np.flatnonzero(~shapely.is_valid(geoms_4326))
    if len(invalid):
        i = int(invalid[0])
        raise GeosignalError("invalid_geometry", f"{path}: feature {i} is not a valid geometry "
                             f"({shapely.is_valid_reason(geoms_4326[i])}).", where=f"feature {i}", index=i)


def home_communes(boundaries: dict[str, BaseGeometry], geoms: np.ndarray) -> list[str | None]:
    """Return each geometry's home commune (EPSG:4326 geometries and ``boundaries``, keyed by NIS
    code), by the rule of :func:`geosignal.services.communes.commune_of`, as an upload applies
    it (:func:`geosignal.services.intake.batch.homes`): the largest part measured in EPSG:31370
    (area, the length the figures count there, or number of points within
    :data:`~geosignal.geo.BORDER_TOLERANCE_DEG`); ties to the smallest NIS code; None outside
    every commune."""
    from geosignal.services.intake.batch import homes

    codes = sorted(boundaries)
    bounds = np.asarray([boundaries[c] for c in codes], dtype=object)
    shapely.prepare(bounds)
    home, _ = homes(shapely.STRtree(bounds), bounds, codes, np.asarray(geoms, dtype=object))
    return list(home)


def _counts(values: list[Any], name: str, path: str | PathLike[str]) -> list[int]:
    """The counts of column ``name`` (households), read by an upload's rule (a whole number
    0…:data:`~geosignal.contract.MAX_COUNT`; absent: 0). Raises ``non_finite_number`` (NaN
    written, Infinity) or ``invalid_attribute`` for the first feature (0-based) whose value
    the intake would not store, with how many others hold one: a negative, decimal, ambiguous
    (« 1.000 ») or huge count was summed into the figures (−5, 12 for 12.7, 1, 10³⁰⁰)."""
    from geosignal.services.intake import properties
    from geosignal.services.intake.numbers import non_finite_text

    out: list[int] = []
    faults: list[GeosignalError] = []
    for i, value in enumerate(values):
        value = properties.coerce_file_properties({name: value}).get(name)  # as an upload reads a file's
        if value is None:  # absent (an empty cell, pandas' NaN)
            out.append(0)
            continue
        try:
            if (isinstance(value, float) and not np.isfinite(value)) or (
                    isinstance(value, str) and non_finite_text(value)):
                raise GeosignalError("non_finite_number", f"{name} is {value!r}, not a finite number.")
            out.append(properties._count(value, f"feature {i}", name))
        except GeosignalError as fault:
            faults.append(GeosignalError(fault.code, f"{path}: feature {i}: {fault.detail}", where=f"feature {i}",
                                         index=i, field=name))
            out.append(0)
    if faults:
        first = faults[0]
        more = f" ({len(faults) - 1} more feature(s) hold a {name} the intake refuses)" if len(faults) > 1 else ""
        raise GeosignalError(first.code, first.detail + more, **first.extra)
    return out


def _refuse_homeless(homes: list[str | None], geoms_4326: np.ndarray, boundaries_4326: dict[str, BaseGeometry],
                     infos: dict[str, CommuneInfo], path: str | PathLike[str],
                     communes_path: str | PathLike[str]) -> None:
    """Refuse (``outside_service_area``, naming the first feature, 0-based, with the intake's
    hint: axes swapped, metres in a file declaring no CRS) a reports file holding a geometry in
    none of the communes: it was left out of the figures without a word (a stored report always
    has its commune, so such a feature is a mistake of the file)."""
    homeless = [i for i, home in enumerate(homes) if home is None]
    if not homeless:
        return
    from geosignal.services.intake.area import ServiceArea
    from geosignal.services.intake.core import _outside

    i = homeless[0]
    area = ServiceArea([(nis, infos[nis].name_fr, g) for nis, g in boundaries_4326.items()], margin_m=0.0)
    more = f" ({len(homeless) - 1} more feature(s) too)" if len(homeless) > 1 else ""
    raise _outside(shapely.get_coordinates(geoms_4326[i]), WGS84, area, f"feature {i}",
                   f"{path}: feature {i} lies in none of the communes of {communes_path}{more}.")


def _report_dates(reports, path: str | PathLike[str]):  # noqa: ANN001, ANN202 - (Geo)DataFrame → Series
    """Return each report's date (a pandas Series of UTC timestamps, indexed as ``reports``): the
    first of :data:`DATE_COLUMNS` given, every value read by an upload's rule
    (:func:`~geosignal.services.intake.properties.parse_observed_at`, day first: ``03/04/2025``
    is 3 April; a time without offset is Brussels wall time, a date alone 00:00 Brussels),
    each distinct value parsed once. A feature is named by its place in the file (0-based).

    Raises ``missing_column`` when the file has none of :data:`DATE_COLUMNS`; the intake's
    ``invalid_datetime`` / ``ambiguous_local_time`` for the first feature whose value the
    upload would not store (unreadable, an observation in the future or before 1990, a time in
    the summer-time gap or overlap: pandas read the first month first, nulled the rest of the
    column or took a naive time as UTC); ``invalid_datetime`` (kind ``missing``) for a feature
    with no date at all, which the period could not place (it was left out without a word).
    """
    import pandas as pd

    from geosignal.services.intake import properties

    dated_by = [column for column in DATE_COLUMNS if column in reports]
    if not dated_by:
        raise GeosignalError("missing_column", f"{path}: a period is asked, but the file has no date column "
                             f"({', '.join(DATE_COLUMNS)}): no report could be placed in it.",
                             columns=list(DATE_COLUMNS))
    when = pd.Series(pd.NaT, index=reports.index, dtype="datetime64[ns, UTC]")
    for column in reversed(dated_by):  # the first of DATE_COLUMNS wins where given
        values = reports[column]
        # the filing time is the server's own: read by the same format rule, not the limits of
        # an observation (a filing time is never one in the future)
        parse = properties.parse_observed_at if column == "observed_at" else properties._parse_observed_at
        read: dict[Any, Any] = {}
        for value in pd.unique(values.dropna()):
            given = properties.coerce_file_properties({"observed_at": value}).get("observed_at")  # as an upload
            try:
                read[value] = pd.NaT if given is None else pd.Timestamp(parse(given, where=column, day_first=True))
            except GeosignalError as fault:
                i = int(values.index[(values == value).to_numpy()][0])
                raise GeosignalError(fault.code, f"{path}: feature {i}: {column}: {fault.detail}", where=f"feature {i}",
                                     index=i, field=column, **{k: v for k, v in fault.extra.items()
                                                               if k not in ("where", "index", "field")}) from None
        parsed = pd.to_datetime(values.map(read), utc=True) if read else pd.Series(pd.NaT, index=values.index,
                                                                                  dtype="datetime64[ns, UTC]")
        when = parsed.where(parsed.notna(), when)
    undated = np.flatnonzero(when.isna().to_numpy())
    if len(undated):
        i = int(reports.index[undated[0]])
        more = f" ({len(undated) - 1} more feature(s) too)" if len(undated) > 1 else ""
        raise GeosignalError("invalid_datetime", f"{path}: feature {i} has no date ({', '.join(dated_by)} empty): the "
                             f"period cannot place it{more}.", where=f"feature {i}", index=i, kind="missing")
    return when


def _list_value(value: Any) -> list[str]:
    if value is None or (isinstance(value, float) and value != value):
        return []
    if isinstance(value, (list, tuple, np.ndarray)):
        return [str(v) for v in value]
    text_value = str(value).strip()
    if text_value.startswith("["):
        try:
            return [str(v) for v in json.loads(text_value)]
        except ValueError:
            pass
    return [v.strip() for v in text_value.replace(";", ",").split(",") if v.strip()]


def aggregate_files(
    reports_path: str | PathLike[str],
    communes_path: str | PathLike[str],
    filters: StatsFilters = NO_FILTERS,
    *,
    progress: Callable[[int], None] | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Compute the commune table from files, with no database: same rules, same numbers.

    ``communes_path``: any vector file GDAL reads (its CRS from the file; GeoJSON is
    EPSG:4326) with a NIS code (``nis_code``, ``NIS``, ``AdMuKey``, ``CODE_INS`` or ``id``),
    ``name_fr``, ``population``, ``population_year``. ``reports_path``: a vector file of
    reports (e.g. a DWconnect export) with the report properties; a missing ``status`` counts
    as ``submitted``; ``commune_nis`` is recomputed from the geometry. Filters on status,
    network, technology, operator and issue apply; date filters use the first of
    :data:`DATE_COLUMNS` given (``observed_at``, else the filing time ``reported_at`` or
    ``created_at``).

    Returns (the table as :func:`commune_table`, the communes as GeoJSON Features for
    :func:`table_geojson`). ``progress(n)`` is called as work advances (total:
    :func:`aggregate_files_steps`). Raises ``unreadable_file``, ``invalid_request``;
    ``missing_column`` for a period asked of a file with none of :data:`DATE_COLUMNS`.
    """
    import pandas as pd

    communes = _read_vector(communes_path)
    field_name = next((f for f in ("nis_code", "NIS", "nis", "AdMuKey", "CODE_INS", "id") if f in communes.columns),
                      None)
    if field_name is None:
        raise GeosignalError("invalid_request", f"{communes_path}: no NIS code field")
    communes["nis_code"] = communes[field_name].astype(str).str.zfill(5)
    communes_31370 = communes.to_crs(LAMBERT72)
    boundaries = {n: g for n, g in zip(communes["nis_code"], communes_31370.geometry, strict=True)}
    infos = {}
    # (the rule of a communes file's counts, as a load's)
    from geosignal.services.communes import whole_count

    for rec, geom in zip(communes.itertuples(index=False), communes_31370.geometry, strict=True):
        values = rec._asdict()
        where = f"{communes_path}: commune {values['nis_code']}"
        infos[values["nis_code"]] = CommuneInfo(
            values["nis_code"], str(values.get("name_fr") or values.get("name") or values["nis_code"]),
            float(geom.area), whole_count(values.get("population"), what="population", where=where),
            whole_count(values.get("population_year"), what="population_year", where=where))
    if progress:
        progress(1)

    reports = _read_vector(reports_path)
    reports = reports[reports.geometry.notna() & ~reports.geometry.is_empty]
    geoms_4326 = shapely.force_2d(np.asarray(reports.to_crs(WGS84).geometry.values, dtype=object))
    _check_geometries(geoms_4326, reports_path)
    geoms = shapely.force_2d(np.asarray(reports.to_crs(LAMBERT72).geometry.values, dtype=object))
    frame = pd.DataFrame({
        "status": reports["status"].fillna("submitted").astype(str) if "status" in reports else "submitted",
        "network": reports["network"] if "network" in reports else None,
        "issue": reports["issue"] if "issue" in reports else None,
        "households": _counts(list(reports["households_affected"]), "households_affected", reports_path)
        if "households_affected" in reports else 0,
    }, index=reports.index)
    frame["technologies"] = [_list_value(v) for v in reports["technologies"]] if "technologies" in reports \
        else [[] for _ in range(len(reports))]
    frame["operators"] = [_list_value(v) for v in reports["operators"]] if "operators" in reports \
        else [[] for _ in range(len(reports))]
    when = _report_dates(reports, reports_path) if filters.date_from or filters.date_to else None
    keep = np.ones(len(frame), dtype=bool)
    if filters.network:
        keep &= (frame["network"] == filters.network).to_numpy()
    if filters.issue:
        keep &= (frame["issue"] == filters.issue).to_numpy()
    if filters.technology:
        keep &= np.asarray([filters.technology in t for t in frame["technologies"]])
    if filters.operator:
        keep &= np.asarray([filters.operator in o for o in frame["operators"]])
    if filters.date_from:
        keep &= (when >= pd.Timestamp(_day_start(filters.date_from))).to_numpy()
    if filters.date_to:
        keep &= (when < pd.Timestamp(_day_start(filters.date_to + timedelta(days=1)))).to_numpy()
    boundaries_4326 = {n: g for n, g in zip(communes["nis_code"], communes.to_crs(WGS84).geometry, strict=True)}
    homes = home_communes(boundaries_4326, geoms_4326) if len(geoms) else []
    _refuse_homeless(homes, geoms_4326, boundaries_4326, infos, reports_path, communes_path)
    frame["home"] = homes
    frame, geoms, geoms_4326 = frame[keep], geoms[keep], geoms_4326[keep]
    frame["dim"] = shapely.get_dimensions(geoms) if len(geoms) else []
    if progress:
        progress(1)

    counts: dict[str, Counts] = {}
    counted = frame["status"].isin(filters.statuses).to_numpy()
    for i, rec in enumerate(frame.itertuples(index=False)):
        if rec.home is None:
            continue
        c = counts.setdefault(rec.home, Counts())
        c.breakdown["status"][rec.status] = c.breakdown["status"].get(rec.status, 0) + 1
        if not counted[i]:
            continue
        c.report_count += 1
        c.households_declared += int(rec.households)
        if rec.dim == 0:
            c.point_count += 1
        elif rec.dim == 1:
            c.line_count += 1
        else:
            c.zone_count += 1
        for dim, values in (("network", [rec.network]), ("technology", rec.technologies),
                            ("operator", rec.operators), ("issue", [rec.issue])):
            for v in values:
                if isinstance(v, str) and v in c.breakdown[dim]:
                    c.breakdown[dim][v] += 1
    dims = np.asarray(frame["dim"], dtype=int) if len(frame) else np.asarray([], dtype=int)
    zones = geoms[counted & (dims == 2)] if len(frame) else geoms
    lines = geoms[counted & (dims == 1)] if len(frame) else geoms
    unions = clipped_unions(boundaries, zones, lines, progress=progress)

    rows = []
    for nis in sorted(infos):
        z, ln = unions.get(nis, (None, None))
        rows.append(make_row(infos[nis], counts.get(nis, Counts()), z.area if z else 0.0,
                             ln.length if ln else 0.0))
    territory = territory_row(rows)
    table = {"communes": rows, "territory": territory, "filters": filters.as_dict(), "source": "files",
             "estimate_note": ESTIMATE_NOTE.format(year=territory["population_year"] or "?")}
    features = json.loads(communes.to_crs(WGS84)[["nis_code", "geometry"]].to_json(drop_id=True))["features"]
    for f in features:
        f["id"] = f["properties"]["nis_code"]
    return table, features


def aggregate_files_steps(communes_path: str | PathLike[str]) -> int:
    """Return the number of progress steps :func:`aggregate_files` reports (2 + communes).
    Raises ``unreadable_file`` for a file GDAL cannot read (an empty one, a 0-byte zip)."""
    import pyogrio

    try:
        return 2 + max(int(pyogrio.read_info(communes_path)["features"]), 0)
    except Exception as exc:  # noqa: BLE001 - pyogrio raises several error types
        raise GeosignalError("unreadable_file", f"cannot read {communes_path}: {exc}") from exc
