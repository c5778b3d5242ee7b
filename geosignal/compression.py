"""gzip for what geosignal keeps or sends compressed (export runs' copies, import reports): ISA-L
(``isal``), the same gzip format as zlib's at several times its speed, at one level."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

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
