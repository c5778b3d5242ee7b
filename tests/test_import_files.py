"""A file saved twice is said: the preview and the save of bytes already saved by the same
user, or by someone of their commune, carry a ``file_already_saved`` warning naming the earlier
save (when, file name, reports stored); other communes, other bytes and previews leave no trace.
Through ``POST /api/v1/imports`` against PostGIS."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, text

from geosignal.models import ImportFile
from tests.conftest import CHARLEROI, make_account
from tests.factories import count_reports, upload_file

CAMPAIGN = ("latitude;longitude;operateur;description;date\r\n"
            "50,4108;4,4440;Proximus;Pas de réseau rue de la Montagne;15/11/2026\r\n"
            "50,4200;4,4300;Orange;Signal faible près de l'église;16/11/2026\r\n").encode("cp1252")


def _warnings(response) -> list[dict]:  # noqa: ANN001
    return [w for w in response.get_json()["warnings"] if w["code"] == "file_already_saved"]


def test_the_same_file_saved_again_is_said_before_and_after_the_save(db, client, representative) -> None:  # noqa: ANN001
    first = upload_file(representative, CAMPAIGN, "campagne.csv", network="mobile", dry_run="true")
    assert first.status_code == 200 and _warnings(first) == []  # a preview is no save: nothing remembered
    saved = upload_file(representative, CAMPAIGN, "campagne.csv", network="mobile")
    assert saved.status_code == 201 and saved.get_json()["saved"] == 2 and _warnings(saved) == []
    assert db.scalar(select(func.count()).select_from(ImportFile)) == 1

    again = upload_file(representative, CAMPAIGN, "campagne (1).csv", network="mobile", dry_run="true")
    assert again.status_code == 200
    (warning,) = _warnings(again)
    assert (warning["filename"], warning["saved"], warning["by_you"]) == ("campagne.csv", 2, True)
    # when it was saved: when the save took its lock, as its reports' creation
    assert datetime.fromisoformat(warning["saved_at"]) == db.scalar(text("SELECT max(created_at) FROM reports"))
    assert "campagne.csv" in warning["detail"] and "second time" in warning["detail"]
    # saved anyway (the user decides), the answer says it too; within seconds of the first save
    # its rows are also probable duplicates, so nothing is stored twice here
    resaved = upload_file(representative, CAMPAIGN, "campagne (1).csv", network="mobile")
    assert resaved.status_code == 201 and [w["saved"] for w in _warnings(resaved)] == [2]
    assert count_reports(db) == 2


def test_a_colleague_of_the_commune_is_told_another_commune_and_other_bytes_are_not(db, client, representative) -> None:  # noqa: ANN001
    assert upload_file(representative, CAMPAIGN, "campagne.csv", network="mobile").status_code == 201
    colleague = make_account(client, db, "greffier@charleroi.be", "representative", CHARLEROI)
    (warning,) = _warnings(upload_file(colleague, CAMPAIGN, "copie.csv", network="mobile", dry_run="true"))
    assert (warning["filename"], warning["by_you"]) == ("campagne.csv", False)
    chatelet = make_account(client, db, "echevin@chatelet.be", "representative", "52012")
    other = upload_file(chatelet, CAMPAIGN, "campagne.csv", network="mobile", dry_run="true")
    assert other.status_code == 200 and _warnings(other) == []  # (its rows lie in Charleroi: refused there)
    edited = CAMPAIGN + b"50,4050;4,4600;Base;Aucune donn\xe9e au parc;17/11/2026\r\n"
    assert _warnings(upload_file(representative, edited, "campagne.csv", network="mobile", dry_run="true")) == []


def test_a_save_that_stores_nothing_is_not_remembered(db, client, representative) -> None:  # noqa: ANN001
    outside = b"latitude;longitude\r\n50,05;4,32\r\n"  # Chimay: not the representative's commune
    response = upload_file(representative, outside, "ailleurs.csv", network="mobile", mode="valid_only")
    assert response.status_code == 201 and response.get_json()["saved"] == 0
    assert db.scalar(select(func.count()).select_from(ImportFile)) == 0


def _age_the_saves(db) -> None:  # noqa: ANN001
    """Move the saves and their reports a day back (past the seconds-long duplicate window)."""
    db.execute(text("UPDATE import_files SET saved_at = saved_at - interval '1 day'"))
    db.execute(text("UPDATE reports SET created_at = created_at - interval '1 day'"))


def _codes(feature: dict) -> list[str]:
    return [w["code"] for w in feature["warnings"]]


def test_an_edited_copy_names_the_rows_saved_before(db, client, representative) -> None:  # noqa: ANN001
    assert upload_file(representative, CAMPAIGN, "campagne.csv", network="mobile").status_code == 201
    _age_the_saves(db)
    saved_at = db.scalar(select(ImportFile.saved_at))
    # row 2 corrected (its description), row 3 kept as it was, a row added
    edited = ("latitude;longitude;operateur;description;date\r\n"
              "50,4108;4,4440;Proximus;Pas de réseau rue de la Montagne (côté pair);15/11/2026\r\n"
              "50,4200;4,4300;Orange;Signal faible près de l'église;16/11/2026\r\n"
              "50,4050;4,4600;Base;Aucune donnée au parc;17/11/2026\r\n").encode("cp1252")
    preview = upload_file(representative, edited, "campagne v2.csv", network="mobile", dry_run="true").get_json()
    # (row 2, corrected, is the place of a report of that save: named, see test_import_same_place.py)
    assert [(f["row"], _codes(f)) for f in preview["features"]] == [
        (2, ["same_place_saved_before"]), (3, ["row_saved_before"]), (4, [])]
    note = preview["features"][1]["warnings"][0]
    assert (note["filename"], note["by_you"]) == ("campagne.csv", True)
    assert datetime.fromisoformat(note["saved_at"]) == saved_at
    (summary,) = [w for w in preview["warnings"] if w["code"] == "rows_saved_before"]
    assert (summary["rows"], [s["filename"] for s in summary["saves"]]) == (1, ["campagne.csv"])
    assert _warnings(upload_file(representative, edited, "v2.csv", network="mobile", dry_run="true")) == []
    # the save says the same, stores what the user chose (the three rows), and remembers them
    saved = upload_file(representative, edited, "campagne v2.csv", network="mobile")
    assert saved.status_code == 201 and saved.get_json()["saved"] == 3
    assert [_codes(f) for f in saved.get_json()["features"]] == [["same_place_saved_before"], ["row_saved_before"], []]
    assert count_reports(db) == 5
    _age_the_saves(db)
    # a colleague's copy with the added row: named in the latest save that held it, not by her
    colleague = make_account(client, db, "greffier@charleroi.be", "representative", CHARLEROI)
    third = upload_file(colleague, edited, "copie.csv", network="mobile", dry_run="true").get_json()
    assert [(w["filename"], w["by_you"]) for f in third["features"] for w in f["warnings"]] == \
        [("campagne v2.csv", False)] * 3
    # (the very bytes of that save: the file-level note is file_already_saved's)
    assert [(w["code"], w["filename"]) for w in third["warnings"]] == [("file_already_saved", "campagne v2.csv")]


def test_the_same_file_again_is_said_once_for_the_file(db, client, representative) -> None:  # noqa: ANN001
    assert upload_file(representative, CAMPAIGN, "campagne.csv", network="mobile").status_code == 201
    _age_the_saves(db)
    again = upload_file(representative, CAMPAIGN, "campagne.csv", network="mobile", dry_run="true").get_json()
    assert [w["code"] for w in again["warnings"]] == ["file_already_saved"]  # no second file-level note
    assert [_codes(f) for f in again["features"]] == [["row_saved_before"]] * 2


def test_rows_moved_changed_or_of_another_user_are_new(db, client, representative) -> None:  # noqa: ANN001
    assert upload_file(representative, CAMPAIGN, "campagne.csv", network="mobile").status_code == 201
    _age_the_saves(db)
    moved = CAMPAIGN.replace(b"50,4200;4,4300", b"50,4201;4,4300")  # about 11 m north
    preview = upload_file(representative, moved, "campagne.csv", network="mobile", dry_run="true").get_json()
    assert [_codes(f) for f in preview["features"]] == [["row_saved_before"], []]
    fixed = upload_file(representative, CAMPAIGN, "campagne.csv", network="fixed", dry_run="true").get_json()
    assert [_codes(f) for f in fixed["features"]] == [[], []]  # another network: another report
    # someone outside the commune (an admin here) is not told of the commune's saves
    admin = make_account(client, db, "admin@igretec.com", "admin")
    other = upload_file(admin, moved, "campagne.csv", network="mobile", dry_run="true").get_json()
    assert (other["accepted"], [_codes(f) for f in other["features"]], other["warnings"]) == (2, [[], []], [])


def test_rows_saved_before_can_be_left_out_in_the_preview_and_the_save(db, client, representative) -> None:  # noqa: ANN001
    assert upload_file(representative, CAMPAIGN, "campagne.csv", network="mobile").status_code == 201
    _age_the_saves(db)
    edited = CAMPAIGN + "50,4050;4,4600;Base;Aucune donnée au parc;17/11/2026\r\n".encode("cp1252")
    preview = upload_file(representative, edited, "v2.csv", network="mobile", dry_run="true",
                          skip_saved_before="true").get_json()
    assert (preview["accepted"], preview["skipped"], preview["saved"]) == (3, 2, 0)
    assert [f.get("skipped", False) for f in preview["features"]] == [True, True, False]
    saved = upload_file(representative, edited, "v2.csv", network="mobile", skip_saved_before="true")
    body = saved.get_json()
    assert saved.status_code == 201 and (body["saved"], body["skipped"]) == (1, 2)
    assert [(f["created"], "report_id" in f, f.get("skipped", False)) for f in body["features"]] == \
        [(False, False, True), (False, False, True), (True, True, False)]
    assert count_reports(db) == 3  # 2 + the new row, not 5
    # the left-out rows are still the earlier save's: this save remembers only its own row
    assert db.scalar(select(ImportFile.saved).order_by(ImportFile.id.desc()).limit(1)) == 1
    assert upload_file(representative, edited, "v2.csv", network="mobile", skip_saved_before="maybe").get_json()[
        "where"] == "skip_saved_before"


def test_the_command_line_leaves_out_rows_saved_before(app, db, representative, tmp_path) -> None:  # noqa: ANN001
    first, second = tmp_path / "campagne.csv", tmp_path / "campagne-v2.csv"
    first.write_bytes(CAMPAIGN)
    second.write_bytes(CAMPAIGN + "50,4050;4,4600;Base;Aucune donnée au parc;17/11/2026\r\n".encode("cp1252"))
    runner = app.test_cli_runner()
    args = ["--as", representative.email, "--network", "mobile"]
    assert runner.invoke(args=["import-reports", str(first), *args]).exit_code == 0
    _age_the_saves(db)
    db.commit()
    result = runner.invoke(args=["import-reports", str(second), *args, "--skip-saved-before"])
    assert result.exit_code == 0, result.output
    assert "warning: rows_saved_before: 2 row(s) are identical" in result.output
    assert "3 accepted, 0 refused, 2 left out (saved before), 1 saved" in result.output


def test_an_uploaded_row_of_the_other_networks_technology_is_said(db, client, representative) -> None:  # noqa: ANN001
    rows = (b"latitude;longitude;technologie;reseau\r\n"
            b"50,4108;4,4440;4G;fixe\r\n"
            b"50,4200;4,4300;fibre;\r\n"  # the default network (mobile) comes in: fibre is not of it
            b"50,4150;4,4350;4G;\r\n")
    body = upload_file(representative, rows, "techno.csv", network="mobile", dry_run="true").get_json()
    assert body["accepted"] == 3, body
    assert [[(w["network"], w["technologies"]) for w in f["warnings"] if w["code"] == "technology_not_of_network"]
            for f in body["features"]] == [[("fixed", ["4G"])], [("mobile", ["fibre"])], []]


def test_row_digests_stay_those_saved_by_earlier_versions() -> None:
    """Row digests are kept in ``import_files`` to say rows saved before: built a column at a
    time now (50,000 rows: 0.21 → 0.12 s), each must equal the per-row digest earlier versions
    stored (this frozen copy of its formula), whatever the values' types."""
    import hashlib
    import random
    from datetime import UTC, timedelta, timezone

    import numpy as np
    import shapely

    from geosignal.services.imports import row_digests
    from geosignal.services.intake.batch import geometry_keys
    from geosignal.services.intake.core import ReportInput
    from geosignal.services.reports import attribute_key

    rng = random.Random(7)
    choices = {"network": ["mobile", "fixed", None], "technologies": [["4g"], ["4g", "5g"], [], None],
               "operators": [["Proximus"], None, ["Orange", "Base"]], "issue": ["no_coverage", None],
               "setting": [None, "rural"], "households_affected": [None, 0, 1, True, 12, 1.0],
               "businesses_affected": [None, 3], "description": [None, "", "Pas de 4G rue de l'Église", "é\u0301"],
               "observed_at": [None, datetime(2025, 1, 1, tzinfo=UTC),
                               datetime(2025, 1, 1, 1, tzinfo=timezone(timedelta(hours=1))), datetime(2025, 3, 1)]}
    items = [ReportInput(geometry=shapely.Point(4.44 + rng.random() / 100, 50.41),
                         properties={k: rng.choice(v) for k, v in choices.items() if rng.random() < 0.8})
             for _ in range(2000)]
    keys = geometry_keys(np.asarray([i.geometry for i in items], dtype=object))

    def earlier(item: ReportInput, gkey: bytes) -> int:
        digest = hashlib.blake2b(gkey, digest_size=8)
        digest.update(repr(attribute_key(item.properties)).encode("utf-8", "backslashreplace"))
        return int.from_bytes(digest.digest(), "little")

    assert row_digests(items, keys).tolist() == [earlier(i, k) for i, k in zip(items, keys, strict=True)]
    assert len(set(row_digests(items, keys).tolist())) > 1500  # (the values do differ)
