"""A file saved twice is said: the preview and the save of bytes already saved by the same
user, or by someone of their commune, carry a ``file_already_saved`` warning naming the earlier
save (when, file name, reports stored); other communes, other bytes and previews leave no trace.
Through ``POST /api/v1/imports`` against PostGIS."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

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
    # when it was saved: the save's transaction time (the test's requests share one transaction)
    assert datetime.fromisoformat(warning["saved_at"]) == db.scalar(select(func.now()))
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
