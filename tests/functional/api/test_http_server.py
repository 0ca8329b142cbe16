"""The local server from the outside: bad requests answered with problem+json on every transport, and the
HTTP layer itself (keep-alive, concurrency, timeouts, protocol errors, body cap, shutdown) over raw sockets."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.functional.api.conftest import Api, Client, assert_problem

pytestmark = pytest.mark.functional


def _json_post(client: Client, body: bytes, content_type: str = "application/json") -> Any:
    return client.request("POST", "/v1/workflows", data=body, headers={"Content-Type": content_type})


def test_malformed_json_is_400(client: Client) -> None:
    problem = assert_problem(_json_post(client, b'{"name": "x", '), 400)
    assert problem["errors"][0]["field"] == "body"


def test_json_nested_100000_deep_is_400(client: Client) -> None:
    problem = assert_problem(_json_post(client, b"[" * 100_000 + b"]" * 100_000), 400)
    assert "deeper" in problem["detail"]


def test_json_a_little_too_deep_is_400(client: Client) -> None:
    body = b'{"name": "x", "nodes": ' + b"[" * 80 + b"]" * 80 + b"}"
    assert "deeper" in assert_problem(_json_post(client, body), 400)["detail"]


def test_a_5000_digit_integer_is_400(client: Client) -> None:
    problem = assert_problem(_json_post(client, b'{"name": ' + b"9" * 5000 + b"}"), 400)
    assert "digits" in problem["detail"]


def test_nan_is_not_json(client: Client) -> None:
    assert_problem(_json_post(client, b'{"name": NaN}'), 400)


def test_unknown_method_is_405_with_allow(client: Client) -> None:
    reply = client.request("TRACE", "/v1/workflows")
    assert_problem(reply, 405)
    assert "GET" in reply.headers["allow"]


def test_invalid_utf8_is_400_not_stored(api: Api) -> None:
    client = api.client("http")
    before = client.get("/v1/workflows").json()
    reply = _json_post(client, b'{"name": "caf\xe9"}')
    assert "UTF-8" in assert_problem(reply, 400)["detail"]
    assert client.get("/v1/workflows").json() == before


# -- the HTTP layer over raw sockets ---------------------------------------------------------------------


def _raw(url: str, data: bytes, *, read_timeout: float = 30.0) -> bytes:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=read_timeout) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def _status_and_body(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


@pytest.mark.parametrize("length", [b"-1", b"abc", b"1, 2"])
def test_bad_content_length_is_400_problem(api: Api, length: bytes) -> None:
    raw = _raw(api.server.url, b"POST /v1/workflows HTTP/1.1\r\nHost: x\r\nContent-Length: " + length +
               b"\r\n\r\n{}")
    status, headers, body = _status_and_body(raw)
    assert status == 400 and headers["content-type"] == "application/problem+json"
    assert json.loads(body)["status"] == 400


def test_declared_body_over_the_cap_is_413_without_reading_it(api: Api) -> None:
    raw = _raw(api.server.url, b"POST /v1/workflows HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Content-Length: 999999999999\r\n\r\n{")
    status, headers, body = _status_and_body(raw)
    assert status == 413 and headers["content-type"] == "application/problem+json"
    assert json.loads(body)["status"] == 413


def test_keep_alive_serves_many_requests_on_one_connection(api: Api) -> None:
    host, port = api.server.url.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.connect()
    sock = conn.sock
    for _ in range(5):
        conn.request("GET", "/v1/workflows", headers={"Authorization": f"Bearer {api.keys['a']}"})
        response = conn.getresponse()
        assert response.status == 200 and response.version == 11
        response.read()
        assert conn.sock is sock  # the same TCP connection each time
    conn.close()


def test_concurrent_clients_all_answered(api: Api) -> None:
    errors: list[BaseException] = []
    statuses: list[int] = []
    lock = threading.Lock()

    def client_loop() -> None:
        with requests.Session() as session:
            for _ in range(10):
                try:
                    r = session.get(f"{api.server.url}/v1/workflows",
                                    headers={"Authorization": f"Bearer {api.keys['a']}"}, timeout=60)
                    with lock:
                        statuses.append(r.status_code)
                except BaseException as error:  # counted, asserted below
                    with lock:
                        errors.append(error)

    threads = [threading.Thread(target=client_loop) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors and statuses == [200] * 120


@pytest.fixture
def short_timeouts(api: Api) -> Iterator[str]:
    from mediaflow.api import create_app
    from mediaflow.embedded.bootstrap import embedded_context
    from mediaflow.embedded.http_server import ApiServer, ServerLimits

    limits = ServerLimits(keep_alive_seconds=1, idle_read_seconds=1, request_read_seconds=3, graceful_seconds=5)
    server = ApiServer(create_app(embedded_context(api.service)).resolve, "127.0.0.1", 0, limits=limits).start()
    try:
        yield server.url
    finally:
        server.stop()


def _closed_within(url: str, data: bytes, seconds: float, trickle: bool = False) -> float:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=seconds) as sock:
        if trickle:  # one byte at a time, each well inside the idle limit: only the whole-request limit stops it
            sock.settimeout(0.3)
            for byte in data:
                try:
                    sock.sendall(bytes([byte]))
                    if sock.recv(1) == b"":
                        break
                except TimeoutError:
                    continue
                except OSError:
                    break
            else:
                pytest.fail("the server never closed a trickling connection")
        else:
            sock.sendall(data)
            sock.settimeout(seconds)
            assert sock.recv(1024) == b""
    return time.monotonic() - started


def test_idle_and_half_sent_connections_are_closed(short_timeouts: str) -> None:
    _closed_within(short_timeouts, b"", 30)  # nothing sent
    _closed_within(short_timeouts, b"POST /v1/workflows HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{", 30)
    _closed_within(short_timeouts, b"GET /v1/work", 30)  # headers never finished


def test_a_trickling_client_is_cut_at_the_request_limit(short_timeouts: str) -> None:
    request = b"GET /v1/workflows HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 400 + b"\r\n\r\n"
    assert _closed_within(short_timeouts, request, 60, trickle=True) < 60


def test_stop_lets_a_request_in_flight_finish(api: Api) -> None:
    from mediaflow.embedded.http_server import ApiServer, ServerLimits

    entered = threading.Event()

    def slow_resolve(event: dict[str, Any], context: Any) -> dict[str, Any]:
        entered.set()
        time.sleep(1.0)
        return {"statusCode": 200, "headers": {"Content-Type": "text/plain"}, "body": "done"}

    server = ApiServer(slow_resolve, "127.0.0.1", 0, limits=ServerLimits(graceful_seconds=20)).start()
    result: dict[str, Any] = {}

    def call() -> None:
        result["reply"] = requests.get(server.url + "/slow", timeout=60)

    thread = threading.Thread(target=call)
    thread.start()
    assert entered.wait(30)
    server.stop()
    thread.join(60)
    assert result["reply"].status_code == 200 and result["reply"].text == "done"
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url + "/slow", timeout=5)


def test_the_listening_socket_is_tcp_so_responses_are_not_held_by_nagle(api: Api) -> None:
    # asyncio sets TCP_NODELAY on accepted sockets only when the listener's protocol is IPPROTO_TCP; without
    # it each keep-alive response waits for the client's delayed ACK (measured: 46 ms instead of 2 ms).
    assert api.server.socket.proto == socket.IPPROTO_TCP
