"""Evidence of a report: speed tests (ranges, every fault at once), photos (metadata stripped,
size, type sniffed from the content, decompression bombs), who may read and add, staleness
after 12 months and the photo retention rule — against the real PostGIS."""

from __future__ import annotations

import io
import json
import struct
import zlib
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image, PngImagePlugin
from sqlalchemy import func, select, text

from geosignal.models import Photo, Report, SpeedTest
from geosignal.services import evidence
from tests.conftest import make_account
from tests.factories import CHARLEROI_LAMBERT72, feature, square_lambert, to_geojson_4326

CHATELET = "52012"


def _report(rep, dx: float = 0.0) -> str:  # noqa: ANN001
    x, y = CHARLEROI_LAMBERT72
    response = rep.post("/api/v1/reports", json=feature(to_geojson_4326(square_lambert(x + dx, y, 200.0))))
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def _gps_jpeg(size: tuple[int, int] = (40, 20), orientation: int = 6) -> bytes:
    """A JPEG carrying EXIF (camera, orientation, GPS at Charleroi), XMP, an ICC profile and a
    comment: everything that must not survive an upload."""
    from PIL import ImageCms

    image = Image.new("RGB", size, (200, 30, 30))
    image.paste((30, 30, 200), (0, 0, size[0] // 2, size[1]))  # left half blue: shows the rotation
    exif = Image.Exif()
    exif[0x010F] = "TestCamMaker"  # Make
    exif[0x0110] = "TestCam 3000"  # Model
    exif[0x0112] = orientation
    exif[0x9003] = "2025:05:01 14:30:00"  # DateTimeOriginal (in the Exif IFD in practice)
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (50.0, 24.0, 38.88)
    gps[3], gps[4] = "E", (4.0, 26.0, 38.4)
    xmp = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
           b'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" dc:creator="Jean Dupont"/>'
           b"</rdf:RDF></x:xmpmeta>")
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes(), xmp=xmp, icc_profile=icc, comment=b"Jean Dupont, rue Haute 12")
    data = out.getvalue()
    assert b"TestCam" in data and b"Jean Dupont" in data and b"xmpmeta" in data
    return data


def _post_photo(account, report_id: str, data: bytes, filename: str = "photo.jpg",  # noqa: ANN001
                content_type: str = "image/jpeg"):  # noqa: ANN202
    return account.post(f"/api/v1/reports/{report_id}/photos",
                        data={"photo": (io.BytesIO(data), filename, content_type)},
                        content_type="multipart/form-data")


def test_jpeg_exif_gps_xmp_icc_and_comment_are_gone(representative) -> None:  # noqa: ANN001
    report_id = _report(representative)
    response = _post_photo(representative, report_id, _gps_jpeg())
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["content_type"] == "image/jpeg"
    assert (body["width"], body["height"]) == (20, 40)  # EXIF orientation 6 applied to the pixels
    assert response.headers["Location"] == body["url"] == f"/signalements/{report_id}/photos/{body['id']}"

    served = representative.get(body["url"])
    assert served.status_code == 200
    assert served.mimetype == "image/jpeg"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    data = served.data
    assert len(data) == body["bytes"]
    for marker in (b"Exif", b"TestCam", b"GPS", b"xmpmeta", b"http://ns.adobe.com/xap/1.0/", b"ICC_PROFILE",
                   b"Jean Dupont", b"2025:05:01"):
        assert marker not in data, marker
    stored = Image.open(io.BytesIO(data))
    assert stored.format == "JPEG"
    assert dict(stored.getexif()) == {}
    assert not ({"exif", "icc_profile", "xmp", "comment"} & set(stored.info))
    assert stored.size == (20, 40)
    # rotated 90° clockwise: the blue left half is now on top
    top, bottom = stored.convert("RGB").getpixel((10, 5)), stored.convert("RGB").getpixel((10, 35))
    assert top[2] > 150 > top[0] and bottom[0] > 150 > bottom[2]


def test_png_text_chunks_and_exif_are_gone(representative) -> None:  # noqa: ANN001
    report_id = _report(representative)
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Jean Dupont")
    info.add_itxt("Location", "50.4108 N 4.4440 E", zip=True)
    exif = Image.Exif()
    exif[0x010F] = "TestCamMaker"
    out = io.BytesIO()
    Image.new("RGBA", (30, 30), (0, 128, 0, 200)).save(out, "PNG", pnginfo=info, exif=exif.tobytes())
    response = _post_photo(representative, report_id, out.getvalue(), "capture.png", "image/png")
    assert response.status_code == 201, response.get_json()
    data = representative.get(response.get_json()["url"]).data
    for marker in (b"tEXt", b"iTXt", b"zTXt", b"eXIf", b"Jean Dupont", b"TestCam"):
        assert marker not in data, marker
    stored = Image.open(io.BytesIO(data))
    assert stored.format == "PNG" and stored.mode == "RGBA" and stored.size == (30, 30)
    assert stored.getpixel((3, 3)) == (0, 128, 0, 200)


def test_photo_over_5_mb_is_413_photo_too_large(representative, db) -> None:  # noqa: ANN001
    report_id = _report(representative)
    data = _gps_jpeg() + b"\0" * (evidence.MAX_PHOTO_BYTES + 1)
    response = _post_photo(representative, report_id, data)
    assert response.status_code == 413
    assert response.get_json()["code"] == "photo_too_large"
    assert response.mimetype == "application/problem+json"
    assert db.scalar(select(Photo.id).where(Photo.report_id == report_id)) is None


@pytest.mark.parametrize(("data", "filename", "declared"), [
    (b"%PDF-1.7\n1 0 obj <<>> endobj\n", "photo.jpg", "image/jpeg"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "photo.png", "image/png"),
    (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "photo.gif", "image/gif"),
    (b"", "vide.jpg", "image/jpeg"),
])
def test_non_image_is_415_unsupported_image(representative, db, data: bytes, filename: str,  # noqa: ANN001
                                            declared: str) -> None:
    report_id = _report(representative)
    response = _post_photo(representative, report_id, data, filename, declared)
    assert response.status_code == 415
    assert response.get_json()["code"] == "unsupported_image"
    assert db.scalar(select(Photo.id).where(Photo.report_id == report_id)) is None


def _png_declaring(width: int, height: int) -> bytes:
    """A valid 1×1 PNG whose header then claims ``width`` × ``height`` pixels."""
    out = io.BytesIO()
    Image.new("L", (1, 1)).save(out, "PNG")
    data = bytearray(out.getvalue())
    ihdr = bytes(data[12:16]) + struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(ihdr) & 0xFFFFFFFF)
    return bytes(data)


def test_decompression_bombs_are_refused_before_decoding(representative, db) -> None:  # noqa: ANN001
    report_id = _report(representative)
    forged = _post_photo(representative, report_id, _png_declaring(60_000, 60_000), "bomb.png", "image/png")
    assert forged.status_code == 422
    assert forged.get_json()["code"] == "decompression_bomb"
    # a real one: 64 megapixels of one colour compress to ~64 KB
    out = io.BytesIO()
    Image.new("L", (8000, 8000)).save(out, "PNG")
    assert len(out.getvalue()) < 200_000
    real = _post_photo(representative, report_id, out.getvalue(), "bomb.png", "image/png")
    assert real.status_code == 422
    assert real.get_json()["code"] == "decompression_bomb"
    assert db.scalar(select(Photo.id).where(Photo.report_id == report_id)) is None


def test_truncated_image_is_422_invalid_image(representative) -> None:  # noqa: ANN001
    report_id = _report(representative)
    out = io.BytesIO()
    Image.effect_noise((300, 300), 40).convert("RGB").save(out, "JPEG")
    response = _post_photo(representative, report_id, out.getvalue()[:2000])
    assert response.status_code == 422
    assert response.get_json()["code"] == "invalid_image"
    # the first bytes alone: the decoder names the upload's object, with its address in memory
    head = _post_photo(representative, report_id, out.getvalue()[:20])
    assert (head.status_code, head.get_json()["code"]) == (422, "invalid_image")
    assert head.get_json()["detail"] == "the image cannot be decoded (cannot identify image file the upload)"


def test_large_photo_is_scaled_down() -> None:
    out = io.BytesIO()
    Image.new("RGB", (4000, 3000), (10, 20, 30)).save(out, "JPEG")
    processed = evidence.process_photo(out.getvalue())
    assert (processed.width, processed.height) == (2560, 1920)
    assert Image.open(io.BytesIO(processed.data)).size == (2560, 1920)


#: An EXIF block (big-endian: Make, orientation 6, a GPS IFD) whose GPS latitude, a RATIONAL
#: tag, holds text: Pillow's exif_transpose fails writing it back (TypeError, struct.error).
DAMAGED_EXIF = bytes.fromhex(
    "4578696600004d4d002a000000080003010f00020000000600000032011200030000000100060000882500040000000100000038"
    "000000004d616b657200000200140002000000024e00000000020005000000030000005600000000000000320000000100000018"
    "a0000001000003cc00000019")


def test_a_photo_with_a_damaged_exif_tag_is_stored_upright_without_it(representative, db) -> None:  # noqa: ANN001
    """A phone's EXIF with one tag of the wrong type was a 500; the photo is stored turned by
    its orientation (6: a quarter turn), without the EXIF."""
    out = io.BytesIO()
    Image.new("RGB", (40, 20), (200, 30, 30)).save(out, "JPEG")
    plain = out.getvalue()
    data = plain[:2] + b"\xff\xe1" + struct.pack(">H", len(DAMAGED_EXIF) + 2) + DAMAGED_EXIF + plain[2:]
    report_id = _report(representative)
    response = _post_photo(representative, report_id, data)
    assert response.status_code == 201, response.get_json()
    stored = db.scalar(select(Photo.data).where(Photo.report_id == report_id))
    assert Image.open(io.BytesIO(stored)).size == (20, 40)
    assert b"Maker" not in stored and b"Exif" not in stored


def test_a_jpeg_strip_is_decoded_at_a_reduced_scale() -> None:
    """A thin strip inside the 64-megapixel limit (65,000 × 984) was decoded whole — its short
    side is below the output's, so asking for the output's size did not reduce it (320–490 MB
    in one worker). It is decoded at most MAX_DECODED_PIXELS, then scaled to the output."""
    assert evidence._draft_size(65_000, 984) == (32_500, 492)  # 1/2: 16 Mpx
    assert evidence._draft_size(8_000, 8_000) == (4_000, 4_000)  # 1/2: the output side stays 2,560
    assert evidence._draft_size(4_000, 3_000) == (4_000, 3_000)  # the output's size needs it whole
    assert evidence._draft_size(40, 20) == (40, 20)
    out = io.BytesIO()  # a smaller strip (27 Mpx, over the decoded limit): the same path, a third of the memory
    Image.new("RGB", (30_000, 900), (90, 120, 200)).save(out, "JPEG", quality=20)
    assert evidence._draft_size(30_000, 900) == (15_000, 450)
    processed = evidence.process_photo(out.getvalue())
    assert (processed.width, processed.height) == (2560, 77)


@pytest.mark.parametrize(("mode", "colour", "hole"), [("RGB", (255, 0, 0), (0, 0, 0)), ("L", 200, 0)])
def test_a_png_with_one_transparent_colour_stays_transparent(mode: str, colour, hole) -> None:  # noqa: ANN001
    """A PNG whose transparency is one colour (tRNS on RGB or grey) came back opaque."""
    image = Image.new(mode, (8, 8), colour)
    image.putpixel((0, 0), hole)
    out = io.BytesIO()
    image.save(out, "PNG", transparency=colour)
    back = Image.open(io.BytesIO(evidence.process_photo(out.getvalue()).data))
    assert back.mode == {"RGB": "RGBA", "L": "LA"}[mode]
    assert back.getpixel((3, 3))[-1] == 0 and back.getpixel((0, 0))[-1] == 255


def test_speed_test_faults_are_reported_together(representative, db) -> None:  # noqa: ANN001
    report_id = _report(representative)
    future = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    response = representative.post(f"/api/v1/reports/{report_id}/evidence", json={
        "download_mbps": -1, "upload_mbps": "rapide", "latency_ms": 1e9, "signal_dbm": 10,
        "operator": "voo", "measured_at": future, "vitesse": 3})
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == "invalid_attribute"
    assert body["where"] == "/download_mbps"
    assert [(e["pointer"], e["code"]) for e in body["errors"]] == [
        ("/download_mbps", "invalid_attribute"), ("/upload_mbps", "invalid_attribute"),
        ("/latency_ms", "invalid_attribute"), ("/signal_dbm", "invalid_attribute"),
        ("/operator", "invalid_attribute"), ("/measured_at", "invalid_datetime"),
        ("/vitesse", "invalid_attribute")]
    assert "between -150 and -20 dBm" in body["errors"][3]["detail"]
    assert db.scalar(select(SpeedTest.id).where(SpeedTest.report_id == report_id)) is None

    missing = representative.post(f"/api/v1/reports/{report_id}/evidence", json={"operator": "Proximus"})
    assert missing.status_code == 422
    assert [(e["pointer"], e["code"]) for e in missing.get_json()["errors"]] == [
        ("/measured_at", "invalid_datetime"), ("/", "invalid_attribute")]
    # a blank date is a missing one (it was stored as NULL: a 500)
    blank = representative.post(f"/api/v1/reports/{report_id}/evidence", json={"latency_ms": 5, "measured_at": " \t"})
    assert blank.status_code == 422
    assert (blank.get_json()["code"], blank.get_json()["where"], blank.get_json()["kind"]) == (
        "invalid_datetime", "/measured_at", "missing")
    for body in ([1, 2], "x"):
        assert representative.post(f"/api/v1/reports/{report_id}/evidence", json=body).status_code == 400


def test_speed_test_stored_and_listed(representative, referent) -> None:  # noqa: ANN001
    report_id = _report(representative)
    response = representative.post(f"/api/v1/reports/{report_id}/evidence", json={
        "download_mbps": 1.5, "upload_mbps": 0.25, "latency_ms": 180, "signal_dbm": -113,
        "operator": "Telenet/BASE", "measured_at": "2026-03-29T02:30:00+01:00"})
    assert response.status_code == 201, response.get_json()
    stored = response.get_json()
    assert stored["download_mbps"] == 1.5 and stored["latency_ms"] == 180.0 and stored["signal_dbm"] == -113.0
    assert stored["measured_at"] == "2026-03-29T03:30:00+02:00"  # the same instant, Brussels summer time
    listed = referent.get(f"/api/v1/reports/{report_id}/evidence")
    assert listed.status_code == 200
    doc = listed.get_json()
    assert [t["id"] for t in doc["speed_tests"]] == [stored["id"]]
    assert doc["photos"] == [] and doc["stale_after_months"] == 12
    assert doc["latest_at"] == "2026-03-29T03:30:00+02:00"
    # -0.0 is 0; an unknown member's pointer is escaped (RFC 6901: ~ and /)
    zero = representative.post(f"/api/v1/reports/{report_id}/evidence",
                               json={"upload_mbps": -0.0, "measured_at": "2026-03-29"})
    assert zero.status_code == 201 and json.dumps(zero.get_json()["upload_mbps"]) == "0.0"
    odd = representative.post(f"/api/v1/reports/{report_id}/evidence",
                              json={"latency_ms": 5, "measured_at": "2026-03-29", "x/y~": 1})
    assert odd.status_code == 422 and odd.get_json()["where"] == "/x~1y~0"


def test_who_reads_and_adds_evidence(client, db, representative, referent) -> None:  # noqa: ANN001
    report_id = _report(representative)
    photo = _post_photo(representative, report_id, _gps_jpeg()).get_json()
    other = make_account(client, db, "echevin@chatelet.be", "representative", CHATELET)
    admin = make_account(client, db, "admin@igretec.com", "admin")
    test = {"download_mbps": 3, "measured_at": "2026-01-10"}
    assert referent.post(f"/api/v1/reports/{report_id}/evidence", json=test).get_json()["code"] == "forbidden"
    assert _post_photo(referent, report_id, _gps_jpeg()).status_code == 403
    assert other.post(f"/api/v1/reports/{report_id}/evidence", json=test).status_code == 404
    assert other.get(f"/api/v1/reports/{report_id}/evidence").status_code == 404
    assert other.get(photo["url"]).status_code == 404
    assert client.get(photo["url"]).status_code in (302, 401)
    assert admin.post(f"/api/v1/reports/{report_id}/evidence", json=test).status_code == 201
    assert referent.get(photo["url"]).status_code == 200
    assert representative.get(f"/signalements/{report_id}/photos/{photo['id'] + 999}").status_code == 404


def test_closed_report_takes_no_evidence(representative) -> None:  # noqa: ANN001
    report_id = _report(representative)
    assert "withdrawn" in evidence.closed_statuses()
    response = representative.patch(f"/api/v1/reports/{report_id}", json={"status": "withdrawn"})
    assert response.status_code == 200, response.get_json()
    refused = representative.post(f"/api/v1/reports/{report_id}/evidence",
                                  json={"download_mbps": 1, "measured_at": "2026-01-10"})
    assert refused.status_code == 409
    assert refused.get_json()["code"] == "conflict"


def _add_test(db, report_id: str, measured_at: datetime) -> None:  # noqa: ANN001
    db.add(SpeedTest(report_id=report_id, download_mbps=2.0, measured_at=measured_at))
    db.flush()


def test_stale_after_12_months(representative, db) -> None:  # noqa: ANN001
    import uuid

    old, recent, fresh_again, none = (_report(representative, dx=400.0 * k) for k in range(4))
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    _add_test(db, old, datetime(2025, 11, 29, 12, 0, tzinfo=UTC))  # 12 months and a day
    _add_test(db, recent, datetime(2025, 12, 1, 12, 0, tzinfo=UTC))  # 11 months and 29 days
    _add_test(db, fresh_again, datetime(2024, 1, 1, tzinfo=UTC))
    _add_test(db, fresh_again, datetime(2026, 6, 1, tzinfo=UTC))  # re-confirmed since
    ids = [old, recent, fresh_again, none]
    assert evidence.stale_report_ids(db, ids, now=now) == {uuid.UUID(old)}
    flags = dict(db.execute(select(Report.id, evidence.evidence_stale(Report.id, now=now))
                            .where(Report.id.in_([uuid.UUID(i) for i in ids]))).all())
    assert flags == {uuid.UUID(old): True, uuid.UUID(recent): False, uuid.UUID(fresh_again): False,
                     uuid.UUID(none): False}
    doc = evidence.list_evidence(db, _user(db, representative.email), old, now=now)
    assert doc["stale"] is True and doc["speed_tests"][0]["stale"] is True
    assert evidence.list_evidence(db, _user(db, representative.email), recent, now=now)["stale"] is False
    # a photo uploaded now re-confirms the old one
    photo = _post_photo(representative, old, _gps_jpeg())
    assert photo.status_code == 201
    assert evidence.stale_report_ids(db, [old]) == set()
    assert evidence.list_evidence(db, _user(db, representative.email), old)["stale"] is False


def _user(db, email: str):  # noqa: ANN001, ANN202
    from geosignal.models import User

    return db.scalar(select(User).where(User.email == email))


def test_purge_deletes_photos_of_reports_closed_long_ago(representative, db) -> None:  # noqa: ANN001
    closed_long_ago, closed_lately, still_open = (_report(representative, dx=400.0 * k) for k in range(3))
    for report_id in (closed_long_ago, closed_lately, still_open):
        assert _post_photo(representative, report_id, _gps_jpeg()).status_code == 201
    for report_id in (closed_long_ago, closed_lately):
        assert representative.patch(f"/api/v1/reports/{report_id}", json={"status": "withdrawn"}).status_code == 200
    for report_id in (closed_long_ago, still_open):
        db.execute(text("UPDATE reports SET updated_at = now() - interval '400 days' WHERE id = :id"),
                   {"id": report_id})
    counted = evidence.purge_photos(db, 365, dry_run=True)
    assert counted["photos"] == 1 and counted["bytes"] > 0
    assert db.scalar(select(Photo.id).where(Photo.report_id == closed_long_ago)) is not None
    assert evidence.purge_photos(db, 365) == counted
    left = set(db.scalars(select(Photo.report_id)).all())
    assert {str(i) for i in left} == {closed_lately, still_open}


def test_report_page_shows_evidence_forms_and_the_stale_badge(representative, referent, db) -> None:  # noqa: ANN001
    from tests.conftest import csrf_token

    report_id = _report(representative)
    representative.login()
    page = representative.client.get(f"/signalements/{report_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="preuves"' in html and 'id="speed-test-form"' in html and 'id="photo-form"' in html
    assert "À reconfirmer" not in html
    token = csrf_token(html)
    # a form with a French decimal comma, then one with faults named in French
    added = representative.client.post(f"/signalements/{report_id}/mesures", data={
        "csrf_token": token, "measured_at": "2025-10-02T18:30", "download_mbps": "0,8", "signal_dbm": "-109",
        "operator": "Orange"})
    assert added.status_code == 302 and added.headers["Location"].endswith(f"/signalements/{report_id}#preuves")
    stored = db.execute(select(SpeedTest.download_mbps, SpeedTest.signal_dbm, SpeedTest.operator)
                        .where(SpeedTest.report_id == report_id)).one()
    assert tuple(stored) == (0.8, -109.0, "Orange")
    refused = representative.client.post(f"/signalements/{report_id}/mesures", data={
        "csrf_token": token, "measured_at": "2025-10-02", "download_mbps": "beaucoup", "signal_dbm": "5"})
    # the page again (422), the reasons beside the form and the values typed kept
    assert refused.status_code == 422
    text_page = refused.get_data(as_text=True).replace("\u202f", " ")
    assert "Débit descendant : un nombre entre 0 et 10 000 Mbit/s." in text_page
    assert "Signal : un nombre entre -150 et -20 dBm." in text_page
    assert 'name="download_mbps" value="beaucoup"' in text_page
    assert f'action="/signalements/{report_id}/mesures#evidence-error"' in text_page  # the sentences brought into view
    assert "au moins une valeur" not in text_page  # values were given: only their own faults are said
    # a lone value that cannot be read: said at its field, not as « no value » above the forms
    lone = representative.client.post(f"/signalements/{report_id}/mesures", data={
        "csrf_token": token, "measured_at": "2025-10-02", "download_mbps": "12,5,3"})
    assert lone.status_code == 422
    lone_page = lone.get_data(as_text=True).replace("\u202f", " ")
    assert "Débit descendant : un nombre entre 0 et 10 000 Mbit/s." in lone_page
    assert "au moins une valeur" not in lone_page
    # a well-written date in the future, and no value at all: each said as such
    future = representative.client.post(f"/signalements/{report_id}/mesures", data={
        "csrf_token": token, "measured_at": "2099-01-15T10:00"}).get_data(as_text=True)
    assert ("Date de la mesure : Cette date est dans le futur : indiquez une date passée, ou celle d'aujourd'hui."
            in future.replace("&#39;", "'"))
    assert "Indiquez au moins une valeur mesurée : débit descendant, débit montant, latence ou signal." in future
    assert "illisible" not in future
    assert db.scalar(select(text("count(*)")).select_from(SpeedTest).where(SpeedTest.report_id == report_id)) == 1
    photo = representative.client.post(f"/signalements/{report_id}/photos", data={
        "csrf_token": token, "photo": (io.BytesIO(b"not an image"), "photo.jpg", "image/jpeg")},
        content_type="multipart/form-data")
    assert photo.status_code == 415 and "La photo n&#39;est pas une image JPEG ou PNG" in photo.get_data(as_text=True)
    # 14 months later the page asks for a re-confirmation
    db.execute(text("UPDATE report_speed_tests SET measured_at = now() - interval '14 months' WHERE report_id = :id"),
               {"id": report_id})
    later = representative.client.get(f"/signalements/{report_id}").get_data(as_text=True)
    assert 'id="evidence-stale"' in later and "À reconfirmer" in later
    # the referent reads the evidence, without the forms
    referent.login()
    seen = referent.client.get(f"/signalements/{report_id}").get_data(as_text=True)
    assert 'id="speed-tests"' in seen and 'id="speed-test-form"' not in seen


@pytest.mark.parametrize("megabytes", [7, 12])
def test_a_photo_too_large_from_the_page_is_said_beside_its_field_whatever_its_size(representative, db,
                                                                                 megabytes: int) -> None:  # noqa: ANN001
    """A phone's photo of 12 MB, beyond what a request may carry (about 10 MB), led away from
    the report to an error page « Erreur 413 » that said to split the file; one of 7 MB got
    the report page with the photo's limit. Both get the report page (413), the sentence
    beside the photo's field; nothing stored."""
    from tests.conftest import csrf_token

    report_id = _report(representative)
    representative.login()
    token = csrf_token(representative.client.get(f"/signalements/{report_id}").get_data(as_text=True))
    big = b"\xff\xd8\xff\xe0" + b"\0" * (megabytes * 1024 * 1024)
    answer = representative.client.post(f"/signalements/{report_id}/photos", data={
        "csrf_token": token, "photo": (io.BytesIO(big), "IMG_2041.jpg", "image/jpeg")},
        content_type="multipart/form-data")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 413 and 'id="photo-form"' in page and 'id="preuves"' in page
    assert "La photo dépasse 5 Mo : réduisez-la avant de l&#39;envoyer." in page
    assert "découpez" not in page
    assert db.scalar(select(func.count()).select_from(Photo).where(Photo.report_id == report_id)) == 0
    # the API answers as before: problem+json
    api = representative.post(f"/api/v1/reports/{report_id}/photos",
                              data={"photo": (io.BytesIO(big), "IMG_2041.jpg", "image/jpeg")},
                              content_type="multipart/form-data")
    assert (api.status_code, api.get_json()["code"]) == (413, "photo_too_large" if megabytes == 7
                                                         else "payload_too_large")


def test_a_truncated_photo_is_refused_after_a_pdf_was_rendered(representative) -> None:  # noqa: ANN001
    """WeasyPrint sets Pillow's ``LOAD_TRUNCATED_IMAGES`` when it is imported (a commune sheet's
    PDF): in a worker that had rendered one, a photo cut short was stored, half grey."""
    import weasyprint  # noqa: F401  (what rendering a commune sheet imports)
    from PIL import ImageFile

    assert ImageFile.LOAD_TRUNCATED_IMAGES is True
    report_id = _report(representative)
    out = io.BytesIO()
    Image.effect_noise((300, 300), 40).convert("RGB").save(out, "JPEG")
    response = _post_photo(representative, report_id, out.getvalue()[:2000])
    assert (response.status_code, response.get_json()["code"]) == (422, "invalid_image")
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # (left as WeasyPrint wants it)


# ---- the same evidence sent twice (a double click, a retry) ---------------------------------

def _count(db, model, report_id: str) -> int:  # noqa: ANN001
    return db.scalar(select(func.count()).select_from(model).where(model.report_id == report_id))


def test_the_same_speed_test_twice_through_the_api_is_stored_once(representative, db) -> None:  # noqa: ANN001
    """The same speed test posted twice within 10 s (its date written with another offset the
    second time) was stored twice: now the second gets the first (200, ``probable_duplicate``),
    as a report does. Another value is another test."""
    report_id = _report(representative)
    body = {"download_mbps": 0.8, "signal_dbm": -109, "operator": "Orange", "measured_at": "2026-11-02T18:30:00+01:00"}
    first = representative.post(f"/api/v1/reports/{report_id}/evidence", json=body)
    again = representative.post(f"/api/v1/reports/{report_id}/evidence",
                                json={**body, "measured_at": "2026-11-02T17:30:00Z", "download_mbps": 0.80})
    assert (first.status_code, again.status_code) == (201, 200), again.get_json()
    assert again.get_json()["id"] == first.get_json()["id"] and "warnings" not in first.get_json()
    assert again.get_json()["warnings"] == [{
        "code": "probable_duplicate", "detail": "identical to a speed test you added seconds ago; the first one is "
        "returned", "speed_test_id": first.get_json()["id"]}]
    assert again.headers["Location"] == f"/api/v1/reports/{report_id}/evidence"
    assert _count(db, SpeedTest, report_id) == 1
    other = representative.post(f"/api/v1/reports/{report_id}/evidence", json={**body, "download_mbps": 0.9})
    assert other.status_code == 201 and _count(db, SpeedTest, report_id) == 2


def test_a_speed_test_with_an_idempotency_key_replays_the_first_answer(representative, db) -> None:  # noqa: ANN001
    """``Idempotency-Key`` was ignored on evidence: a retry stored the test again. Now the key
    replays the first answer (201, ``Idempotent-Replayed``), with another body it is 422
    ``idempotency_key_reused``, and a key over 200 characters is 400, as for reports."""
    report_id = _report(representative)
    body = {"latency_ms": 180, "measured_at": "2026-11-02"}
    url = f"/api/v1/reports/{report_id}/evidence"
    first = representative.post(url, json=body, headers={"Idempotency-Key": "mesure-1"})
    replay = representative.post(url, json=body, headers={"Idempotency-Key": "mesure-1"})
    assert (first.status_code, replay.status_code) == (201, 201)
    assert replay.get_json() == first.get_json() and replay.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    reused = representative.post(url, json={**body, "latency_ms": 181}, headers={"Idempotency-Key": "mesure-1"})
    assert (reused.status_code, reused.get_json()["code"], reused.get_json()["where"]) == (
        422, "idempotency_key_reused", "Idempotency-Key")
    long = representative.post(url, json={**body, "latency_ms": 182}, headers={"Idempotency-Key": "k" * 201})
    assert (long.status_code, long.get_json()["code"], long.get_json()["where"]) == (
        400, "invalid_request", "Idempotency-Key")
    assert _count(db, SpeedTest, report_id) == 1


def test_a_double_click_on_the_speed_test_form_stores_one_test(representative, db) -> None:  # noqa: ANN001
    """« Ajouter la mesure » clicked twice stored the test twice; now once, and the page says so."""
    from tests.conftest import csrf_token

    report_id = _report(representative)
    representative.login()
    token = csrf_token(representative.client.get(f"/signalements/{report_id}").get_data(as_text=True))
    form = {"csrf_token": token, "measured_at": "2026-11-02T18:30", "download_mbps": "0,8", "signal_dbm": "-109",
            "operator": "Orange"}
    first = representative.client.post(f"/signalements/{report_id}/mesures", data=form, follow_redirects=True)
    second = representative.client.post(f"/signalements/{report_id}/mesures", data=form, follow_redirects=True)
    assert first.status_code == second.status_code == 200 and "Mesure ajoutée." in first.get_data(as_text=True)
    assert _count(db, SpeedTest, report_id) == 1
    page = second.get_data(as_text=True).replace("&#39;", "'")
    assert "Cette mesure était déjà enregistrée : elle ne l'est qu'une fois." in page
    assert "Mesure ajoutée." not in page


def test_the_same_photo_twice_is_stored_once(representative, db) -> None:  # noqa: ANN001
    """The same photo sent twice within 10 s (the API, then the page's form) was stored twice;
    now the second gets the first (API: 200, ``probable_duplicate``; the page says it)."""
    from tests.conftest import csrf_token

    report_id = _report(representative)
    data = _gps_jpeg()
    first = _post_photo(representative, report_id, data)
    again = _post_photo(representative, report_id, data, filename="copie.jpg")
    assert (first.status_code, again.status_code) == (201, 200), again.get_json()
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.get_json()["url"] == again.headers["Location"] == first.get_json()["url"]
    assert again.get_json()["warnings"] == [{
        "code": "probable_duplicate", "detail": "identical to a photo you added seconds ago; the first one is returned",
        "photo_id": first.get_json()["id"]}]
    representative.login()
    token = csrf_token(representative.client.get(f"/signalements/{report_id}").get_data(as_text=True))
    page = representative.client.post(f"/signalements/{report_id}/photos", data={
        "csrf_token": token, "photo": (io.BytesIO(data), "photo.jpg", "image/jpeg")},
        content_type="multipart/form-data", follow_redirects=True).get_data(as_text=True).replace("&#39;", "'")
    assert "Cette photo était déjà enregistrée : elle ne l'est qu'une fois." in page
    assert _count(db, Photo, report_id) == 1
    other = _post_photo(representative, report_id, _gps_jpeg(size=(42, 20)))
    assert other.status_code == 201 and _count(db, Photo, report_id) == 2
