"""Standards, checked with the standards' own tools where they have one: RFC 3339 times against Python's datetime,
CloudEvents with the official SDK, the metrics endpoints with Prometheus' linter (promlint, the checks of `promtool check metrics`). See conftest.py for the
fixtures."""

import base64
import datetime as dt
import subprocess
import urllib.request

import pytest

from conftest import ROOT, make_event, wait_for
from test_api import api, err, master_key, ok, result_record  # noqa: F401 - fixtures and helpers
from test_ops import status_url

def python_rfc3339(text):
    """What hookd should write for an RFC 3339 time: Python's reading of it, in UTC, to the millisecond (rounded
    down, as hookd keeps milliseconds)."""
    t = dt.datetime.fromisoformat(text.upper()).astimezone(dt.timezone.utc)
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")  # strftime's %Y does not pad year 1


# ----------------------------------------------------------------------------------------------------------------
# RFC 3339

VALID_TIMES = ["2026-11-22T06:35:57.123Z", "2026-11-22t06:35:57.123z", "2024-02-29T23:59:59.9999Z",
               "1969-12-31T23:59:59.999Z", "1900-03-01T00:00:00Z", "0001-01-01T01:30:00+01:00",
               "2026-01-01T01:05:57.5-05:30", "2026-12-31T23:59:59-00:00", "9999-12-31T23:59:59.999Z",
               "1960-06-15T10:20:30.45+14:00"]
INVALID_TIMES = ["2026-02-30T00:00:00Z", "2026-02-29T00:00:00Z", "2026-01-01T 1:00:00Z", "2026-01-01 01:00:00Z",
                 "2026-1-01T01:00:00Z", "2026-01-01T01:00:00", "2026-01-01T01:00:00+0100"]


def test_event_times_are_rfc_3339(hookd, add_subscription, receiver, results, deadletter, produce):
    sub = add_subscription()
    h = hookd.start()
    for i, text in enumerate(VALID_TIMES):
        produce(make_event(id=f"evt_ok_{i}", time_=text))
    for i, text in enumerate(INVALID_TIMES):
        produce(make_event(id=f"evt_bad_{i}", time_=text), key=f"bad-{i}")

    reqs = receiver.wait(len(VALID_TIMES), sub["path"])
    got = sorted(r.json()["timestamp"] for r in reqs)
    assert got == sorted(python_rfc3339(t) for t in VALID_TIMES)
    for i, text in enumerate(VALID_TIMES):
        (rec,) = results.wait_event(f"evt_ok_{i}")
        assert rec["event_time"] == python_rfc3339(text)

    recs = deadletter.wait(count=len(INVALID_TIMES))
    assert sorted(r.key for r in recs) == sorted(f"bad-{i}".encode() for i in range(len(INVALID_TIMES)))
    for r in recs:
        assert dict(r.headers)["hookd-reason"] == b"bad-time", r.headers
    with pytest.raises(ValueError):  # Python agrees that there is no 30 February
        dt.datetime.fromisoformat(INVALID_TIMES[0])
    hookd.stop(h)


def test_log_date_filters_are_rfc_3339(api, produce, topics):  # noqa: F811 - api is a fixture
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    for i in range(3):
        produce(result_record(f"msg_{i}", at=t0 + dt.timedelta(hours=i)), topic=topics.results)

    def ids(**params):
        return [x["id"] for x in ok(api.call("GET", "/v1/webhooks/events", params=params))]

    wait_for(lambda: len(ids()) == 3, what="3 rows")
    assert ids(to_date="1969-12-31T23:59:59Z") == [], "a time before 1970 is a bound, not 'absent'"
    assert ids(from_date="1969-12-31T23:59:59Z") == ["msg_2", "msg_1", "msg_0"]
    assert ids(from_date="2026-01-01t00:30:00z", to_date="2026-01-01T01:30:00+00:00") == ["msg_1"]
    for bad in ("2026-02-30T00:00:00Z", "2026-01-01T 1:00:00Z"):
        err(api.call("GET", "/v1/webhooks/events", params={"from_date": bad}), 400, "invalid-param")
    assert ids(to_date="0001-01-01T00:00:00Z") == []


# ----------------------------------------------------------------------------------------------------------------
# CloudEvents, produced and read back with the official SDK


def test_cloudevents_from_the_sdk_in_both_bindings(hookd, add_subscription, receiver, produce):
    from cloudevents.core.bindings import kafka as ce_kafka
    from cloudevents.core.formats.json import JSONFormat
    from cloudevents.core.v1.event import CloudEvent

    v1 = add_subscription()
    v2 = add_subscription(version=2)
    h = hookd.start()
    binary_data = bytes(range(256))
    sent = {}
    for binding in ("structured", "binary"):
        for kind, data, ctype in (("json", {"customer_id": "cus_1", "credits": 7}, "application/json"),
                                  ("bytes", binary_data, "application/octet-stream")):
            ev = CloudEvent({"type": "customer.created", "source": "/crm", "id": f"ce_{binding}_{kind}",
                             "subject": "cus_1", "tenant": "t1", "region": "eu", "datacontenttype": ctype}, data)
            msg = (ce_kafka.to_structured_event if binding == "structured" else ce_kafka.to_binary_event)(ev)
            produce(msg.value, key=msg.key, headers=list(msg.headers.items()))
            sent[ev.get_id()] = ev

    for r in receiver.wait(len(sent), v2["path"]):
        assert r.verified, r.verify_error
        assert r.headers["content-type"] == "application/cloudevents+json"
        got = JSONFormat().read(None, r.body)  # the SDK reads the version 2 body as a CloudEvent
        want = sent[got.get_id()]
        assert got.get_type() == "customer.created" and got.get_source() == "/crm"
        assert got.get_subject() == "cus_1", "version 2 keeps subject"
        assert got.get_extension("region") == "eu" and got.get_extension("tenant") == "t1", "and extensions"
        assert got.get_datacontenttype() == want.get_datacontenttype()
        assert got.get_data() == want.get_data(), f"{got.get_id()}: data as sent (data_base64 decoded for bytes)"
        if isinstance(want.get_data(), bytes):
            assert "data" not in r.json() and "data_base64" in r.json()
    # Version 1 bodies carry no id: two of each kind, binary data as base64 text.
    datas = [r.json()["data"] for r in receiver.wait(len(sent), v1["path"])]
    assert [d for d in datas if isinstance(d, dict)] == [{"customer_id": "cus_1", "credits": 7}] * 2
    assert [base64.b64decode(d) for d in datas if isinstance(d, str)] == [binary_data] * 2
    hookd.stop(h)


# ----------------------------------------------------------------------------------------------------------------
# Prometheus


def promlint_check(url):
    """Prometheus' linter on what url serves: (exit code, findings, the text)."""
    tool = subprocess.run([ROOT / "scripts/promlint/build", "--path"], check=True, capture_output=True, text=True)
    with urllib.request.urlopen(url, timeout=10) as r:
        text = r.read().decode()
    p = subprocess.run([tool.stdout.strip()], input=text, capture_output=True, text=True)
    return p.returncode, (p.stdout + p.stderr).strip(), text


def test_metrics_pass_promlint(hookd, add_subscription, receiver, results, produce, api):  # noqa: F811
    add_subscription()
    add_subscription(status_path="fail", max_retry_count=1)
    h = hookd.start(HOOKD_METRICS_LISTEN="127.0.0.1:0")
    ev = make_event()
    produce(ev)
    produce(b"{not json")
    results.wait_event(ev["id"], count=2)  # a success, and a retry scheduled: every family has series

    rc, findings, text = promlint_check(status_url(h) + "/metrics")
    assert rc == 0 and not findings, f"dispatcher /metrics: {findings}"
    for name in ("hd_retries_total", "hd_match_subscriptions", "hd_match_cache_age_seconds",
                 "hd_delivery_attempt_duration_seconds_bucket"):
        assert f"\n{name}" in text, name

    ok(api.call("GET", "/v1/webhooks/events"))
    rc, findings, text = promlint_check(api.base + "/metrics")
    assert rc == 0 and not findings, f"API /metrics: {findings}"
    assert "hd_api_requests_total" in text
    hookd.stop(h)


# ----------------------------------------------------------------------------------------------------------------
# Standard Webhooks: hookd sign and hookd verify against a delivered webhook and independent implementations


def run_hookd(hookd_bin, *args, body=b""):
    return subprocess.run([str(hookd_bin), *args], input=body, capture_output=True, env={"PATH": "/usr/bin:/bin"})


def test_sign_and_verify_v1_and_v1a(hookd, hookd_bin, add_subscription, receiver, produce):
    import standardwebhooks
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from test_matching import ed25519_keys

    signing_key, public_key = ed25519_keys()
    sub = add_subscription(signing_key=signing_key)
    h = hookd.start()
    produce(make_event())
    (req,) = receiver.wait(1, sub["path"])
    hookd.stop(h)
    wh = ["--id", req.webhook_id, "--timestamp", req.headers["webhook-timestamp"],
          "--signature", req.headers["webhook-signature"]]

    # Support staff checking what a receiver got: both entries verify, a changed body does not.
    for key in (["--secret", sub["secret"]], ["--public-key", public_key]):
        p = run_hookd(hookd_bin, "verify", *wh, *key, body=req.body)
        assert p.returncode == 0 and p.stdout.startswith(b"valid:"), p
        p = run_hookd(hookd_bin, "verify", *wh, *key, body=req.body + b" ")
        assert p.returncode == 1 and p.stdout.startswith(b"invalid:"), p
    assert run_hookd(hookd_bin, "verify", *wh, body=req.body).returncode == 2  # neither key given

    # What hookd sign prints verifies with the reference library (v1) and with cryptography (v1a).
    ts = req.headers["webhook-timestamp"]
    args = ["--id", req.webhook_id, "--timestamp", ts]
    v1 = run_hookd(hookd_bin, "sign", "--secret", sub["secret"], *args, body=req.body)
    assert v1.returncode == 0, v1
    standardwebhooks.Webhook(sub["secret"]).verify(req.body, {"webhook-id": req.webhook_id, "webhook-timestamp": ts,
                                                              "webhook-signature": v1.stdout.decode().strip()})
    v1a = run_hookd(hookd_bin, "sign", "--secret", signing_key, *args, body=req.body)
    assert v1a.returncode == 0 and v1a.stdout.startswith(b"v1a,"), v1a
    Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key[5:])).verify(
        base64.b64decode(v1a.stdout.strip()[4:]), f"{req.webhook_id}.{ts}.".encode() + req.body)
