"""The command line's summaries read as English: one report, two reports; a listing that
finds nothing says so instead of printing nothing; an import says per feature what the API's
per-feature report says (refusals and warnings, bounded for big files)."""

from __future__ import annotations

import json

import pytest

from geosignal.cli import _n
from geosignal.services.users import create_user


@pytest.mark.parametrize(("count", "text"), [(0, "0 reports"), (1, "1 report"), (2, "2 reports")])
def test_counts_are_singular_for_one_only(count: int, text: str) -> None:
    assert _n(count, "report") == text
    assert _n(1, "job worker") == "1 job worker" and _n(2, "web worker") == "2 web workers"


def test_list_tokens_says_when_a_user_has_none(app, db) -> None:  # noqa: ANN001
    create_user(db, "sans-jeton@charleroi.be", "representative", "52011", "une phrase de passe assez longue 7")
    db.flush()
    listing = app.test_cli_runner().invoke(args=["list-tokens", "sans-jeton@charleroi.be"])
    assert listing.exit_code == 0, listing.output
    assert listing.output.strip() == "no tokens for sans-jeton@charleroi.be"


# --------------------------------------------------------------------------- import-reports: per-feature lines

#: A GeoJSON file: a feature with two warnings, one refused (its id is a boolean), one clean.
_GEOJSON = ('{"type":"FeatureCollection","features":['
            '{"type":"Feature","geometry":{"type":"Point","coordinates":[4.444,50.4108]},"properties":{'
            '"network":"mobile","technologies":["fibre"],"households_affected":1000.5,"description":"a"}},'
            '{"type":"Feature","id":true,"geometry":{"type":"Point","coordinates":[4.445,50.4108]},'
            '"properties":{"network":"mobile"}},'
            '{"type":"Feature","geometry":{"type":"Point","coordinates":[4.446,50.4108]},"properties":{'
            '"network":"mobile","households_affected":1e3,"description":"c"}}]}')
_GEOJSON_LINES = [
    "feature 0: warning: attribute_dropped: households_affected was ignored: households_affected must be a whole "
    "number ≥ 0; got 1000.5. (at /features/0/properties/households_affected)",
    "feature 0: warning: technology_not_of_network: fibre is not a technology of the mobile network; check the "
    "network or the technologies",
    "feature 1: invalid_geojson: A Feature's id must be a string or a number (RFC 7946 §3.2); got a boolean (true). "
    "(at /features/1/id)",
]


@pytest.mark.parametrize(("options", "status", "last"), [
    (["--dry-run", "--valid-only"], 0, "2 accepted, 1 refused, 2 would be saved (dry run)"),
    (["--valid-only"], 0, "2 accepted, 1 refused, 2 saved"),
    (["--dry-run"], 1, "Error: import_rejected: 1 of 3 features would be refused, so nothing would be saved (dry run; "
                       "--valid-only keeps the valid ones)"),
    ([], 1, "Error: import_rejected: 1 of 3 features were refused; nothing was saved (correct the file, or choose "
            "to keep only the valid features)"),
])
def test_import_reports_prints_each_feature_warning_as_the_api_gives_it(app, db, admin, tmp_path, options, status,
                                                                        last) -> None:  # noqa: ANN001
    # the summary listed refusals only: a count dropped, a technology of the other network were
    # said by the API and the upload page, never by the command line
    from tests.factories import count_reports

    path = tmp_path / "zones.geojson"
    path.write_text(_GEOJSON, encoding="utf-8")
    before = count_reports(db)
    result = app.test_cli_runner().invoke(args=["import-reports", str(path), "--as", admin.email, *options])
    assert result.exit_code == status, result.output
    assert result.output.splitlines() == [*_GEOJSON_LINES, last]
    assert count_reports(db) == before + (2 if options == ["--valid-only"] else 0)


def test_import_reports_names_the_row_and_column_of_a_csv_warning(app, db, admin, tmp_path) -> None:  # noqa: ANN001
    path = tmp_path / "zones.csv"
    path.write_text("lat;lon;reseau;menages;technologie\n50,4108;4,4440;mobile;12,5;4G\n50,4118;4,4440;fixe;3;4G\n"
                    "50,4128;4,4440;mobile;1 000;4G\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["import-reports", str(path), "--as", admin.email, "--dry-run"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "row 2: warning: attribute_dropped: households_affected was ignored: households_affected must be a whole "
        "number ≥ 0; got '12,5'. (column 'menages')",
        "row 3: warning: technology_not_of_network: 4G is not a technology of the fixed network; check the network "
        "or the technologies",
        "3 accepted, 0 refused, 3 would be saved (dry run)"]


def test_import_reports_bounds_the_warning_lines_of_a_big_file(app, db, admin, tmp_path) -> None:  # noqa: ANN001
    from geosignal.cli import FEATURE_WARNINGS_SHOWN

    rows = "".join(f"50,{4108 + k:04d};4,4440;mobile;{k}.5;4G\n" for k in range(FEATURE_WARNINGS_SHOWN + 12))
    path = tmp_path / "big.csv"
    path.write_text("lat;lon;reseau;menages;technologie\n" + rows, encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["import-reports", str(path), "--as", admin.email, "--dry-run"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == FEATURE_WARNINGS_SHOWN + 2
    assert lines[0] == ("row 2: warning: attribute_dropped: households_affected was ignored: households_affected "
                        "must be a whole number ≥ 0; got '0.5'. (column 'menages')")
    assert lines[FEATURE_WARNINGS_SHOWN - 1].startswith(f"row {FEATURE_WARNINGS_SHOWN + 1}: warning: attribute_dropped")
    assert lines[-2:] == ["and 12 more warnings (on 12 features)", "62 accepted, 0 refused, 62 would be saved (dry run)"]


def test_import_reports_says_what_the_upload_preview_says_per_feature(app, db, admin, tmp_path) -> None:  # noqa: ANN001
    # a zone across the Charleroi/Châtelet border: its partly_outside_commune warning, word for
    # word as POST /api/v1/imports gives it
    from geosignal.cli import _at
    from tests.factories import square_lambert, to_geojson_4326, upload_file
    from tests.test_partly_outside import _border_vertex

    x, y = _border_vertex(db)
    zone = to_geojson_4326(square_lambert(x - 300.0, y - 200.0, 400.0))
    data = json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": zone, "properties": {"network": "fixed", "menages": "12 5"}}]})
    preview = upload_file(admin, data.encode(), "across.geojson", dry_run="true").get_json()
    (entry,) = preview["features"]
    assert sorted(w["code"] for w in entry["warnings"]) == ["attribute_dropped", "partly_outside_commune"]
    path = tmp_path / "across.geojson"
    path.write_text(data, encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["import-reports", str(path), "--as", admin.email, "--dry-run"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        *(f"feature 0: warning: {w['code']}: {w['detail']}{_at(w)}" for w in entry["warnings"]),
        "1 accepted, 0 refused, 1 would be saved (dry run)"]


# ---- what the database refuses, a disk that is full, an export that fails: one line, exit 1 ----

@pytest.mark.parametrize("args", [
    ["revoke-token", "99999999999"],  # beyond the id's integer
    # (a purge of 999,999,999 days: refused before the database, test_purge_with_days_beyond…)
    ["delete-survey", "--edition", "99999999999", "--yes"],
    ["list-tokens", "a\x00@b.be"],  # a NUL in a text parameter
    ["set-password", "a\x00@b.be"],
])
def test_a_value_the_database_refuses_is_one_line(app, db, args: list[str]) -> None:  # noqa: ANN001
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 1 and result.exc_info[0] is SystemExit, (result.output, repr(result.exception))
    assert result.output.startswith("Error: invalid_request: the database refused a value: ")
    assert len(result.output.strip().splitlines()) == 1


def test_a_commune_with_a_nul_is_an_unknown_commune(app, db) -> None:  # noqa: ANN001
    result = app.test_cli_runner().invoke(args=["create-user", "x@charleroi.be", "--role", "representative",
                                                "--commune", "52\x0011"])
    assert (result.exit_code, result.output) == (1, "Error: unknown_commune: no commune 52\\x0011 is loaded\n")


def test_an_export_to_a_full_disk_is_one_line(app, db) -> None:  # noqa: ANN001
    result = app.test_cli_runner().invoke(args=["export", "-o", "/dev/full"])
    assert result.exit_code == 1 and result.exc_info[0] is SystemExit, (result.output, repr(result.exception))
    assert "Error: cannot write /dev/full: No space left on device" in result.output


def test_an_export_that_fails_leaves_the_previous_file_and_no_other(app, db, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """A connection lost after the first chunk: the file written before is as it was, no
    temporary file is left beside it, and no run is recorded; the export done again replaces
    it whole, with a plain file's permissions."""
    import os

    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    from geosignal.services.export import formats

    real = formats.geojson_chunks

    def lost_after_the_first_chunk(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        chunks = real(*args, **kwargs)
        yield next(chunks)
        raise OperationalError("SELECT", {}, Exception("server closed the connection unexpectedly"))

    out = tmp_path / "dwconnect.geojson"
    out.write_text('{"type":"FeatureCollection","features":[]}')
    runs = text("SELECT count(*) FROM export_runs")
    before = db.scalar(runs)
    monkeypatch.setattr(formats, "geojson_chunks", lost_after_the_first_chunk)
    failed = app.test_cli_runner().invoke(args=["export", "-o", str(out)])
    assert failed.exit_code == 1  # (said "database: …" on one line by the geosignal command: _Main)
    assert out.read_text() == '{"type":"FeatureCollection","features":[]}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dwconnect.geojson"]
    assert db.scalar(runs) == before
    monkeypatch.setattr(formats, "geojson_chunks", real)
    done = app.test_cli_runner().invoke(args=["export", "-o", str(out)])
    assert done.exit_code == 0, done.output
    assert json.loads(out.read_text())["type"] == "FeatureCollection" and "export_run" in json.loads(out.read_text())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dwconnect.geojson"]
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask
    assert db.scalar(runs) == before + 1


def test_import_reports_for_a_deactivated_account_is_refused_even_as_a_preview(app, db, tmp_path) -> None:  # noqa: ANN001
    """The dry run previewed for a deactivated account what its save refuses."""
    create_user(db, "parti@charleroi.be", "representative", "52011", "correct horse battery staple")
    db.commit()
    assert app.test_cli_runner().invoke(args=["deactivate-user", "parti@charleroi.be"]).exit_code == 0
    path = tmp_path / "campagne.csv"
    path.write_text("latitude;longitude;reseau\n50,4108;4,4440;mobile\n", encoding="utf-8")
    for dry_run in (["--dry-run"], []):
        result = app.test_cli_runner().invoke(args=["import-reports", str(path), "--as", "parti@charleroi.be",
                                                    *dry_run])
        assert result.exit_code == 1, result.output
        assert result.output == ("Error: forbidden: the account this import acts for is deactivated; nothing was "
                                 "saved\n")


# --------------------------------------------------------------------------- hostile arguments: one line each

@pytest.mark.parametrize("option", ["--export-copies-older-than", "--photos-older-than"])
def test_purge_with_days_beyond_postgresql_s_interval_says_so_in_one_line(app, db, option: str) -> None:  # noqa: ANN001
    """3,000,000,000 days reached ``make_interval(days => bigint)``, which PostgreSQL does not
    have: a traceback."""
    done = app.test_cli_runner().invoke(args=["purge", "--dry-run", option, "3000000000"])
    assert done.exit_code == 1, done.output
    assert done.output.strip() == f"Error: invalid_request: {option} is a number of days from 0 to 1,000,000"


def test_aggregate_into_a_folder_that_does_not_exist_says_so_before_the_work(app, tmp_path) -> None:  # noqa: ANN001
    """The table was computed, then ``open`` raised: a traceback."""
    from tests.conftest import COMMUNES_FILE

    reports = tmp_path / "r.geojson"
    reports.write_text('{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"network":"mobile"},'
                       '"geometry":{"type":"Point","coordinates":[4.444,50.4108]}}]}')
    target = tmp_path / "absent" / "table.csv"
    done = app.test_cli_runner().invoke(args=["aggregate", "--reports", str(reports), "--communes",
                                              str(COMMUNES_FILE), "-o", str(target)])
    assert (done.exit_code, done.output.strip()) == (1, f"Error: cannot write {target}: no such folder")
    written = app.test_cli_runner().invoke(args=["aggregate", "--reports", str(reports), "--communes",
                                                 str(COMMUNES_FILE), "-o", str(tmp_path / "table.csv")])
    assert written.exit_code == 0, written.output
    assert (tmp_path / "table.csv").read_text(encoding="utf-8").count("\n") == 32  # header, 30 communes, territory


def test_import_survey_holds_the_survey_s_size_limit(app, db, tmp_path) -> None:  # noqa: ANN001
    """The API refuses a survey export over 10 MB (413); the command read any file whole (a
    pipe or /dev/zero until memory ran out) and stored an 11 MB one."""
    from pathlib import Path

    from sqlalchemy import func, select

    from geosignal.models import SurveyResponse
    from geosignal.services import survey

    fixture = (Path(__file__).parent / "fixtures" / "survey_2022.csv").read_text(encoding="utf-8")
    padding = ";" * 20 + "\n"
    path = tmp_path / "export.csv"
    path.write_text(fixture + padding * (survey.MAX_SURVEY_BYTES // len(padding) + 1), encoding="utf-8")
    done = app.test_cli_runner().invoke(args=["import-survey", str(path), "--edition", "2022"])
    assert done.exit_code == 1
    assert done.output.strip() == (f"Error: payload_too_large: {path} holds more than {survey.MAX_SURVEY_BYTES:,} "
                                   "bytes, a survey export is far smaller.")
    assert db.scalar(select(func.count()).select_from(SurveyResponse)) == 0


@pytest.mark.parametrize(("args", "said"), [
    (["export", "--status", "validated", "--status", "all", "--mark-transmitted"],
     "the option --status is given twice: give it once"),
    (["import-survey", "x.csv", "--edition", "2021", "--edition=2022"],
     "the option --edition is given twice: give it once"),
    (["export", "-o", "a.geojson", "--output", "b.geojson"],
     "the option --output is given twice (as -o and --output): give it once"),
])
def test_an_option_of_one_value_given_twice_is_refused(database_url, monkeypatch, args: list[str], said: str) -> None:  # noqa: ANN001
    """Click kept the last of an option given twice without a word: ``--status validated …
    --status all --mark-transmitted`` sent every status to DWconnect and marked them sent."""
    from click.testing import CliRunner

    from geosignal.cli import main

    monkeypatch.setenv("GEOSIGNAL_DATABASE_URL", database_url)
    monkeypatch.setenv("GEOSIGNAL_ENV", "testing")
    monkeypatch.setenv("GEOSIGNAL_SECRET_KEY", "kq8Zr3Lw0pVnT7yB5cJd2FhXs9GmUe4a-Qz1")
    done = CliRunner().invoke(main, args)
    assert done.exit_code == 2
    assert done.output.strip().splitlines()[-1] == f"Error: {said}"


def test_import_reports_does_not_call_a_kml_faults_place_on_its_line_a_column(app, db, admin, tmp_path) -> None:  # noqa: ANN001
    """A KML or GPX fault's ``column`` is a character's place on a line of the file: the command
    line printed it as a spreadsheet's column, « (column 45) », after a detail naming the line.
    It says the line, as the upload page does, once."""
    path = tmp_path / "rues.kml"
    path.write_text('<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="http://www.opengis.net/kml/2.2"><Document>\n'
                    "<Placemark><name>Rue Haute</name><LineString><coordinates>4.444,50.41 4.446,abc 4.447,50.413"
                    "</coordinates></LineString></Placemark>\n</Document></kml>\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["import-reports", str(path), "--as", admin.email, "--dry-run",
                                                "--network", "mobile"])
    assert result.exit_code == 1, result.output
    first = result.output.splitlines()[0]
    assert first.startswith("feature 0: invalid_coordinate: The placemark 'Rue Haute' (line 3) has the position "
                            "'4.446,abc' in its <coordinates>")
    assert first.endswith("positions separated by spaces.")


def test_a_fault_on_a_line_of_the_file_is_said_by_that_line() -> None:
    from geosignal.cli import _at

    assert _at({"code": "x", "detail": "Not well-formed.", "line": 6, "column": 12}) == " (line 6 of the file)"
    assert _at({"code": "x", "detail": "The placemark (line 6, column 12) …", "line": 6, "column": 12}) == ""
    assert _at({"code": "x", "detail": "…", "column": "menages"}) == " (column 'menages')"
    assert _at({"code": "x", "detail": "…", "pointer": "/features/0", "line": 1}) == " (at /features/0)"


def test_import_reports_says_a_write_conflict_on_one_line(app, db, admin, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """A save rolled back by a deadlock (psycopg's own error, raised by the save's raw cursor)
    printed a traceback: it is one line saying nothing was saved and to run the command again."""
    import psycopg

    from geosignal.services import imports

    def deadlocked(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise psycopg.errors.DeadlockDetected("deadlock detected\nDETAIL:  Process 1 waits for ShareLock")

    monkeypatch.setattr(imports, "import_file", deadlocked)
    path = tmp_path / "zones.geojson"
    path.write_text(_GEOJSON, encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["import-reports", str(path), "--as", admin.email])
    assert result.exit_code == 1, result.output
    assert result.output.splitlines() == [
        "Error: conflict: another write at the same moment rolled this one back (deadlock detected); nothing was "
        "saved: run the command again"]
