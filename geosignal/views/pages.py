"""Pages for people (French first): sign-in, the representative's map and list, the
referent's dashboard. Thin views: parse, authorise, call one service, render."""

from __future__ import annotations

import json
import re
import secrets
import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import session as cookie_session
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from markupsafe import Markup
from sqlalchemy import select
from werkzeug.security import check_password_hash

from geosignal import contract, formparse, i18n, policy, ui_text, vocab
from geosignal.assets import point_folium_at_local_assets
from geosignal.auth import current
from geosignal.db import get_session
from geosignal.errors import GeosignalError
from geosignal.i18n import ngettext
from geosignal.models import Commune, User
from geosignal.models.user import dummy_password_hash
from geosignal.params import is_plain_text, parse_commune
from geosignal.ratelimit import (
    LOGIN_PER_ACCOUNT,
    LOGIN_PER_ADDRESS,
    LOGIN_PER_DEVICE,
    PASSWORD_GUESSES_SCOPE,
    failed_sign_in,
    limiter,
    login_account_key,
    login_device_key,
    remember_device,
    trusted_device,
)
from geosignal.services import aggregation, basemaps, drawing, survey, survey_db
from geosignal.services import communes as communes_service
from geosignal.services import reports as reports_service
from geosignal.services import workflow as workflow_service
from geosignal.services import zones as zones_service

BRUSSELS = ZoneInfo("Europe/Brussels")

bp = Blueprint("pages", __name__)

_TAG = re.compile(r"<(script|style)(?=[\s>])")


def csp_nonce() -> str:
    """This request's CSP nonce, made when first asked for: a page rendered by an error raised
    in a ``before_request`` hook that runs before any other (a route rule refusing the user,
    a CSRF failure) still has one, in its tags as in its header."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


@bp.app_template_filter("fr_number")
def fr_number(value: float, decimals: int = 0) -> str:
    """Format a number in the page's locale (``1 234,5`` in French; see
    :func:`geosignal.i18n.format_number`)."""
    return i18n.format_number(value, decimals)


@bp.app_template_filter("be_date")
def be_date(value: Any) -> Markup:
    """Format an ISO 8601 time (or datetime) as a date in the page's locale, Brussels time
    (dd/mm/yyyy in French and Dutch; a naive one is taken as Brussels time); empty → "—";
    one piece a line never breaks (:func:`geosignal.i18n.whole_date`)."""
    return i18n.whole_date(value)


@bp.app_template_filter("be_datetime")
def be_datetime(value: Any) -> Markup:
    """Format an ISO 8601 time as a date and hour in the page's locale, Brussels time
    (dd/mm/yyyy à HH:MM in French); empty → "—"; one piece a line never breaks."""
    return i18n.whole_datetime(value)


@bp.app_template_filter("nonced")
def nonced(fragment: str) -> Markup:
    """Add this request's CSP nonce to every <script> and <style> tag of a trusted fragment."""
    return Markup(_TAG.sub(lambda m: f'<{m.group(1)} nonce="{csp_nonce()}"', fragment))


@bp.app_context_processor
def _template_globals() -> dict:
    return {"vocab": vocab, "contract": contract, "label": i18n.label, "ui_text": ui_text, "policy": policy,
            "csp_nonce": csp_nonce,
            # the longest reason or question a decision takes (its boxes say it: the queue's cut at 2,000)
            "max_reason": workflow_service.MAX_REASON,
            # the configured base layers as JSON, for the maps a page's own script makes
            "base_layers_json": lambda: json.dumps([layer.as_dict() for layer in base_layers()],
                                                   ensure_ascii=False),
            # the communes' names by NIS code, for a script naming the commune an error carries
            # (the upload page's not_your_commune rows); read only when a template asks
            "commune_names_json": _commune_names_json}


def _commune_names_json() -> str:
    rows = get_session().execute(select(Commune.nis_code, Commune.name_fr).order_by(Commune.nis_code))
    return json.dumps({nis: name for nis, name in rows}, ensure_ascii=False)


def base_layers() -> tuple[basemaps.BaseLayer, ...]:
    """Return the configured base-map layers (checked at start, see :mod:`geosignal.config`),
    geosignal's own names in the page's language."""
    return basemaps.named(basemaps.layers_from_config(current_app.config), _)


@bp.after_app_request
def _security_headers(response: Response) -> Response:
    if response.mimetype == "text/html" and current_app.config["CONTENT_SECURITY_POLICY"]:
        nonce = csp_nonce()
        tile_origins = "".join(f" {o}" for o in basemaps.csp_origins(base_layers()))
        response.headers["Content-Security-Policy"] = (
            f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; "
            f"style-src 'self' 'nonce-{nonce}'; img-src 'self' data:{tile_origins}; "
            "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
            "frame-ancestors 'none'"
        )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


@bp.get("/favicon.ico")
def favicon() -> Response:
    """Browsers ask for /favicon.ico whatever the page says."""
    return current_app.send_static_file("favicon.svg")


@bp.get("/")
def index() -> Response:
    """Send people to their home page: the map (representative) or the dashboard."""
    from flask_login import current_user

    if not current_user.is_authenticated:
        return redirect(url_for("pages.login"))
    if not policy.sees_all_communes(current_user):
        return redirect(url_for("pages.commune_map"))
    return redirect(url_for("pages.dashboard"))


@bp.route("/login", methods=["GET", "POST"])
@limiter.shared_limit(LOGIN_PER_ACCOUNT, PASSWORD_GUESSES_SCOPE, key_func=login_account_key, methods=["POST"],
                      deduct_when=failed_sign_in, exempt_when=trusted_device)
@limiter.limit(LOGIN_PER_ADDRESS, methods=["POST"], deduct_when=failed_sign_in, exempt_when=trusted_device)
@limiter.limit(LOGIN_PER_DEVICE, key_func=login_device_key, methods=["POST"], deduct_when=failed_sign_in,
               exempt_when=lambda: not trusted_device())
def login() -> Response | str:
    """Sign in with e-mail and password. Failures are throttled per account and per address,
    or, from a device the account signed in from before, per device (:mod:`geosignal.ratelimit`)."""
    if request.method == "POST":
        email = (request.form.get("email") or "").strip().lower()
        password = request.form.get("password") or ""
        if not email or not password:  # said by the server, in the page's language (the form is novalidate)
            missing = "email" if not email else "password"
            said = _("Indiquez l'adresse e-mail de votre compte.") if missing == "email" else _("Indiquez votre mot de passe.")
            return render_template("login.html", email=email, missing=missing,  # type: ignore[return-value]
                                   error_text=said), 422
        # an address holding a control character (NUL…) names no account: not asked of PostgreSQL
        user = get_session().scalar(select(User).where(User.email == email)) if is_plain_text(email) else None
        # the same password check whether or not the account exists (constant time)
        valid = check_password_hash(user.password_hash if user else dummy_password_hash(), password)
        if user is None or not user.in_force or not valid:
            return render_template("login.html", email=email, missing="password",  # type: ignore[return-value]
                                   error_text=_("E-mail ou mot de passe incorrect.")), 401
        lang = user.locale or i18n.language()  # the language their pages speak: their e-mails' too
        if user.page_locale != lang:
            user.page_locale = lang
            get_session().commit()
        cookie_session.clear()  # nothing from before the sign-in survives it (session fixation)
        login_user(user)
        return remember_device(redirect(formparse.safe_next(request.args.get("next")) or url_for("pages.index")),
                               email)
    # the address whose password was just set (invitation, reset), once
    return render_template("login.html", email=cookie_session.pop("login_email", ""))


@bp.post("/logout")
def logout() -> Response:
    """Sign out: the session ends on the server too (a copy of the cookie stops working)."""
    signed_in = current_user.is_authenticated
    if signed_in:
        user = current()
        user.end_sessions()
        get_session().commit()
        said = _("Vous êtes déconnecté·e.")  # in her language, read before the session ends
    logout_user()
    cookie_session.clear()
    if signed_in:
        flash(said, "success")
    return redirect(url_for("pages.login"))


def _maps() -> Any:
    """Return the folium map builders, pointed at geosignal's own assets. folium is imported
    on first use, so that commands and API workers that draw no map do not load it."""
    from geosignal.services import maps

    point_folium_at_local_assets()
    return maps




@bp.get("/carte")
@login_required
def commune_map() -> str:
    """The representative's map of their commune, with drawing tools and the report form.

    The referent and admins may look at any commune's map with ``?commune=<NIS>``;
    ``?signalement=<id>`` centres the map on one report and opens it; ``?copie=<id>`` fills
    the form with a rejected or withdrawn report's shape and information, to file it anew
    (404 for a report the user may not read, 403 when they may not copy it).
    """
    if request.args.get("copie"):
        return _render_copy(request.args["copie"])
    return _render_map(parse_commune(get_session(), request.args.get("commune")))


def _render_copy(report_id: str) -> Any:
    """The map of the report's commune, its form filled with the report's shape and
    information (not its radius: the shape is the stored circle), and a notice naming it."""
    from werkzeug.datastructures import MultiDict

    from geosignal.views.report_pages import form_values

    reports_service.copy_source(get_session(), current(), report_id)  # 404 / 403
    feature = reports_service.get_report(get_session(), current(), report_id)
    props = feature["properties"]
    values = {k: v for k, v in form_values(feature).items() if k != "radius"}
    values["geometry"] = [json.dumps(feature["geometry"])]
    values["copie"] = [feature["id"]]  # sent with the form: the new report names its original
    # said at the top of the page, above the map (a phone's first step)
    flash(_("Nouveau signalement copié de %(reference)s (%(status)s) : corrigez ou complétez la forme et les "
            "informations, puis envoyez. %(reference)s reste tel quel.", reference=props["reference"],
            status=ui_text.in_sentence(i18n.label(props["status"]))), "notice")
    copies = reports_service.copies_of(get_session(), feature["id"], current())
    if copies:  # a colleague may have filed it again already: said before a second copy is sent
        flash(_("Attention : %(reference)s a déjà été signalé à nouveau (%(copies)s). Vérifiez que ce nouveau "
                "signalement n'en fait pas double.", reference=props["reference"],
                copies=", ".join(ref for _id, ref in copies)), "notice")
    return _render_map(props["commune_nis"], form=MultiDict([(k, v) for k, vs in values.items() for v in vs]))


def _render_map(requested_nis: str | None, form: Any = None, status: int = 200,
                error: GeosignalError | None = None) -> Any:
    user = current()
    nis = requested_nis if policy.sees_all_communes(user) else user.commune_nis
    session = get_session()
    nis = nis or session.scalar(select(Commune.nis_code).order_by(Commune.nis_code))
    if not nis:
        raise GeosignalError("not_found", "no commune is loaded")
    commune, neighbours = drawing.commune_and_neighbours(session, nis)
    can_write = policy.may_file_reports(user)
    parts = _maps().representative_map(commune, base_layers(), neighbours, draw=can_write)
    page = render_template(
        "map.html", parts=parts, commune=commune["properties"], idempotency_key=str(uuid.uuid4()),
        can_write=can_write, awaiting=reports_service.awaiting_answer(session, user), focus_report=request.args.get("signalement", ""),
        values={k: form.getlist(k) for k in form.keys()} if form else {},
        errors=ui_text.field_errors(error) if error else {}, error=error,
        example=communes_service.example_point(session, nis),
    )
    return page, status


def _keeping_untouched(feature_json: str, original_id: str) -> str:
    """A copy's Feature (JSON text) with the original report's value of every field the form
    sends back as the page showed it (:func:`~geosignal.views.report_pages.kept_as_shown`): a
    copy filed as it opens keeps the original's observation hour (the form shows its day only:
    03:30 on a change of time became midnight, an hour of another offset), as an edit does."""
    from geosignal.views.report_pages import kept_as_shown

    original = reports_service.get_report(get_session(), current(), original_id)
    doc = json.loads(feature_json)
    props = doc.get("properties") if isinstance(doc, dict) else None
    if not isinstance(props, dict):
        return feature_json
    for name, value in kept_as_shown(request.form, original).items():
        if value not in (None, [], "") and name in props:
            props[name] = value
    return json.dumps(doc, ensure_ascii=False)


@bp.post("/carte")
@login_required
def submit_report() -> Any:
    """Store the report drawn on the map (form POST, then redirect: PRG).

    A refused report shows the map again with the drawn shape and every field kept, and the
    reason (HTTP status of the error).
    """
    from geosignal.views.api import create_report_from_body
    from geosignal.views.locate import place_from_form

    geometry = (request.form.get("geometry") or "").strip()
    try:
        if not geometry and (request.form.get("coordinates") or "").strip():
            # placed without the map: the coordinates typed are read here, on the server (one
            # position, several one per line making a road stretch or a zone, or WKT)
            geometry = json.dumps(place_from_form(request.form["coordinates"], request.form.get("coordinates_shape")))
        feature_json = feature_from_form(request.form, geometry)
        copied = (reports_service.copy_source(get_session(), current(), request.form["copie"].strip())
                  if (request.form.get("copie") or "").strip() else None)
        if copied:
            feature_json = _keeping_untouched(feature_json, str(copied[0]))
        feature, _status, _location = create_report_from_body(
            feature_json.encode("utf-8"), crs=None, repair=formparse.flag(request.form.get("repair"), where="repair"),
            copied_from=copied)
    except GeosignalError as error:
        if error.status >= 500 or error.code == "csrf_failed":
            raise
        get_session().rollback()
        if error.code == "idempotency_key_reused":  # the browser's Back button, then another report
            error.extra["message"] = _("Le signalement envoyé plus tôt depuis cette page est déjà enregistré ; "
                                       "celui-ci ne l'est pas encore : vérifiez-le, puis envoyez-le à nouveau.")
        flash(_("Signalement refusé : %(reason)s", reason=ui_text.refusal_summary(error)), "error")
        return _render_map(None, form=request.form, status=error.status, error=error)
    flash_intake_notices(feature)
    # the next page names the key of the form now stored: the copy kept on the device while it
    # was sent (report-map.js, in case the network failed) is forgotten then (nav.js)
    flash(request.form.get("idempotency_key") or "", ui_text.SENT_REPORT_FLASH)
    if feature["properties"]["status"] == "draft":
        flash(_("Brouillon enregistré (%(commune)s) : envoyez-le depuis cette page quand il est prêt.",
                commune=feature["properties"]["commune_name"]), "success")
        return redirect(url_for("report_pages.report_page", report_id=feature["id"]))
    # its reference said (the number a clerk quotes on the phone; it was in the list only)
    flash(_("Signalement %(reference)s enregistré (%(commune)s).", reference=feature["properties"]["reference"],
            commune=feature["properties"]["commune_name"]), "success")
    return redirect(url_for("pages.my_reports"))


def flash_intake_notices(feature: dict[str, Any]) -> None:
    """Say, as notices on the next page, what the intake of a saved report (new or edited)
    asks its author to check: a technology of the other network, a shape partly outside its
    commune (the Feature's ``intake.warnings``)."""
    for warning in feature.get("intake", {}).get("warnings", []):
        if warning["code"] == "technology_not_of_network":  # stored as written; said, to be checked
            flash(ui_text.network_mismatch_sentence(warning["network"], warning["technologies"]) + " "
                  + _("Corrigez le signalement depuis sa page s'il le faut."), "notice")
        if warning["code"] == "partly_outside_commune" and warning.get("measure") == "points":  # counted once, home
            flash(_("%(share)s des points se trouvent hors de %(commune)s, où le signalement est classé : un "
                    "signalement compte une fois, dans sa commune, et ces points ne comptent dans aucune autre. "
                    "Signalez-les à part, ou corrigez-les depuis la page du signalement s'ils sont là par erreur.",
                    share=i18n.format_percent(warning["share_outside"]), commune=warning["commune_name"]), "notice")
        elif warning["code"] == "partly_outside_commune":  # filed where most of it lies; the rest counts elsewhere
            flash(_("%(share)s de la forme se trouve hors de %(commune)s, où le signalement est classé : cette "
                    "partie compte dans la commune où elle se trouve. Redessinez-la depuis la page du signalement "
                    "si elle dépasse par erreur.", share=i18n.format_percent(warning["share_outside"]),
                    commune=warning["commune_name"]), "notice")


@bp.post("/signalements/<report_id>/statut")
@login_required
def change_status(report_id: str) -> Any:
    """The list page's status buttons (form field ``status``): the same rule as the report
    page's actions (:func:`geosignal.views.report_pages.take_action`) — a withdrawal or a
    rejection is confirmed first, a text is asked for when the move needs one, ``etag``
    refuses a stale page —, then back to the list."""
    from geosignal.views.report_pages import take_action

    return take_action(report_id, request.form.get("status", ""), done=lambda _fid: url_for("pages.my_reports"))


def feature_from_form(form, geometry: str) -> str:  # noqa: ANN001
    """Return the GeoJSON Feature text for the map form: the drawn geometry as sent (parsed
    strictly by intake, like any API body) and the contract's form properties from the form
    fields (lists for vocabulary lists, whole numbers for counts and whole radii, a date typed
    day first as ISO 8601 text; the rest as text, intake validates it). Raises 400 ``invalid_json`` (``where`` = ``geometry``) when the
    geometry text is not exactly one JSON value: pasted as it is, it could add members."""
    props: dict[str, object] = {}
    for prop in contract.properties(contract.FORM):
        name = prop.name
        if prop.kind == "vocab_list":
            values = form.getlist(name)
            if values:
                props[name] = values
            continue
        value = form.get(name, "") if prop.kind == "text" else (form.get(name) or "").strip()
        if not value:
            continue
        if prop.kind == "text":
            props[name] = formparse.newlines_as_lf(value)
        elif prop.kind in ("count", "metres") and formparse.whole_number(value) is not None:
            props[name] = formparse.whole_number(value)
        elif prop.kind == "metres" and formparse.decimal_number(value) is not None:
            props[name] = formparse.decimal_number(value)
        elif prop.kind == "datetime":  # typed day first as Belgians write it (31/03/2024), or ISO
            props[name] = formparse.form_date(value)
        else:  # left as typed: intake refuses it, naming the field
            props[name] = value
    text = geometry.strip() or "null"
    try:  # one JSON value, nothing after it: the text cannot add members to the Feature
        json.loads(text)
    except (ValueError, RecursionError):
        raise GeosignalError("invalid_json", "The geometry field is not one JSON value (a GeoJSON geometry).",
                             where="geometry") from None
    return '{"type":"Feature","geometry":' + text + ',"properties":' + json.dumps(props) + "}"


#: Reports listed on one page of ``/signalements`` (then « Signalements plus anciens »).
REPORTS_PER_PAGE = 100


@bp.get("/signalements")
@login_required
def my_reports() -> str:
    """The list of reports the user may see (their commune's, or every one for the referent),
    newest first, :data:`REPORTS_PER_PAGE` at a time (``?avant=`` the cursor of the page
    before: older ones); withdrawn reports are hidden unless ``?retires=1``."""
    session = get_session()
    show_withdrawn = formparse.flag(request.args.get("retires"), where="retires")
    before = request.args.get("avant") or None
    page = reports_service.list_reports(session, current(), limit=REPORTS_PER_PAGE, cursor=before, newest_first=True,
                                        hide_statuses=() if show_withdrawn else ("withdrawn",))
    shown = page.features
    hidden = 0 if show_withdrawn else reports_service.count_reports(session, current(), "withdrawn")
    also = zones_service.for_reports(session, [f["id"] for f in shown])
    older = url_for("pages.my_reports", avant=page.next_cursor, **({"retires": 1} if show_withdrawn else {})) \
        if page.next_cursor else None
    newest = url_for("pages.my_reports", **({"retires": 1} if show_withdrawn else {})) if before else None
    return render_template("reports.html", features=shown, older=older, newest=newest,
                           show_withdrawn=show_withdrawn, hidden=hidden, zones=also,
                           awaiting=reports_service.awaiting_answer(get_session(), current()),
                           decisions=reports_service.recent_decisions(get_session(), current()),
                           days=reports_service.RECENT_DECISION_DAYS)


@bp.get("/tableau-de-bord")
@login_required
def dashboard() -> str:
    """The referent's dashboard: choropleth, heatmap, clustered reports, filters, the commune
    table beside the survey answers. Figures and report locations are fetched by
    ``static/js/dashboard.js`` from the stats API; only simplified boundaries are embedded."""
    user = current()
    policy.require(policy.may_use_dashboard(user), "le tableau de bord est réservé au référent")
    return _render_dashboard()


def _render_dashboard(survey_error: GeosignalError | None = None, status: int = 200) -> tuple[str, int]:
    parts = _maps().referent_map(communes_service.list_communes(get_session(), simplify_m=25.0), base_layers())
    edition = survey.EDITIONS[2022]
    published = [(ui_text.published_indicator(p.indicator), p)
                 for p in survey.published_indicators(edition.year)]
    return render_template("dashboard.html", parts=parts, published=published, published_edition=edition,
                           survey_error=survey_error, default_edition=survey_db.default_edition(get_session()),
                           first_edition=survey_db.FIRST_EDITION,
                           latest_edition=survey_db.latest_possible_edition()), status


@bp.post("/tableau-de-bord/enquete")
@login_required
def import_survey() -> Any:
    """The dashboard's survey form: a questionnaire export (CSV or XLSX) and its edition's
    year → the answers replace that edition's, then back to the dashboard saying how many;
    a refused file shows the dashboard again (4xx) with the sentence, nothing stored."""
    user = current()
    policy.require(policy.may_import_survey(user), _("Importer l'enquête est réservé au référent."))
    session = get_session()
    try:
        summary = survey_db.import_survey_upload(session, request.files.getlist("file"),
                                                 request.form.getlist("edition"))
    except GeosignalError as error:
        session.rollback()
        return _render_dashboard(error, error.status)
    session.commit()
    flash(ngettext("Enquête %(year)s importée : %(num)s réponse de commune (les réponses déjà importées pour "
                   "cette édition sont remplacées).",
                   "Enquête %(year)s importée : %(num)s réponses de communes (les réponses déjà importées pour "
                   "cette édition sont remplacées).", summary["responses"], year=summary["edition"]), "success")
    return redirect(url_for("pages.dashboard"))


@bp.get("/communes/<nis>/fiche")
@login_required
def commune_sheet(nis: str) -> str:
    """One commune's printable sheet: map of its white zone, figures, survey answers, sources.

    The query takes the dashboard's filters (``status``, ``network``, ``technology``,
    ``operator``, ``issue``, ``from``, ``to``: :func:`aggregation.parse_filters`): the figures,
    the white zone and the points drawn are then those of the reports they select, as the
    API's ``/api/v1/stats/communes/<nis>`` counts them, and the sheet says which filters apply;
    a value outside its vocabulary gets the 400 page. The referent sees every commune; a
    representative only their own."""
    user = current()
    policy.require(policy.may_see_commune_map(user, nis), "cette fiche concerne une autre commune")
    filters = _sheet_filters()
    session = get_session()
    sheet = aggregation.commune_detail(session, nis, filters, geometry=True, with_survey=True)
    feature, neighbours = drawing.commune_and_neighbours(session, nis)
    white_zone, lines = sheet.pop("white_zone"), sheet.pop("lines")
    points, points_drawn, points_total = drawing.counted_points(session, nis, filters)
    maps = _maps()
    parts = maps.commune_sheet_map(feature, white_zone, lines, base_layers(), neighbours, points)
    legend = maps.sheet_legend(*(key for key, drawn in (("white_zone", white_zone), ("lines", lines),
                                                        ("points", points), ("commune", True),
                                                        ("neighbours", neighbours)) if drawn))
    generated = datetime.now(ZoneInfo("Europe/Brussels"))
    return render_template("commune_sheet.html", parts=parts, sheet=sheet, generated=generated,
                           counted_labels=_counted_labels(filters), filter_labels=_filter_labels(filters),
                           filter_args=filters.query(), legend=legend, points_total=points_total,
                           points_drawn=points_drawn)


def _sheet_filters() -> aggregation.StatsFilters:
    """The dashboard's filters in a commune sheet's address (:func:`aggregation.parse_filters`).
    A value the dashboard does not offer (an address edited by hand) gets the 400 page with a
    sentence naming the filter; a period refused keeps its own sentence. Scoped to who reads
    (:func:`geosignal.policy.figures_scope`)."""
    try:
        return aggregation.parse_filters(request.args).scoped(policy.figures_scope(current()))
    except GeosignalError as error:
        names = _filter_titles()
        if error.where in names:
            error.extra["message"] = _(
                "Le filtre « %(name)s » de l'adresse de cette fiche n'a pas une valeur connue : ouvrez la "
                "fiche depuis le tableau de bord, ou retirez ce filtre de l'adresse.", name=names[error.where])
        raise


def _filter_titles() -> dict[str, str]:
    """The dashboard's filters by query parameter, titled in the page's language."""
    return {"status": _("Statut"), "network": _("Réseau"), "technology": _("Technologie"),
            "operator": _("Opérateur"), "issue": _("Problème")}


def _counted_labels(filters: aggregation.StatsFilters) -> str:
    """The statuses the figures count, labelled in the page's language (e.g. "soumis, validé")."""
    return ", ".join(ui_text.in_sentence(i18n.label(s)) for s in filters.statuses)


def _filter_labels(filters: aggregation.StatsFilters, *, statuses: bool = True) -> list[str]:
    """The filters of a commune sheet, each as the page's language says it (« Statut : validé »
    when the statuses are not the counted ones and ``statuses``, « Réseau : mobile »,
    « Période : du 01/01/2026 au 31/03/2026 »), and for a representative counting statuses
    not counted by default, that a neighbour's such reports are left out
    (:meth:`aggregation.StatsFilters.scoped`); none for the default figures."""
    titles = _filter_titles()
    said = [f"{titles['status']}{ui_text.colon()}{_counted_labels(filters)}"] if (
        statuses and filters.statuses != aggregation.COUNTED_STATUSES) else []
    for key in ("network", "technology", "operator", "issue"):
        value = getattr(filters, key)
        if value:  # (an operator is a name: kept as written)
            shown = i18n.label(value) if key == "operator" else ui_text.in_sentence(i18n.label(value))
            said.append(f"{titles[key]}{ui_text.colon()}{shown}")
    start, end = (i18n.format_date(d) if d else None for d in (filters.date_from, filters.date_to))
    if start and end:
        said.append(_("Période : du %(start)s au %(end)s", start=start, end=end))
    elif start:
        said.append(_("Période : à partir du %(start)s", start=start))
    elif end:
        said.append(_("Période : jusqu'au %(end)s", end=end))
    if filters.own_commune is not None and set(filters.statuses) - set(aggregation.COUNTED_STATUSES):
        # a representative's sheet: a neighbour's draft, rejected… report is not hers to see
        said.append(_("Communes voisines : leurs signalements aux statuts comptés par défaut seulement"))
    return said


def _sheet_map_texts(generated: datetime, statuses: tuple[str, ...]) -> Any:
    """The printed map's texts, in the reader's language (French source)."""
    from flask_babel import gettext as _

    from geosignal.services import svgmap

    return svgmap.MapTexts(
        legend_title=_("Légende : signalements par statut (zone, tronçon, point)"),
        commune=_("Commune"),
        neighbours=_("Communes voisines"),
        north=_("N"),
        status_labels={s: i18n.label(s) for s in statuses},
        sources=(
            _("Limites communales : SPF Finances – AGDP, unités administratives au 1/1/2021 ; "
              "codes INS et population : Statbel."),
            _("Signalements : geosignal, Smart Region Charleroi Métropole. "
              "Projection : Lambert belge 72 (EPSG:31370)."),
        ),
        date_line=_("État au %(date)s à %(time)s (heure de Bruxelles)",
                    date=i18n.format_date(generated), time=generated.strftime("%H:%M")),
    )


@bp.get("/communes/<nis>/fiche.pdf")
@login_required
def commune_sheet_pdf(nis: str) -> Response:
    """One commune's sheet as a PDF, one A4 page generated on the server: map (commune,
    neighbours, reports by status, legend, scale bar, north arrow, sources, date), figures and
    survey answers. The query takes the HTML sheet's filters (the figures, and the reports
    drawn, are those they select; the file's name says them). Who may: as the HTML sheet
    (the referent, admins, the commune's representatives); an unknown NIS code gets the 404
    page, a filter outside its vocabulary the 400 page."""
    from geosignal.services import sheet_pdf

    user = current()
    policy.require(policy.may_see_commune_map(user, nis), "cette fiche concerne une autre commune")
    filters = _sheet_filters()
    generated = datetime.now(BRUSSELS)
    sheet = sheet_pdf.build_sheet(get_session(), nis, _sheet_map_texts(generated, filters.statuses), filters)
    html = render_template("commune_sheet_pdf.html", sheet=sheet.figures, map_svg=Markup(sheet.map.svg),
                           generated=generated, counted_labels=_counted_labels(filters),
                           filter_labels=_filter_labels(filters, statuses=False))  # (its note says them)
    pdf = sheet_pdf.render_pdf(html, current_app.static_folder or "static")
    filename = f"fiche-{nis}{filters.name_suffix()}-{generated:%Y-%m-%d}.pdf"
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{filename}"'})
