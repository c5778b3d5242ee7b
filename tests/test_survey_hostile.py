"""The survey import ("Territoire intelligent") fed variants of the handed cases' kinds
(Belgian Excel exports, numbers written otherwise, workbooks written by programs): each
refusal names the row and column the spreadsheet shows, nothing is half-imported, nothing is
stored changed. Through ``POST /api/v1/stats/survey`` with the real communes and PostGIS."""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select

from geosignal.models import SurveyResponse

FIXTURE = Path(__file__).parent / "fixtures" / "survey_2022.csv"
SCORE = "Pensez-vous que votre commune soit smart ? (1 à 10)"


def _table() -> list[list[str]]:
    return list(csv.reader(io.StringIO(FIXTURE.read_text(encoding="utf-8")), delimiter=";"))


def _csv(rows: list[list[str]], delimiter: str = ";") -> str:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


def _workbook(rows: list[list[str]], first_row: int = 1, **cells: object) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            sheet.cell(row=first_row + i, column=j + 1, value=int(value) if value.isdigit() else (value or None))
    for name, value in cells.items():
        sheet[name] = value
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _post(client, data: bytes, name: str, edition: str = "2022"):  # noqa: ANN001, ANN202
    return client.post("/api/v1/stats/survey", data={"edition": edition, "file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def _stored(db) -> int:  # noqa: ANN001
    return db.scalar(select(func.count()).select_from(SurveyResponse))


def test_a_refusal_names_the_row_the_spreadsheet_shows_below_empty_rows(db, referent) -> None:  # noqa: ANN001
    """Empty rows above the table (a cleared title) were not counted: the score 11 typed in D5
    was said at row 3."""
    rows = _table()
    rows[2][rows[0].index(SCORE)] = "11"
    for data, name, row in ((("\r\n" + _csv(rows)).encode("utf-8"), "reponses.csv", 4),
                            (_workbook(_table(), first_row=3, D5=11), "reponses.xlsx", 5)):
        answer = _post(referent, data, name)
        body = answer.get_json()
        assert (answer.status_code, body["code"], body["row"], body["column"]) == (422, "invalid_attribute", row, "D")
    assert _stored(db) == 0


def test_a_formula_whose_value_the_workbook_does_not_keep_is_refused_not_a_non_response(db, referent) -> None:  # noqa: ANN001
    """A workbook written by a program, never computed: Charleroi's score =3+3 read as empty, « did
    not answer », stored without a word."""
    answer = _post(referent, _workbook(_table(), D2="=3+3"), "reponses.xlsx")
    body = answer.get_json()
    assert (answer.status_code, body["code"], body["kind"], body["where"]) == (
        422, "unreadable_file", "formula_without_value", "row 2, column D")
    assert _stored(db) == 0


def test_excels_unicode_text_export_is_read(db, referent) -> None:  # noqa: ANN001
    """« Texte Unicode (*.txt) »: UTF-16 with its BOM, tab separated, was read as Windows-1252:
    every column « missing »."""
    data = codecs.BOM_UTF16_LE + _csv(_table(), "\t").encode("utf-16-le")
    answer = _post(referent, data, "reponses.txt")
    assert answer.status_code == 201, answer.get_json()
    assert _stored(db) == len(_table()) - 1


@pytest.mark.parametrize(("column", "value"), [(SCORE, "1_0"), (SCORE, "1e1"), (SCORE, "+7"), (SCORE, "٧"),
                                               ("Code INS", "052011"), ("Code INS", "5_2_0_1_1")])
def test_a_number_or_nis_code_written_otherwise_is_refused_not_read_as_another(db, referent, column, value) -> None:  # noqa: ANN001
    """float() read « 1_0 » and « 1e1 » as 10 and « 052011 » as Charleroi's 52011."""
    rows = _table()
    rows[1][rows[0].index(column)] = value
    answer = _post(referent, _csv(rows).encode("utf-8"), "reponses.csv")
    body = answer.get_json()
    assert (answer.status_code, body["code"], body["row"]) == (422, "invalid_attribute", 2), body
    assert _stored(db) == 0


def test_a_csv_as_wide_as_no_survey_is_refused_as_an_xlsx_is(db, referent) -> None:  # noqa: ANN001
    """A header row ending with 1,000,000 empty cells (1 MB) kept a web worker busy half a
    minute, each cell normalised per delimiter and per field; an XLSX is read for 500 columns."""
    lines = FIXTURE.read_text(encoding="utf-8").splitlines()
    data = (lines[0] + ";" * 1_000_000 + "\r\n" + "\r\n".join(lines[1:]) + "\r\n").encode("utf-8")
    answer = _post(referent, data, "reponses.csv")
    assert (answer.status_code, answer.get_json()["code"], answer.get_json()["limit"]) == (413, "payload_too_large", 500)
    assert _stored(db) == 0
