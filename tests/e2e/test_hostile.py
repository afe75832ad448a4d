"""`hookd api` against hostile clients: slow, malformed, oversized, non-UTF-8 and wrong-charset requests on every
route. Whatever arrives, the API answers with a clear 4xx (or closes a connection that never finishes its request),
never a 5xx, never a hang, and /healthz keeps answering. Output that quotes hostile input (error bodies, dead-letter
headers, log lines) stays valid UTF-8. The API process and its keys: test_api.py's fixtures."""

import json
import re
import select
import socket
import threading
import time

import pytest
import requests

from conftest import TIMEOUT, wait_for
from test_api import SUBS, api, err, master_key, new_sub, ok  # noqa: F401 - fixtures

# A route of every shape (the ids need not exist: the answers must be clear either way).
ROUTES = [
    ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics"),
    ("GET", SUBS), ("POST", SUBS),
    ("GET", SUBS + "/sub_x"), ("PUT", SUBS + "/sub_x"), ("PATCH", SUBS + "/sub_x"), ("DELETE", SUBS + "/sub_x"),
    ("POST", SUBS + "/sub_x/rotate-secret"), ("POST", SUBS + "/sub_x/rotate-signing-key"), ("POST", SUBS + "/sub_x/test"),
    ("GET", SUBS + "/sub_x/events"), ("DELETE", SUBS + "/sub_x/events/evt_x"),
    ("POST", SUBS + "/sub_x/events/evt_x/retry"),
    ("GET", "/v1/webhooks/events"),
    ("GET", "/v1/webhooks/event-types"), ("PUT", "/v1/webhooks/event-types/x.y"),
    ("DELETE", "/v1/webhooks/event-types/x.y"),
    ("GET", "/v1/webhooks/api-keys"), ("DELETE", "/v1/webhooks/api-keys/0123456789abcdef"),
]


def port_of(api):
    return int(api.base.rsplit(":", 1)[1])


def raw(api, data, source="127.0.0.1", timeout=TIMEOUT):
    """Sends data on a fresh connection and returns the server's answer: one whole response, or what came before
    it closed the connection (the timeout passing fails the test: a hang)."""
    s = socket.create_connection(("127.0.0.1", port_of(api)), timeout=timeout, source_address=(source, 0))
    out = b""
    try:
        try:
            s.sendall(data)
        except OSError:  # the server answered and closed before reading everything
            pass
        while chunk := s.recv(65536):
            out += chunk
            head, sep, body = out.partition(b"\r\n\r\n")
            length = re.search(rb"(?im)^content-length: *(\d+)", head)
            if sep and length and len(body) >= int(length.group(1)):
                break
    except ConnectionResetError:
        pass
    finally:
        s.close()
    return out


def status_of(answer):
    assert answer.startswith(b"HTTP/1."), answer[:200]
    return int(answer.split(b" ", 2)[1])


def health_ok(api, timeout=3):
    return requests.get(api.base + "/healthz", timeout=timeout).status_code == 200


# ----------------------------------------------------------------------------------------------------------------
# Slow clients


@pytest.fixture
def slow_api(hookd, hookd_bin, master_key, topics, tmp_path):  # noqa: F811 - master_key is a fixture
    """An API with a 4 s request timeout, so that slow clients are cut within the test."""
    from test_api import Api, free_port

    env = hookd.env(HOOKD_MASTER_KEY=master_key, HOOKD_API_PORT=free_port(), HOOKD_API_REQUEST_TIMEOUT_MS=4000,
                    HOOKD_RECORDER_GROUP_ID=topics.group + ".recorder")
    a = Api(hookd_bin, env, tmp_path / "hookd-api.log")
    yield a
    a.stop()


def test_slow_loris_cannot_starve_health(slow_api):
    """70 connections from three addresses trickle one header line every 2 s: /healthz keeps answering at once, and
    each slow connection is closed once it has had the request timeout without finishing its request."""
    conns, stop = [], threading.Event()
    for i in range(70):
        s = socket.create_connection(("127.0.0.1", port_of(slow_api)), timeout=TIMEOUT,
                                     source_address=(f"127.0.0.{2 + i % 3}", 0))
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        conns.append(s)
    opened = time.monotonic()
    closed_at = {}

    def trickle():
        while not stop.is_set() and len(closed_at) < len(conns):
            for i, s in enumerate(conns):
                if i in closed_at:
                    continue
                try:
                    s.sendall(f"x-slow-{int(time.monotonic())}: 1\r\n".encode())
                except OSError:
                    closed_at[i] = time.monotonic() - opened
            stop.wait(2)

    t = threading.Thread(target=trickle, daemon=True)
    t.start()
    try:
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:  # a thread per connection left it without an answer for as long
            assert health_ok(slow_api, timeout=5), "healthz while slow clients trickled headers"
            time.sleep(0.5)

        def all_closed():
            for i, s in enumerate(conns):
                if i in closed_at:
                    continue
                s.settimeout(0.05)
                try:
                    if s.recv(1) == b"":
                        closed_at[i] = time.monotonic() - opened
                except (socket.timeout, BlockingIOError):
                    pass
                except OSError:
                    closed_at[i] = time.monotonic() - opened
            return len(closed_at) == len(conns)

        wait_for(all_closed, timeout=20, what="the server to close every slow connection")
        assert min(closed_at.values()) >= 3, "closed before the 4 s request timeout"
    finally:
        stop.set()
        t.join(timeout=5)
        for s in conns:
            s.close()
    assert health_ok(slow_api)


def test_connections_per_address_are_bounded(api):
    """One address holds at most api.max.connections.per.ip (32) connections; the others are closed at once, and
    clients from elsewhere are served."""
    conns = []
    try:
        for _ in range(40):
            s = socket.create_connection(("127.0.0.1", port_of(api)), timeout=TIMEOUT, source_address=("127.0.0.5", 0))
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never finished
            conns.append(s)
        time.sleep(2)
        readable, _, _ = select.select(conns, [], [], 0)
        refused = 0
        for s in readable:
            try:
                refused += s.recv(1) == b""
            except OSError:
                refused += 1
        assert refused == 40 - 32, f"{refused} of 40 connections from one address were closed"
        assert health_ok(api)
    finally:
        for s in conns:
            s.close()


def test_slow_body_is_cut(slow_api):
    """A body that trickles in slower than the request timeout allows is not waited for."""
    key = slow_api.keys["t1"]
    s = socket.create_connection(("127.0.0.1", port_of(slow_api)), timeout=TIMEOUT)
    try:
        s.sendall(f"POST {SUBS} HTTP/1.1\r\nHost: x\r\nx-api-key: {key}\r\ncontent-type: application/json\r\n"
                  "content-length: 1000\r\n\r\n{".encode())
        started = time.monotonic()
        s.settimeout(1)
        closed = False
        while time.monotonic() - started < 15 and not closed:
            try:
                s.sendall(b" ")
                closed = s.recv(1) == b""
            except socket.timeout:
                pass
            except OSError:
                closed = True
        assert closed and time.monotonic() - started < 10, "a trickled body held the connection"
    finally:
        s.close()


# ----------------------------------------------------------------------------------------------------------------
# Malformed, oversized, non-UTF-8 and wrong-charset requests on every route


def test_methods_on_every_route(api):
    """A method a route does not have is 405 with an Allow header listing those it has (RFC 9110), on /metrics too;
    a path that is not a route is 404."""
    allowed = {}
    for method, path in ROUTES:
        allowed.setdefault(path, set()).add(method)
    for path, methods in allowed.items():
        for method in ["TRACE", "OPTIONS", "PATCH", "PUT", "DELETE", "POST", "GET", "FOO"]:
            if method in methods:
                continue
            resp = api.call(method, path, key="admin")
            e = err(resp, 405, "method-not-allowed")
            allow = {m.strip() for m in resp.headers["allow"].split(",")}
            assert methods <= allow and method not in allow, (method, path, resp.headers["allow"], e)
    err(api.call("GET", "/v1/webhooks/nothing"), 404, "not-found")
    err(api.call("TRACE", "/nothing"), 404, "not-found")


def test_ids_are_decoded_once(api, db):
    """Path segments are percent-decoded exactly once: an id holding '%' or '/' can be addressed, and a %00 in
    an id never finds another one."""
    s = new_sub(api, name="decoded-once")
    sid = s["id"]
    ok(api.call("GET", f"{SUBS}/{sid}"))
    err(api.call("GET", f"{SUBS}/{sid}%00junk"), 404, "not-found")
    err(api.call("GET", f"{SUBS}/{sid}%2500"), 404, "not-found")
    for eid in ["evt_50%", "evt/with/slashes", "evt_%41"]:
        db.deliveries.insert_one({"_id": "row_" + eid, "tenant": "t1", "subscription_id": sid, "event_id": eid,
                                  "event_type": "customer.created", "status": "failed", "sort_key": "0:" + eid})
        quoted = requests.utils.quote(eid, safe="")
        ok(api.call("DELETE", f"{SUBS}/{sid}/events/{quoted}"))
    assert db.deliveries.count_documents({"subscription_id": sid}) == 0


def test_malformed_requests_never_5xx_or_hang(api):
    key = api.keys["admin"].encode()
    for method, path in ROUTES:
        m, p = method.encode(), path.encode()
        answers = {
            "non-UTF-8 path": raw(api, m + b" " + p + b"/%ff%fe HTTP/1.1\r\nHost: x\r\nx-api-key: " + key + b"\r\n\r\n"),
            "non-UTF-8 query": raw(api, m + b" " + p + b"?limit=%ff HTTP/1.1\r\nHost: x\r\nx-api-key: " + key +
                                   b"\r\n\r\n"),
            "raw 8-bit path": raw(api, m + b" " + p + b"\xff HTTP/1.1\r\nHost: x\r\nx-api-key: " + key + b"\r\n\r\n"),
            "non-UTF-8 key": raw(api, m + b" " + p + b" HTTP/1.1\r\nHost: x\r\nx-api-key: \xff\xfe\r\n\r\n"),
            "latin-1 body": raw(api, m + b" " + p + b" HTTP/1.1\r\nHost: x\r\nx-api-key: " + key +
                                b"\r\ncontent-type: application/json; charset=iso-8859-1\r\ncontent-length: 12\r\n\r\n"
                                b'{"name":"\xe9"}'),
            "body as text": raw(api, m + b" " + p + b" HTTP/1.1\r\nHost: x\r\nx-api-key: " + key +
                                b"\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\n{}"),
            "bad chunking": raw(api, m + b" " + p + b" HTTP/1.1\r\nHost: x\r\nx-api-key: " + key +
                                b"\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n{}\r\n"),
            "huge header": raw(api, m + b" " + p + b" HTTP/1.1\r\nHost: x\r\nx-big: " + b"a" * 200_000 + b"\r\n\r\n"),
            "huge declared body": raw(api, m + b" " + p + b" HTTP/1.1\r\nHost: x\r\nx-api-key: " + key +
                                      b"\r\ncontent-type: application/json\r\ncontent-length: 99999999999\r\n\r\n{"),
            "no version": raw(api, m + b" " + p + b"\r\n\r\n"),
            "bad version": raw(api, m + b" " + p + b" HTTP/9.9\r\nHost: x\r\n\r\n"),
            "header without colon": raw(api, m + b" " + p + b" HTTP/1.1\r\nHost: x\r\nbroken header\r\n\r\n"),
        }
        for what, answer in answers.items():
            if not answer:  # closing a connection that cannot carry a request is a clear answer too
                continue
            status = status_of(answer)
            # 505 is the answer HTTP itself has for an unknown major version.
            assert status < 500 or (what == "bad version" and status == 505), (method, path, what, answer[:300])
            if path.startswith("/v1/") and what.startswith("non-UTF-8"):
                assert status in (400, 401), (method, path, what, answer[:300])
            if path.startswith("/v1/") and what in ("latin-1 body", "body as text"):
                assert status == 415 and b'"invalid-content-type"' in answer, (method, path, what, answer[:300])
    assert health_ok(api)


def test_non_utf8_and_long_text_in_errors_stay_utf8(api):
    """Error bodies quote input cut on character boundaries; lengths the contract gives in characters count
    characters."""
    base = {"event_types": ["customer.created"], "url": "http://127.0.0.1:9/h"}
    # The message quotes the name's first 64 bytes: "x" + 40 x "é" puts a character across that limit.
    e = err(api.call("POST", SUBS, json_body={**base, "headers": {"x" + "é" * 40: "v"}}), 422)
    assert any("x" + "é" * 31 + '"' in d["message"] for d in e["details"]), e
    resp = api.call("POST", SUBS, json_body={**base, "headers": {"é" * 100: "v"}})
    resp.content.decode("utf-8")  # strict: raises on a cut character
    s = new_sub(api, name="é" * 150)
    assert s["name"] == "é" * 150
    err(api.call("POST", SUBS, json_body={**base, "name": "é" * 201}), 422)
    long_id = "é" * 120
    e = err(api.call("GET", f"{SUBS}/{requests.utils.quote(long_id)}"), 404)
    assert e["message"].encode("utf-8")


def test_dead_letter_header_and_log_lines_stay_utf8(hookd, add_subscription, deadletter, produce):
    """A decoding error quoting the event's own bytes: the hookd-error dead-letter header and every log line stay
    valid UTF-8 (the lines JSON), the quoted header name cut on a character boundary."""
    from test_matching import ce_headers

    add_subscription()
    h = hookd.start()
    name = "ce_" + "é" * 40  # the error quotes the name's first 64 bytes: "ce_" and 30.5 characters
    produce(b'{"a": 1}', key="bad-utf8", headers=ce_headers() + [(name, b"\xff\xfe")])
    (rec,) = deadletter.wait(count=1)
    error = dict(rec.headers)["hookd-error"].decode("utf-8")  # strict: a cut character raises
    assert "ce_" + "é" * 30 + " " in error, error
    hookd.stop(h)
    lines = [l for l in open(h.log_path, "rb").read().splitlines() if l.startswith(b"{")]
    assert lines
    for line in lines:
        json.loads(line.decode("utf-8"))
