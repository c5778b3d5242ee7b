"""A local stand-in for the outside services a page uses: a Nominatim-compatible address
search (``/search``), XYZ tiles (``/tiles/{z}/{x}/{y}.png``) and a WMS (``/wms?…``), served
by a thread on 127.0.0.1 (tests never need the network). Every request is recorded."""

from __future__ import annotations

import json
import struct
import sys
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

#: Charleroi, Place Charles II (EPSG:4326), as the stub's first answer.
PLACE_CHARLES_II = (4.44375, 50.41044)


def _png(colour: tuple[int, int, int], size: int = 256) -> bytes:
    """Return a plain square PNG of one colour."""
    row = b"\x00" + bytes(colour) * size
    raw = row * size

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


TILE = _png((236, 232, 220))
WMS_TILE = _png((200, 225, 200))


class StubServer:
    """The running stub: ``base`` URL, ``requests`` seen (path, query dict, headers), and
    ``search_answer`` (status, content type, body) the search answers with."""

    def __init__(self) -> None:
        self.base = ""
        self.requests: list[tuple[str, dict[str, list[str]], dict[str, str]]] = []
        results = [
            {"place_id": 1, "lat": str(PLACE_CHARLES_II[1]), "lon": str(PLACE_CHARLES_II[0]),
             "display_name": "Place Charles II, Charleroi, Hainaut, Wallonie, 6000, Belgique"},
            {"place_id": 2, "lat": "50.8467", "lon": "4.3525",
             "display_name": "Place Charles II, Bruxelles, 1000, Belgique"},
            {"place_id": 3, "lat": "NaN", "lon": "4.4", "display_name": "sans position"},
        ]
        self.search_answer: tuple[int, str, bytes] = (200, "application/json", json.dumps(results).encode())

    def of(self, path: str) -> list[dict[str, list[str]]]:
        """Return the queries of the requests made to ``path``."""
        return [q for p, q, _ in self.requests if p == path]


@contextmanager
def stub_services() -> Iterator[StubServer]:
    """Run the stub on a free loopback port; yield it (its ``base`` set)."""
    stub = StubServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            parts = urlsplit(self.path)
            stub.requests.append((parts.path, parse_qs(parts.query), dict(self.headers)))
            if parts.path == "/search":
                status, kind, body = stub.search_answer
            elif parts.path.startswith("/tiles/"):
                status, kind, body = 200, "image/png", TILE
            elif parts.path == "/wms":
                status, kind, body = 200, "image/png", WMS_TILE
            else:
                status, kind, body = 404, "text/plain", b"not here"
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return

    class Server(ThreadingHTTPServer):
        def handle_error(self, request, client_address) -> None:  # noqa: ANN001
            if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
                return  # a browser leaving a page drops the tiles it no longer wants: not an error
            super().handle_error(request, client_address)

    server = Server(("127.0.0.1", 0), Handler)
    stub.base = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
