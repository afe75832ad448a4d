"""End-to-end fixtures: the real `hookd` binary against real Kafka, real FerretDB (MongoDB protocol) and a local
HTTP receiver that checks signatures with the reference Standard Webhooks verifier (PyPI `standardwebhooks`).

Everything a test touches is named uniquely (topics, consumer group, database, receiver paths), so tests do not
see each other's data and can run against long-lived services.

Environment:
  HOOKD_BIN         the binary (default build/san/hookd under the repository root)
  HOOKD_TEST_KAFKA  Kafka bootstrap servers (default 127.0.0.1:19092; see `scripts/services env`)
  HOOKD_TEST_MONGO  MongoDB URI (default mongodb://127.0.0.1:27018/)
"""

import base64
import datetime as dt
import http.server
import json
import os
import re
import secrets
import signal
import socket
import struct
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pymongo
import pytest
import requests
import standardwebhooks
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

ROOT = Path(__file__).resolve().parents[2]
KAFKA = os.environ.get("HOOKD_TEST_KAFKA", "127.0.0.1:19092")
MONGO = os.environ.get("HOOKD_TEST_MONGO", "mongodb://127.0.0.1:27018/")
HOOKD_BIN = Path(os.environ.get("HOOKD_BIN", "build/san/hookd"))
if not HOOKD_BIN.is_absolute():
    HOOKD_BIN = ROOT / HOOKD_BIN

# The first consumer-group join alone takes a few seconds (group.initial.rebalance.delay.ms), so be generous.
TIMEOUT = float(os.environ.get("HOOKD_TEST_TIMEOUT", "30"))

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:", "SUMMARY: UndefinedBehavior")


# ----------------------------------------------------------------------------------------------------------------
# Small helpers


def wait_for(cond, timeout=TIMEOUT, what="condition", interval=0.05):
    """Poll cond() until it returns something truthy; return that value, or fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def produce_until(produce, results, want, timeout=30, settle=0.5):
    """Produces fresh events until the results of one satisfy want(records), as a dispatcher catches up with a
    change; returns that event's records (the last event's when none did within timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        ev = make_event()
        produce(ev)
        results.wait_event(ev["id"])
        results.settle(settle)
        recs = results.for_event(ev["id"])
        if want(recs) or time.monotonic() >= deadline:
            return recs


def new_secret():
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def iso_now():
    now = dt.datetime.now(dt.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def parse_iso(text):
    """ISO 8601 / RFC 3339 -> aware datetime (accepts a trailing Z)."""
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def make_event(type="customer.created", tenant="t1", data=None, id=None, time_=None, omit_time=False):
    ev = {"id": id or f"evt_{uuid.uuid4().hex}", "type": type, "tenant": tenant}
    if not omit_time:
        ev["time"] = time_ or iso_now()
    ev["data"] = data if data is not None else {"customer_id": f"cus_{secrets.token_hex(4)}", "credits": 42}
    return ev


# ----------------------------------------------------------------------------------------------------------------
# Services


@pytest.fixture(scope="session")
def hookd_bin():
    if not os.access(HOOKD_BIN, os.X_OK):
        pytest.fail(f"hookd binary not found at {HOOKD_BIN} (build it with `make build/san/hookd`, or set HOOKD_BIN)")
    return HOOKD_BIN


@pytest.fixture(scope="session")
def kafka_admin():
    try:
        admin = KafkaAdminClient(bootstrap_servers=KAFKA, client_id="hookd-e2e-admin", request_timeout_ms=15000)
    except Exception as e:  # noqa: BLE001 - any connection failure means the same thing here
        pytest.fail(f"Kafka not reachable at {KAFKA} ({e}); start it with `scripts/services up`")
    yield admin
    admin.close()


@pytest.fixture(scope="session")
def producer(kafka_admin):
    p = KafkaProducer(bootstrap_servers=KAFKA, acks="all", linger_ms=0, client_id="hookd-e2e-producer")
    yield p
    p.close(timeout=10)


@pytest.fixture(scope="session")
def mongo_client():
    client = pymongo.MongoClient(MONGO, serverSelectionTimeoutMS=5000, tz_aware=True)
    try:
        client.admin.command("ping")
    except Exception as e:  # noqa: BLE001
        pytest.fail(f"MongoDB (FerretDB) not reachable at {MONGO} ({e}); start it with `scripts/services up`")
    yield client
    client.close()


# ----------------------------------------------------------------------------------------------------------------
# Per-test names, topics, database


@dataclass
class Names:
    run: str
    events: str
    results: str
    deadletter: str
    group: str
    db: str
    retry: str
    ops: str


@pytest.fixture
def names():
    u = uuid.uuid4().hex
    return Names(
        run=u,
        events=f"e2e.{u}.events",
        results=f"e2e.{u}.results",
        deadletter=f"e2e.{u}.deadletter",
        group=f"e2e.{u}.group",
        db=f"e2e_{u[:16]}",
        retry=f"e2e.{u}.retry",
        ops=f"e2e.{u}.ops",
    )


@pytest.fixture
def topics(names, kafka_admin):
    """Create the test's topics up front (events: 3 partitions; results, dead-letter: 1) and wait until usable."""
    wanted = [
        NewTopic(names.events, num_partitions=3, replication_factor=1),
        NewTopic(names.results, num_partitions=1, replication_factor=1),
        NewTopic(names.deadletter, num_partitions=1, replication_factor=1),
    ]
    kafka_admin.create_topics(wanted, timeout_ms=15000)
    kafka_admin.wait_for_topics([t.name for t in wanted], timeout_ms=int(TIMEOUT * 1000))
    yield names
    # Every topic of the test, including those hookd created (retry tiers, ops): left behind, thousands of them
    # slowed the local broker down for every later run.
    try:
        mine = [t for t in kafka_admin.list_topics() if t.startswith(f"e2e.{names.run}.")]
        kafka_admin.delete_topics(mine, timeout_ms=15000)
    except Exception:  # noqa: BLE001 - cleanup is best effort; names are unique anyway
        pass


@pytest.fixture
def db(names, mongo_client):
    database = mongo_client[names.db]
    yield database
    try:
        mongo_client.drop_database(names.db)
    except Exception:  # noqa: BLE001
        pass


# ----------------------------------------------------------------------------------------------------------------
# HTTP receiver


@dataclass
class Request:
    method: str
    path: str
    headers: dict  # lower-case names
    body: bytes
    verified: bool
    verify_error: str | None
    at: float = field(default_factory=time.monotonic)
    wall: float = field(default_factory=time.time)  # wall clock, to compare with HTTP dates and hookd's timestamps

    @property
    def webhook_id(self):
        return self.headers.get("webhook-id")

    def json(self):
        return json.loads(self.body)


@dataclass
class Reply:
    """What a scripted receiver path does with one request (see Receiver.script):
    action "reply" answers status with headers and body (or, with stream_bytes, a body of that many bytes written in
    1 MiB chunks, never held in memory); "hang" never answers (the handler waits until the receiver closes, or
    until hookd gives up and closes the connection); "reset" closes the connection with a TCP RST, no answer.
    delay sleeps before acting."""

    status: int = 200
    headers: dict = field(default_factory=dict)
    body: bytes = b'{"received":true}'
    action: str = "reply"
    stream_bytes: int = 0
    delay: float = 0.0


class Receiver:
    """Records every request. The status answered is chosen by the first path segment (/ok/... -> 200,
    /fail/... -> 500, see STATUSES; set_status() changes or adds one); the secret used to verify a request is the
    one registered for its path (each subscription gets its own path, so requests are attributable).
    script(segment, fn) makes a first path segment programmable: fn(n, request) -> Reply or an int status, where n
    counts the earlier requests at the same full path (0 for the first)."""

    STATUSES = {"ok": 200, "created": 201, "accepted": 202, "nocontent": 204, "bad": 400, "gone": 410, "fail": 500,
                "unavailable": 503}

    def __init__(self):
        self.statuses = dict(self.STATUSES)
        self.scripts = {}  # first path segment -> fn(n, request) -> Reply | int
        self.secrets = {}  # path -> whsec_ secret
        self.requests = []
        self.lock = threading.Lock()
        self.closing = threading.Event()
        self.hung_closed = []  # (monotonic time, path) when hookd closed a connection the receiver left hanging
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as libcurl will reuse connections

            def log_message(self, *args):
                pass

            def _read_body(self):
                if "chunked" in (self.headers.get("transfer-encoding") or "").lower():
                    out = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return out
                        out += self.rfile.read(size)
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("content-length") or 0))

            def _handle(self):
                body = self._read_body()
                req, n = receiver._record(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                                          body)
                fn = receiver.scripts.get(self.path.strip("/").split("/")[0])
                reply = fn(n, req) if fn else receiver.status_for(self.path)
                if isinstance(reply, int):
                    reply = Reply(status=reply)
                if reply.delay:
                    receiver.closing.wait(reply.delay)
                if reply.action == "hang":
                    self.close_connection = True
                    self.connection.settimeout(0.05)
                    while not receiver.closing.is_set():
                        try:
                            if self.connection.recv(1) == b"":  # the client gave up and closed
                                with receiver.lock:
                                    receiver.hung_closed.append((time.monotonic(), self.path))
                                return
                        except TimeoutError:
                            pass
                        except OSError:
                            return
                    return
                if reply.action == "reset":
                    self.close_connection = True
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                    return
                self.send_response(reply.status)
                headers = {"content-type": "application/json", **reply.headers}
                for k, v in headers.items():
                    self.send_header(k, str(v))
                length = reply.stream_bytes if reply.stream_bytes else len(reply.body)
                self.send_header("content-length", str(length))
                self.end_headers()
                try:
                    if reply.stream_bytes:
                        chunk = b"x" * (1 << 20)
                        left = reply.stream_bytes
                        while left > 0:
                            self.wfile.write(chunk[:left])
                            left -= min(left, len(chunk))
                    else:
                        self.wfile.write(reply.body)
                except OSError:
                    self.close_connection = True

            do_POST = do_PUT = do_GET = _handle

        class Server(http.server.ThreadingHTTPServer):
            # hookd opens up to http.max.inflight.per.host connections per host and worker at once; with the
            # default listen backlog of 5 the kernel drops handshakes and requests then hang until hookd's timeout.
            request_queue_size = 1024

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, name="e2e-receiver", daemon=True)
        self.thread.start()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def status_for(self, path):
        return self.statuses.get(path.strip("/").split("/")[0], 404)

    def set_status(self, segment, status):
        self.statuses[segment] = status

    def script(self, segment, fn):
        self.scripts[segment] = fn

    def register(self, path, secret):
        self.secrets[path] = secret

    def _record(self, method, path, headers, body):
        secret = self.secrets.get(path)
        verified, err = False, None
        if secret is None:
            err = f"no secret registered for {path}"
        else:
            try:
                standardwebhooks.Webhook(secret).verify(body, headers)
                verified = True
            except Exception as e:  # noqa: BLE001 - record why, the test asserts on it
                err = f"{type(e).__name__}: {e}"
        req = Request(method, path, headers, body, verified, err)
        with self.lock:
            n = sum(1 for r in self.requests if r.path == path)
            self.requests.append(req)
        return req, n

    def received(self, path=None):
        with self.lock:
            return [r for r in self.requests if path is None or r.path == path]

    def by_webhook_id(self, path=None):
        out = {}
        for r in self.received(path):
            out.setdefault(r.webhook_id, []).append(r)
        return out

    def wait(self, count, path=None, timeout=TIMEOUT):
        return wait_for(lambda: len(self.received(path)) >= count and self.received(path), timeout,
                        f"{count} request(s) at {path or 'the receiver'} (have {len(self.received(path))})")

    def close(self):
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


# ----------------------------------------------------------------------------------------------------------------
# Subscriptions


@pytest.fixture
def add_subscription(db, receiver):
    """add_subscription(status_path="ok", **fields) -> the inserted document. Its URL is
    http://127.0.0.1:<port>/<status_path>/<sub id>, and its secret is registered with the receiver."""

    def add(status_path="ok", **fields):
        sub_id = fields.pop("_id", None) or f"sub_{secrets.token_hex(8)}"
        path = f"/{status_path}/{sub_id}"
        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        doc = {
            "_id": sub_id,
            "tenant": "t1",
            "name": f"e2e {sub_id}",
            "event_types": ["customer.created"],
            "url": receiver.url(path),
            "secret": new_secret(),
            "headers": {"x-custom": "v"},
            "is_active": True,
            "max_retry_count": 5,
            "success_code": None,
            "created_at": now,
            "updated_at": now,
        }
        doc.update(fields)
        receiver.register(path, doc["secret"])
        db.subscriptions.insert_one(doc)
        log_change(db, sub_id)
        doc["path"] = path  # for the tests only, not stored
        return doc

    return add


def log_change(db, *sub_ids):
    """What a tool writing straight to the database does after each write, as the API does: the ids go into the
    current second's document of the change log (docs/api.md, "How changes reach the dispatchers")."""
    for sub_id in sub_ids:
        db.subscription_changes.update_one({"_id": str(int(time.time()))}, {"$push": {"ids": sub_id}}, upsert=True)


# ----------------------------------------------------------------------------------------------------------------
# Kafka produce / read


@pytest.fixture
def produce(topics, producer):
    """produce(value, key=None, topic=events, partition=None, headers=None) -> RecordMetadata (topic, partition,
    offset). A dict value is JSON-encoded; str/bytes are sent as they are."""

    def send(value, key=None, topic=None, partition=None, headers=None):
        if isinstance(value, dict):
            value = json.dumps(value).encode()
        elif isinstance(value, str):
            value = value.encode()
        if isinstance(key, str):
            key = key.encode()
        fut = producer.send(topic or topics.events, value=value, key=key, partition=partition, headers=headers or [])
        return fut.get(timeout=TIMEOUT)

    return send


class TopicReader:
    """Reads a topic from the beginning without a consumer group, accumulating records across calls."""

    def __init__(self, topic, bootstrap=None):
        self.topic = topic
        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap or KAFKA, group_id=None, enable_auto_commit=False,
                                      auto_offset_reset="earliest", client_id="hookd-e2e-reader")
        parts = wait_for(lambda: self.consumer.partitions_for_topic(topic), what=f"metadata of {topic}")
        self.consumer.assign([TopicPartition(topic, p) for p in sorted(parts)])
        self.consumer.seek_to_beginning()
        self.records = []

    def poll(self, timeout_ms=100):
        for batch in self.consumer.poll(timeout_ms=timeout_ms).values():
            self.records.extend(batch)
        return self.records

    def wait(self, pred=None, count=1, timeout=TIMEOUT, what=None):
        """Poll until at least count records satisfy pred (default: any record); return those records."""
        pred = pred or (lambda r: True)

        def check():
            hits = [r for r in self.poll() if pred(r)]
            return hits if len(hits) >= count else None

        return wait_for(check, timeout, what or f"{count} record(s) on {self.topic}", interval=0)

    def settle(self, seconds=1.0):
        """Keep reading for a while (used before asserting that something did NOT appear)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.poll()
        return self.records

    def close(self):
        self.consumer.close()


@pytest.fixture
def reader():
    """reader(topic, bootstrap=None) -> TopicReader, closed at teardown. For topics hookd creates itself (retry
    tiers, the ops topic): it waits until the topic exists."""
    made = []

    def make(topic, bootstrap=None, cls=None):
        r = (cls or TopicReader)(topic, bootstrap)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


class Results(TopicReader):
    def values(self):
        return [json.loads(r.value) for r in self.poll()]

    def for_event(self, event_id):
        return [v for v in self.values() if v.get("event_id") == event_id]

    def wait_event(self, event_id, count=1, timeout=TIMEOUT):
        recs = self.wait(lambda r: json.loads(r.value).get("event_id") == event_id, count, timeout,
                         f"{count} results record(s) for {event_id}")
        return [json.loads(r.value) for r in recs]


@pytest.fixture
def results(topics):
    r = Results(topics.results)
    yield r
    r.close()


@pytest.fixture
def deadletter(topics):
    r = TopicReader(topics.deadletter)
    yield r
    r.close()


# ----------------------------------------------------------------------------------------------------------------
# The hookd process


class Hookd:
    def __init__(self, binary, env, log_path):
        self.log_path = log_path
        self.log_file = open(log_path, "ab")
        self.proc = subprocess.Popen([str(binary), "dispatch"], env=env, stdin=subprocess.DEVNULL,
                                     stdout=self.log_file, stderr=subprocess.STDOUT)
        self.returncode = None

    def alive(self):
        return self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid

    def status_kb(self, field_name):
        """A /proc/<pid>/status figure in kB (VmHWM: peak resident set; VmRSS: current)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
        raise KeyError(field_name)

    def stop(self, sig=signal.SIGTERM, timeout=TIMEOUT):
        """Signal hookd and wait for it; returns (exit code, seconds taken). Does not assert."""
        t0 = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.log_file.close()
                pytest.fail(f"hookd did not exit within {timeout:.0f} s of {sig.name}; killed")
        self.returncode = self.proc.returncode
        self.log_file.close()
        return self.returncode, time.monotonic() - t0

    def log(self):
        return Path(self.log_path).read_text(errors="replace")

    def sanitizer_report(self):
        text = self.log()
        return next((m for m in SANITIZER_MARKERS if m in text), None)

    def assert_clean_exit(self):
        report = self.sanitizer_report()
        assert report is None, f"sanitizer report in hookd's output ({report!r}); see {self.log_path}"
        assert self.returncode == 0, f"hookd exited with {self.returncode}; see {self.log_path}"


@pytest.fixture
def hookd(hookd_bin, topics, db, tmp_path):
    """hookd.start(**extra_env) -> Hookd; hookd.stop(h) -> SIGTERM, asserts exit 0 and no sanitizer report.
    Any process still running at teardown is stopped the same way (and its exit checked). On failure, pytest shows
    the tail of each process's output."""
    started = []

    class Launcher:
        def env(self, **extra):
            env = {k: v for k, v in os.environ.items() if not k.startswith("HOOKD_")}
            env.update({
                "HOOKD_BROKERS": KAFKA,
                "HOOKD_TOPICS": topics.events,
                "HOOKD_RESULTS_TOPIC": topics.results,
                "HOOKD_DEADLETTER_TOPIC": topics.deadletter,
                "HOOKD_GROUP_ID": topics.group,
                "HOOKD_STORE": MONGO,
                "HOOKD_MONGO_DATABASE": topics.db,
                "HOOKD_SUBSCRIPTIONS_REFRESH_MS": "200",
                "HOOKD_RETRY_TOPIC_PREFIX": topics.retry,
                "HOOKD_RETRY_SCHEDULE": "1s,2s,4s",
                "HOOKD_OPS_TOPIC": topics.ops,
                # The receivers of the tests listen on loopback, which deliveries refuse by default.
                "HOOKD_HTTP_ALLOW_CIDRS": "127.0.0.0/8",
                "HOOKD_LOG_LEVEL": "debug",
                # One worker unless a test asks for more: the default (one per CPU) makes every start a rebalance.
                "HOOKD_WORKERS": "1",
                "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0",
                "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
            })
            env.update({k: str(v) for k, v in extra.items()})
            return env

        def start(self, **extra_env):
            h = Hookd(hookd_bin, self.env(**extra_env), tmp_path / f"hookd-{len(started) + 1}.log")
            started.append(h)
            return h

        def stop(self, h, timeout=TIMEOUT):
            code, took = h.stop(timeout=timeout)
            h.assert_clean_exit()
            return took

    yield Launcher()

    failures = []
    for h in started:
        if h.returncode is None:
            h.stop()
            try:
                h.assert_clean_exit()
            except AssertionError as e:
                failures.append(str(e))
    for i, h in enumerate(started, 1):
        lines = h.log().splitlines()
        print(f"\n----- hookd run {i}: exit {h.returncode}, {h.log_path} (last 150 of {len(lines)} lines) -----")
        print("\n".join(lines[-150:]))
    if failures:
        pytest.fail("; ".join(failures))


WEBHOOK_ID = re.compile(r"^msg_[0-9a-f]{32}$")


# ----------------------------------------------------------------------------------------------------------------
# `hookd api`


class Api:
    """A running `hookd api` with an API key per tenant in keys (default: t1, t2, and "admin", an admin key of t1).
    dialects is api.dialects (None: the default, the native API alone at /v1/webhooks)."""

    def __init__(self, hookd_bin, env, log_path, dialects=None, tenants=("t1", "t2")):
        if dialects is not None:
            env = dict(env, HOOKD_API_DIALECTS=dialects)
        self.bin, self.env, self.log_path = hookd_bin, env, log_path
        self.base = f"http://127.0.0.1:{env['HOOKD_API_PORT']}"
        self.log_file = open(log_path, "ab")
        self.proc = subprocess.Popen([str(hookd_bin), "api"], env=env, stdin=subprocess.DEVNULL,
                                     stdout=self.log_file, stderr=subprocess.STDOUT)
        wait_for(self._up, what="hookd api /healthz")
        self.keys = {t: self.new_key(t) for t in tenants}
        self.keys["admin"] = self.new_key(tenants[0], admin=True)

    def _up(self):
        assert self.proc.poll() is None, self.log()
        try:
            return requests.get(self.base + "/healthz", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    def new_key(self, tenant, admin=False):
        args = [str(self.bin), "apikey", "create", "--tenant", tenant] + (["--admin"] if admin else [])
        out = subprocess.run(args, env=self.env, capture_output=True, check=True, timeout=TIMEOUT)
        return out.stdout.decode().strip()

    def call(self, method, path, key="t1", json_body=None, data=None, headers=None, params=None):
        """A request with the native API's authentication (x-api-key) and a JSON body."""
        h = dict(headers or {})
        if key is not None:
            h.setdefault("x-api-key", self.keys.get(key, key))
        if json_body is not None:
            data = json.dumps(json_body).encode()
        if data is not None:
            h.setdefault("content-type", "application/json")
        return requests.request(method, self.base + path, data=data, headers=h, params=params, timeout=TIMEOUT)

    def log(self):
        return open(self.log_path, errors="replace").read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=TIMEOUT)
        self.log_file.close()
        text = self.log()
        report = next((m for m in SANITIZER_MARKERS if m in text), None)
        assert report is None, f"sanitizer report in hookd api's output ({report!r}); see {self.log_path}"
        assert self.proc.returncode == 0, f"hookd api exited with {self.proc.returncode}; see {self.log_path}"


@pytest.fixture
def master_key():
    return base64.b64encode(secrets.token_bytes(32)).decode()


@pytest.fixture
def api_server(hookd, hookd_bin, master_key, topics, tmp_path):
    """api_server(dialects=None, tenants=("t1", "t2"), **env) -> a started Api on a free port, with the test's
    database and topics; every one started is stopped at teardown (exit 0, no sanitizer report)."""
    started = []

    def start(dialects=None, tenants=("t1", "t2"), **extra_env):
        env = hookd.env(HOOKD_MASTER_KEY=master_key, HOOKD_API_PORT=free_port(),
                        HOOKD_RECORDER_GROUP_ID=topics.group + ".recorder", **extra_env)
        a = Api(hookd_bin, env, tmp_path / f"hookd-api-{len(started) + 1}.log", dialects, tenants)
        started.append(a)
        return a

    yield start
    for a in started:
        a.stop()
        lines = a.log().splitlines()
        print(f"\n----- hookd api: {a.log_path} (last 100 of {len(lines)} lines) -----")
        print("\n".join(lines[-100:]))


# ----------------------------------------------------------------------------------------------------------------
# SMTP sink (aiosmtpd in a thread) for failure-notification e-mails


@dataclass
class Mail:
    mail_from: str
    rcpt_tos: list
    data: bytes

    def message(self):
        import email
        import email.policy

        return email.message_from_bytes(self.data, policy=email.policy.default)


class SmtpSink:
    """A local SMTP server keeping what it receives; it refuses the addresses in refuse at RCPT TO, as a real server
    refuses an unknown mailbox."""

    def __init__(self, refuse=()):
        from aiosmtpd.controller import Controller

        sink = self
        self.mails = []
        self.lock = threading.Lock()

        class Handler:
            async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
                if address in refuse:
                    return "550 5.1.1 no such mailbox"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server, session, envelope):
                with sink.lock:
                    sink.mails.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content
                                           or envelope.content))
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=free_port())
        self.controller.start()
        self.url = f"smtp://127.0.0.1:{self.controller.port}"

    def received(self):
        with self.lock:
            return list(self.mails)

    def close(self):
        self.controller.stop()


@pytest.fixture
def smtp_sink():
    s = SmtpSink()
    yield s
    s.close()


def free_port(pair=False):
    """A free TCP port on 127.0.0.1 (with pair=True, one whose successor is free too, for Kafka's controller)."""
    while True:
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            port = a.getsockname()[1]
            if not pair:
                return port
            try:
                with socket.socket() as b:
                    b.bind(("127.0.0.1", port + 1))
                    return port
            except OSError:
                continue


# ----------------------------------------------------------------------------------------------------------------
# A private Kafka broker (scripts/services with its own run directory), for tests that restart the broker: the
# shared one on 19092 is used by other people and must not be disturbed.


class PrivateKafka:
    def __init__(self, run_dir):
        self.port = free_port(pair=True)
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.env = dict(os.environ, HOOKD_SERVICES_RUN=str(run_dir), HOOKD_KAFKA_PORT=str(self.port))
        self.run_dir = Path(run_dir)

    def _services(self, cmd, timeout=240):
        subprocess.run([str(ROOT / "scripts" / "services"), cmd], env=self.env, check=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)

    def up(self):
        self._services("kafka-up")

    def restart(self):
        self._services("restart-kafka")

    def down(self):
        self._services("kafka-down")

    def create_topics(self, names):
        """The test's events (3 partitions), results and dead-letter topics on this broker."""
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="hookd-e2e-private",
                                 request_timeout_ms=30000)
        admin.create_topics([NewTopic(names.events, 3, 1), NewTopic(names.results, 1, 1),
                             NewTopic(names.deadletter, 1, 1)], timeout_ms=30000)
        admin.wait_for_topics([names.events, names.results, names.deadletter], timeout_ms=60000)
        admin.close()

    def log(self):
        p = self.run_dir / "kafka.log"
        return p.read_text(errors="replace") if p.exists() else ""


class PrivateMongo:
    """A FerretDB of a test's own, to take away and bring back (its data directory survives the restart)."""

    def __init__(self, run_dir):
        self.port = free_port()
        self.uri = f"mongodb://127.0.0.1:{self.port}/"
        self.env = dict(os.environ, HOOKD_SERVICES_RUN=str(run_dir), HOOKD_MONGO_PORT=str(self.port))

    def _services(self, cmd):
        subprocess.run([str(ROOT / "scripts" / "services"), cmd], env=self.env, check=True, timeout=120,
                       stdin=subprocess.DEVNULL)

    def up(self):
        self._services("ferretdb-up")

    def down(self):
        self._services("ferretdb-down")

    def client(self):
        return pymongo.MongoClient(self.uri, serverSelectionTimeoutMS=5000, tz_aware=True)


@pytest.fixture
def private_mongo(tmp_path):
    m = PrivateMongo(tmp_path / "mongo-services")
    m.up()
    yield m
    m.down()


@pytest.fixture
def private_kafka(tmp_path):
    k = PrivateKafka(tmp_path / "services")
    try:
        k.up()
    except subprocess.CalledProcessError as e:
        pytest.fail(f"private Kafka did not start ({e}): {k.log()[-3000:]}")
    yield k
    try:
        k.down()
    except Exception as e:  # noqa: BLE001
        print(f"stopping the private Kafka failed: {e}")
