"""The upload page explains the file: the columns a file may have (from the report contract and
the readers' names, folded under a summary) and a template CSV in Belgian Excel style, which
the service's own reader accepts."""

from __future__ import annotations

import csv
import html
import io
import re

from geosignal import contract, vocab
from geosignal.services.imports import template_columns
from geosignal.services.intake import read_upload
from geosignal.services.intake.properties import COORD_ALIASES, HEADER_ALIASES
from tests.conftest import CHARLEROI
from tests.factories import upload_file


def _template(account) -> bytes:  # noqa: ANN001
    response = account.get("/import/modele.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    return response.data


def test_the_template_is_a_belgian_excel_csv_with_the_canonical_columns(db, representative) -> None:
    data = _template(representative)
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 with a byte order mark, as Excel writes it
    text = data[3:].decode("utf-8")
    assert text.count("\r\n") == 2
    header, row = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert header == template_columns() == ["lat", "lon", *contract.names(contract.UPLOAD)]
    assert set(header) <= {*COORD_ALIASES, *HEADER_ALIASES}  # each a name the readers know
    example = dict(zip(header, row, strict=True))
    assert (example["lat"], example["lon"]) == ("50,4211", "4,4346")  # decimal commas, in Charleroi
    assert example["description"] == "Exemple : pas de 4G rue de la Station"  # the page's language


def test_the_template_is_read_back_as_one_report_with_its_properties(db, area, representative) -> None:
    data = _template(representative)
    [item] = read_upload(data, "geosignal-modele.csv", area=area)
    assert not isinstance(item, Exception), item
    assert (item.geometry.x, item.geometry.y) == (4.4346, 50.4211)
    assert item.warnings == []
    preview = upload_file(representative, data, "geosignal-modele.csv", dry_run="true")
    assert preview.status_code == 200, preview.get_json()
    body = preview.get_json()
    assert (body["accepted"], body["refused"], body["warnings"]) == (1, 0, [])
    [feature] = body["features"]
    assert feature["warnings"] == []
    p = feature["properties"]
    assert (p["commune_nis"], p["network"], p["technologies"], p["operators"], p["issue"], p["setting"]) == (
        CHARLEROI, "mobile", ["4G"], ["Proximus"], "weak_signal", "outdoor")
    assert (p["households_affected"], p["businesses_affected"]) == (12, 1)
    assert p["description"] == "Exemple : pas de 4G rue de la Station"
    assert p["observed_at"] == "2025-03-01T00:00:00+01:00"
    assert p["geometry_kind"] == "point"


def test_the_template_and_the_forms_example_lie_in_the_users_own_commune(db, client) -> None:  # noqa: ANN001
    """Every representative got Charleroi's point as the template's example row and as the
    map form's coordinates example: typed or uploaded as it stood by a clerk of Thuin, it was
    refused (another commune). Both are now a point of the user's own commune (its centroid,
    written each way the form reads coordinates)."""
    from tests.conftest import make_account

    clerk = make_account(client, db, "greffe@thuin.be", "representative", "56078")  # Thuin
    data = _template(clerk)
    header, row = list(csv.reader(io.StringIO(data[3:].decode("utf-8")), delimiter=";"))
    example = dict(zip(header, row, strict=True))
    assert (example["lat"], example["lon"]) == ("50,3242", "4,3109")
    preview = upload_file(clerk, data, "geosignal-modele.csv", dry_run="true").get_json()
    assert (preview["accepted"], preview["refused"]) == (1, 0)
    assert preview["features"][0]["properties"]["commune_nis"] == "56078"
    clerk.login()
    page = client.get("/carte").get_data(as_text=True)
    help_text = re.search(r'<p class="help" id="coordinates-help">(.*?)</p>', page, re.S).group(1)
    assert " ".join(html.unescape(help_text).split()).startswith(
        "Par exemple 50.3242, 4.3109 · 50°19'27\"N 4°18'39\"E · Lambert 72 : 145881 112581 · "
        "Lambert 2008 : 645888 612582. ")


def test_the_template_is_for_those_who_file_reports(db, client, referent) -> None:
    assert referent.get("/import/modele.csv").status_code == 403
    assert client.get("/import/modele.csv").status_code in (302, 401)


def test_the_upload_page_lists_exactly_the_contract_upload_columns(db, client, representative) -> None:
    representative.login()
    page = client.get("/import").get_data(as_text=True)
    folded = re.search(r'<details class="upload-columns" id="upload-columns">(.*?)</details>', page, re.S)
    assert folded, "the columns are folded under a summary"
    block = folded.group(1)
    assert 'href="/import/modele.csv"' in block
    names = re.findall(r'<dt data-name="([^"]+)">', block)
    assert names == [*COORD_ALIASES, *contract.names(contract.UPLOAD)]
    entries = dict(re.findall(r'<dd data-name="([^"]+)">(.*?)</dd>', block, re.S))
    labels = dict(re.findall(r'<dt data-name="([^"]+)">([^<]*)</dt>', block))
    for name in names:
        shown = [html.unescape(c) for c in re.findall(r"<code>([^<]*)</code>", entries[name].split("<br>")[0])]
        assert shown == list({**COORD_ALIASES, **HEADER_ALIASES}[name])  # the readers' own names
    for p in contract.properties(contract.UPLOAD):
        assert html.unescape(labels[p.name]) == p.label
        values = entries[p.name].split("<br>")[1] if "<br>" in entries[p.name] else ""
        codes = [html.unescape(c) for c in re.findall(r"<code>([^<]*)</code>", values)]
        assert codes == list(p.vocab)  # a vocabulary's values, by code…
        for code in p.vocab:  # …and by label
            assert f"{html.escape(vocab.label(code), quote=False)} (<code>{html.escape(code)}</code>)" in \
                values.replace("&#39;", "'")
    assert html.unescape(labels["lat"]) == contract.COORDINATE_COLUMNS["lat"][0]
