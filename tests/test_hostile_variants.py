"""Variants of the handed cases' kinds (dates at the edges of what is accepted, collections
split by a file reader, line ends, query parameters and ``crs`` members), each found by a
trial of new inputs against the real service: the same input gives the same meaning and the
same code in every format and on every path, and nothing is half-stored.

Through :func:`read_upload` with the real communes (4.44, 50.41 is in Charleroi) and the
real app and PostGIS."""

from __future__ import annotations

import json

import pytest

from geosignal.errors import GeosignalError
from geosignal.services.intake import read_upload
from tests.factories import count_reports, upload_file

IN_CHARLEROI = {"type": "Point", "coordinates": [4.4440, 50.4108]}


def _feature(geometry: dict | None = None, **properties) -> dict:  # noqa: ANN003
    return {"type": "Feature", "geometry": geometry or IN_CHARLEROI, "properties": {"network": "mobile", **properties}}


def _post(account, body: dict, query: str = ""):  # noqa: ANN001, ANN202
    return account.post(f"/api/v1/reports{query}", json=body)


# --------------------------------------------------------------------------- 35. dates at 1990

@pytest.mark.parametrize("observed_at", ["1990-01-01", "1990-01-01T00:30:00", "1990-01-01T00:00:00+01:00",
                                         "1989-12-31T23:00:00Z"])
def test_the_first_of_january_1990_in_brussels_is_accepted(db, representative, observed_at) -> None:
    response = _post(representative, _feature(observed_at=observed_at))
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["properties"]["observed_at"].startswith("1990-01-01T00:")


def test_the_limit_quoted_is_midnight_in_brussels(db, representative) -> None:
    before = count_reports(db)
    response = _post(representative, _feature(observed_at="1989-12-31T23:59:59+01:00"))
    assert response.status_code == 422
    body = response.get_json()
    assert (body["code"], body["kind"], body["limit"]) == ("invalid_datetime", "too_early", "1990-01-01T00:00:00+01:00")
    assert count_reports(db) == before


@pytest.mark.parametrize("cell", ["01/01/1990", "1/1/1990", "1990-01-01", "01/01/1990 00:30"])
def test_a_csv_date_of_the_first_of_january_1990_is_kept(area, cell) -> None:
    (item,) = read_upload(f"lat;lon;network;date\n50,4108;4,4440;mobile;{cell}\n".encode(), "a.csv", area=area)
    assert not isinstance(item, GeosignalError)
    assert item.properties["observed_at"].isoformat().startswith("1990-01-01T00:")
    assert not [w for w in item.warnings if w["code"] == "attribute_dropped"]


# --------------------------------------------------------------------------- 35. GPX dates alone

def test_a_gpx_date_alone_is_a_day_in_brussels_as_in_every_format(area) -> None:
    gpx = (b'<?xml version="1.0"?><gpx version="1.1" creator="t" xmlns="http://www.topografix.com/GPX/1/1">'
           b'<wpt lat="50.4108" lon="4.4440"><time>2026-10-25</time></wpt>'
           b'<wpt lat="50.4108" lon="4.4450"><time>2026-10-25T01:30:00</time></wpt></gpx>')
    day, naive = read_upload(gpx, "a.gpx", area=area)
    assert day.properties["observed_at"].isoformat() == "2026-10-25T00:00:00+02:00"
    assert naive.properties["observed_at"].isoformat() == "2026-10-25T01:30:00+00:00"  # <time> is UTC in GPX
    (csv,) = read_upload(b"lat;lon;network;date\n50,4108;4,4440;mobile;2026-10-25\n", "a.csv", area=area)
    assert csv.properties["observed_at"] == day.properties["observed_at"]
