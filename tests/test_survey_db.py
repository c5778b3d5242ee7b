"""The survey stored in PostGIS: the 2022 fixture imported (service and CLI) reproduces every
published figure from the stored rows; the dashboard's per-commune answers and editions."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from geosignal.errors import GeosignalError
from geosignal.models import PublishedIndicator, SurveyEdition, SurveyResponse
from geosignal.services import survey_db
from geosignal.services.survey import compare_with_published, compute_indicators, published_2022
from tests.conftest import CHARLEROI

FIXTURE = Path(__file__).parent / "fixtures" / "survey_2022.csv"


def _import(db) -> survey_db.ImportSummary:  # noqa: ANN001
    return survey_db.import_edition(db, FIXTURE.read_bytes(), FIXTURE.name, 2022)


def test_import_stores_14_responses_and_published_figures(db) -> None:  # noqa: ANN001
    summary = _import(db)
    assert summary == survey_db.ImportSummary(2022, 14, 0, 16)  # 15 figures of 2022 + 1 of 2019
    assert db.scalar(select(func.count()).select_from(SurveyResponse)) == 14
    assert {e.year: e.published_only for e in db.scalars(select(SurveyEdition))} == {2019: True, 2022: False}
    smart_2019 = db.get(PublishedIndicator, (2019, "smart_score"))
    assert smart_2019 is not None and smart_2019.value == 2.8 and smart_2019.denominator is None
    charleroi = db.get(SurveyResponse, (2022, CHARLEROI))
    assert charleroi is not None and charleroi.smart_score == 6 and charleroi.source_row == 2
    assert charleroi.reasons == ["lack_of_staff", "lack_of_budget"]


def test_stored_responses_reproduce_every_published_2022_figure(db) -> None:  # noqa: ANN001
    _import(db)
    indicators = compute_indicators(survey_db.load_responses(db, 2022))
    assert indicators["smart_score"].value == pytest.approx(4.4, abs=0.05)
    assert indicators["citizens_informed"].value == pytest.approx(5.6, abs=0.05)
    assert indicators["priority_mobility"].count == 6 and indicators["priority_mobility"].denominator == 14
    comparisons = compare_with_published(indicators, survey_db.load_published(db, 2022))
    assert len(comparisons) == len(published_2022()) == 15
    for c in comparisons:
        tolerance = 0.05 if c.indicator in ("smart_score", "citizens_informed") else 0.01
        if c.indicator == "priority_mobility":
            tolerance = 0.01  # printed 42 %, 6/14 = 42.9 %
        assert c.difference is not None and abs(c.difference) <= tolerance, c
        assert c.computed_denominator == 14


def test_reimport_replaces_and_bad_file_stores_nothing(db) -> None:  # noqa: ANN001
    _import(db)
    assert _import(db).replaced == 14
    assert db.scalar(select(func.count()).select_from(SurveyResponse)) == 14
    bad = FIXTURE.read_text(encoding="utf-8").replace(";52011;6;", ";52011;11;")
    with pytest.raises(GeosignalError) as info:
        survey_db.import_edition(db, bad.encode("utf-8"), "bad.csv", 2023)
    assert info.value.code == "invalid_attribute" and info.value.extra["row"] == 2
    assert db.scalar(select(func.count()).select_from(SurveyResponse).where(SurveyResponse.edition_year == 2023)) == 0


def test_answers_by_commune_and_editions(db) -> None:  # noqa: ANN001
    _import(db)
    answers = survey_db.answers_by_commune(db)
    assert len(answers) == 14
    assert answers[CHARLEROI] == {"edition": 2022, "smart_score": 6, "connectivity_cited": False,
                                  "citizens_informed_score": 7, "trend": [{"edition": 2022, "smart_score": 6}]}
    cited = [nis for nis, a in answers.items() if a["connectivity_cited"]]
    expected = [r.nis_code for r in survey_db.load_responses(db, 2022) if "insufficient_connectivity" in r.reasons]
    assert sorted(cited) == sorted(expected) and cited
    editions = {e["year"]: e for e in survey_db.editions(db)}
    assert editions[2019]["smart_score"] == 2.8 and editions[2019]["responses"] == 0
    assert editions[2022]["smart_score"] == pytest.approx(4.4, abs=0.05) and editions[2022]["responses"] == 14


def test_cli_import_and_api(app, db, referent) -> None:  # noqa: ANN001
    result = app.test_cli_runner().invoke(args=["import-survey", str(FIXTURE), "--edition", "2022"])
    assert result.exit_code == 0, result.output
    assert "edition 2022: 14 responses stored (0 replaced), 16 published figures" in result.output
    assert "smart_score: 4.4/10 over 14 communes" in result.output
    body = referent.get("/api/v1/stats/survey").get_json()
    assert [e["year"] for e in body["editions"]] == [2019, 2022]
    rows = {r["nis_code"]: r for r in referent.get("/api/v1/stats/communes?survey=1").get_json()["communes"]}
    assert rows[CHARLEROI]["survey"]["smart_score"] == 6
    assert sum(1 for r in rows.values() if r["survey"] is not None) == 14
    bad = app.test_cli_runner().invoke(args=["import-survey", str(FIXTURE), "--edition", "1890"])
    assert bad.exit_code == 1 and "invalid_request" in bad.output


def test_the_survey_endpoint_gives_each_commune_s_answers(db, client, representative) -> None:  # noqa: ANN001
    """README's API table promises ``GET /api/v1/stats/survey`` « editions, indicators, answers
    per commune »: the body held the editions alone. Its ``communes`` are each commune's latest
    answers, those the commune table's rows carry, and the body is what the OpenAPI document
    says it is."""
    import jsonschema

    _import(db)
    db.commit()
    body = representative.get("/api/v1/stats/survey").get_json()
    assert sorted(body) == ["communes", "editions"]
    assert len(body["communes"]) == 14
    assert body["communes"][CHARLEROI] == {"edition": 2022, "smart_score": 6, "connectivity_cited": False,
                                           "citizens_informed_score": 7,
                                           "trend": [{"edition": 2022, "smart_score": 6}]}
    rows = representative.get("/api/v1/stats/communes?survey=1").get_json()["communes"]
    assert body["communes"] == {r["nis_code"]: r["survey"] for r in rows if r["survey"] is not None}
    doc = client.get("/api/v1/openapi.json").get_json()
    schema = doc["paths"]["/api/v1/stats/survey"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    jsonschema.validate(body, {**schema, "components": doc["components"]})


def test_the_referent_imports_the_survey_from_the_dashboard_or_the_api(db, referent, representative) -> None:  # noqa: ANN001
    """The survey's answers come in without a shell: the dashboard's form and
    POST /api/v1/stats/survey (referent, admin), same refusals, nothing stored on a refusal."""
    import io

    def upload(client, path: str, data: bytes | None = None, **fields: str):  # noqa: ANN001, ANN202
        body = {**fields, "file": (io.BytesIO(FIXTURE.read_bytes() if data is None else data), "reponses.csv")}
        return client.post(path, data=body, content_type="multipart/form-data")

    assert upload(representative, "/api/v1/stats/survey", edition="2022").status_code == 403
    done = upload(referent, "/api/v1/stats/survey", edition="2022")
    assert (done.status_code, done.get_json()) == (201, {"edition": 2022, "responses": 14, "replaced": 0, "published": 16})
    for fields, where in [({}, "edition"), ({"edition": "２０２２"}, "edition"), ({"edition": "22"}, "edition")]:
        refused = upload(referent, "/api/v1/stats/survey", **fields)
        assert (refused.status_code, refused.get_json()["code"], refused.get_json()["where"]) == \
            (400, "invalid_request", where), fields
    no_file = referent.post("/api/v1/stats/survey", data={"edition": "2022"}, content_type="multipart/form-data")
    assert (no_file.status_code, no_file.get_json()["where"]) == (400, "file")
    bad = FIXTURE.read_text(encoding="utf-8").replace(";52011;6;", ";52011;11;").encode("utf-8")
    refused = upload(referent, "/api/v1/stats/survey", bad, edition="2023")
    assert (refused.status_code, refused.get_json()["code"], refused.get_json()["row"]) == (422, "invalid_attribute", 2)
    # the dashboard's form: back to the dashboard saying how many; a refusal shown on it
    page = upload(referent, "/tableau-de-bord/enquete", edition="2022")
    assert page.status_code == 302 and page.headers["Location"].endswith("/tableau-de-bord")
    shown = referent.get("/tableau-de-bord").get_data(as_text=True)
    assert "Enquête 2022 importée : 14 réponses de communes" in shown
    again = upload(referent, "/tableau-de-bord/enquete", bad, edition="2023")
    html = again.get_data(as_text=True)
    assert again.status_code == 422 and 'id="survey-error" data-code="invalid_attribute"' in html
    # where the fault is, and what the cell holds (the API's row, column and value)
    assert "Ligne 2, colonne D (Pensez-vous que votre commune soit smart ? (1 à 10)) : « 11 »" in html
    assert '<details class="survey-import" id="survey-import" open>' in html
    assert upload(representative, "/tableau-de-bord/enquete", edition="2022").status_code == 403
    assert db.scalar(select(func.count()).select_from(SurveyResponse).where(SurveyResponse.edition_year == 2023)) == 0
    assert db.scalar(select(func.count()).select_from(SurveyResponse).where(SurveyResponse.edition_year == 2022)) == 14


def test_a_hostile_workbook_is_refused_before_it_is_read_whole(db, referent) -> None:  # noqa: ANN001
    """The survey's import is now a web route: an XLSX that inflates far beyond its size, one
    declaring thousands of rows, or a file beyond the limit is refused with its code, nothing
    stored."""
    import io
    import zipfile

    import openpyxl

    from geosignal.services import survey as survey_service

    def post(data: bytes, name: str):  # noqa: ANN202
        return referent.post("/api/v1/stats/survey", data={"edition": "2022", "file": (io.BytesIO(data), name)},
                             content_type="multipart/form-data")

    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/worksheets/sheet1.xml", b"<" + b" " * (60 * 1024 * 1024) + b">")
    answer = post(bomb.getvalue(), "bombe.xlsx")
    assert (answer.status_code, answer.get_json()["code"]) == (413, "archive_too_large")
    book = openpyxl.Workbook()
    for k in range(survey_service.MAX_SURVEY_ROWS + 1):
        book.active.append([k])
    many = io.BytesIO()
    book.save(many)
    answer = post(many.getvalue(), "lignes.xlsx")
    assert (answer.status_code, answer.get_json()["code"], answer.get_json()["limit"]) == \
        (413, "payload_too_large", survey_service.MAX_SURVEY_ROWS)
    answer = post(b"x" * (survey_service.MAX_SURVEY_BYTES + 1), "grand.csv")
    assert answer.status_code == 413 and answer.get_json()["code"] == "payload_too_large"
    assert db.scalar(select(func.count()).select_from(SurveyResponse)) == 0


def test_a_referent_trial_of_the_survey_import(app, db, referent) -> None:  # noqa: ANN001
    """A referent's trial: edition 2099 (typed for 2024) was stored and became the latest
    edition of every page, with no way to remove it; the form kept proposing 2022; refusals on
    the page said « a column is missing » without naming it, a commune name in « Code INS »
    got the report form's wording, a repeated commune named neither it nor its first row."""
    import io
    from html import unescape

    def upload(data: bytes | None = None, path: str = "/tableau-de-bord/enquete", **fields: str):  # noqa: ANN202
        body = {**fields, "file": (io.BytesIO(FIXTURE.read_bytes() if data is None else data), "reponses.csv")}
        return referent.post(path, data=body, content_type="multipart/form-data")

    next_year = survey_db.latest_possible_edition() + 1
    for path in ("/api/v1/stats/survey", "/tableau-de-bord/enquete"):
        refused = upload(path=path, edition=str(next_year))
        assert refused.status_code == 400, path
    assert refused.get_data(as_text=True).count(
        f"Indiquez l'année de l'édition de l'enquête, en quatre chiffres, de 2000 à {next_year - 1}.") == 1
    assert db.scalar(select(func.count()).select_from(SurveyResponse)) == 0
    assert 'name="edition" inputmode="numeric" pattern="[0-9]{4}" maxlength="4" required\n' \
           f'                   value="{next_year - 1}"' in referent.get("/tableau-de-bord").get_data(as_text=True)
    assert upload(edition="2021").status_code == 302
    assert 'value="2021"' in referent.get("/tableau-de-bord").get_data(as_text=True)  # the latest imported
    text_ = FIXTURE.read_text(encoding="utf-8")
    cases = [
        (text_.replace(";Code INS;", ";Code commune;", 1), "missing_column",
         "Colonne(s) introuvable(s) : Code INS. Les en-têtes doivent être sur la première ligne de la première "
         "feuille, tels que le questionnaire les exporte."),
        (text_.replace(";Charleroi;52011;", ";Charleroi;Charleroi;", 1), "invalid_attribute",
         "La colonne Code INS attend le code INS à 5 chiffres d'une commune servie (par exemple 52011 pour "
         "Charleroi) : ligne 2, « Charleroi » n'en est pas un."),
        (text_ + text_.splitlines()[1] + "\n", "duplicate_row",
         "La commune 52011 répond deux fois, lignes 2 et 16 : n'en gardez qu'une."),
    ]
    for data, code, sentence in cases:
        page = upload(data.encode("utf-8"), edition="2020")
        html = unescape(page.get_data(as_text=True))
        assert page.status_code == 422 and f'data-code="{code}"' in html, code
        assert sentence in html, (code, html[html.find('id="survey-error"'):][:600])
    # an edition imported under a wrong year is removed, and only it
    runner = app.test_cli_runner()
    unconfirmed = runner.invoke(args=["delete-survey", "--edition", "2021"])  # used wrongly: exit 2 (no code)
    assert unconfirmed.exit_code == 2 and "add --yes" in unconfirmed.output
    done = runner.invoke(args=["delete-survey", "--edition", "2021", "--yes"])
    assert done.exit_code == 0 and done.output.strip() == "edition 2021: 14 answers deleted"
    assert db.scalar(select(func.count()).select_from(SurveyResponse)) == 0
    missing = runner.invoke(args=["delete-survey", "--edition", "2021", "--yes"])
    assert missing.exit_code == 1 and "not_found: no answers are imported for the edition 2021" in missing.output
