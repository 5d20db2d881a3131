"""Fixtures for the data tests: a catalogue that forgets the test's datasets, and a local HTTP server."""

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from recur_core.data import catalogue, list_datasets


@pytest.fixture
def isolated_catalogue(monkeypatch):
    """The catalogue with every installed entry loaded; datasets the test registers are gone afterwards."""
    list_datasets()
    monkeypatch.setattr(catalogue, "_CATALOGUE", dict(catalogue._CATALOGUE))


@dataclass
class Route:
    """What the server answers for one path.

    body: the full file. cut_after: send a Content-Length for the whole answer, then close the
    connection after this many bytes. ranges: answer ``Range: bytes=N-`` with 206 (else 200, all bytes).
    """

    body: bytes
    cut_after: int | None = None
    ranges: bool = True


@dataclass
class LocalSite:
    """Routes served on 127.0.0.1 and the requests received, as (path, Range header or None)."""

    port: int = 0
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[tuple[str, str | None]] = field(default_factory=list)

    def serve(self, path: str, body: bytes, cut_after: int | None = None, ranges: bool = True) -> str:
        """Answer GET ``path`` with ``body`` (see :class:`Route`); returns its URL."""
        self.routes[path] = Route(body, cut_after, ranges)
        return self.url(path)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        site = self.server.site
        requested_range = self.headers.get("Range")
        site.requests.append((self.path, requested_range))
        route = site.routes.get(self.path)
        if route is None:
            self.send_error(404)
            return
        start = 0
        if requested_range and route.ranges:
            start = int(requested_range.removeprefix("bytes=").removesuffix("-"))
            if start >= len(route.body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(route.body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(route.body) - 1}/{len(route.body)}")
        else:
            self.send_response(200)
        payload = route.body[start:]
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload if route.cut_after is None else payload[: route.cut_after])
        self.close_connection = True

    def log_message(self, format, *args):
        """Keep the test output quiet."""


@pytest.fixture
def site(monkeypatch):
    """An HTTP server on 127.0.0.1 (a free port) in a thread, stopped when the test ends."""
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.site = LocalSite(port=server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server.site
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
