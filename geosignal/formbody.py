"""Form bodies read as UTF-8 text, strictly: one rule for every form geosignal reads.

Werkzeug reads a form's text leniently: in an ``application/x-www-form-urlencoded`` body a
percent-escape that is no UTF-8 (Latin-1 ``caf%E9``) is kept as written (``caf%E9``), raw bytes
that are no UTF-8 empty the whole form, and a ``multipart/form-data`` text field is decoded with
``errors="replace"`` (``caf�``). The text stored was then not the text typed, where the API
refuses a body that is not UTF-8 (400 ``invalid_json``) and the uploads refuse U+FFFD.

Here a form's field names and text values are decoded strictly: one that is not UTF-8 refuses the
request, 400 ``invalid_request`` with ``kind`` ``not_utf8`` and ``where`` the field's name (its
bytes that are not UTF-8 written ``\\xe9``) — raised where the form is parsed, which for every
write of the pages is before any view runs (:func:`init_app`'s hook), and for the API's forms
(an upload's options) when its view reads them, before anything is stored. A file part's content
is bytes, never decoded, never checked; a text part declaring ``charset=iso-8859-1`` is read as it
declares (Werkzeug's rule); U+FFFD sent as a character (``EF BF BD``) is text like any other.
"""

from __future__ import annotations

import codecs
import io
from typing import IO, Any
from urllib.parse import unquote_to_bytes

from flask import Flask, Request, request
from werkzeug.formparser import FormDataParser, MultiPartParser

from geosignal.errors import GeosignalError

#: Methods whose form :func:`init_app`'s hook reads before the view.
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Media types Werkzeug parses into ``request.form``.
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})

#: The codec :class:`_StrictMultiPartParser` names for a UTF-8 (or ASCII) text part: UTF-8
#: whatever error handling is asked (Werkzeug asks ``replace``), failing with this name.
_STRICT_UTF8 = "geosignal_strict_form_utf_8"


def _strict_decode(data: bytes, errors: str = "strict") -> tuple[str, int]:
    """Decode ``data`` as UTF-8, ignoring ``errors``: bytes that are no UTF-8 raise
    :exc:`UnicodeDecodeError` with the encoding :data:`_STRICT_UTF8`."""
    try:
        return codecs.utf_8_decode(data, "strict", True)
    except UnicodeDecodeError as exc:
        raise UnicodeDecodeError(_STRICT_UTF8, exc.object, exc.start, exc.end, exc.reason) from None


def _find_codec(name: str) -> codecs.CodecInfo | None:
    if name != _STRICT_UTF8:
        return None
    return codecs.CodecInfo(codecs.utf_8_encode, _strict_decode, name=_STRICT_UTF8)


codecs.register(_find_codec)  # answers its own name only: every other lookup is unchanged


def not_utf8(field: bytes | str | None, exc: UnicodeDecodeError) -> GeosignalError:
    """The refusal of a form whose field ``field`` (its name as sent; None: a part's headers)
    is not UTF-8 text (``exc``: where its decoding failed, in bytes of the value)."""
    name = field.decode("utf-8", "backslashreplace") if isinstance(field, bytes) else field
    said = f"The form field {name!r} is" if name is not None else "A part's headers (its name or file name) are"
    return GeosignalError("invalid_request", f"{said} not UTF-8 text ({exc.reason} at byte {exc.start}); "
                          "send the form's text in UTF-8. Nothing was stored.", where=name or "form", kind="not_utf8")


def check_urlencoded(body: bytes) -> None:
    """Refuse (:func:`not_utf8`) an ``application/x-www-form-urlencoded`` body with a field name
    or value that is not UTF-8 once ``+`` and percent-escapes are decoded (pairs split on ``&``,
    as Werkzeug splits them; raw bytes count as sent)."""
    for pair in body.split(b"&"):
        name, _, value = pair.partition(b"=")
        name_bytes = unquote_to_bytes(name.replace(b"+", b" "))
        for part in (name_bytes, unquote_to_bytes(value.replace(b"+", b" "))):
            try:
                part.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise not_utf8(name_bytes, exc) from None


class _StrictMultiPartParser(MultiPartParser):
    """Werkzeug's multipart parser, its text parts in UTF-8 or ASCII decoded strictly
    (:data:`_STRICT_UTF8`); the field being decoded is kept in ``field`` to name it."""

    field: str | None = None

    def get_part_charset(self, headers: Any) -> str:
        from werkzeug.http import parse_options_header

        self.field = parse_options_header(headers.get("content-disposition"))[1].get("name")
        charset = super().get_part_charset(headers)
        return _STRICT_UTF8 if charset in ("utf-8", "ascii", "us-ascii") else charset


class StrictFormDataParser(FormDataParser):
    """Werkzeug's form parser, refusing field names and text that are not UTF-8
    (:func:`not_utf8`) instead of changing them."""

    def _parse_urlencoded(self, stream: IO[bytes], mimetype: str, content_length: int | None,
                          options: dict[str, str]) -> Any:
        body = stream.read()
        check_urlencoded(body)
        _, form, files = super()._parse_urlencoded(io.BytesIO(body), mimetype, content_length, options)
        return stream, form, files

    def _parse_multipart(self, stream: IO[bytes], mimetype: str, content_length: int | None,
                         options: dict[str, str]) -> Any:
        parser = _StrictMultiPartParser(stream_factory=self.stream_factory, max_form_memory_size=self.max_form_memory_size,
                                        max_form_parts=self.max_form_parts, cls=self.cls)
        boundary = options.get("boundary", "").encode("ascii")
        if not boundary:
            raise ValueError("Missing boundary")
        try:
            form, files = parser.parse(stream, boundary, content_length)
        except UnicodeDecodeError as exc:  # a text part's value, or a part's headers (Werkzeug decodes them as UTF-8)
            raise not_utf8(parser.field if exc.encoding == _STRICT_UTF8 else None, exc) from None
        return stream, form, files


class FormRequest(Request):
    """Flask's request, its form parsed by :class:`StrictFormDataParser`."""

    form_data_parser_class = StrictFormDataParser


def init_app(app: Flask) -> None:
    """Parse forms strictly (:class:`FormRequest`), and read the form of every write of the
    pages (outside ``/api/`` and ``/ogc``) before its view runs, so that a form that is not
    UTF-8 is refused before anything is done with it."""
    app.request_class = FormRequest

    @app.before_request
    def _read_form_text() -> None:
        if (request.method in _WRITES and request.routing_exception is None and request.mimetype in FORM_TYPES
                and not request.path.startswith(("/api/", "/ogc"))):
            request.form  # noqa: B018 - parsed now: refused here when not UTF-8


__all__ = ["FORM_TYPES", "FormRequest", "StrictFormDataParser", "check_urlencoded", "init_app", "not_utf8"]
