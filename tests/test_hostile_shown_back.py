"""Text shown back in a spreadsheet: the commune table's CSV (dashboard download) writes a
commune's name as text, never as a formula, as the reports' Excel export does for every text
(the names come from the loaded open data, which geosignal does not write)."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import text

from geosignal.textsafety import spreadsheet_text


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r", "\n"])
def test_the_commune_table_csv_writes_a_name_as_text(db, referent, start) -> None:  # noqa: ANN001
    name = f'{start}HYPERLINK("http://x.example","clic")'
    db.execute(text("UPDATE communes SET name_fr = :name WHERE nis_code = '52011'"), {"name": name})
    db.commit()
    data = referent.get("/api/v1/stats/communes.csv").get_data().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(data, newline=""), delimiter=";"))
    row = next(r for r in rows[1:] if r[0] == "52011")
    assert row[1] == "'" + name
    # the JSON table keeps the name as it is
    table = referent.get("/api/v1/stats/communes").get_json()
    assert next(r for r in table["communes"] if r["nis_code"] == "52011")["name_fr"] == name


def test_an_ordinary_name_is_written_as_it_is() -> None:
    assert spreadsheet_text("Fontaine-l'Evêque") == "Fontaine-l'Evêque"
    assert spreadsheet_text("'s-Gravenbrakel") == "'s-Gravenbrakel"
    assert spreadsheet_text("-5") == "'-5"
