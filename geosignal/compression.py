"""Compression: gzip for what geosignal keeps or sends compressed itself (export runs' copies,
import reports: ISA-L, ``isal``, the same gzip format as zlib's at several times its speed, at
one level), and Flask-Compress for the other answers a browser may take compressed
(:func:`init_app`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from flask import Flask, Response, request
from flask_compress import Compress
from isal import isal_zlib

#: gzip level (ISA-L): 1 compresses the Features ~17× at ~1.9 GB/s (zlib level 1: ~0.23 GB/s).
GZIP_LEVEL = 1


def gzip_compressor() -> Any:
    """Return a compressor writing one gzip member (ISA-L, :data:`GZIP_LEVEL`)."""
    return isal_zlib.compressobj(GZIP_LEVEL, isal_zlib.DEFLATED, 16 + isal_zlib.MAX_WBITS)


def gzip_chunks(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Compress a stream of byte chunks as one gzip member, chunk by chunk (a 33 MB per-feature
    import report in about 20 ms, a twentieth of its size)."""
    deflate = gzip_compressor()
    for chunk in chunks:
        out = deflate.compress(chunk)
        if out:
            yield out
    yield deflate.flush()


#: What Flask-Compress compresses for a client that accepts it (zstd, Brotli or gzip): the
#: API's JSON and GeoJSON (the communes' boundaries, 3.5 MB with the 581 Belgian communes; the
#: per-commune figures), CSV, scripts, styles and SVG. Not HTML pages: a page reflecting what
#: a visitor typed beside a secret (the CSRF token) would leak it to a compression-length
#: attack (BREACH). Not streamed answers (exports: their own gzip copy, :func:`gzip_chunks`),
#: nor those already encoded (an import's report).
COMPRESSED_MIMETYPES = ("application/json", "application/geo+json", "application/problem+json",
                        "application/schema+json", "application/vnd.oai.openapi+json", "text/csv",
                        "text/css", "text/javascript", "application/javascript", "image/svg+xml")


def init_app(app: Flask) -> None:
    """Compress the answers of :data:`COMPRESSED_MIMETYPES` of ``app`` for clients that accept
    it (Flask-Compress; ``Vary: Accept-Encoding``). Call it before the other extensions: its
    hook then runs last, on the answer as they leave it."""
    app.config.setdefault("COMPRESS_MIMETYPES", list(COMPRESSED_MIMETYPES))
    app.config.setdefault("COMPRESS_ALGORITHM", ["zstd", "br", "gzip"])  # (each in workflow.ETAG_CODINGS)
    app.config.setdefault("COMPRESS_STREAMS", False)
    app.config.setdefault("COMPRESS_MIN_SIZE", 1024)
    Compress(app)

    @app.after_request
    def _files_whole(response: Response) -> Response:
        """A script or style served from a file (``/static``, ``/vendor``: Leaflet 148 KB) is
        read whole here, so that Flask-Compress, whose hook runs after this one, compresses it:
        sent as a file, it was a streamed answer, which it leaves as it is (``COMPRESS_STREAMS``
        off for the exports). Only whole answers (200) of those types; never a range (206)."""
        if (response.status_code == 200 and response.direct_passthrough
                and response.mimetype in COMPRESSED_MIMETYPES
                and (request.endpoint == "static" or (request.endpoint or "").startswith("vendor."))):
            response.direct_passthrough = False
            response.set_data(response.get_data())
        return response
