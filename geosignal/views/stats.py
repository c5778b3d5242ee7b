"""Statistics API under /api/v1/stats: per-commune white-zone figures, downloads, report
locations for maps, survey editions. Thin views: parse, authorise, call one service, serialise."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask_babel import gettext

from geosignal import formparse, policy, ui_text
from geosignal.auth import current, require_policy
from geosignal.db import get_session
from geosignal.errors import GeosignalError
from geosignal.params import parse_bbox, whole_number
from geosignal.services import aggregation, survey_db
from geosignal.services import communes as communes_service

bp = Blueprint("stats", __name__, url_prefix="/api/v1/stats")

GEOJSON = "application/geo+json"


def _filters() -> aggregation.StatsFilters:
    """The statistics filters of the query (the parameters each endpoint takes are declared in
    :data:`geosignal.services.openapi.QUERY_PARAMETERS`: a ``commune`` is not one of them, the
    table has a row per commune and ``/communes/<nis>`` names one), as the user reads them
    (:func:`geosignal.policy.figures_scope`)."""
    return aggregation.parse_filters(request.args).scoped(policy.figures_scope(current()))


def _flag(name: str) -> bool:
    return formparse.flag(request.args.get(name), where=name)  # maybe, 2, y: 400, never false


@bp.get("/communes")
def communes() -> Response:
    """Per-commune figures and the territory's (any signed-in user).

    Query: ``status``, ``network``, ``technology``, ``operator``, ``issue``, ``from``, ``to``
    (see :func:`geosignal.services.aggregation.parse_filters`); ``survey=1`` adds the survey
    answers. Without filters the stored aggregates answer (``"source": "stored"``). Each row
    also counts places: ``zone_group_count``, ``reports_in_zone_groups``, ``place_count`` (unfiltered;
    :func:`geosignal.services.zones.add_zone_figures`).
    """
    current()
    filters = _filters()
    table = aggregation.commune_table(get_session(), filters, with_survey=_flag("survey"), with_zone_figures=True)
    return jsonify(table)


@bp.get("/communes.csv")
def communes_csv() -> Response:
    """The commune table as CSV for Excel: UTF-8 BOM, ``;``; ``decimal=comma`` for 3,14;
    headed in the reader's language (account, cookie, then ``Accept-Language``; French by
    default)."""
    current()
    filters = _filters()
    decimal = request.args.get("decimal", "point")
    if decimal not in ("point", "comma"):
        raise GeosignalError("invalid_request", "decimal must be 'point' or 'comma'", where="decimal")
    table = aggregation.commune_table(get_session(), filters, with_survey=True)
    body = aggregation.table_csv(table, decimal_comma=decimal == "comma", translate=gettext,
                                 colon=ui_text.colon())
    name = "geosignal-communes" + filters.name_suffix() + ("-virgule" if decimal == "comma" else "") + ".csv"
    return Response(body.encode("utf-8"), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.get("/communes.geojson")
def communes_geojson() -> Response:
    """The commune table as a GeoJSON FeatureCollection (boundaries simplified to 25 m)."""
    current()
    filters = _filters()
    session = get_session()
    table = aggregation.commune_table(session, filters, with_survey=True)
    doc = aggregation.table_geojson(table, communes_service.list_communes(session, simplify_m=25.0))
    return Response(json.dumps(doc, ensure_ascii=False, separators=(",", ":")), mimetype=GEOJSON,
                    headers={"Content-Disposition": 'attachment; filename="geosignal-communes.geojson"'})


@bp.get("/communes/<nis>")
def commune(nis: str) -> Response:
    """One commune's figures (any signed-in user); ``geometry=1`` adds its white-zone and line
    unions (GeoJSON), drawn from unvalidated reports too: for a representative, of their own
    commune only (``forbidden`` 403 otherwise; see :func:`geosignal.policy.may_see_commune_geometry`)."""
    user = current()
    filters = _filters()
    geometry = _flag("geometry")
    if geometry:
        policy.require(policy.may_see_commune_geometry(user, nis),
                       "geometry=1 shows a commune's white zones drawn from unvalidated reports: a "
                       "representative gets it for their own commune only (counts and areas for every commune)")
    return jsonify(aggregation.commune_detail(get_session(), nis, filters, geometry=geometry))


@bp.get("/locations")
@require_policy(policy.may_use_dashboard, "report locations are for the referent and admins")
def locations() -> Response:
    """Where reports are in ``bbox`` at ``zoom``: points, or grid cells when many (filters apply)."""
    zoom = whole_number(request.args.get("zoom"), maximum=aggregation.MAX_ZOOM)
    if zoom is None:  # (one limit, said once: the service's)
        raise GeosignalError("invalid_request", f"zoom must be a whole number from 0 to {aggregation.MAX_ZOOM}",
                             where="zoom")
    filters = _filters()
    return jsonify(aggregation.report_locations(get_session(), parse_bbox(request.args.get("bbox"), required=True), zoom, filters))


@bp.post("/survey")
def import_survey() -> tuple[Response, int]:
    """Import a "Territoire intelligent" questionnaire export (multipart ``file``: CSV or
    XLSX; field ``edition``: its year) as that edition's answers, replacing earlier ones
    (referent, admin) → 201 ``{edition, responses, replaced, published}``. Refusals as
    :func:`geosignal.services.survey_db.import_survey_upload`; nothing is stored then."""
    user = current()
    policy.require(policy.may_import_survey(user), "importing the survey is for the referent and admins")
    session = get_session()
    summary = survey_db.import_survey_upload(session, request.files.getlist("file"), request.form.getlist("edition"))
    session.commit()
    return jsonify(summary), 201


@bp.get("/survey")
def survey() -> Response:
    """The survey: editions, territory indicators and each commune's answers (any signed-in user).

    ``editions``: :func:`geosignal.services.survey_db.editions`, oldest first; ``communes``:
    per NIS code, the latest answers of each commune that answered
    (:func:`geosignal.services.survey_db.answers_by_commune`: ``edition``, ``smart_score``,
    ``connectivity_cited``, ``citizens_informed_score``, ``trend``), as the rows of
    ``/api/v1/stats/communes?survey=1`` carry them."""
    current()
    session = get_session()
    body: dict[str, Any] = {"editions": survey_db.editions(session),
                            "communes": survey_db.answers_by_commune(session)}
    return jsonify(body)
