"""Hostile numbers, seventh round: counts and distances written in ways a reader could take
for another number — a GPX ``<extensions>`` value GDAL types as a number (``1 000`` read as 1,
``5 ménages`` as 5, 10²⁰ as 2³¹-1), spaces that do not group thousands (``5 10`` read as 510),
a radius of ``6.000`` m (six or six thousand?).

Each case goes through the intake service (:func:`read_upload`) and through
``POST /api/v1/imports`` (preview and save) or the page that takes it, against the real app and
PostGIS: exact codes, values and pointers, and what is stored.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from geosignal.models import Report
from geosignal.services.intake import ReportInput, read_upload
from tests.factories import count_reports as _count
from tests.factories import upload_file


def _gpx_waypoints(*extensions: str) -> bytes:
    points = "".join(f'<wpt lat="{50.4108 + k * 0.001:.4f}" lon="4.4440"><desc>point {k}</desc>'
                     f"<extensions>{ext}</extensions></wpt>" for k, ext in enumerate(extensions))
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<gpx version="1.1" creator="t" '
            f'xmlns="http://www.topografix.com/GPX/1/1">{points}</gpx>').encode()


def _dropped(rep) -> list[tuple[str, str, str]]:  # noqa: ANN001
    return [(w["code"], w["name"], w["column"]) for w in rep.warnings if w["code"] == "attribute_dropped"]


@pytest.mark.parametrize(("value", "shown"), [("1.000", "'1.000'"), ("12.7", "'12.7'"), ("5 ménages", "'5 ménages'"),
                                              ("99999999999999999999", "99999999999999999999"),
                                              ("nan", "'nan'"), ("1e3", "'1e3'")])
def test_gpx_extension_numbers_reach_the_count_rules_as_written(area, admin, db, value, shown):
    # GDAL's GPX driver types an <extensions> field as a number when its first values look like
    # one, then reads each value with atof/atoi: '1.000' → 1, '5 ménages' → 5, 10²⁰ → 2147483647
    data = _gpx_waypoints("<menages>12</menages>", f"<menages>{value}</menages>", "<menages>1 000</menages>")
    res = read_upload(data, "a.gpx", area=area)
    assert [type(r) for r in res] == [ReportInput] * 3
    assert [r.properties.get("households_affected") for r in res] == [12, None, 1000]
    assert _dropped(res[1]) == [("attribute_dropped", "households_affected", "menages")]
    assert shown in res[1].warnings[0]["detail"], res[1].warnings
    assert not res[0].warnings and not res[2].warnings
    before = _count(db)
    preview = upload_file(admin, data, "a.gpx", network="mobile", dry_run="true").get_json()["features"]
    assert [f["properties"].get("households_affected") for f in preview] == [12, None, 1000]
    assert [w["code"] for w in preview[1]["warnings"]] == ["attribute_dropped"]
    assert _count(db) == before
    response = upload_file(admin, data, "a.gpx", network="mobile", mode="all")
    assert response.status_code == 201 and response.get_json()["saved"] == 3
    stored = db.scalars(select(Report.households_affected).where(Report.description.in_(
        ["point 0", "point 1", "point 2"])).order_by(Report.description)).all()
    assert stored == [12, None, 1000]


def test_gpx_extension_numbers_clean_values_are_read_exactly(area):
    data = _gpx_waypoints("<menages>7</menages><entreprises>0</entreprises>", "<menages>+5</menages>",
                          "<entreprises>3</entreprises>")
    res = read_upload(data, "a.gpx", area=area)
    assert [(r.properties.get("households_affected"), r.properties.get("businesses_affected")) for r in res] == [
        (7, 0), (None, None), (None, 3)]
    assert [w["code"] for w in res[1].warnings] == ["attribute_dropped"]  # '+5': no sign on a count
    assert not res[0].warnings and not res[2].warnings
