"""A row corrected in an edited copy of a saved file (same place and network, other values)
would store a second report of that place: the preview and the save name the report it
repeats (``same_place_saved_before``: its reference and id, the save that stored it), so that
the representative corrects that report instead. Only open reports of the user or their
commune are named; a closed report's place (withdrawn, rejected, resolved…) is a new report.
Through ``POST /api/v1/imports`` and the CLI against PostGIS."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest
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
    db.execute(text("UPDATE reports SET created_at = created_at - interval '1 day', "
                    "updated_at = updated_at - interval '1 day'"))


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
    assert note["correctable"] is True
    assert note["detail"] == (f"the same place as report {church}, saved from 'campagne.csv' with other values: "
                              "saving this row stores a second report; to correct that one, save with "
                              "correct_saved_before, or edit it; correcting it changes households_affected "
                              "(3 → 30) and keeps the rest")
    assert note["changes"] == [{"name": "households_affected", "before": 3, "after": 30}]
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
            "save with correct_saved_before, or edit it") in result.output
    # saved with --correct-saved-before, the row corrects that report
    result = app.test_cli_runner().invoke(args=["import-reports", str(edited), "--as", representative.email,
                                                "--network", "mobile", "--correct-saved-before"])
    assert result.exit_code == 0, result.output
    assert "1 accepted, 0 refused, 0 saved, 1 report corrected" in result.output
    assert (f"row 2: warning: same_place_saved_before: the same place as report {church}, saved from "
            "'campagne.csv' with other values: this row corrects it (correct_saved_before); it changes "
            "households_affected (3 → 30) and keeps the rest") in result.output
    assert "stores a second report" not in result.output
    assert db.scalar(text("SELECT households_affected FROM reports WHERE reference = :r"), {"r": church}) == 30
    assert count_reports(db) == 3


def _stats_equal_a_recomputation(db) -> None:  # noqa: ANN001
    """The stored per-commune figures equal a full recomputation (counts exact, areas 1e-6)."""
    from geosignal.services import aggregation

    table, live = aggregation.commune_table(db), aggregation.compute_live(db)
    stored = {r["nis_code"]: r for r in table["communes"]}
    for nis, row in live.items():
        for key in ("report_count", "point_count", "households_declared", "breakdown"):
            assert stored[nis][key] == row[key], (nis, key)


def test_a_corrected_row_updates_the_report_when_asked(db, client, representative) -> None:  # noqa: ANN001
    """With ``correct_saved_before`` the church's row of the edited copy (households 3 → 30,
    Orange → Proximus) updates the church's report instead of storing a second one: one
    statement, journalled as the report page's edit is, the figures and the stored Feature
    follow; the unchanged rows are left out, the new one stored. The same copy sent again
    is rows saved before, all of them."""
    assert upload_file(representative, CAMPAIGN, "campagne.csv", network="mobile").status_code == 201
    _age(db)
    db.commit()
    church = _references(db)["Signal faible près de l'église"]
    church_id = str(db.scalar(text("SELECT id FROM reports WHERE reference = :r"), {"r": church}))
    edited = (HEADER + ROWS[0] + ROWS[1].replace(";Orange;3;", ";Proximus;30;") + ROWS[2]
              + "50,4150;4,4500;VOO;;Nouveau relevé;18/11/2026\r\n").encode("cp1252")
    preview = upload_file(representative, edited, "campagne v2.csv", network="mobile", dry_run="true",
                          skip_saved_before="true", correct_saved_before="true")
    body = preview.get_json()
    assert (body["saved"], body["skipped"], body["corrected"]) == (0, 2, 1)
    assert [(f.get("skipped", False), f.get("corrected", False), f.get("report_id")) for f in body["features"]] == [
        (True, False, None), (False, True, church_id), (True, False, None), (False, False, None)]
    assert count_reports(db) == 3  # (a preview)

    saved = upload_file(representative, edited, "campagne v2.csv", network="mobile",
                        skip_saved_before="true", correct_saved_before="true")
    body = saved.get_json()
    assert saved.status_code == 201 and (body["saved"], body["skipped"], body["corrected"]) == (1, 2, 1)
    row = body["features"][1]
    assert (row["report_id"], row["created"], row["corrected"]) == (church_id, False, True)
    assert count_reports(db) == 4
    report = representative.get(f"/api/v1/reports/{church_id}").get_json()["properties"]
    assert (report["households_affected"], report["operators"], report["reference"]) == (30, ["Proximus"], church)
    event = db.execute(text("SELECT before, after, details, actor_role FROM audit_events "
                            "WHERE action = 'edit' AND report_id = :id"), {"id": church_id}).one()
    assert event.before == {"households_affected": 3, "operators": ["Orange"]}
    assert event.after == {"households_affected": 30, "operators": ["Proximus"]}
    assert (event.details, event.actor_role) == ({"source": "import"}, "representative")
    stored = db.scalar(text("SELECT f.feature_json::text FROM report_features f JOIN reports r ON r.seq = f.seq "
                            "WHERE r.id = :id"), {"id": church_id})
    assert '"households_affected":30' in stored.replace(" ", "")
    _stats_equal_a_recomputation(db)
    # the report's history says what changed and whence (not the values), the journal in words
    history = representative.get(f"/api/v1/reports/{church_id}/history").get_json()
    edit = next(e for e in history["history"] if e["action"] == "edit")
    assert (edit["fields"], edit["details"]) == (["operators", "households_affected"], {"source": "import"})
    assert representative.login().status_code == 302
    page = " ".join(client.get(f"/signalements/{church_id}").get_data(as_text=True).split())
    assert "Forme ou informations modifiées</strong> (depuis un fichier importé) : Opérateurs, Ménages touchés" in page
    # the same copy again, a day later: every row is a row saved before (the corrected one as corrected)
    _age(db)
    again = upload_file(representative, edited, "campagne v3.csv", network="mobile", dry_run="true")
    assert [[c for c, _r, _b in f] for f in _said(again)] == [["row_saved_before"]] * 4


def test_a_report_changed_since_or_moved_on_is_not_corrected(db, client, representative) -> None:  # noqa: ANN001
    """Only a report neither edited nor moved on since the upload stored it is corrected from
    a file (a colleague's edit on the report page is not undone by an old copy); a row
    naming one that is not (``correctable``: false) stores a second report, as before. Two
    rows of one place: the first corrects, the second is a second report."""
    assert upload_file(representative, CAMPAIGN, "campagne.csv", network="mobile").status_code == 201
    _age(db)
    ref = _references(db)
    montagne, church = ref["Pas de réseau rue de la Montagne"], ref["Signal faible près de l'église"]
    db.execute(text("UPDATE reports SET description = 'Vu sur place', updated_at = now() WHERE reference = :r"),
               {"r": montagne})
    db.execute(text("UPDATE reports SET status = 'validated', updated_at = now() WHERE reference = :r"),
               {"r": ref["Aucune donnée au parc"]})
    db.commit()
    edited = (HEADER + ROWS[0].replace(";12;", ";14;") + ROWS[1].replace(";3;", ";4;")
              + ROWS[1].replace(";3;", ";5;") + ROWS[2].replace(";;", ";7;")).encode("cp1252")
    preview = upload_file(representative, edited, "copie.csv", network="mobile", dry_run="true")
    notes = [[(w["reference"], w["correctable"], w.get("not_correctable")) for w in f["warnings"]
              if w["code"] == "same_place_saved_before"] for f in preview.get_json()["features"]]
    # (the park's report, validated, is still open: named, but no longer editable)
    assert notes == [[(montagne, False, "changed")], [(church, True, None)], [(church, False, "repeated")],
                     [(ref["Aucune donnée au parc"], False, "status")]]
    park = preview.get_json()["features"][3]["warnings"][0]
    assert park["status"] == "validated" and park["detail"].endswith(
        "saving this row stores a second report; that one is no longer edited (its status)")
    saved = upload_file(representative, edited, "copie.csv", network="mobile", correct_saved_before="true")
    body = saved.get_json()
    assert saved.status_code == 201 and (body["saved"], body["corrected"]) == (3, 1)
    assert [f["created"] for f in body["features"]] == [True, False, True, True]
    assert db.scalar(text("SELECT households_affected FROM reports WHERE reference = :r"), {"r": church}) == 4
    assert db.scalar(text("SELECT description FROM reports WHERE reference = :r"), {"r": montagne}) == "Vu sur place"
    assert count_reports(db) == 6
    _stats_equal_a_recomputation(db)


def test_a_report_is_corrected_again_by_a_later_copy_and_a_set_aside_cell_keeps_its_value(
        db, client, representative) -> None:  # noqa: ANN001
    """A commune keeps editing its spreadsheet: the report a first copy corrected is corrected
    again by the next (unchanged since that save, which corrected it). A cell the reader sets
    aside (« env. 5 » for households) says nothing of the value: the report keeps its own. A
    save refused whole (``mode=all``, a row outside the commune) corrects nothing and says so."""
    row = "50,4200;4,4300;Orange;{n};Signal faible près de l'église;16/11/2026\r\n"
    assert upload_file(representative, (HEADER + row.format(n=1)).encode("cp1252"), "v1.csv",
                       network="mobile").status_code == 201
    _age(db)
    db.commit()
    reference = _references(db)["Signal faible près de l'église"]

    def households() -> int | None:
        return db.scalar(text("SELECT households_affected FROM reports WHERE reference = :r"), {"r": reference})

    for n, name in ((2, "v2.csv"), (3, "v3.csv")):
        saved = upload_file(representative, (HEADER + row.format(n=n)).encode("cp1252"), name, network="mobile",
                            correct_saved_before="true")
        assert saved.status_code == 201 and (saved.get_json()["saved"], saved.get_json()["corrected"]) == (0, 1)
        (note,) = saved.get_json()["features"][0]["warnings"]
        assert (note["correctable"], note["filename"]) == (True, "v1.csv" if n == 2 else "v2.csv")
        assert households() == n
        _age(db)
        db.commit()
    # a set-aside cell and another operator: the operator is corrected, the households kept
    typo = (HEADER + row.format(n="env. 5").replace("Orange", "Proximus")).encode("cp1252")
    saved = upload_file(representative, typo, "v4.csv", network="mobile", correct_saved_before="true")
    body = saved.get_json()
    assert saved.status_code == 201 and body["corrected"] == 1
    assert "attribute_dropped" in [w["code"] for w in body["features"][0]["warnings"]]
    assert households() == 3
    assert db.scalar(text("SELECT operators FROM reports WHERE reference = :r"), {"r": reference}) == ["Proximus"]
    after = db.execute(text("SELECT after FROM audit_events WHERE action = 'edit' ORDER BY id DESC LIMIT 1")).scalar()
    assert after == {"operators": ["Proximus"]}
    _age(db)
    db.commit()
    # refused whole: a row in Chimay, not the representative's commune
    refused = (HEADER + row.format(n=9) + "50,0500;4,3100;VOO;;Chimay;16/11/2026\r\n").encode("cp1252")
    response = upload_file(representative, refused, "v5.csv", network="mobile", correct_saved_before="true")
    assert response.status_code == 422 and response.get_json()["code"] == "import_rejected"
    assert response.get_json()["corrected"] == 0 and "corrected" not in response.get_json()["features"][0]
    assert households() == 3


def test_a_file_an_admin_loaded_for_a_commune_is_said_to_its_representatives(db, client, representative) -> None:  # noqa: ANN001, E501
    """An admin (no commune) loads Charleroi's campaign file: its save is remembered for
    Charleroi, the one commune of its reports, so the representative's edited copy is told
    its rows saved before and may correct the admin's reports; a file spanning two communes
    stays the admin's own."""
    admin = make_account(client, db, "admin@igretec.com", "admin")
    assert upload_file(admin, CAMPAIGN, "campagne.csv", network="mobile").status_code == 201
    assert db.scalar(select(ImportFile.commune_nis)) == CHARLEROI
    _age(db)
    db.commit()
    church = _references(db)["Signal faible près de l'église"]
    edited = (HEADER + ROWS[0] + ROWS[1].replace(";3;", ";30;")).encode("cp1252")
    told = upload_file(representative, edited, "copie.csv", network="mobile", dry_run="true")
    assert _said(told) == [[("row_saved_before", None, False)], [("same_place_saved_before", church, False)]]
    assert told.get_json()["features"][1]["warnings"][0]["correctable"] is True
    chatelet = "50,4050;4,5250;VOO;;Châtelet;17/11/2026\r\n"
    both = (HEADER + "50,4108;4,4340;Proximus;1;Ailleurs;15/11/2026\r\n" + chatelet).encode("cp1252")
    assert upload_file(admin, both, "deux.csv", network="mobile").status_code == 201
    assert db.scalar(select(ImportFile.commune_nis).where(ImportFile.filename == "deux.csv")) is None


def test_a_correction_changes_only_what_the_file_has_columns_for(db, client, representative) -> None:  # noqa: ANN001
    """A copy holding fewer columns (a speed test's: coordinates, operator, download) corrects
    only the operator of the report a first file stored at its place: its households, date and
    description, which the copy says nothing of, are kept (trial of real files, fault 3: they
    were erased). The preview says exactly what the correction changes; the history names
    only « Opérateurs »."""
    first = ("Latitude;Longitude;Opérateur;Ménages touchés;Date;Description\r\n"
             "50,4108;4,4440;Proximus;25;04/03/2025;Hameau sans réseau, 25 ménages\r\n").encode("cp1252")
    assert upload_file(representative, first, "releve.csv", network="mobile").status_code == 201
    _age(db)
    db.commit()
    report_id, reference = db.execute(text("SELECT id, reference FROM reports")).one()
    speedtest = b"Latitude,Longitude,Operator,Download (Mbps)\n50.4108,4.4440,Orange,12.4\n"
    preview = upload_file(representative, speedtest, "speedtest.csv", network="mobile", dry_run="true")
    (note,) = [w for w in preview.get_json()["features"][0]["warnings"] if w["code"] == "same_place_saved_before"]
    assert (note["reference"], note["correctable"]) == (reference, True)
    assert note["changes"] == [{"name": "operators", "before": ["Proximus"], "after": ["Orange"]}]
    assert note["detail"].endswith("correcting it changes operators (['Proximus'] → ['Orange']) and keeps the rest")

    saved = upload_file(representative, speedtest, "speedtest.csv", network="mobile", correct_saved_before="true")
    assert saved.status_code == 201 and (saved.get_json()["saved"], saved.get_json()["corrected"]) == (0, 1)
    report = representative.get(f"/api/v1/reports/{report_id}").get_json()["properties"]
    assert (report["operators"], report["households_affected"], report["description"], report["observed_at"]) == (
        ["Orange"], 25, "Hameau sans réseau, 25 ménages", "2025-03-04T00:00:00+01:00")
    event = db.execute(text("SELECT before, after FROM audit_events WHERE action = 'edit' AND report_id = :id"),
                       {"id": report_id}).one()
    assert (event.before, event.after) == ({"operators": ["Proximus"]}, {"operators": ["Orange"]})
    assert representative.login().status_code == 302
    page = " ".join(client.get(f"/signalements/{report_id}").get_data(as_text=True).split())
    assert "Forme ou informations modifiées</strong> (depuis un fichier importé) : Opérateurs</p>" in page


@pytest.mark.parametrize("order", ["as saved", "reordered"])
def test_two_reports_of_one_place_each_row_corrects_its_own(db, client, representative, order) -> None:  # noqa: ANN001
    # one save stored two reports of one place (two operators): an edited copy changing the
    # Orange row only corrected the Proximus report (the first of the place), whose own row
    # was unchanged — and lost its values
    proximus, orange = ("50,4108;4,4440;Proximus;3;Pas de Proximus;15/11/2026\r\n",
                        "50,4108;4,4440;Orange;5;Pas de Orange;15/11/2026\r\n")
    assert upload_file(representative, (HEADER + proximus + orange).encode("cp1252"), "deux.csv",
                       network="mobile").get_json()["saved"] == 2
    _age(db)
    ref = _references(db)
    rows = [proximus, orange.replace(";5;", ";6;")]
    edited = (HEADER + "".join(rows if order == "as saved" else rows[::-1])).encode("cp1252")
    preview = upload_file(representative, edited, "deux v2.csv", network="mobile", dry_run="true",
                          correct_saved_before="true", skip_saved_before="true").get_json()
    by_description = {f["properties"]["description"]: f for f in preview["features"]}
    (note,) = [w for w in by_description["Pas de Orange"]["warnings"] if w["code"] == "same_place_saved_before"]
    assert (note["reference"], note["changes"]) == (
        ref["Pas de Orange"], [{"name": "households_affected", "before": 5, "after": 6}])
    saved = upload_file(representative, edited, "deux v2.csv", network="mobile", correct_saved_before="true",
                        skip_saved_before="true").get_json()
    assert (saved["saved"], saved["corrected"]) == (0, 1)
    assert sorted(db.execute(text("SELECT description, operators, households_affected FROM reports")).all()) == [
        ("Pas de Orange", ["Orange"], 6), ("Pas de Proximus", ["Proximus"], 3)]
