"""Tests for geosignal.services.survey.

The fixture ``tests/fixtures/survey_2022.csv`` is **synthetic**: 14 rows, one per commune
that answered the 2022 edition (real NIS codes), whose answers were chosen so that the
aggregates equal the figures published in the 2022 report. The report publishes no
per-commune answer; the individual rows are not any commune's real answers.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from geosignal.errors import ERROR_CODES, GeosignalError
from geosignal.services.survey import (
    CENTRAL_PURCHASING_LEVELS,
    CHARLEROI_METROPOLE_NIS,
    DEFAULT_MAPPING,
    EDITIONS,
    PUBLISHED_2019_TO_FILL,
    SURVEY_PRIORITIES,
    SURVEY_REASONS,
    UNIT_SCORE,
    UNIT_SHARE,
    SurveyResponse,
    compare_with_published,
    compute_indicators,
    load_mapping,
    published_2019,
    published_2022,
    published_indicators,
    read_survey_export,
)

FIXTURE = Path(__file__).parent / "fixtures" / "survey_2022.csv"
SHARED_COMMUNES = Path("/work/shared/data/communes_charleroi_metropole.csv")

# Sambreville did not answer the questions the report counts, except the two given here.
ROW_15 = {
    "Horodateur": "2022-03-01 09:00",
    "Commune": "Sambreville",
    "Code INS": "92137",
    "Pensez-vous que votre commune soit smart ? (1 à 10)": "3",
    "Des actions smart figurent-elles dans votre PST ?": "Non",
    "Thématiques prioritaires (plusieurs choix possibles)": "Pas de réponse",
}


# ------------------------------------------------------------------------------ helpers


def fixture_bytes() -> bytes:
    return FIXTURE.read_bytes()


def fixture_table() -> list[list[str]]:
    return list(csv.reader(io.StringIO(FIXTURE.read_text(encoding="utf-8")), delimiter=";"))


def to_csv(rows: list[list[str]], *, delimiter: str = ";", encoding: str = "utf-8") -> bytes:
    buf = io.StringIO(newline="")
    csv.writer(buf, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buf.getvalue().encode(encoding)


def to_xlsx(rows: list[list[str]]) -> bytes:
    """Write rows to an XLSX workbook, with whole numbers as numeric cells (as Excel does)."""
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Réponses"
    for row in rows:
        ws.append([int(c) if c.isdigit() else (c or None) for c in row])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def with_cell(rows: list[list[str]], row: int, header: str, value: str) -> list[list[str]]:
    """Return a copy of ``rows`` with spreadsheet row ``row`` (header = 1) changed at ``header``."""
    out = [list(r) for r in rows]
    out[row - 1][out[0].index(header)] = value
    return out


def read(data: bytes, filename: str = "export.csv") -> list[SurveyResponse]:
    return read_survey_export(data, filename, edition_year=2022)


@pytest.fixture(scope="module")
def responses() -> list[SurveyResponse]:
    return read(fixture_bytes())


@pytest.fixture(scope="module")
def indicators(responses):
    return compute_indicators(responses)


# ------------------------------------------------------------------------------ fixture sanity


def test_fixture_has_14_distinct_real_communes(responses):
    assert len(responses) == 14
    codes = [r.nis_code for r in responses]
    assert len(set(codes)) == 14
    assert set(codes) <= CHARLEROI_METROPOLE_NIS
    assert [r.source_row for r in responses] == list(range(2, 16))


@pytest.mark.skipif(not SHARED_COMMUNES.exists(), reason="shared commune list not available")
def test_nis_constant_matches_shared_commune_list():
    with SHARED_COMMUNES.open(encoding="utf-8") as f:
        codes = {row["nis_code"] for row in csv.DictReader(f)}
    assert codes == CHARLEROI_METROPOLE_NIS
    assert len(codes) == 30


def test_first_row_is_read_field_by_field(responses):
    r = responses[0]
    assert r == SurveyResponse(
        edition_year=2022,
        nis_code="52011",
        smart_score=6,
        reasons=["lack_of_staff", "lack_of_budget"],
        priorities=["quality_of_life", "mobility", "economy", "environment_energy"],
        citizens_informed_score=7,
        smart_actions_in_pst=True,
        intends_to_answer_call=True,
        citizens_involved=True,
        public_procurement_done=True,
        central_purchasing_interest="no",
        cyber_ready=True,
        source_row=2,
    )


# ------------------------------------------------------------------------------ published 2022 figures


def test_scores_match_report(indicators):
    smart, informed = indicators["smart_score"], indicators["citizens_informed"]
    assert (smart.unit, smart.denominator, smart.count) == (UNIT_SCORE, 14, 62)
    assert round(smart.value, 1) == 4.4
    assert smart.value == pytest.approx(62 / 14, abs=1e-12)
    assert (informed.unit, informed.denominator, informed.count) == (UNIT_SCORE, 14, 78)
    assert round(informed.value, 1) == 5.6


@pytest.mark.parametrize(
    ("name", "count", "percent"),
    [
        ("priority_quality_of_life", 10, 71),
        ("priority_citizens", 8, 57),
        ("priority_environment_energy", 7, 50),
        ("priority_governance", 3, 21),
        ("priority_economy", 2, 14),
        ("intends_to_answer_call", 9, 64),
        ("citizens_involved", 5, 36),
        ("public_procurement_done", 3, 21),
        ("central_purchasing_strongly", 7, 50),
        ("central_purchasing_yes_not_priority", 5, 36),
        ("cyber_not_ready", 9, 64),
        ("smart_actions_in_pst", 14, 100),
    ],
)
def test_shares_match_report(indicators, name, count, percent):
    ind = indicators[name]
    assert (ind.unit, ind.count, ind.denominator) == (UNIT_SHARE, count, 14)
    assert round(100 * ind.value) == percent


def test_mobility_is_42_9_percent_printed_42(indicators):
    mob = indicators["priority_mobility"]
    assert (mob.count, mob.denominator) == (6, 14)
    assert round(100 * mob.value, 1) == 42.9
    printed = next(p for p in published_2022() if p.indicator == "priority_mobility")
    assert printed.value == 0.42 and "42.9" in printed.note


def test_cyber_not_ready_is_complement(indicators):
    ready, not_ready = indicators["cyber_ready"], indicators["cyber_not_ready"]
    assert ready.denominator == not_ready.denominator == 14
    assert ready.count + not_ready.count == 14
    assert ready.value + not_ready.value == pytest.approx(1.0, abs=1e-12)


def test_central_purchasing_levels_partition(indicators):
    levels = [indicators[f"central_purchasing_{lv}"] for lv in CENTRAL_PURCHASING_LEVELS]
    assert [i.count for i in levels] == [7, 5, 2]
    assert sum(i.value for i in levels) == pytest.approx(1.0, abs=1e-12)


def test_insufficient_connectivity_cited_by_low_scorers(responses, indicators):
    conn = indicators["reason_insufficient_connectivity"]
    assert (conn.count, conn.denominator) == (6, 14)
    low = [r for r in responses if r.smart_score <= 3]
    assert len(low) == 5
    assert all("insufficient_connectivity" in r.reasons for r in low)
    high = [r for r in responses if r.smart_score >= 5]
    assert not any("insufficient_connectivity" in r.reasons for r in high)


def test_every_vocabulary_value_has_an_indicator(indicators):
    for theme in SURVEY_PRIORITIES:
        assert f"priority_{theme}" in indicators
    for reason in SURVEY_REASONS:
        assert f"reason_{reason}" in indicators
    for ind in indicators.values():
        assert ind.value == pytest.approx(ind.count / ind.denominator, abs=1e-12)


def test_compare_with_published_within_report_rounding(indicators):
    comparisons = compare_with_published(indicators, published_2022())
    assert len(comparisons) == len(published_2022()) == 15
    for c in comparisons:
        tolerance = 0.05 if c.indicator in ("smart_score", "citizens_informed") else 0.01
        assert abs(c.difference) <= tolerance, c
        assert c.published_denominator == c.computed_denominator == 14


# ------------------------------------------------------------------------------ non-response


def test_partial_respondent_excluded_from_unanswered_denominators_only(indicators):
    table = fixture_table()
    header = table[0]
    table.append([ROW_15.get(h, "") for h in header])
    with15 = read(to_csv(table))
    assert len(with15) == 15
    extra = with15[-1]
    assert extra.nis_code == "92137" and extra.source_row == 16
    assert extra.reasons == [] and extra.priorities == [] and extra.cyber_ready is None
    assert extra.central_purchasing_interest is None and extra.citizens_informed_score is None

    ind15 = compute_indicators(with15)
    # Answered questions: the 15th commune counts.
    assert (ind15["smart_score"].count, ind15["smart_score"].denominator) == (65, 15)
    assert round(ind15["smart_score"].value, 2) == 4.33
    assert (ind15["smart_actions_in_pst"].count, ind15["smart_actions_in_pst"].denominator) == (
        14,
        15,
    )
    # Unanswered questions: the 15th commune is left out, figures unchanged.
    changed = {"smart_score", "smart_actions_in_pst"}
    for name, ind in indicators.items():
        if name not in changed:
            assert ind15[name] == ind, name
    assert ind15["priority_mobility"].denominator == 14
    assert ind15["cyber_not_ready"].denominator == 14


def test_no_answer_for_anything_gives_none_values():
    ind = compute_indicators([SurveyResponse(edition_year=2022, nis_code="52011")])
    assert all(i.value is None and i.denominator == 0 and i.count == 0 for i in ind.values())


def test_mixed_editions_are_refused():
    with pytest.raises(GeosignalError) as exc:
        compute_indicators(
            [
                SurveyResponse(edition_year=2019, nis_code="52011"),
                SurveyResponse(edition_year=2022, nis_code="52015"),
            ]
        )
    assert exc.value.code == "invalid_request"


# ------------------------------------------------------------------------------ formats


def test_xlsx_gives_identical_results(responses):
    data = to_xlsx(fixture_table())
    from_xlsx = read(data, "export.xlsx")
    assert from_xlsx == responses
    assert compute_indicators(from_xlsx) == compute_indicators(responses)
    # A ZIP signature is enough, whatever the name says.
    assert read(data, "export") == responses


@pytest.mark.parametrize(
    ("encoding", "delimiter", "bom"),
    [
        ("cp1252", ";", False),
        ("cp1252", ",", False),
        ("utf-8", ",", True),
        ("utf-8", ";", True),
        ("utf-8", "\t", False),
    ],
)
def test_encodings_and_delimiters(responses, encoding, delimiter, bom):
    data = to_csv(fixture_table(), delimiter=delimiter, encoding=encoding)
    if bom:
        data = b"\xef\xbb\xbf" + data
    assert read(data) == responses


def test_cp1252_bytes_really_are_cp1252():
    data = to_csv(fixture_table(), encoding="cp1252")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")


def test_headers_and_answers_matched_loosely(responses):
    table = fixture_table()
    # Upper case, no accents, typographic apostrophe, extra spaces; columns reordered.
    table[0] = [
        h.upper().replace("É", "E").replace("À", "A").replace("'", "\u2019") for h in table[0]
    ]
    table = [[r[i] for i in reversed(range(len(r)))] for r in table]
    table = [table[0]] + [
        [c.replace("Oui", " oui ").replace("Économie", "economie") for c in r] for r in table[1:]
    ]
    assert read(to_csv(table)) == responses


def test_blank_lines_skipped_and_extra_columns_ignored(responses):
    table = fixture_table()
    table[0].append("Commentaire libre")
    for r in table[1:]:
        r.append("texte")
    table.insert(5, [""] * len(table[0]))
    got = read(to_csv(table))
    assert [r.nis_code for r in got] == [r.nis_code for r in responses]
    assert got[4].source_row == 7  # row numbers still follow the file


# ------------------------------------------------------------------------------ errors


def _error(data: bytes, filename: str = "export.csv") -> GeosignalError:
    with pytest.raises(GeosignalError) as exc:
        read(data, filename)
    assert exc.value.code in ERROR_CODES
    return exc.value


@pytest.mark.parametrize(
    ("row", "header", "value", "column"),
    [
        (3, "Code INS", "12345", "C"),  # a real NIS code outside Charleroi Métropole (none)
        (4, "Code INS", "52063", "C"),  # Seneffe's pre-2019 code
        (5, "Pensez-vous que votre commune soit smart ? (1 à 10)", "11", "D"),
        (5, "Pensez-vous que votre commune soit smart ? (1 à 10)", "0", "D"),
        (6, "Pensez-vous que votre commune soit smart ? (1 à 10)", "4.5", "D"),
        (6, "Pensez-vous que votre commune soit smart ? (1 à 10)", "quatre", "D"),
        (7, "Vos citoyens sont-ils informés des actions smart de la commune ? (1 à 10)", "-2", "G"),
        (8, "Des actions smart figurent-elles dans votre PST ?", "Peut-être", "H"),
        (9, "Thématiques prioritaires (plusieurs choix possibles)", "Mobilité;Tourisme", "F"),
        (10, "Une centrale d'achat pour les projets smart vous intéresse-t-elle ?", "Bof", "L"),
    ],
)
def test_bad_cell_gives_coded_error_with_row_and_column(row, header, value, column):
    err = _error(to_csv(with_cell(fixture_table(), row, header, value)))
    assert err.code == "invalid_attribute"
    assert err.status == 422
    assert err.where == f"row {row}, column {column} ({header})"
    problem = err.to_problem()
    assert (problem["row"], problem["column"], problem["header"]) == (row, column, header)
    assert problem["code"] == "invalid_attribute"


def test_unknown_nis_is_flagged_as_unknown_commune():
    err = _error(to_csv(with_cell(fixture_table(), 3, "Code INS", "12345")))
    assert err.extra["reason"] == "unknown_commune"
    assert err.extra["value"] == "12345"


def test_bad_cell_in_xlsx_has_same_location():
    data = to_xlsx(
        with_cell(fixture_table(), 5, "Pensez-vous que votre commune soit smart ? (1 à 10)", "11")
    )
    err = _error(data, "export.xlsx")
    assert err.code == "invalid_attribute"
    assert err.where.startswith("row 5, column D ")


def test_empty_nis_is_an_error():
    err = _error(to_csv(with_cell(fixture_table(), 4, "Code INS", "")))
    assert (err.code, err.extra["row"], err.extra["column"]) == ("invalid_attribute", 4, "C")


def test_duplicate_commune():
    err = _error(to_csv(with_cell(fixture_table(), 6, "Code INS", "52011")))
    assert err.code == "duplicate_row"
    assert err.extra["row"] == 6 and err.extra["first_row"] == 2
    assert err.where.startswith("row 6, column C")


def test_missing_column():
    table = [r[:3] + r[4:] for r in fixture_table()]  # drop the smart score
    err = _error(to_csv(table))
    assert err.code == "missing_column"
    assert err.extra["missing"] == ["smart_score"]


def test_repeated_column():
    table = [r + [r[2]] for r in fixture_table()]
    table[0][-1] = "Code NIS"
    err = _error(to_csv(table))
    assert err.code == "missing_column"
    assert "C, N" in err.detail


@pytest.mark.parametrize(
    ("data", "filename", "code"),
    [
        (b"%PDF-1.4", "export.pdf", "unsupported_format"),
        (b"not a workbook", "export.xlsx", "unreadable_file"),
        (b"PK\x03\x04garbage", "export.csv", "unreadable_file"),
        (b"", "export.csv", "no_rows"),
        (b"\r\n\r\n", "export.csv", "no_rows"),
    ],
)
def test_file_level_errors(data, filename, code):
    assert _error(data, filename).code == code


def test_header_only_has_no_rows():
    assert _error(to_csv(fixture_table()[:1])).code == "no_rows"


# ------------------------------------------------------------------------------ mapping and editions


def test_mapping_covers_every_response_field():
    mapped = {f.field for f in DEFAULT_MAPPING.fields}
    assert mapped == {
        "nis_code", "smart_score", "reasons", "priorities", "citizens_informed_score",
        "smart_actions_in_pst", "intends_to_answer_call", "citizens_involved",
        "public_procurement_done", "central_purchasing_interest", "cyber_ready",
    }  # fmt: skip


def test_mapping_rejects_values_outside_vocabulary():
    raw = {
        "fields": {
            "nis_code": {"header": "NIS", "type": "nis"},
            "priorities": {"header": "P", "type": "multi", "choices": {"Tourisme": "tourism"}},
        }
    }
    with pytest.raises(ValueError, match="bad choices"):
        load_mapping(raw)
    with pytest.raises(ValueError, match="unknown field"):
        load_mapping({"fields": {"colour": {"header": "C", "type": "choice"}}})


def test_custom_mapping_and_known_nis():
    mapping = load_mapping(
        {
            "fields": {
                "nis_code": {"header": "NIS", "type": "nis"},
                "smart_score": {"header": "Score", "type": "score", "min": 1, "max": 10},
            }
        }
    )
    got = read_survey_export(
        b"NIS,Score\n62063,7\n", "x.csv", edition_year=2024, mapping=mapping, known_nis={"62063"}
    )
    assert got == [SurveyResponse(edition_year=2024, nis_code="62063", smart_score=7, source_row=2)]


def test_published_2019_is_sourced_and_leaves_the_rest_to_fill():
    rows = published_2019()
    assert EDITIONS[2019].published_only and not EDITIONS[2022].published_only
    assert [r.indicator for r in rows] == ["smart_score"]
    assert rows[0].value == 2.8 and rows[0].denominator is None and rows[0].source
    assert "smart_score" not in PUBLISHED_2019_TO_FILL
    assert published_indicators(2019) == rows
    assert published_indicators(2030) == []
