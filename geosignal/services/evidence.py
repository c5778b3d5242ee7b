"""Evidence attached to a report: speed-test measurements and photos (Flask-free).

- **Speed tests**: download and upload (Mbit/s), latency (ms), signal (dBm), operator
  (:data:`geosignal.vocab.OPERATORS`) and when it was measured; each value within
  :data:`~geosignal.models.evidence.SPEED_TEST_RANGES`, at least one value given. Every fault
  of a body is reported together (422, ``errors`` with a JSON pointer each).
- **Photos**: JPEG or PNG (sniffed from the bytes, never from the name or the declared type),
  at most :data:`MAX_PHOTO_BYTES`; decoded with Pillow under a pixel limit (a decompression
  bomb is refused before it is decoded), turned upright (EXIF orientation), converted to sRGB
  when an ICC profile comes with it, scaled down to :data:`MAX_OUTPUT_SIDE` pixels, and
  re-encoded from the bare pixels: no EXIF, GPS, XMP, ICC, comment or text chunk survives.
  Stored in PostgreSQL (``report_photos.data``); deleted :data:`PHOTO_RETENTION_DAYS` days
  after the report is closed (:func:`purge_photos`, ``geosignal purge``).
- **Sent twice** (a double click, a retry): the same speed test (the same values, the same
  instant) or the same photo (the same bytes) added by the same user to the same report less
  than :data:`~geosignal.services.reports.DUPLICATE_WINDOW_S` seconds after the first is not
  stored again: the first is returned (status 200, warning ``probable_duplicate``); two at once
  wait for each other (the report's evidence lock). An ``Idempotency-Key`` replays the first
  answer, as for reports (:func:`_added_once`).
- **Re-confirmation**: a report whose newest evidence (a speed test's ``measured_at``, a
  photo's upload time) is older than :data:`STALE_AFTER_MONTHS` months is *stale*
  (:func:`stale_report_ids`, :func:`evidence_stale` for queries).

Who: the report's readers (:func:`geosignal.policy.may_read_report`) read its evidence;
its commune's representatives and admins add to it (:func:`geosignal.policy.may_add_evidence`)
while it is open.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
import struct
import threading
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, DateTime, func, literal, select, text
from sqlalchemy.orm import Session

from geosignal import contract, policy, vocab
from geosignal.errors import GeosignalError
from geosignal.models import Photo, Report, SpeedTest, User
from geosignal.models.evidence import SPEED_TEST_RANGES
from geosignal.params import number_as_float
from geosignal.services import reports as reports_service
from geosignal.textsafety import pointer_key

#: Largest photo accepted, in bytes (5 MB).
MAX_PHOTO_BYTES = 5 * 1024 * 1024
#: Most pixels an uploaded image may declare, per format (a JPEG is decoded at a reduced scale;
#: a PNG is decoded whole, 4 bytes a pixel at most).
MAX_PIXELS: dict[str, int] = {"jpeg": 64_000_000, "png": 24_000_000}
#: Most pixels decoded from a JPEG: its scale is reduced (1/2, 1/4, 1/8) until it fits, whatever
#: its shape (a 65,000 × 984 strip is not reduced by asking for the output's size: its short side
#: is below it, and it was decoded whole, 320–490 MB).
MAX_DECODED_PIXELS = 24_000_000
#: Longest side of a stored photo, in pixels.
MAX_OUTPUT_SIDE = 2560
#: JPEG quality of a re-encoded photo.
JPEG_QUALITY = 85
#: Most photos and speed tests one report holds.
MAX_PHOTOS = 10
MAX_SPEED_TESTS = 100
#: Evidence older than this (months) is flagged for re-confirmation.
STALE_AFTER_MONTHS = 12
#: Days a closed report keeps its photos (``geosignal purge``); speed tests are kept.
PHOTO_RETENTION_DAYS = 365
#: Oldest measurement date accepted.
OLDEST_MEASUREMENT = datetime(2000, 1, 1, tzinfo=contract.BRUSSELS)  # midnight in Brussels

_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

#: The members a speed-test body may have.
SPEED_TEST_FIELDS: tuple[str, ...] = (*SPEED_TEST_RANGES, "operator", "measured_at")



def _decoder_said(exc: BaseException) -> str:
    """What the image decoder said, as a client may read it: at most 80 characters, without
    the reprs of the server's objects (``<_io.BytesIO object at 0x7f…>``: an address of its
    memory)."""
    said = re.sub(r"<[^<>]* at 0x[0-9a-fA-F]+>", "the upload", str(exc)) or type(exc).__name__
    return said[:80]

def closed_statuses() -> tuple[str, ...]:
    """Return the statuses typed ``closed`` (:data:`geosignal.vocab.STATUS_TYPES`)."""
    return tuple(s for s, kind in vocab.STATUS_TYPES.items() if kind == "closed")


# ---- speed tests --------------------------------------------------------------------------

def validate_speed_test(body: Any) -> dict[str, Any]:
    """Check a speed-test body and return its values.

    ``body``: a JSON object with ``download_mbps``, ``upload_mbps`` (Mbit/s), ``latency_ms``
    (ms), ``signal_dbm`` (dBm) — numbers within :data:`SPEED_TEST_RANGES`, at least one given —
    ``operator`` (optional, :data:`geosignal.vocab.OPERATORS`) and ``measured_at`` (required: ISO
    8601 with offset, a naive time read in Brussels, or a date). Returns a dict of those names
    (absent values None; ``measured_at`` an aware datetime).

    Raises 400 ``invalid_request`` when the body is not an object; otherwise every fault at
    once: 422 ``invalid_attribute`` / ``invalid_datetime`` / ``ambiguous_local_time`` (the
    first fault's code and ``where``) with ``errors`` = every fault (``code``, ``detail``,
    ``pointer``), in field order, unknown members included.
    """
    from geosignal.services.intake.properties import parse_observed_at

    if not isinstance(body, dict):
        raise GeosignalError("invalid_request", "the body must be a JSON object of speed-test values", where="/")
    out: dict[str, Any] = dict.fromkeys(SPEED_TEST_FIELDS)
    faults: list[GeosignalError] = []
    for name, (lo, hi, unit) in SPEED_TEST_RANGES.items():
        value = body.get(name)
        if value is None:
            continue
        number = number_as_float(value)
        if not math.isfinite(number):
            shown = f"a number of {len(str(value))} digits" if isinstance(value, int) and number == math.inf \
                else f"{value!r:.40}"
            faults.append(GeosignalError("invalid_attribute", f"{name} must be a finite number ({unit}); got {shown}.",
                                         where=f"/{name}"))
        elif not lo <= number <= hi:
            faults.append(GeosignalError("invalid_attribute", f"{name} must be between {lo:g} and {hi:g} {unit}; "
                                         f"got {number:g}.", where=f"/{name}", limit=[lo, hi]))
        else:
            out[name] = number + 0.0  # (-0.0 is 0)
    operator = body.get("operator")
    if operator is not None:
        if operator not in vocab.OPERATORS:
            faults.append(GeosignalError("invalid_attribute", f"operator must be one of {', '.join(vocab.OPERATORS)}; "
                                         f"got {operator!r:.40}.", where="/operator", allowed=list(vocab.OPERATORS)))
        else:
            out["operator"] = operator
    measured = body.get("measured_at")
    if measured is None or (isinstance(measured, str) and not measured.strip()):  # blank is missing too
        faults.append(GeosignalError("invalid_datetime", "measured_at is required: when the test was made.",
                                     where="/measured_at", kind="missing"))
    elif not isinstance(measured, str):
        faults.append(GeosignalError("invalid_datetime", "measured_at must be an ISO 8601 date or date-time.",
                                     where="/measured_at"))
    else:
        try:
            when = parse_observed_at(measured, where="/measured_at")
        except GeosignalError as error:
            faults.append(GeosignalError(error.code, error.detail.replace("observed_at", "measured_at"),
                                         where="/measured_at", **_kind(error)))
        else:
            if when is not None and when < OLDEST_MEASUREMENT:
                faults.append(GeosignalError("invalid_datetime", "measured_at is before 2000.", where="/measured_at",
                                             kind="too_early"))
            else:  # (parse_observed_at refused a time in the future)
                out["measured_at"] = when
    # none given at all (a value given but refused is said at its own member, not as missing)
    if all(body.get(n) is None or body.get(n) == "" for n in SPEED_TEST_RANGES):
        faults.append(GeosignalError("invalid_attribute", "give at least one measured value: "
                                     + ", ".join(SPEED_TEST_RANGES) + ".", where="/", kind="no_measure"))
    for name in body:
        if name not in SPEED_TEST_FIELDS:
            faults.append(GeosignalError("invalid_attribute", f"unknown member {str(name)[:40]!r} (known: "
                                         + ", ".join(SPEED_TEST_FIELDS) + ").", where=f"/{pointer_key(name)}"))
    if faults:
        first = faults[0]
        errors = [{"code": f.code, "detail": f.detail, "pointer": f.where, **_kind(f)} for f in faults]
        detail = first.detail if len(faults) == 1 else \
            f"{len(faults)} values are invalid: " + " ".join(f.detail for f in faults)
        raise GeosignalError(first.code, detail, where=first.where, errors=errors, **_kind(first))
    return out


def _kind(error: GeosignalError) -> dict[str, Any]:
    """The ``kind`` of a fault, to pass on (``{}`` when it has none)."""
    return {"kind": error.extra["kind"]} if "kind" in error.extra else {}


@dataclass(frozen=True)
class Added:
    """What adding a piece of evidence answered: its JSON (:func:`speed_test_json`,
    :func:`photo_json`; with ``warnings`` when it is a probable duplicate), ``status`` 201
    (stored now) or 200 (the first of the same, stored seconds ago), and ``replayed`` (the
    stored first answer to the same ``Idempotency-Key``)."""

    doc: dict[str, Any]
    status: int
    replayed: bool = False


def _added_once(session: Session, user: User, *, key: str | None, fingerprint: str,
                first: Callable[[], Any], store: Callable[[], Any], as_json: Callable[..., dict[str, Any]],
                what: str) -> Added:
    """Store a piece of evidence once, as :func:`geosignal.services.reports.create_report`
    stores a report: ``key`` (an ``Idempotency-Key``, or None) replays its first answer
    (:func:`~geosignal.services.reports.replay_idempotent`, with ``fingerprint``); then
    ``first()`` (the same, stored by the user less than ``DUPLICATE_WINDOW_S`` s ago, or None)
    is answered with a ``probable_duplicate`` warning naming it (``<what>_id``), or ``store()``
    stores it. ``as_json`` serialises the row; the answer is remembered under ``key``.

    Two at once: the caller holds the report's evidence lock (:func:`_writable_report`, to its
    commit), so the later one's ``first()``, a later statement, sees what the earlier stored."""
    if key:
        stored = reports_service.replay_idempotent(session, user, key, fingerprint)
        if stored is not None:
            return Added(stored.response_body, stored.response_status, replayed=True)
    earlier = first()
    if earlier is None:
        added = Added(as_json(store(), now=datetime.now(UTC)), 201)
    else:
        doc = as_json(earlier, now=datetime.now(UTC))
        doc["warnings"] = [{"code": "probable_duplicate", "detail": f"identical to a {what.replace('_', ' ')} you "
                            "added seconds ago; the first one is returned", f"{what}_id": earlier.id}]
        added = Added(doc, 200)
    if key:
        reports_service.remember_idempotent(session, user, key, fingerprint, added.status, added.doc, None)
    return added


def _stored_within(session: Session, report: Report, model: Any, limit: int, noun: str, make: Callable[[], Any]) -> Any:
    """Add ``make()``, a ``model`` row of ``report``, unless the report holds ``limit`` of them
    already (422 ``evidence_limit``, naming the ``noun``); flushed, returned."""
    if session.scalar(select(func.count()).where(model.report_id == report.id)) >= limit:
        raise GeosignalError("evidence_limit", f"this report already holds {limit} {noun}")
    row = make()
    session.add(row)
    session.flush()
    return row


def _recently_by(model: Any, report: Report, user: User) -> list[ColumnElement[bool]]:
    """The conditions of ``model``'s rows ``user`` added to ``report`` less than
    :data:`~geosignal.services.reports.DUPLICATE_WINDOW_S` seconds ago (the transaction's time)."""
    return [model.report_id == report.id, model.created_by_id == user.id,
            model.created_at > func.now() - literal(timedelta(seconds=reports_service.DUPLICATE_WINDOW_S))]


def add_speed_test(session: Session, user: User, report_id: str | uuid.UUID, body: Any, *,
                   idempotency_key: str | None = None) -> Added:
    """Validate ``body`` (:func:`validate_speed_test`) and attach it to the report, once; return
    what to answer (:class:`Added`: the test as :func:`speed_test_json`). The caller commits.
    ``body`` may be a function returning it, called once the report is found writable: a
    request's body is then read (and its faults said: 415, ``invalid_json``) only for whoever
    may add evidence.

    The same test (every value equal, ``measured_at`` the same instant) added by ``user`` to
    this report less than :data:`~geosignal.services.reports.DUPLICATE_WINDOW_S` seconds ago is
    not stored again: that one is answered (200, warning ``probable_duplicate``); two at once
    wait for each other. ``idempotency_key`` replays the first answer to that key (the same
    body to the same report; see :func:`_added_once`).

    Raises, in this order: ``not_found`` (404) when the report does not exist or ``user`` may
    not read it, ``forbidden`` (403) when ``user`` may not add evidence to it, ``conflict``
    (409) when the report is closed, the faults of :func:`validate_speed_test` (a body that is
    not an object: 400 ``invalid_request``), the faults of an ``idempotency_key``
    (:func:`~geosignal.services.reports.replay_idempotent`: 400, 422 ``idempotency_key_reused``),
    ``evidence_limit`` (422) beyond :data:`MAX_SPEED_TESTS`.
    """
    report = _writable_report(session, user, report_id)
    values = validate_speed_test(body() if callable(body) else body)
    # what makes two tests one: the values as stored, the instant whatever its offset
    same = json.dumps([values[n] for n in SPEED_TEST_RANGES] + [values["operator"],
                                                                 values["measured_at"].astimezone(UTC).isoformat()])

    def first() -> SpeedTest | None:
        return session.scalars(select(SpeedTest).where(
            *_recently_by(SpeedTest, report, user),
            *(getattr(SpeedTest, name).is_not_distinct_from(value) for name, value in values.items()),
        ).order_by(SpeedTest.id).limit(1)).first()

    def store() -> SpeedTest:
        return _stored_within(session, report, SpeedTest, MAX_SPEED_TESTS, "speed tests",
                              lambda: SpeedTest(report_id=report.id, created_by_id=user.id, **values))

    return _added_once(session, user, key=idempotency_key, what="speed_test", first=first, store=store,
                       as_json=speed_test_json,
                       fingerprint=reports_service.request_fingerprint(same, speed_test_of=str(report.id)))


def speed_test_json(test: SpeedTest, *, now: datetime) -> dict[str, Any]:
    """Return a speed test as JSON: ``id``, the values (Mbit/s, ms, dBm; null when not
    measured), ``operator``, ``measured_at`` and ``created_at`` (ISO 8601, Brussels offset) and
    ``stale`` (measured more than :data:`STALE_AFTER_MONTHS` months before ``now``)."""
    return {"id": test.id, **{n: getattr(test, n) for n in SPEED_TEST_RANGES}, "operator": test.operator,
            "measured_at": contract.format_datetime(test.measured_at),
            "created_at": contract.format_datetime(test.created_at),
            "stale": _is_stale(test.measured_at, now)}


# ---- photos -------------------------------------------------------------------------------

@dataclass(frozen=True)
class ProcessedPhoto:
    """A photo ready to store: re-encoded bytes without metadata, their type and size (px)."""

    data: bytes
    content_type: str
    width: int
    height: int


def sniff_image(data: bytes) -> str | None:
    """Return ``jpeg`` or ``png`` from the first bytes of ``data``, else None."""
    if data.startswith(_JPEG_MAGIC):
        return "jpeg"
    if data.startswith(_PNG_MAGIC):
        return "png"
    return None


def photo_too_large(size: int | None = None) -> GeosignalError:
    """The ``photo_too_large`` error (413) of a photo of ``size`` bytes, or of one beyond what a
    request may carry (``size`` None: its size is unknown); ``limit`` is :data:`MAX_PHOTO_BYTES`."""
    has = f"the photo has {size:,} bytes" if size is not None else "the photo is larger than the request limit"
    return GeosignalError("photo_too_large", f"{has}; at most {MAX_PHOTO_BYTES:,} bytes (5 MB)", limit=MAX_PHOTO_BYTES)


_WHOLE_IMAGES = threading.Lock()


def _load_whole(image: Any) -> None:
    """Decode ``image`` (Pillow), refusing a truncated file (``OSError``) whatever the process's
    ``ImageFile.LOAD_TRUNCATED_IMAGES`` says: WeasyPrint sets it to True when it is imported (the
    commune sheet's PDF), after which a photo cut short was stored half grey."""
    from PIL import ImageFile

    with _WHOLE_IMAGES:
        kept = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        try:
            image.load()
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = kept


def process_photo(data: bytes) -> ProcessedPhoto:
    """Check and re-encode an uploaded photo; return the bytes to store.

    The result has the same format as the upload (JPEG quality :data:`JPEG_QUALITY`, or PNG),
    its pixels upright (EXIF orientation applied), in sRGB, at most :data:`MAX_OUTPUT_SIDE`
    pixels on its longest side, and nothing else: no EXIF (so no GPS), XMP, ICC profile,
    comment or text chunk.

    Raises ``photo_too_large`` (413) above :data:`MAX_PHOTO_BYTES`; ``unsupported_image`` (415)
    when the bytes are not a JPEG or PNG; ``decompression_bomb`` (422) when the image declares
    more than :data:`MAX_PIXELS` pixels (checked from its header, before decoding);
    ``invalid_image`` (422) when it cannot be decoded (damaged, truncated).
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    if len(data) > MAX_PHOTO_BYTES:
        raise photo_too_large(len(data))
    kind = sniff_image(data)
    if kind is None:
        raise GeosignalError("unsupported_image", "the file is not a JPEG or PNG image (read from its content)")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=["JPEG" if kind == "jpeg" else "PNG"])
            width, height = image.size
            if width * height > MAX_PIXELS[kind]:
                raise GeosignalError("decompression_bomb", f"the image declares {width} × {height} pixels; at most "
                                     f"{MAX_PIXELS[kind]:,}", limit=MAX_PIXELS[kind])
            if kind == "jpeg":
                image.draft("RGB", _draft_size(width, height))  # decode at a reduced scale
            _load_whole(image)
            image = _upright_srgb(image, ImageOps)
        except GeosignalError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise GeosignalError("decompression_bomb", "the image declares too many pixels") from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
            raise GeosignalError("invalid_image", f"the image cannot be decoded ({_decoder_said(exc)})") from None
    image = _normalise_mode(image, kind)
    if max(image.size) > MAX_OUTPUT_SIDE:
        image.thumbnail((MAX_OUTPUT_SIDE, MAX_OUTPUT_SIDE), Image.Resampling.LANCZOS)
    bare = Image.frombytes(image.mode, image.size, image.tobytes())  # the pixels alone: no info, no EXIF
    out = io.BytesIO()
    if kind == "jpeg":
        bare.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    else:
        bare.save(out, "PNG")
    return ProcessedPhoto(out.getvalue(), f"image/{kind}", bare.width, bare.height)


def _draft_size(width: int, height: int) -> tuple[int, int]:
    """The size to ask a JPEG decoder for (``Image.draft``): the scale (1, 1/2, 1/4, 1/8) that
    keeps the longest output side at least :data:`MAX_OUTPUT_SIDE` where the image allows it,
    reduced further until at most :data:`MAX_DECODED_PIXELS` pixels are decoded."""
    scale = 1
    while scale < 8 and min(width, height) // (scale * 2) >= MAX_OUTPUT_SIDE:
        scale *= 2
    while scale < 8 and (width // scale) * (height // scale) > MAX_DECODED_PIXELS:
        scale *= 2
    return max(1, width // scale), max(1, height // scale)


#: The transposition of each EXIF orientation (2–8; 1 is upright), as ``ImageOps.exif_transpose``.
_ORIENTATIONS = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE", 6: "ROTATE_270",
                 7: "TRANSVERSE", 8: "ROTATE_90"}


def _upright_srgb(image: Any, image_ops: Any) -> Any:
    """Apply the EXIF orientation, then convert to sRGB when an ICC profile is embedded.

    A damaged EXIF block (a tag of the wrong type: Pillow's ``exif_transpose`` fails writing it
    back) still gives its orientation: the image is turned by it, the rest of the EXIF is
    dropped anyway."""
    from PIL import Image

    try:
        image = image_ops.exif_transpose(image) or image
    except (TypeError, struct.error, ValueError, KeyError, OSError):
        try:
            orientation = image.getexif().get(0x0112)
        except (TypeError, struct.error, ValueError, KeyError, OSError):
            orientation = None
        method = _ORIENTATIONS.get(orientation) if isinstance(orientation, int) else None
        if method is not None:
            image = image.transpose(getattr(Image.Transpose, method))
    icc = image.info.get("icc_profile")
    if icc and image.mode in ("RGB", "RGBA", "CMYK", "L"):
        try:
            from PIL import ImageCms

            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            target = ImageCms.createProfile("sRGB")
            mode = "RGBA" if image.mode == "RGBA" else "RGB"
            image = ImageCms.profileToProfile(image, source, target, outputMode=mode)
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            pass  # an unreadable profile: the pixels are kept as they are, the profile dropped
    return image


def _normalise_mode(image: Any, kind: str) -> Any:
    """Return ``image`` in a mode its format stores plainly: JPEG ``RGB`` or ``L``; PNG
    ``RGB``, ``RGBA``, ``L`` or ``LA``."""
    if kind == "jpeg":
        return image if image.mode in ("RGB", "L") else image.convert("RGB")
    if image.mode in ("RGB", "L") and "transparency" in image.info:  # one transparent colour (tRNS)
        return image.convert("RGBA" if image.mode == "RGB" else "LA")
    if image.mode in ("RGB", "RGBA", "L", "LA"):
        return image
    if image.mode == "P":
        return image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("I", "I;16", "I;16B", "I;16L"):  # 16-bit grey (PNG's deepest): scaled to 8 bits,
        return image.convert("I").point(lambda v: v / 257).convert("L")  # not clipped to white
    if image.mode in ("F", "1"):
        return image.convert("L")
    return image.convert("RGBA")


def add_photo(session: Session, user: User, report_id: str | uuid.UUID, data: bytes | None, *,
              idempotency_key: str | None = None) -> Added:
    """Re-encode ``data`` (:func:`process_photo`) and attach it to the report, once; return
    what to answer (:class:`Added`: its description as :func:`photo_json`). The caller commits.

    The same photo (the same bytes once re-encoded) added by ``user`` to this report less than
    :data:`~geosignal.services.reports.DUPLICATE_WINDOW_S` seconds ago is not stored again, and
    ``idempotency_key`` replays, as in :func:`add_speed_test`.

    Raises, in this order: ``not_found`` (404), ``forbidden`` (403), ``conflict`` (409, closed
    report) as :func:`add_speed_test`; ``invalid_request`` (400) when ``data`` is None (no
    photo sent); the faults of :func:`process_photo`; those of an ``idempotency_key``;
    ``evidence_limit`` (422, beyond :data:`MAX_PHOTOS`).
    """
    report = _writable_report(session, user, report_id)
    if data is None:
        raise GeosignalError("invalid_request", "send the photo as the multipart field 'photo'", where="photo",
                             kind="no_photo")
    processed = process_photo(data)
    sha256 = hashlib.sha256(processed.data).hexdigest()

    def first() -> Photo | None:
        return session.scalars(select(Photo).where(*_recently_by(Photo, report, user), Photo.sha256 == sha256)
                               .order_by(Photo.id).limit(1)).first()

    def store() -> Photo:
        return _stored_within(session, report, Photo, MAX_PHOTOS, "photos", lambda: Photo(
            report_id=report.id, content_type=processed.content_type, width=processed.width, height=processed.height,
            byte_size=len(processed.data), sha256=sha256, data=processed.data, created_by_id=user.id))

    return _added_once(session, user, key=idempotency_key, what="photo", first=first, store=store,
                       as_json=photo_json,
                       fingerprint=reports_service.request_fingerprint(sha256, photo_of=str(report.id)))


def photo_json(photo: Photo, *, now: datetime) -> dict[str, Any]:
    """Return a photo's description (not its bytes): ``id``, ``content_type``, ``width`` and
    ``height`` (px), ``bytes``, ``sha256``, ``created_at`` and ``stale``."""
    return {"id": photo.id, "content_type": photo.content_type, "width": photo.width, "height": photo.height,
            "bytes": photo.byte_size, "sha256": photo.sha256,
            "created_at": contract.format_datetime(photo.created_at), "stale": _is_stale(photo.created_at, now)}


def read_photo(session: Session, user: User | None, report_id: str | uuid.UUID, photo_id: int) -> tuple[bytes, str]:
    """Return (bytes, content type) of a report's photo; ``not_found`` (404) when the photo or
    the report does not exist, or ``user`` may not read the report."""
    report = _readable_report(session, user, report_id)
    row = session.execute(select(Photo.data, Photo.content_type)
                          .where(Photo.id == photo_id, Photo.report_id == report.id)).first()
    if row is None:
        raise GeosignalError("not_found", f"no photo {photo_id} on this report")
    return row.data, row.content_type


# ---- reading, staleness, retention --------------------------------------------------------

def list_evidence(session: Session, user: User | None, report_id: str | uuid.UUID,
                  *, now: datetime | None = None) -> dict[str, Any]:
    """Return a report's evidence: ``report_id``, ``speed_tests`` (newest measurement first),
    ``photos`` (newest first; descriptions, not bytes), ``latest_at`` (the newest evidence's
    time, or null), ``stale`` (true when that is older than :data:`STALE_AFTER_MONTHS`
    months) and ``stale_after_months``. Three queries.

    Raises ``not_found`` (404) when the report does not exist or ``user`` may not read it.
    """
    report = _readable_report(session, user, report_id)
    now = now or datetime.now(UTC)
    tests = session.scalars(select(SpeedTest).where(SpeedTest.report_id == report.id)
                            .order_by(SpeedTest.measured_at.desc(), SpeedTest.id.desc())).all()
    photos = session.scalars(select(Photo).where(Photo.report_id == report.id)
                             .order_by(Photo.created_at.desc(), Photo.id.desc())).all()
    times = [t.measured_at for t in tests] + [p.created_at for p in photos]
    latest = max(times) if times else None
    return {"report_id": str(report.id), "speed_tests": [speed_test_json(t, now=now) for t in tests],
            "photos": [photo_json(p, now=now) for p in photos],
            "latest_at": contract.format_datetime(latest), "stale": _is_stale(latest, now),
            "stale_after_months": STALE_AFTER_MONTHS}


def latest_evidence_at(report_id: Any) -> Any:
    """Return a scalar SQL expression: the time of the newest evidence of the report whose id
    is the column ``report_id`` (a speed test's ``measured_at`` or a photo's upload time), NULL
    when it has none. For queries that list reports (the validation queue)."""
    return func.greatest(
        select(func.max(SpeedTest.measured_at)).where(SpeedTest.report_id == report_id).scalar_subquery(),
        select(func.max(Photo.created_at)).where(Photo.report_id == report_id).scalar_subquery())


def evidence_stale(report_id: Any, now: datetime | None = None) -> ColumnElement[bool]:
    """Return a boolean SQL expression: the report whose id is the column ``report_id`` has
    evidence and its newest is older than :data:`STALE_AFTER_MONTHS` months (before ``now``,
    default the database's ``now()``). NULL-free: false when there is no evidence."""
    reference = func.now() if now is None else literal(now, DateTime(timezone=True))
    cutoff = reference - text(f"interval '{STALE_AFTER_MONTHS} months'")
    return func.coalesce(latest_evidence_at(report_id) < cutoff, False)


def stale_report_ids(session: Session, ids: list[uuid.UUID] | list[str] | tuple, *,
                     now: datetime | None = None) -> set[uuid.UUID]:
    """Return the ids among ``ids`` whose newest evidence is older than
    :data:`STALE_AFTER_MONTHS` months (reports without evidence are not stale). One query."""
    wanted = [i if isinstance(i, uuid.UUID) else uuid.UUID(str(i)) for i in ids]
    if not wanted:
        return set()
    rows = session.execute(text(f"""
        SELECT report_id FROM (
            SELECT report_id, measured_at AS at FROM report_speed_tests WHERE report_id = ANY(:ids)
            UNION ALL
            SELECT report_id, created_at FROM report_photos WHERE report_id = ANY(:ids)) e
        GROUP BY report_id
        HAVING max(at) < CAST(:now AS timestamptz) - interval '{STALE_AFTER_MONTHS} months'"""),
        {"ids": wanted, "now": now or datetime.now(UTC)}).scalars()
    return set(rows)


def purge_photos(session: Session, older_than_days: int = PHOTO_RETENTION_DAYS, *,
                 dry_run: bool = False) -> dict[str, int]:
    """Delete, in one statement, the photos of reports closed (status typed ``closed``) and
    unchanged for more than ``older_than_days`` days (``reports.updated_at``); speed tests
    stay. Returns ``{"photos", "bytes"}``. The caller commits; ``dry_run`` only counts."""
    params = {"days": older_than_days, "closed": list(closed_statuses())}
    where = ("report_id IN (SELECT id FROM reports WHERE status = ANY(:closed) "
             "AND updated_at < now() - make_interval(days => :days))")
    photos, freed = session.execute(text(
        f"SELECT count(*), coalesce(sum(byte_size), 0) FROM report_photos WHERE {where}"), params).one()
    if not dry_run:
        session.execute(text(f"DELETE FROM report_photos WHERE {where}"), params)
    return {"photos": int(photos), "bytes": int(freed)}


def _is_stale(at: datetime | None, now: datetime) -> bool:
    if at is None:
        return False
    return at < _months_before(now, STALE_AFTER_MONTHS)


def _months_before(moment: datetime, months: int) -> datetime:
    """``moment`` minus whole calendar months (the day clamped to the month's length), as
    PostgreSQL's ``- interval 'N months'``."""
    import calendar

    year, month = divmod(moment.year * 12 + moment.month - 1 - months, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def _report(session: Session, report_id: str | uuid.UUID) -> Any:
    try:
        rid = report_id if isinstance(report_id, uuid.UUID) else uuid.UUID(str(report_id))
    except ValueError:
        raise GeosignalError("not_found", f"no report {report_id}") from None
    row = session.execute(select(Report.id, Report.commune_nis, Report.status).where(Report.id == rid)).first()
    if row is None:
        raise GeosignalError("not_found", f"no report {report_id}")
    return row


def _readable_report(session: Session, user: User | None, report_id: str | uuid.UUID) -> Any:
    report = _report(session, report_id)
    if not policy.may_read_report(user, report.commune_nis):
        raise GeosignalError("not_found", f"no report {report_id}")
    return report


def _writable_report(session: Session, user: User, report_id: str | uuid.UUID) -> Any:
    """The report ``user`` adds evidence to, its row share-locked until the caller commits
    (a transition moving it meanwhile, e.g. withdrawing it, is waited for and its status read
    after it: no evidence lands on a report closed at the same moment), and the report's
    evidence lock taken. Raises ``not_found``, ``forbidden``, ``conflict`` (closed)."""
    report = _readable_report(session, user, report_id)
    policy.require(policy.may_add_evidence(user, report.commune_nis),
                   "evidence is added by the report's commune (its representatives) or an admin")
    report = session.execute(select(Report.id, Report.commune_nis, Report.status)
                             .where(Report.id == report.id).with_for_update(read=True)).one()
    policy.require(policy.may_add_evidence(user, report.commune_nis),
                   "evidence is added by the report's commune (its representatives) or an admin")
    if report.status in closed_statuses():
        raise GeosignalError("conflict", f"the report is {report.status}: no evidence can be added to a closed report")
    # one writer of a report's evidence at a time, so that the limits hold
    session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended('evidence:' || :id, 0))"),
                    {"id": str(report.id)})
    return report
