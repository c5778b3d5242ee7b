"""French, Dutch and English pages: the language chosen (preference, cookie, Accept-Language,
French), numbers and dates per locale, the scripts' catalogues with Leaflet.draw's texts, and a
scan of every French page of every role for raw vocabulary codes, error codes and Leaflet.draw's
English strings (real PostGIS, the real communes)."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
from flask_babel import force_locale

from geosignal import i18n, ui_text, vocab, workflow
from geosignal.errors import ERROR_CODES, GeosignalError
from geosignal.models import User
from tests.conftest import CHARLEROI, CHIMAY, csrf_token, make_account
from tests.factories import CHARLEROI_LAMBERT72, feature, square_lambert, to_geojson_4326
from tests.test_browser import browser  # noqa: F401  (fixture)

#: Leaflet.draw 1.0's own English texts (its default L.drawLocal), by key path.
DRAW_ENGLISH = {
    "draw.toolbar.actions.title": "Cancel drawing", "draw.toolbar.actions.text": "Cancel",
    "draw.toolbar.finish.title": "Finish drawing", "draw.toolbar.finish.text": "Finish",
    "draw.toolbar.undo.title": "Delete last point drawn", "draw.toolbar.undo.text": "Delete last point",
    "draw.toolbar.buttons.polyline": "Draw a polyline", "draw.toolbar.buttons.polygon": "Draw a polygon",
    "draw.toolbar.buttons.rectangle": "Draw a rectangle", "draw.toolbar.buttons.circle": "Draw a circle",
    "draw.toolbar.buttons.marker": "Draw a marker", "draw.toolbar.buttons.circlemarker": "Draw a circlemarker",
    "draw.handlers.circle.tooltip.start": "Click and drag to draw circle.", "draw.handlers.circle.radius": "Radius",
    "draw.handlers.circlemarker.tooltip.start": "Click map to place circle marker.",
    "draw.handlers.marker.tooltip.start": "Click map to place marker.",
    "draw.handlers.polygon.tooltip.start": "Click to start drawing shape.",
    "draw.handlers.polygon.tooltip.cont": "Click to continue drawing shape.",
    "draw.handlers.polygon.tooltip.end": "Click first point to close this shape.",
    "draw.handlers.polyline.error": "<strong>Error:</strong> shape edges cannot cross!",
    "draw.handlers.polyline.tooltip.start": "Click to start drawing line.",
    "draw.handlers.polyline.tooltip.cont": "Click to continue drawing line.",
    "draw.handlers.polyline.tooltip.end": "Click last point to finish line.",
    "draw.handlers.rectangle.tooltip.start": "Click and drag to draw rectangle.",
    "draw.handlers.simpleshape.tooltip.end": "Release mouse to finish drawing.",
    "edit.toolbar.actions.save.title": "Save changes", "edit.toolbar.actions.save.text": "Save",
    "edit.toolbar.actions.cancel.title": "Cancel editing, discards all changes",
    "edit.toolbar.actions.cancel.text": "Cancel",
    "edit.toolbar.actions.clearAll.title": "Clear all layers", "edit.toolbar.actions.clearAll.text": "Clear All",
    "edit.toolbar.buttons.edit": "Edit layers", "edit.toolbar.buttons.editDisabled": "No layers to edit",
    "edit.toolbar.buttons.remove": "Delete layers", "edit.toolbar.buttons.removeDisabled": "No layers to delete",
    "edit.handlers.edit.tooltip.text": "Drag handles or markers to edit features.",
    "edit.handlers.edit.tooltip.subtext": "Click cancel to undo changes.",
    "edit.handlers.remove.tooltip.text": "Click on a feature to remove.",
}
#: Leaflet's own English texts.
LEAFLET_ENGLISH = ("Zoom in", "Zoom out")


def _leaves(tree: dict, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in tree.items():
        if isinstance(v, dict):
            out.update(_leaves(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


# --------------------------------------------------------------------------- formats

@pytest.mark.parametrize(("lang", "number", "area", "day", "moment"), [
    ("fr", "1\u202f234,5", "1\u202f234,5 m²", "05/03/2024", "05/03/2024 à 00:30"),
    ("nl", "1.234,5", "1.234,5 m²", "05/03/2024", "05/03/2024 om 00:30"),
    ("en", "1,234.5", "1,234.5 m²", "5 Mar 2024", "5 Mar 2024, 00:30"),
])
def test_numbers_areas_and_dates_per_locale(app, lang: str, number: str, area: str, day: str, moment: str) -> None:  # noqa: ANN001
    with app.test_request_context("/"), force_locale(i18n.BABEL_LOCALES[lang]):
        assert i18n.format_number(1234.5, 1) == number
        assert f"{i18n.format_number(1234.5, 1)} m²" == area
        assert i18n.format_number(1234.56) == {"fr": "1\u202f235", "nl": "1.235", "en": "1,235"}[lang]
        # 23:30 UTC on 4 March is 00:30 on 5 March in Brussels (UTC+1)
        assert i18n.format_date("2024-03-04T23:30:00+00:00") == day
        assert i18n.format_datetime("2024-03-04T23:30:00+00:00") == moment
        assert i18n.format_date(None) == "—"
        assert i18n.format_area(2_345_678.0) == {"fr": "2,346 km²", "nl": "2,346 km²", "en": "2.346 km²"}[lang]
        assert i18n.format_area(99_999.4) == {"fr": "99\u202f999 m²", "nl": "99.999 m²", "en": "99,999 m²"}[lang]
        # a list's areas in one unit: km² once one reaches 100,000 m²
        assert i18n.area_unit([150.0, None, 99_999.4]) == "m2" and i18n.area_unit([150.0, 100_000.0]) == "km2"
        assert i18n.format_area(95_000.0, "km2") == {"fr": "0,095 km²", "nl": "0,095 km²", "en": "0.095 km²"}[lang]
        # 500 m² is 0.0005 km²: a half rounds away from zero, as the pages' scripts round (Intl)
        assert i18n.format_area(500.0, "km2") == {"fr": "0,001 km²", "nl": "0,001 km²", "en": "0.001 km²"}[lang]
        assert i18n.format_number(12_344.5) == {"fr": "12\u202f345", "nl": "12.345", "en": "12,345"}[lang]
        assert i18n.format_number(2.5) == "3" and i18n.format_number(1.15, 1) == {"fr": "1,2", "nl": "1,2", "en": "1.2"}[lang]  # (as written)
        assert i18n.format_area(150.0, "km2") == {"fr": "<\xa00,001 km²", "nl": "<\xa00,001 km²",
                                                  "en": "<\xa00.001 km²"}[lang]
        assert i18n.format_area(2_345_678.0, "m2") == {"fr": "2\u202f345\u202f678 m²", "nl": "2.345.678 m²",
                                                       "en": "2,345,678 m²"}[lang]
        # a share as a percentage: the sign as each language writes it (no space in Dutch and English)
        assert i18n.format_percent(0.0014, 2) == {"fr": "0,14\xa0%", "nl": "0,14%", "en": "0.14%"}[lang]
        assert i18n.format_percent(0.71) == {"fr": "71\xa0%", "nl": "71%", "en": "71%"}[lang]
        assert i18n.format_percent(None) == "—"
        assert i18n.js_catalogue(lang)["percent"] == {"fr": "\xa0%", "nl": "%", "en": "%"}[lang]


@pytest.mark.parametrize(("lang", "message"), [
    ("fr", "Zone trop petite (6 m²) : dessinez au moins 100 m², ou placez un point."),
    ("nl", "Zone te klein (6 m²): teken minstens 100 m², of plaats een punt."),
    ("en", "Zone too small (6 m²): draw at least 100 m², or place a point."),
])
def test_error_messages_say_what_to_do_with_their_figures(app, lang: str, message: str) -> None:  # noqa: ANN001
    small = GeosignalError("area_too_small", "6.2 m² < 100 m²", area_m2=6.2, limit_m2=100.0)
    large = GeosignalError("area_too_large", "too large", area_m2=2.345e9, limit_m2=2e8)
    with app.test_request_context("/"), force_locale(i18n.BABEL_LOCALES[lang]):
        assert ui_text.error_message(small) == message
        assert ui_text.error_message(large) == {
            "fr": "Zone trop grande (2\u202f345 km²) : le maximum est 200 km² ; découpez-la en plusieurs signalements.",
            "nl": "Zone te groot (2.345 km²): het maximum is 200 km²; splits ze in meerdere meldingen.",
            "en": "Zone too large (2,345 km²): the maximum is 200 km²; split it into several reports.",
        }[lang]
        # without its figures: the code's message
        assert ui_text.error_message(GeosignalError("area_too_small")) == {
            "fr": "Zone trop petite : dessinez une zone plus grande, ou placez un point.",
            "nl": "Zone te klein: teken een grotere zone, of plaats een punt.",
            "en": "Zone too small: draw a larger zone, or place a point.",
        }[lang]
        # every code has a message in every language (not the code, not empty)
        for code in ERROR_CODES:
            text = ui_text.error_message(GeosignalError(code))
            assert text and not re.search(rf"\b{code}\b", text), (code, text)


#: Areas refused just beyond their limit (m²: 100 m² and 200 km² are the limits) and what each
#: language says of them: never the limit itself.
BEYOND = [
    ("area_too_small", 99.98, 100.0, {"fr": "Zone trop petite (99,98 m²) : dessinez au moins 100 m²",
                                      "nl": "Zone te klein (99,98 m²): teken minstens 100 m²",
                                      "en": "Zone too small (99.98 m²): draw at least 100 m²"}),
    ("area_too_small", 99.9999, 100.0, {"fr": "Zone trop petite (<\xa0100 m²) : dessinez au moins 100 m²",
                                        "nl": "Zone te klein (<\xa0100 m²): teken minstens 100 m²",
                                        "en": "Zone too small (<\xa0100 m²): draw at least 100 m²"}),
    ("area_too_large", 200_000_283.0, 2e8, {"fr": "Zone trop grande (200,0003 km²) : le maximum est 200 km²",
                                            "nl": "Zone te groot (200,0003 km²): het maximum is 200 km²",
                                            "en": "Zone too large (200.0003 km²): the maximum is 200 km²"}),
    ("area_too_large", 200_060_000.0, 2e8, {"fr": "Zone trop grande (200,1 km²) : le maximum est 200 km²",
                                            "nl": "Zone te groot (200,1 km²): het maximum is 200 km²",
                                            "en": "Zone too large (200.1 km²): the maximum is 200 km²"}),
    ("area_too_large", 200_000_040.0, 2e8, {"fr": "Zone trop grande (>\xa0200 km²) : le maximum est 200 km²",
                                            "nl": "Zone te groot (>\xa0200 km²): het maximum is 200 km²",
                                            "en": "Zone too large (>\xa0200 km²): the maximum is 200 km²"}),
]


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_an_area_refused_never_reads_as_the_limit_it_breaks(app, lang: str) -> None:  # noqa: ANN001
    """A zone of 99.98 m² was refused « Zone trop petite (100 m²) : dessinez au moins 100 m² »
    and one of 200.000283 km² « Zone trop grande (200,0 km²) : le maximum est 200 km² »: the
    figure, rounded, read as the limit it breaks. It now takes the decimals it needs to differ
    (up to 0.01 m², 0.0001 km²), else reads « < 100 » / « > 200 »."""
    with app.test_request_context("/"), force_locale(i18n.BABEL_LOCALES[lang]):
        for code, area, limit, said in BEYOND:
            assert ui_text.error_message(GeosignalError(code, area_m2=area, limit_m2=limit)).startswith(said[lang])


@pytest.mark.parametrize(("side", "detail", "said"), [
    (9.999, "The zone covers 0.00009998 km² (99.98 m²); the minimum is 0.0001 km² (100 m²).",
     "Zone trop petite (99,98 m²) : dessinez au moins 100 m², ou placez un point."),
    (14142.1456, "The zone covers 200.0003 km²; the maximum is 200.00 km².",
     "Zone trop grande (200,0003 km²) : le maximum est 200 km² ; découpez-la en plusieurs signalements."),
])
def test_the_api_and_the_map_form_quote_an_area_beyond_its_limit(client, db, representative, side: float,  # noqa: ANN001
                                                                  detail: str, said: str) -> None:
    """The API's detail said « covers 0.0001 km² (100 m²); the minimum is 0.0001 km² (100 m²) » of
    a 9.999 m square, and the map form « Zone trop petite (100 m²) : dessinez au moins 100 m² »."""
    x, y = CHARLEROI_LAMBERT72
    zone = to_geojson_4326(square_lambert(x, y, side))
    problem = representative.post("/api/v1/reports", json=feature(zone)).get_json()
    assert (problem["detail"], problem["message"]) == (detail, said)
    assert representative.login().status_code == 302
    token = csrf_token(client.get("/carte").get_data(as_text=True))
    page = client.post("/carte", data={"csrf_token": token, "geometry": json.dumps(zone), "network": "mobile"})
    assert page.status_code == 422 and said in page.get_data(as_text=True)


@pytest.mark.browser
@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_the_scripts_write_an_area_beyond_its_limit_as_the_pages_do(app, browser, lang: str) -> None:  # noqa: ANN001, F811
    """The scripts' problemText (uploads, the map page's answers) and the map page's live check
    wrote 99.98 m² « 100 m² » against a minimum of 100 m², 200.000283 km² « 200,0 km² »."""
    with app.test_request_context("/"):
        script = i18n._catalogue_script(lang)
    page = browser.new_page()
    try:
        page.set_content("<!doctype html><title>t</title>")
        page.add_script_tag(content=script)
        for code, area, limit, said in BEYOND:
            text = page.evaluate("([c, a, l]) => window.geosignalI18n.problemText({code: c, area_m2: a, limit_m2: l})",
                                 [code, area, limit])
            assert text.startswith(said[lang]), text
            kind = "m2" if code == "area_too_small" else "km2"  # the map page's live check (report-map.js)
            figure = page.evaluate("([a, k, l]) => window.geosignalI18n.figure(a, k, l)", [area, kind, limit])
            assert f"({figure} " in said[lang], figure
    finally:
        page.close()


# --------------------------------------------------------------------------- which language

def _lang(html: str) -> str:
    return re.search(r'<html lang="(\w+)">', html).group(1)


def test_language_from_accept_language_then_cookie_then_preference(app, client, db) -> None:  # noqa: ANN001
    page = client.get("/login").get_data(as_text=True)
    assert _lang(page) == "fr" and "Se connecter" in page
    page = client.get("/login", headers={"Accept-Language": "nl-BE,nl;q=0.9,fr;q=0.5"}).get_data(as_text=True)
    assert _lang(page) == "nl" and ">Aanmelden</button>" in page and "Wachtwoord vergeten?" in page
    page = client.get("/login", headers={"Accept-Language": "de-DE"}).get_data(as_text=True)
    assert _lang(page) == "fr"

    # the switcher (anonymous): a cookie, stronger than Accept-Language; back to the page
    token = csrf_token(page)
    answer = client.post("/langue", data={"locale": "en", "next": "/login?x=1", "csrf_token": token})
    assert answer.status_code == 302 and answer.headers["Location"] == "/login?x=1"
    assert "geosignal_lang=en" in answer.headers["Set-Cookie"] and "HttpOnly" in answer.headers["Set-Cookie"]
    page = client.get("/login", headers={"Accept-Language": "nl"}).get_data(as_text=True)
    assert _lang(page) == "en" and "Forgot your password?" in page
    # nowhere but here
    assert client.post("/langue", data={"locale": "nl", "next": "//evil.example", "csrf_token": token}) \
        .headers["Location"] == "/"
    refused = client.post("/langue", data={"locale": "de", "csrf_token": token}, headers={"Accept": "application/json"})
    assert refused.status_code == 400 and refused.get_json()["code"] == "invalid_request"
    assert client.post("/langue", data={"locale": "nl"}).status_code == 400  # CSRF

    # signed in: the choice is saved as the preference, stronger than the cookie
    account = make_account(client, db, "echevin@charleroi.be", "representative", CHARLEROI)
    account.login()
    client.set_cookie("geosignal_lang", "en")
    assert _lang(client.get("/compte").get_data(as_text=True)) == "en"
    token = csrf_token(client.get("/compte").get_data(as_text=True))
    client.post("/langue", data={"locale": "nl", "next": "/compte", "csrf_token": token})
    db.expire_all()
    assert db.query(User).filter_by(email=account.email).one().locale == "nl"
    client.set_cookie("geosignal_lang", "fr")
    page = client.get("/compte", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert _lang(page) == "nl" and "<h1>Mijn account</h1>" in page and "Gemeentelijke vertegenwoordiger" in page
    assert 'value="nl" checked' in page


def _switch(client, page: str, lang: str):  # noqa: ANN001, ANN202
    """Press the language switch of ``page`` (its form's fields, as the browser sends them)."""
    import html

    form = re.search(r'<form method="post" action="([^"]+)" class="lang-switch".*?</form>', page, re.S)
    assert form, "no language switch on the page"
    fields = {k: html.unescape(v) for k, v in
              re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form.group(0))}
    return client.post(html.unescape(form.group(1)), data={**fields, "locale": lang})


def test_switching_language_on_a_form_s_answer_opens_the_page_around_it(client, db, representative,  # noqa: ANN001
                                                                       referent) -> None:
    """A page that answers a form's POST (a confirmation, a refusal) has the switch too; its
    ``next`` is that POST-only address, which a GET answered 405: the switch leads to the
    page enclosing it (the report's page, the dashboard, the users' list), in the language."""
    import io

    rid = representative.post("/api/v1/reports", json=feature(
        to_geojson_4326(square_lambert(*CHARLEROI_LAMBERT72, 200.0)))).get_json()["id"]
    representative.login()
    token = csrf_token(client.get(f"/signalements/{rid}").get_data(as_text=True))
    asked = [client.post(f"/signalements/{rid}/actions", data={"to": "withdrawn", "csrf_token": token}),
             client.post(f"/signalements/{rid}/mesures", data={"download_mbps": "douze", "csrf_token": token})]
    assert [a.status_code for a in asked] == [200, 422] and 'id="confirm-button"' in asked[0].get_data(as_text=True)
    for answer, lang in zip(asked, ("nl", "en"), strict=True):
        switched = _switch(client, answer.get_data(as_text=True), lang)
        assert (switched.status_code, switched.headers["Location"]) == (302, f"/signalements/{rid}")
        assert _lang(client.get(switched.headers["Location"]).get_data(as_text=True)) == lang

    referent.login()
    token = csrf_token(client.get("/tableau-de-bord").get_data(as_text=True))
    invited = client.post("/utilisateurs/inviter", data={"email": "x@thuin.be", "role": "representative",
                                                          "commune": "56078", "locale": "de", "csrf_token": token})
    survey = client.post("/tableau-de-bord/enquete", data={"file": (io.BytesIO(b""), ""), "edition": "2022",
                                                           "csrf_token": token})
    assert (invited.status_code, survey.status_code) == (400, 400)
    for answer, lang, page in ((invited, "nl", "/utilisateurs"), (survey, "en", "/tableau-de-bord")):
        switched = _switch(client, answer.get_data(as_text=True), lang)
        assert (switched.status_code, switched.headers["Location"]) == (302, page)
        opened = client.get(page)
        assert opened.status_code == 200 and _lang(opened.get_data(as_text=True)) == lang
    # a page a GET answers is kept, with its query
    assert _switch(client, client.get("/signalements?retires=1").get_data(as_text=True), "fr") \
        .headers["Location"] == "/signalements?retires=1"


def test_every_address_only_a_form_posts_to_leads_the_switch_to_a_page(app) -> None:  # noqa: ANN001
    """Every POST-only address of the site (its URL map, sample values in its parts): the
    switch's landing is a page a GET opens, never the address itself."""
    samples = {"int": "7", "default": "a1b2"}
    with app.test_request_context("/"):
        adapter = app.create_url_adapter(None) or app.url_map.bind("localhost")
        opened = {rule.rule for rule in app.url_map.iter_rules() if "GET" in rule.methods}
        posted = {rule.rule for rule in app.url_map.iter_rules() if not rule.rule.startswith("/api/")} - opened
        assert {"/signalements/<report_id>/actions", "/utilisateurs/inviter"} <= posted
        for rule in sorted(posted):
            path = re.sub(r"<(?:(\w+)(?:\([^)]*\))?:)?\w+>",
                          lambda m: samples.get(m.group(1) or "default", "a1b2"), rule)
            landing = i18n.page_to_open(path)
            assert landing != path and adapter.match(landing, method="GET"), (rule, landing)


def test_api_problem_keeps_its_code_and_gives_a_message_in_the_language(client, db) -> None:  # noqa: ANN001
    account = make_account(client, db, "echevin@charleroi.be", "representative", CHARLEROI)
    x, y = CHARLEROI_LAMBERT72
    tiny = feature(to_geojson_4326(square_lambert(x, y, 2.0)))
    for lang, start in (("nl", "Zone te klein (4 m²): teken minstens 100 m²"),
                        ("en", "Zone too small (4 m²): draw at least 100 m²"),
                        (None, "Zone trop petite (4 m²) : dessinez au moins 100 m²")):
        headers = {"Accept-Language": lang} if lang else {}
        problem = account.post("/api/v1/reports", json=tiny, headers=headers).get_json()
        assert problem["code"] == "area_too_small" and problem["title"] == ERROR_CODES["area_too_small"][1]
        assert problem["message"].startswith(start), problem["message"]


# --------------------------------------------------------------------------- the scripts' catalogue

#: The script catalogue's members that are no texts (how figures are written).
_NOT_TEXT = ("params", "beyond_limit_decimals")


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_script_catalogue_translates_leaflet_draw_and_the_scripts(app, client, lang: str) -> None:  # noqa: ANN001
    answer = client.get(f"/i18n/{lang}.js")
    assert answer.status_code == 200 and answer.mimetype == "text/javascript"
    text = answer.get_data(as_text=True)
    body = json.loads(re.search(r"window\.geosignalI18n = (\{.*?\});\n", text, re.S).group(1))
    assert body["lang"] == lang and body["locale"] == i18n.JS_LOCALES[lang]
    draw = _leaves(body["draw"])
    assert set(DRAW_ENGLISH) <= set(draw), set(DRAW_ENGLISH) - set(draw)
    if lang != "en":
        assert [k for k, english in DRAW_ENGLISH.items() if draw[k] == english] == []
        assert body["leaflet"]["zoom_in"] not in LEAFLET_ENGLISH
    assert draw["draw.toolbar.buttons.polygon"] == {"fr": "Dessiner une zone", "nl": "Een zone tekenen",
                                                    "en": "Draw a zone"}[lang]
    # Leaflet.draw's own measures in the locale's numbers: 99,30 ha (99.30 before)
    assert (draw["format.numeric.delimiters.thousands"], draw["format.numeric.delimiters.decimal"]) == \
        {"fr": ("\u202f", ","), "nl": (".", ","), "en": (",", ".")}[lang]
    assert body["labels"]["no_coverage"] == {"fr": "Aucune couverture", "nl": "Geen dekking", "en": "No coverage"}[lang]
    assert body["errors"]["not_your_commune"].startswith(
        {"fr": "La forme se trouve surtout", "nl": "De vorm ligt grotendeels", "en": "The shape lies mainly"}[lang])
    assert body["dashboard"]["in_view_other"] == {"fr": "{n} signalements dans la vue", "nl": "{n} meldingen in beeld",
                                                  "en": "{n} reports in view"}[lang]
    assert body["dashboard"]["in_view_one"] == {"fr": "{n} signalement dans la vue", "nl": "{n} melding in beeld",
                                                "en": "{n} report in view"}[lang]
    # a grouped marker's tooltip too (a11y trial: « 1 signalements »)
    assert (body["dashboard"]["cell_reports_one"], body["dashboard"]["cell_reports_other"]) == {
        "fr": ("{n} signalement", "{n} signalements"), "nl": ("{n} melding", "{n} meldingen"),
        "en": ("{n} report", "{n} reports")}[lang]
    # the French catalogue carries no raw code and none of Leaflet's English texts
    if lang == "fr":
        values = " | ".join(_leaves({k: v for k, v in body.items() if isinstance(v, dict) and k not in _NOT_TEXT}).values())
        assert _raw_codes(values) == [] and _english(values) == []
    assert client.get("/i18n/de.js").status_code == 404
    # a count is written in its plural form, never as « signalement(s) », « melding(en) », « row(s) »
    values = _leaves({k: v for k, v in body.items() if isinstance(v, dict) and k not in _NOT_TEXT})
    assert {k: v for k, v in values.items() if re.search(r"\w\((?:s|en|e|es)\)", v)} == {}
    # and a list of remarks is separated the language's way (a space before « ; » in French only)
    assert body["separator"] == {"fr": " ; ", "nl": "; ", "en": "; "}[lang]


def test_pages_with_scripts_load_the_catalogue_of_their_language(client, db) -> None:  # noqa: ANN001
    make_account(client, db, "echevin@charleroi.be", "representative", CHARLEROI).login()
    for path in ("/carte", "/import", f"/communes/{CHARLEROI}/fiche"):
        page = client.get(path, headers={"Accept-Language": "nl"}).get_data(as_text=True)
        assert re.search(r'<script src="/i18n/nl\.js\?v=[0-9a-f]{12}"></script>', page), path
    assert "/i18n/" not in client.get("/compte/jetons").get_data(as_text=True)  # no script, no catalogue


# --------------------------------------------------------------------------- the French pages

class _Visible(HTMLParser):
    """The text a person reads or hears: text outside scripts and styles, and the attributes
    that are shown or read aloud. Text in ``<code>`` is a machine value shown as such on
    purpose (the column names and values a file may hold, a hash, a request header): left out."""

    ATTRIBUTES = ("aria-label", "title", "placeholder", "alt", "data-label")

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs) -> None:  # noqa: ANN001
        if tag in ("script", "style", "code"):
            self._skip += 1
        self.parts.extend(v for k, v in attrs if k in self.ATTRIBUTES and v)

    def handle_endtag(self, tag) -> None:  # noqa: ANN001
        if tag in ("script", "style", "code"):
            self._skip -= 1

    def handle_data(self, data) -> None:  # noqa: ANN001
        if not self._skip:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Visible()
    parser.feed(html)
    return re.sub(r"\s+", " ", " ".join(parser.parts))


def _codes_with_labels() -> list[tuple[str, list[str]]]:
    """Vocabulary codes whose French label differs from them, with every label containing them."""
    labels = {**vocab.LABELS_FR}
    out = []
    for code, french in labels.items():
        if french.casefold() != code.casefold():
            out.append((code, [lbl for lbl in labels.values() if code in lbl]))
    return out


#: Machine words of the workflow and the zones that a page must never show as such: the
#: transition table's actions, the journal's events (``export`` is also a French word) and
#: the zone states.
WORKFLOW_WORDS = (*workflow.ACTIONS, *(e for e in workflow.EVENT_LABELS_FR if e != "export"),
                  *ui_text.ZONE_STATES_FR)


def _raw_codes(text: str) -> list[str]:
    text = re.sub(r"[\w.+-]+@[\w.-]+", " ", text)  # e-mail addresses are not codes
    found = [word for word in WORKFLOW_WORDS if re.search(rf"(?<![\w/-]){word}(?![\w/-])", text)]
    for code, containing in _codes_with_labels():
        stripped = text
        for lbl in containing:
            stripped = stripped.replace(lbl, " ")
        if re.search(rf"(?<![\w/]){re.escape(code)}(?![\w/])", stripped):
            found.append(code)
    found += [code for code in ERROR_CODES if re.search(rf"\b{code}\b", text)]
    return found


def _english(text: str) -> list[str]:
    return [s for s in [*DRAW_ENGLISH.values(), *LEAFLET_ENGLISH] if len(s) > 6 and s in text]


def _file_reports(account) -> None:  # noqa: ANN001
    """Reports of Charleroi in every status, with vocabulary values that have labels."""
    x, y = CHARLEROI_LAMBERT72
    ids = []
    for i, props in enumerate([
        {"network": "fixed", "technologies": ["DSL", "FWA", "cable"], "operators": ["other", "VOO"],
         "issue": "no_coverage", "setting": "indoor", "description": "Rue sans internet fixe"},
        {"network": "mobile", "technologies": ["4G"], "operators": ["Proximus"], "issue": "weak_signal",
         "setting": "outdoor", "observed_at": "2024-03-04"},
        {"network": "mobile", "technologies": ["5G"], "issue": "intermittent", "setting": "vehicle"},
        {"network": "fixed", "technologies": ["fibre", "satellite"], "issue": "slow_speed"},
    ]):
        answer = account.post("/api/v1/reports", json=feature(
            to_geojson_4326(square_lambert(x + 400 * i, y, 150.0)), **props))
        assert answer.status_code == 201, answer.get_json()
        ids.append(answer.get_json()["id"])
    return ids


def _workflow(accounts: dict) -> dict[str, str]:  # noqa: ANN001
    """Charleroi's reports in the workflow's statuses, with a zone of two overlapping reports,
    a question asked, a rejection with its reason, a withdrawal and an export recorded:
    name → report id."""
    representative, referent = accounts["representative"], accounts["referent"]
    ids = _file_reports(representative)
    x, y = CHARLEROI_LAMBERT72
    overlap = representative.post("/api/v1/reports", json=feature(
        to_geojson_4326(square_lambert(x + 40, y, 150.0)), network="fixed", technologies=["DSL"],
        issue="no_coverage", description="Même rue, côté voisin"))
    assert overlap.status_code == 201, overlap.get_json()
    moves = [(ids[1], "validated", None), (ids[2], "rejected", "Hors du territoire de la commune"),
             (ids[0], "needs_info", "Quelle rue exactement ?")]
    for report_id, status, reason in moves:
        body = {"status": status, **({"reason": reason} if reason else {})}
        answer = referent.patch(f"/api/v1/reports/{report_id}", json=body)
        assert answer.status_code == 200, answer.get_json()
    assert representative.patch(f"/api/v1/reports/{ids[3]}", json={"status": "withdrawn"}).status_code == 200
    export = referent.get("/api/v1/exports/dwconnect")
    assert export.status_code == 200 and b'"FeatureCollection"' in export.get_data()  # one run in the history
    return {"asked": ids[0], "validated": ids[1], "rejected": ids[2], "withdrawn": ids[3],
            "submitted": overlap.get_json()["id"]}


def _pages(client, db, reports: dict[str, str] | None = None) -> dict[str, list[str]]:  # noqa: ANN001
    """Every page of every role, in French: role → paths (with the report pages of
    ``reports``, see :func:`_workflow`)."""
    r = reports or {}
    report_pages = {
        "representative": [f"/signalements/{r['asked']}", f"/signalements/{r['asked']}/modifier",
                           f"/signalements/{r['validated']}", f"/signalements/{r['rejected']}",
                           f"/signalements/{r['submitted']}", "/compte/notifications"],
        "referent": ["/validation", "/validation?status=all", f"/signalements/{r['submitted']}",
                     f"/signalements/{r['asked']}", "/compte/notifications"],
        "admin": ["/admin/journal", f"/signalements/{r['withdrawn']}"],
    } if r else {}
    pages = {
        "anonymous": ["/login", "/compte/mot-de-passe-oublie", "/compte/invitation?jeton=nope", "/nulle-part",
                      "/ogc/?f=html", "/ogc/collections?f=html", "/ogc/collections/white-zones/items?f=html",
                      "/api/v1/docs"],
        "representative": ["/carte", "/signalements", "/signalements?retires=1", "/import",
                           f"/communes/{CHARLEROI}/fiche", f"/communes/{CHIMAY}/fiche", "/tableau-de-bord",
                           "/compte", "/compte/mot-de-passe", "/compte/jetons", "/exports"],
        "referent": ["/tableau-de-bord", "/signalements?retires=1", "/exports", "/utilisateurs",
                     f"/communes/{CHARLEROI}/fiche", f"/carte?commune={CHARLEROI}", "/compte"],
        "admin": ["/carte", "/utilisateurs", "/import", "/signalements"],
    }
    for role, paths in report_pages.items():
        pages[role] = pages[role] + paths
    return pages


def test_french_pages_show_no_raw_code_and_no_english(app, db) -> None:  # noqa: ANN001
    clients = {role: app.test_client() for role in ("anonymous", "representative", "referent", "admin")}
    accounts = {
        "representative": make_account(clients["representative"], db, "echevin@charleroi.be", "representative", CHARLEROI),
        "referent": make_account(clients["referent"], db, "referent@igretec.com", "referent"),
        "admin": make_account(clients["admin"], db, "admin@igretec.com", "admin"),
    }
    ids = _workflow(accounts)
    for account in accounts.values():
        account.login()
    seen: dict[str, str] = {}
    for role, paths in _pages(clients["anonymous"], db, ids).items():
        for path in paths:
            answer = clients[role].get(path, headers={"Accept-Language": "fr-BE"}, follow_redirects=True)
            html = answer.get_data(as_text=True)
            assert answer.mimetype == "text/html", (role, path, answer.status_code)
            assert _lang(html) == "fr", (role, path)
            text = visible_text(html)
            if path != "/api/v1/docs":  # the API's documentation lists the machine values on purpose
                assert _raw_codes(text) == [], (role, path, _raw_codes(text))
            assert _english(text) == [], (role, path)
            seen[f"{role} {path}"] = text
    # the scan saw what it looks for: labels of the reports' values, and the error pages' messages
    reports = seen["referent /signalements?retires=1"]
    for lbl in ("DSL (cuivre)", "Accès fixe sans fil (FWA)", "Câble", "Autre", "Aucune couverture", "Soumis",
                "Validé", "Rejeté", "Retiré", "Zone", "Connexion intermittente", "04/03/2024"):
        assert lbl in reports, lbl
    assert "Cette action est réservée à un autre rôle" in seen[f"representative /communes/{CHIMAY}/fiche"]
    assert "Page ou élément introuvable" in seen["anonymous /nulle-part"]
    assert "Ce lien a expiré ou a déjà servi" in seen["anonymous /compte/invitation?jeton=nope"]
    # ... and the workflow's pages: actions, events, text fields, zone states, evidence, e-mails
    asked = seen[f"representative /signalements/{ids['asked']}"]
    # (the history names each move once done: « Question posée », not the button's « Poser une question »)
    for text in ("Question posée", "Répondre et soumettre à nouveau", "Votre réponse (obligatoire)", "Retirer",
                 "Questions et réponses", "Quelle rue exactement ?", "Signalement créé",
                 "Également signalé par 1 autre signalement (zone proposée)", "Preuves", "Débit descendant"):
        assert text in asked, text
    assert "Brouillon" not in asked
    queue = seen["referent /validation"]
    for text in ("File de validation", "Valider", "Poser une question", "Rejeter",
                 "DSL (cuivre)", "Aucune couverture", "Soumis"):
        assert text in queue, text
    referent_page = seen[f"referent /signalements/{ids['submitted']}"]
    for text in ("Valider", "Motif (obligatoire)", "Question à la commune (obligatoire)"):
        assert text in referent_page, text
    journal = seen["admin /admin/journal"]
    for text in ("Journal des modifications", "Signalement créé", "Validé", "Rejeté", "Question posée", "Retiré",
                 "Inclus dans un export DWconnect", "Regroupé dans une zone", "Hors du territoire de la commune"):
        assert text in journal, text
    assert "Modifier le signalement" in seen[f"representative /signalements/{ids['asked']}/modifier"]
    assert "Export du " in seen["referent /exports"]
    assert "Un résumé par jour, le matin" in seen["referent /compte/notifications"]


@pytest.mark.parametrize(("lang", "expected"), [
    ("nl", ["Meldingen van mijn gemeente", "DSL (koper)", "Andere", "Geen dekking", "Ingediend", "Wegvak",
            "Ingetrokken meldingen tonen", "04/03/2024"]),
    ("en", ["Reports of my commune", "DSL (copper)", "Other", "No coverage", "Submitted", "Zone",
            "Show withdrawn reports", "4 Mar 2024"]),
])
def test_dutch_and_english_pages(client, db, lang: str, expected: list[str]) -> None:  # noqa: ANN001
    account = make_account(client, db, "echevin@charleroi.be", "representative", CHARLEROI)
    _file_reports(account)
    x, y = CHARLEROI_LAMBERT72
    line = {"type": "LineString", "coordinates": to_geojson_4326(square_lambert(x, y + 900, 80.0))["coordinates"][0][:3]}
    assert account.post("/api/v1/reports", json=feature(line, network="mobile")).status_code == 201
    account.login()
    text = visible_text(client.get("/signalements", headers={"Accept-Language": lang}).get_data(as_text=True))
    for item in expected:
        assert item in text, item
    page = client.get("/carte", headers={"Accept-Language": lang}).get_data(as_text=True)
    assert _lang(page) == lang
    assert {"nl": "Waar ligt de witte zone?", "en": "Where is the white zone?"}[lang] in page
    assert {"nl": "Technologieën", "en": "Technologies"}[lang] in page


def test_refused_report_in_the_form_gives_the_reason_in_the_language(client, db) -> None:  # noqa: ANN001
    account = make_account(client, db, "echevin@charleroi.be", "representative", CHARLEROI)
    account.login()
    x, y = CHARLEROI_LAMBERT72
    page = client.get("/carte", headers={"Accept-Language": "nl"}).get_data(as_text=True)
    answer = client.post("/carte", headers={"Accept-Language": "nl"}, data={
        "csrf_token": csrf_token(page), "idempotency_key": "8c0e8c36-51b9-4a8c-9a3f-2b51f8f4f0a1",
        "geometry": json.dumps(to_geojson_4326(square_lambert(x, y, 3.0))), "network": "mobile"})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    box = re.search(r'<div class="field-error" id="geometry-error"[^>]*><p>([^<]*)</p>', html).group(1)
    assert box == "Zone te klein (9 m²): teken minstens 100 m², of plaats een punt."
    assert "Melding geweigerd: Zone te klein (9 m²)" in html


#: Exact texts of the workflow's pages in Dutch and English: page → texts.
WORKFLOW_PAGES = {
    "nl": {
        "representative asked": ["Vraag gesteld", "Antwoorden en opnieuw indienen", "Uw antwoord (verplicht)", "Intrekken",
                                 "Vragen en antwoorden", "Melding aangemaakt", "Geschiedenis",
                                 "Dezelfde plek staat in nog 1 melding (voorgestelde zone)", "Bewijzen", "Downloadsnelheid",
                                 "Een meting of foto toevoegen"],
        "representative edit": ["Melding {ref} wijzigen", "Verplaats de hoekpunten van de vorm",
                                "De wijzigingen opslaan"],
        "representative mails": ["E-mails van geosignal", "U wordt op de hoogte gebracht van statuswijzigingen", "Geen e-mails"],
        "referent queue": ["Validatiewachtrij", "Valideren", "Een vraag stellen", "Afwijzen", "Alles selecteren",
                           "De selectie valideren", "In afwachting (ingediend)", "DSL (koper)", "Geen dekking",
                           "Pagina van de melding"],
        "referent submitted": ["Valideren", "Reden (verplicht)", "Vraag aan de gemeente (verplicht)", "Acties"],
        "referent exports": ["Nieuwe export", "Alle statussen", "Export van ", "1 melding van alle gemeenten",
                             "nog niet gemarkeerd als doorgestuurd.", "Markeren als doorgestuurd naar DWconnect"],
        "referent mails": ["Eén samenvatting per dag, 's ochtends"],
        "admin journal": ["Logboek van de wijzigingen", "Melding aangemaakt", "Gevalideerd", "Afgewezen", "Ingetrokken",
                          "Opgenomen in een DWconnect-export", "Samengevoegd in een zone", "Wanneer", "Reden of detail"],
    },
    "en": {
        "representative asked": ["Question asked", "Answer and submit again", "Your answer (required)", "Withdraw",
                                 "Questions and answers", "Report created", "History",
                                 "The same place is in 1 other report (proposed zone)", "Evidence", "Download speed",
                                 "Add a measurement or a photo"],
        "representative edit": ["Edit report {ref}", "Move the shape's vertices", "Save the changes"],
        "representative mails": ["E-mails from geosignal", "You are told of status changes", "No e-mails"],
        "referent queue": ["Validation queue", "Validate", "Ask a question", "Reject", "Select all",
                           "Validate the selection", "Waiting (submitted)", "DSL (copper)", "No coverage", "Report page"],
        "referent submitted": ["Validate", "Reason (required)", "Question to the commune (required)", "Actions"],
        "referent exports": ["New export", "All statuses", "Export of ", "1 report from all communes",
                             "not yet marked as transmitted.", "Mark as transmitted to DWconnect"],
        "referent mails": ["One summary a day, in the morning"],
        "admin journal": ["Journal of changes", "Report created", "Validated", "Rejected", "Withdrawn",
                          "Included in a DWconnect export", "Grouped into a zone", "When", "Reason or detail"],
    },
}


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_workflow_pages_in_dutch_and_english(app, db, lang: str) -> None:  # noqa: ANN001
    clients = {role: app.test_client() for role in ("representative", "referent", "admin")}
    accounts = {
        "representative": make_account(clients["representative"], db, "echevin@charleroi.be", "representative", CHARLEROI),
        "referent": make_account(clients["referent"], db, "referent@igretec.com", "referent"),
        "admin": make_account(clients["admin"], db, "admin@igretec.com", "admin"),
    }
    ids = _workflow(accounts)
    for account in accounts.values():
        account.login()
    reference = accounts["representative"].get(f"/api/v1/reports/{ids['asked']}").get_json()["properties"]["reference"]
    paths = {
        "representative asked": f"/signalements/{ids['asked']}",
        "representative edit": f"/signalements/{ids['asked']}/modifier",
        "representative mails": "/compte/notifications",
        "referent queue": "/validation",
        "referent submitted": f"/signalements/{ids['submitted']}",
        "referent exports": "/exports",
        "referent mails": "/compte/notifications",
        "admin journal": "/admin/journal",
    }
    for page, path in paths.items():
        answer = clients[page.split()[0]].get(path, headers={"Accept-Language": lang})
        html = answer.get_data(as_text=True)
        assert answer.status_code == 200 and _lang(html) == lang, (page, answer.status_code)
        text = visible_text(html)
        for expected in WORKFLOW_PAGES[lang][page]:
            assert expected.format(ref=reference) in text, (page, expected)
        assert _english(text) == [] or lang == "en", page
    # the queue's script reads its texts and the vocabulary from the catalogue of the language
    catalogue = json.loads(re.search(r"window\.geosignalI18n = (\{.*?\});\n", clients["referent"].get(
        f"/i18n/{lang}.js").get_data(as_text=True)).group(1))
    assert catalogue["queue"]["loaded_other"] == {"nl": "%(total)s meldingen gevonden; %(shown)s getoond.",
                                                  "en": "%(total)s reports found; %(shown)s shown."}[lang]
    assert catalogue["colon"] == ": "  # "Label: value" ("Label : value" in French)
    assert catalogue["queue"]["loaded_one"] == {"nl": "%(total)s melding gevonden; %(shown)s getoond.",
                                                "en": "%(total)s report found; %(shown)s shown."}[lang]
    assert catalogue["queue"]["selected_other"] == {"nl": "%(n)s geselecteerd", "en": "%(n)s selected"}[lang]
    assert catalogue["labels"]["needs_info"] == {"nl": "Vraag gesteld", "en": "Question asked"}[lang]
    assert catalogue["report_page"]["changed"] == {
        "nl": "Vorm gewijzigd: ze wordt met het formulier opgeslagen.",
        "en": "Shape changed: it will be saved with the form."}[lang]


@pytest.mark.parametrize(("lang", "subject", "lines"), [
    ("fr", "geosignal : signalement CHA-1 — Question posée",
     ["Le statut d'un signalement de votre commune a changé :", "« Soumis » → « Question posée »",
      "Par : Référent·e Smart Region", "Question : Quelle rue ?", "Fixe, Aucune couverture"]),
    ("nl", "geosignal: melding CHA-1 — Vraag gesteld",
     ["De status van een melding van uw gemeente is gewijzigd:", "'Ingediend' → 'Vraag gesteld'",
      "Door: Smart Region-referent", "Vraag: Quelle rue ?", "Vast, Geen dekking"]),
    ("en", "geosignal: report CHA-1 — Question asked",
     ["The status of a report of your commune changed:", "'Submitted' → 'Question asked'",
      "By: Smart Region referent", "Question: Quelle rue ?", "Fixed, No coverage"]),
])
def test_status_mail_in_the_recipients_language(lang: str, subject: str, lines: list[str]) -> None:
    from geosignal.services import notifications

    message = notifications.Message(1, "echevin@charleroi.be", lang, "transition", False, rows=[{
        "id": 1, "reference": "CHA-1", "commune": "Charleroi", "commune_nis": CHARLEROI,
        "report_id": "4cab4884-d218-456a-a092-22251842de7e", "network": "fixed", "issue": "no_coverage",
        "from_status": "submitted", "to_status": "needs_info", "reason": "Quelle rue ?",
        "actor_role": "referent"}])
    got_subject, body, page = notifications.render(message, "https://geosignal.example")
    assert got_subject == subject
    for line in lines:
        assert line in body, line
    assert f'<html lang="{lang}">' in page
    if lang == "fr":  # ("referent" is also a Dutch and English word)
        assert _raw_codes(visible_text(page)) == []


@pytest.mark.parametrize(("label", "written"), [
    ("Transmis à DWconnect", "transmis à DWconnect"),  # the acronym inside is kept ("dwconnect" before)
    ("Doorgestuurd naar DWconnect", "doorgestuurd naar DWconnect"),
    ("FWA", "FWA"), ("DSL (cuivre)", "DSL (cuivre)"),  # a label opening on an acronym stays whole
    ("Validé", "validé"), ("", ""),
])
def test_a_label_inside_a_sentence_keeps_its_acronyms(label: str, written: str) -> None:
    assert ui_text.in_sentence(label) == written


def test_a_place_outside_says_what_was_guessed_in_each_language(app) -> None:  # noqa: ANN001
    """An outside_service_area refusal that guessed why (axes swapped, another CRS) says it on
    the pages, with the commune it would be in, in the page's language."""
    from geosignal import ui_text
    from geosignal.errors import GeosignalError
    from geosignal.i18n import force_locale

    swapped = GeosignalError("outside_service_area", "x", hint="axes_swapped",
                             swapped_commune={"nis_code": "52011", "name": "Charleroi"})
    lambert = GeosignalError("outside_service_area", "x", hint="looks_like_lambert72", suggested_crs="EPSG:31370",
                             suggested_commune={"nis_code": "52011", "name": "Charleroi"}, axes_swapped=True)
    with app.test_request_context(), force_locale("fr_BE"):
        assert ui_text.error_message(swapped).endswith(
            " Les deux coordonnées semblent inversées : dans l'autre ordre, ce lieu serait à Charleroi. Vérifiez "
            "l'ordre (longitude puis latitude, ou les colonnes) ; rien n'a été inversé.")
    with app.test_request_context(), force_locale("en"):
        assert ui_text.error_message(lambert).endswith(
            " These coordinates look like Belgian Lambert 72 (EPSG:31370): they would place this in Charleroi. "
            "Choose that coordinate system and give x (or the longitude) first; nothing was converted.")


@pytest.mark.parametrize(("language", "example", "lambert"), [
    ("en", 'placeholder="12.5"', "Lambert 72: 154680 123360"),
    ("fr", 'placeholder="12,5"', "Lambert 72 : 154680 123360")])  # (Charleroi's example: its centroid)
def test_examples_on_the_pages_are_written_in_the_page_language(client, representative, language, example,  # noqa: ANN001
                                                                lambert) -> None:
    """A user's trial: the speed test's example read « 12,5 » on English pages, and the
    coordinates' help « Lambert 72 : » with the French space before the colon."""
    rid = representative.post("/api/v1/reports", json={
        "type": "Feature", "geometry": {"type": "Point", "coordinates": [4.444, 50.4108]},
        "properties": {"network": "mobile"}}).get_json()["id"]
    representative.login()
    headers = {"Accept-Language": language}
    page = client.get(f"/signalements/{rid}", headers=headers).get_data(as_text=True)
    assert example in page, re.findall(r'placeholder="[^"]*"', page)
    assert lambert in client.get("/carte", headers=headers).get_data(as_text=True)


@pytest.mark.parametrize(("lang", "wgs84"), [("fr", "WGS 84 (longitude/latitude, EPSG:4326)"),
                                             ("nl", "WGS 84 (lengte/breedte, EPSG:4326)"),
                                             ("en", "WGS 84 (longitude/latitude, EPSG:4326)")])
def test_the_upload_page_names_its_coordinate_systems_as_the_hints_do(client, db, lang: str, wgs84: str) -> None:  # noqa: ANN001
    """One list (ui_text.HINT_CRS_FR) for the page's choices and the refusals' hints; the Dutch
    name of WGS 84 is short enough for a phone's select (it was cut: "…breedtegraad, EPS…")."""
    account = make_account(client, db, f"crs-{lang}@charleroi.be", "representative", CHARLEROI)
    account.login()
    client.set_cookie("geosignal_lang", lang)
    html = client.get("/import").get_data(as_text=True)
    options = re.findall(r'<option value="([^"]*)">([^<]*)</option>', html.split('name="crs"')[1].split("</select>")[0])
    assert [v for v, _ in options] == ["", "EPSG:31370", "EPSG:3812"]
    assert options[0][1] == wgs84 and len(wgs84) <= 38


@pytest.mark.parametrize(("lang", "expected"), [
    ("fr", ["0 réponse", "1 réponse", "2 réponses", "1\u202f000 réponses"]),
    ("nl", ["0 antwoorden", "1 antwoord", "2 antwoorden", "1.000 antwoorden"]),
    ("en", ["0 answers", "1 answer", "2 answers", "1,000 answers"]),
])
def test_a_count_takes_the_plural_form_of_the_language(app, lang: str, expected: list[str]) -> None:  # noqa: ANN001
    """French says "0 réponse" (CLDR: 0 and 1 are "one"; gettext's fallback, n != 1, said
    "0 réponses"), Dutch and English "0 antwoorden", "0 answers": in the Python code and in the
    templates alike, as the pages' scripts do (I.pluralForm)."""
    from flask import render_template_string

    with app.test_request_context("/"), force_locale(i18n.BABEL_LOCALES[lang]):
        for n, text in zip([0, 1, 2, 1000], expected, strict=True):
            shown = i18n.format_number(n)
            assert i18n.ngettext("%(num)s réponse", "%(num)s réponses", n, num=shown) == text
            assert render_template_string('{{ ngettext("%(num)s réponse", "%(num)s réponses", n, num=shown) }}',
                                          n=n, shown=shown) == text
        # messages kept as <name>_one / <name>_other (the scripts' way) take the same form
        assert [i18n.plural_form(n) for n in (0, 1, 2)] == (["one", "one", "other"] if lang == "fr"
                                                           else ["other", "one", "other"])
        assert ui_text.queue_summary(0, 0) == {"fr": "0 signalement trouvé ; 0 affiché.",
                                               "nl": "0 meldingen gevonden; 0 getoond.",
                                               "en": "0 reports found; 0 shown."}[lang]


@pytest.mark.parametrize(("lang", "heading", "ask"), [
    ("fr", "Page introuvable", "Demander un nouveau lien"),
    ("nl", "Pagina niet gevonden", "Een nieuwe link aanvragen"),
    ("en", "Page not found", "Ask for a new link"),
])
def test_an_error_page_says_what_happened_in_words(client, lang: str, heading: str, ask: str) -> None:  # noqa: ANN001
    # its heading was the number alone (« Erreur 404 »); the number stays, below, for whoever
    # the person asks for help. A link that no longer works offers to ask for a new one (the
    # page said to, and offered only the home page)
    import re

    headers = {"Accept-Language": lang}
    missing = client.get("/nulle-part", headers=headers)
    page = missing.get_data(as_text=True)
    assert missing.status_code == 404
    assert re.search(r"<h1>([^<]*)</h1>", page).group(1) == heading
    assert re.search(r"<title>([^<]*)", page).group(1).startswith(heading)
    assert {"fr": "Erreur 404", "nl": "Fout 404", "en": "Error 404"}[lang] in page
    expired = client.get("/compte/reinitialisation?jeton=nothing-that-was-ever-sent", headers=headers)
    assert expired.status_code == 410 and 'data-code="invalid_link"' in expired.get_data(as_text=True)
    assert f'<a href="/compte/mot-de-passe-oublie">{ask}</a>' in expired.get_data(as_text=True)
