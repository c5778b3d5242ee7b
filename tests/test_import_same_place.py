"""A row corrected in an edited copy of a saved file (same place and network, other values)
would store a second report of that place: the preview and the save name the report it
repeats (``same_place_saved_before``: its reference and id, the save that stored it), so that
the representative corrects that report instead. Only open reports of the user or their
commune are named; a closed report's place (withdrawn, rejected, resolved…) is a new report.
Through ``POST /api/v1/imports`` and the CLI against PostGIS."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, text

from geosignal.models import ImportFile
from tests.conftest import CHARLEROI, make_account
from tests.factories import count_reports, upload_file

HEADER = "latitude;longitude;operateur;menages;description;date\r\n"
ROWS = ["50,4108;4,4440;Proximus;12;Pas de réseau rue de la Montagne;15/11/2026\r\n",
        "50,4200;4,4300;Orange;3;Signal faible près de l'église;16/11/2026\r\n",
        "50,4050;4,4600;Base;;Aucune donnée au parc;17/11/2026\r\n"]
CAMPAIGN = (HEADER + "".join(ROWS)).encode("cp1252")


def _age(db) -> None:  # noqa: ANN001
    """Move the saves and reports a day back (past the seconds-long duplicate window)."""
    db.execute(text("UPDATE import_files SET saved_at = saved_at - interval '1 day'"))
    db.execute(text("UPDATE reports SET created_at = created_at - interval '1 day'"))


def _said(response) -> list[list[tuple]]:  # noqa: ANN001
    """Per feature: (code, reference, by_you) of each warning."""
    return [[(w["code"], w.get("reference"), w.get("by_you")) for w in f["warnings"]]
            for f in response.get_json()["features"]]


def _references(db) -> dict[str, str]:  # noqa: ANN001
    """The stored reports' references by description."""
    return dict(db.execute(text("SELECT description, reference FROM reports")).all())


def test_a_corrected_row_names_the_report_it_would_repeat(db, client, representative) -> None:  # noqa: ANN001
    saved = upload_file(representative, CAMPAIGN, "campagne.csv", network="mobile")
    assert saved.status_code == 201 and saved.get_json()["saved"] == 3
    # what the save remembers: for each report stored, its place and its id, in one order
    remembered = db.scalar(select(ImportFile))
    stored_ids = {uuid.UUID(f["report_id"]) for f in saved.get_json()["features"]}
    assert len(remembered.place_digests) == 3 * 8 and len(remembered.report_ids) == 3 * 16
    assert {uuid.UUID(bytes=remembered.report_ids[k:k + 16]) for k in range(0, 48, 16)} == stored_ids
    _age(db)
    ref = _references(db)
    church = ref["Signal faible près de l'église"]
    saved_at = db.scalar(select(ImportFile.saved_at))
    # the church's households corrected (3 → 30), the park's row as it was, a row added
    edited = (HEADER + ROWS[0] + ROWS[1].replace(";3;", ";30;") + ROWS[2]
              + "50,4150;4,4500;VOO;;Nouveau relevé;18/11/2026\r\n").encode("cp1252")
    preview = upload_file(representative, edited, "campagne v2.csv", network="mobile", dry_run="true")
    assert preview.status_code == 200
    assert _said(preview) == [[("row_saved_before", None, True)],
                              [("same_place_saved_before", church, True)],
                              [("row_saved_before", None, True)],
                              []]
    (note,) = preview.get_json()["features"][1]["warnings"]
    church_id = db.scalar(text("SELECT id FROM reports WHERE reference = :r"), {"r": church})
    assert (note["report_id"], note["filename"]) == (str(church_id), "campagne.csv")
    assert datetime.fromisoformat(note["saved_at"]) == saved_at
    assert note["detail"] == (f"the same place as report {church}, saved from 'campagne.csv' with other values: "
                              "saving this row stores a second report; to correct that one, edit it")
    # the save says the same and stores what the user chose (nothing is refused for it)
    again = upload_file(representative, edited, "campagne v2.csv", network="mobile", skip_saved_before="true")
    assert again.status_code == 201 and again.get_json()["saved"] == 2  # the church again, and the new row
    assert [[c for c, _r, _b in f] for f in _said(again)] == [
        ["row_saved_before"], ["same_place_saved_before"], ["row_saved_before"], []]
    assert count_reports(db) == 5


def test_a_colleague_is_told_a_closed_report_another_network_or_commune_are_not(db, client, representative) -> None:  # noqa: ANN001, E501
    assert upload_file(representative, CAMPAIGN, "campagne.csv", network="mobile").status_code == 201
    _age(db)
    ref = _references(db)
    # the park's report withdrawn: a row of its place is a new report
    db.execute(text("UPDATE reports SET status = 'withdrawn' WHERE reference = :r"),
               {"r": ref["Aucune donnée au parc"]})
    corrected = (HEADER + ROWS[0].replace(";12;", ";14;") + ROWS[2].replace(";;", ";5;")).encode("cp1252")
    colleague = make_account(client, db, "greffier@charleroi.be", "representative", CHARLEROI)
    told = upload_file(colleague, corrected, "copie.csv", network="mobile", dry_run="true")
    assert _said(told) == [[("same_place_saved_before", ref["Pas de réseau rue de la Montagne"], False)], []]
    # the same places as fixed-network white zones: other reports
    fixed = upload_file(colleague, corrected, "copie.csv", network="fixed", dry_run="true")
    assert _said(fixed) == [[], []]
    # an admin (no commune) who did not save it is not told of the commune's saves
    admin = make_account(client, db, "admin@igretec.com", "admin")
    assert _said(upload_file(admin, corrected, "copie.csv", network="mobile", dry_run="true")) == [[], []]


def test_the_command_line_names_the_report_too(app, db, representative, tmp_path) -> None:  # noqa: ANN001
    assert upload_file(representative, CAMPAIGN, "campagne.csv", network="mobile").status_code == 201
    _age(db)
    db.commit()
    church = _references(db)["Signal faible près de l'église"]
    edited = tmp_path / "campagne v2.csv"
    edited.write_bytes((HEADER + ROWS[1].replace(";3;", ";30;")).encode("cp1252"))
    result = app.test_cli_runner().invoke(args=["import-reports", str(edited), "--as", representative.email,
                                                "--network", "mobile", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert (f"row 2: warning: same_place_saved_before: the same place as report {church}, saved from "
            "'campagne.csv' with other values: saving this row stores a second report; to correct that one, "
            "edit it") in result.output
