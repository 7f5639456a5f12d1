"""The REST client against real HTTP servers on 127.0.0.1: keep-alive reuse, the send/finish
split across threads, whole-request deadlines, close() aborting a request, and whether a failed
request may have been sent."""

from __future__ import annotations

import http.server
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from bpbfx import RequestAbortedError, RequestFailedError
from bpbfx.rest import RestClient


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive

    def do_GET(self) -> None:
        server: Server = self.server  # type: ignore[assignment]
        server.paths.append(self.path)
        server.seen.set()
        if self.path.startswith("/slow"):
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            for _ in range(100):
                if server.stop.wait(0.1):
                    return
                self.wfile.write(b"x")
                self.wfile.flush()
            return
        body = b'{"ok":true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.paths: list[str] = []
        self.connections = 0
        self.stop = threading.Event()
        self.seen = threading.Event()

    def get_request(self) -> tuple[socket.socket, object]:
        self.connections += 1
        return super().get_request()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    thread = threading.Thread(target=s.serve_forever, daemon=True)
    thread.start()
    yield s
    s.stop.set()
    s.shutdown()
    s.server_close()


def test_keep_alive_reuses_one_connection(server: Server) -> None:
    """Five requests in a row travel over one TCP connection."""
    client = RestClient(server.url)
    for i in range(5):
        assert client.request("GET", "/x", params={"i": i}).json() == {"ok": True}
    client.close()
    assert server.connections == 1 and server.paths == [f"/x?i={i}" for i in range(5)]


def test_send_on_one_thread_finish_on_another(server: Server) -> None:
    """send() writes the request on the calling thread; finish() reads the answer elsewhere."""
    client = RestClient(server.url)
    pending = client.send("GET", "/a")
    result: list[int] = []
    t = threading.Thread(target=lambda: result.append(pending.finish().status))
    t.start()
    t.join(5)
    assert result == [200] and server.paths == ["/a"]
    client.close()


def test_deadline_covers_a_trickled_answer(server: Server) -> None:
    """An answer trickling in a byte every 0.1 s fails at the whole-request deadline, maybe sent."""
    client = RestClient(server.url)
    started = time.monotonic()
    with pytest.raises(RequestFailedError) as info:
        client.request("GET", "/slow", timeout=0.5)
    assert time.monotonic() - started < 2 and info.value.maybe_sent and "0.5s" in str(info.value)
    client.close()


def test_close_aborts_a_request_in_progress(server: Server) -> None:
    """close() from another thread ends a request that is waiting for its answer at once."""
    client = RestClient(server.url)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            client.request("GET", "/slow", timeout=30)
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertion
            errors.append(exc)

    t = threading.Thread(target=call)
    t.start()
    assert server.seen.wait(5)  # the request has reached the server
    started = time.monotonic()
    client.close()
    t.join(5)
    assert time.monotonic() - started < 1 and isinstance(errors[0], RequestAbortedError)
    with pytest.raises(RequestAbortedError) as info:
        client.request("GET", "/x")
    assert info.value.maybe_sent is False


def test_refused_connection_was_not_sent() -> None:
    """Nothing listening: the failure says the request cannot have been sent."""
    with socket.create_server(("127.0.0.1", 0)) as spare:
        port = spare.getsockname()[1]
    client = RestClient(f"http://127.0.0.1:{port}", timeout=2)
    with pytest.raises(RequestFailedError) as info:
        client.request("POST", "/api/v1/order", body=b"{}")
    assert info.value.maybe_sent is False
    client.close()
