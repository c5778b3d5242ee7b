"""Form bodies whose text is not UTF-8 (:mod:`geosignal.formbody`): refused before any view
runs, with a page in the user's language, and nothing stored — where Werkzeug kept an
undecodable percent-escape as written (``caf%E9``) and decoded a multipart text field with
U+FFFD (``caf�``), and the map, status-action and edit forms stored that changed text."""

from __future__ import annotations

import json
import re
from urllib.parse import quote_from_bytes

import pytest
from sqlalchemy import text

from tests.conftest import csrf_token
from tests.factories import count_reports, feature

POINT = {"type": "Point", "coordinates": [4.444, 50.4108]}
NOT_UTF8_FR = ("Le texte envoyé n'est pas en UTF-8 : le navigateur ou le programme qui a envoyé ce formulaire a "
               "utilisé un autre encodage, et geosignal ne devine pas les caractères. Rien n'a été enregistré : "
               "rechargez la page, retapez le texte, puis envoyez-le à nouveau.")


def _urlencoded(fields: list[tuple[str, bytes]]) -> bytes:
    """A form body as a browser sends it: every byte percent-escaped as needed."""
    return "&".join(f"{name}={quote_from_bytes(value)}" for name, value in fields).encode("ascii")


def _multipart(fields: list[tuple[str, bytes]], files: list[tuple[str, str, bytes]] = ()) -> bytes:
    """A ``multipart/form-data`` body (boundary ``XyZ``): text parts as given, then file parts."""
    parts = [b'--XyZ\r\nContent-Disposition: form-data; name="' + n.encode() + b'"\r\n\r\n' + v + b"\r\n"
             for n, v in fields]
    parts += [b'--XyZ\r\nContent-Disposition: form-data; name="' + n.encode() + b'"; filename="' + f.encode()
              + b'"\r\nContent-Type: application/octet-stream\r\n\r\n' + v + b"\r\n" for n, f, v in files]
    return b"".join(parts) + b"--XyZ--\r\n"


def _post(client, path: str, fields: list[tuple[str, bytes]], multipart: bool, **kwargs):  # noqa: ANN001, ANN202
    if multipart:
        return client.post(path, data=_multipart(fields), content_type="multipart/form-data; boundary=XyZ", **kwargs)
    return client.post(path, data=_urlencoded(fields), content_type="application/x-www-form-urlencoded", **kwargs)


def _refusal(answer) -> str:  # noqa: ANN001
    """The sentence of the error page (its code checked: ``invalid_request``)."""
    page = answer.get_data(as_text=True)
    assert 'data-code="invalid_request"' in page, page[:2000]
    return re.search(r'<section class="card narrow" id="error"[^>]*>\s*<h1>[^<]*</h1>\s*<p>([^<]*)</p>',
                     page).group(1).replace("&#39;", "'")


@pytest.mark.parametrize("multipart", [False, True], ids=["urlencoded", "multipart"])
def test_the_map_form_refuses_text_that_is_not_utf8(db, client, representative, multipart: bool) -> None:  # noqa: ANN001
    """``POST /carte`` with a Latin-1 description was stored (302) as 'caf%E9 %AB gare %BB'
    (URL-encoded) or 'caf� � gare �' (multipart), where the API refuses the same bytes."""
    representative.login()
    token = csrf_token(client.get("/carte").get_data(as_text=True))
    before = count_reports(db)
    answer = _post(client, "/carte", [("csrf_token", token.encode()), ("geometry", json.dumps(POINT).encode()),
                                      ("network", b"mobile"), ("description", b"caf\xe9 \xab gare \xbb")], multipart)
    assert answer.status_code == 400
    assert _refusal(answer) == NOT_UTF8_FR
    assert count_reports(db) == before


def test_the_map_form_takes_utf8_text_and_a_real_replacement_character(db, client, representative) -> None:  # noqa: ANN001
    """UTF-8 text is stored as sent, U+FFFD included when it was sent as a character (EF BF BD):
    only bytes that are not UTF-8 are refused."""
    representative.login()
    token = csrf_token(client.get("/carte").get_data(as_text=True))
    sent = "café « gare » \ufffd"
    answer = _post(client, "/carte", [("csrf_token", token.encode()), ("geometry", json.dumps(POINT).encode()),
                                      ("network", b"mobile"), ("description", sent.encode())], multipart=True)
    assert answer.status_code == 302
    assert db.execute(text("SELECT description FROM reports ORDER BY created_at DESC LIMIT 1")).scalar() == sent


def test_the_refusal_speaks_the_users_language(db, client, representative) -> None:  # noqa: ANN001
    representative.login()
    token = csrf_token(client.get("/carte").get_data(as_text=True))
    fields = [("csrf_token", token.encode()), ("geometry", json.dumps(POINT).encode()), ("network", b"mobile"),
              ("description", b"caf\xe9")]
    nl = _post(client, "/carte", fields, multipart=False, headers={"Accept-Language": "nl-BE"})
    en = _post(client, "/carte", fields, multipart=True, headers={"Accept-Language": "en"})
    assert (nl.status_code, en.status_code) == (400, 400)
    assert _refusal(nl).startswith("De verzonden tekst is geen UTF-8")
    assert _refusal(en).startswith("The text sent is not UTF-8")


def test_a_status_action_refuses_a_reason_that_is_not_utf8(db, client, representative, referent) -> None:  # noqa: ANN001
    """``POST /signalements/<id>/actions`` (multipart, needs_info) with a Latin-1 question moved
    the report and stored "O� exactement ?" in the journal, read by the representative."""
    rid = representative.post("/api/v1/reports", json=feature(POINT)).get_json()["id"]
    referent.login()
    token = csrf_token(client.get(f"/signalements/{rid}").get_data(as_text=True))
    answer = _post(client, f"/signalements/{rid}/actions",
                   [("csrf_token", token.encode()), ("to", b"needs_info"),
                    ("reason", b"O\xf9 exactement ? Rue de l'\xc9glise")], multipart=True)
    assert answer.status_code == 400
    assert _refusal(answer) == NOT_UTF8_FR
    assert db.execute(text("SELECT status FROM reports WHERE id = :i"), {"i": rid}).scalar() == "submitted"
    assert db.execute(text("SELECT count(*) FROM audit_events a WHERE a::text LIKE '%exactement%'")).scalar() == 0


@pytest.mark.parametrize("multipart", [False, True], ids=["urlencoded", "multipart"])
def test_the_edit_form_refuses_text_that_is_not_utf8(db, client, representative, multipart: bool) -> None:  # noqa: ANN001
    """``POST /signalements/<id>/modifier`` with a Latin-1 description saved it changed."""
    from tests.test_form_refusals import browser_form

    rid = representative.post("/api/v1/reports", json=feature(POINT, description="avant")).get_json()["id"]
    representative.login()
    fields = [(k, v.encode()) for k, v in browser_form(client.get(f"/signalements/{rid}/modifier")
                                                       .get_data(as_text=True), "/modifier") if k != "description"]
    answer = _post(client, f"/signalements/{rid}/modifier", [*fields, ("description", b"apr\xe8s")], multipart)
    assert answer.status_code == 400
    assert _refusal(answer) == NOT_UTF8_FR
    assert db.execute(text("SELECT description FROM reports WHERE id = :i"), {"i": rid}).scalar() == "avant"


def test_the_api_says_which_field_is_not_utf8(app) -> None:  # noqa: ANN001
    """A form read by the API (an upload's options) is refused the same way: problem+json
    naming the field, ``kind`` ``not_utf8``; a field name that is not UTF-8 is named escaped."""
    from geosignal.errors import GeosignalError

    for body, ctype, where in [
        (b"mode=all&crs=caf%E9", "application/x-www-form-urlencoded", "crs"),
        (b"m%FFde=all", "application/x-www-form-urlencoded", "m\\xffde"),
        (b"crs=caf\xe9", "application/x-www-form-urlencoded", "crs"),  # raw bytes, not escaped
        (_multipart([("mode", b"all"), ("crs", b"caf\xe9")]), "multipart/form-data; boundary=XyZ", "crs"),
    ]:
        with app.test_request_context("/api/v1/imports", method="POST", data=body, content_type=ctype):
            from flask import request

            with pytest.raises(GeosignalError) as refused:
                request.form  # noqa: B018
            assert (refused.value.code, refused.value.status, refused.value.where,
                    refused.value.extra["kind"]) == ("invalid_request", 400, where, "not_utf8")


def test_file_parts_are_bytes_and_not_checked(app) -> None:  # noqa: ANN001
    """A file's content (a Latin-1 CSV, a photo) is never read as text by the form: it reaches
    the upload as sent."""
    data = b"description\ncaf\xe9\n\xff\xd8\xff"
    body = _multipart([("mode", b"all"), ("note", "café".encode())], [("file", "rapport.csv", data)])
    with app.test_request_context("/api/v1/imports", method="POST", data=body,
                                  content_type="multipart/form-data; boundary=XyZ"):
        from flask import request

        assert request.form.to_dict() == {"mode": "all", "note": "café"}
        assert request.files["file"].read() == data
    # a part declaring Latin-1 is read as it declares (Werkzeug's rule), not refused
    latin = (b'--XyZ\r\nContent-Disposition: form-data; name="note"\r\nContent-Type: text/plain; charset=iso-8859-1'
             b"\r\n\r\ncaf\xe9\r\n--XyZ--\r\n")
    with app.test_request_context("/", method="POST", data=latin,
                                  content_type="multipart/form-data; boundary=XyZ"):
        from flask import request

        assert request.form["note"] == "café"
