"""Operations end to end: the status server (/metrics, /healthz, /readyz) of `hookd dispatch`, and `hookd replay`
re-delivering events from topic offsets or times. See conftest.py for the fixtures."""

import json
import re
import subprocess
import urllib.error
import urllib.request

from conftest import TIMEOUT, WEBHOOK_ID, make_event, wait_for

SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """Prometheus text format -> {(name, frozenset(labels)): value}; asserts every sample line parses and every
    family is declared once."""
    out, types = {}, set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            name = line.split()[2]
            assert name not in types, f"family {name} declared twice"
            types.add(name)
            continue
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a Prometheus sample line: {line!r}"
        labels = frozenset(LABEL.findall(m.group(3) or ""))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def metric(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


def get(url):
    """(status, body) of a GET, without raising on 5xx."""
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode(), r.headers.get("content-type")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers.get("content-type")


def status_url(h):
    """The status server's base URL, from the line hookd logs when it listens (port 0 picks a free one)."""
    def port():
        for line in h.log().splitlines():
            if '"component":"status"' in line:
                m = re.search(r"\(port (\d+)\)", line)
                if m:
                    return m.group(1)
        assert h.alive(), "hookd exited before its status server started"
        return None

    return f"http://127.0.0.1:{wait_for(port, what='the status server to listen')}"


def replay(hookd, hookd_bin, *args, timeout=TIMEOUT * 2):
    return subprocess.run([str(hookd_bin), "replay", *args], env=hookd.env(), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def assert_no_sanitizer(proc):
    for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
        assert marker not in proc.stderr, proc.stderr


# ----------------------------------------------------------------------------------------------------------------
# Status server


def test_health_ready_and_metrics_move(hookd, add_subscription, receiver, results, produce):
    ok = add_subscription("ok")
    bad = add_subscription("bad")                      # 400: permanent
    flaky = add_subscription("fail", max_retry_count=1)  # 500 twice: one retry, then exhausted
    h = hookd.start(HOOKD_METRICS_LISTEN="127.0.0.1:0")
    base = status_url(h)

    assert get(base + "/healthz")[0] == 200
    wait_for(lambda: get(base + "/readyz")[0] == 200, what="/readyz to answer 200 (partitions assigned)")
    status, body, ctype = get(base + "/metrics")
    assert status == 200 and ctype.startswith("text/plain; version=0.0.4")
    before = parse_metrics(body)
    assert metric(before, "hd_events_consumed_total") == 0
    assert metric(before, "hd_consumer_partitions_assigned") >= 3

    ev = make_event()
    produce(ev)
    produce(b"{not json")
    results.wait_event(ev["id"], count=4)
    receiver.wait(1, ok["path"])
    receiver.wait(1, bad["path"])
    receiver.wait(2, flaky["path"])

    def settled():
        s = parse_metrics(get(base + "/metrics")[1])
        return s if metric(s, "hd_delivery_attempt_duration_seconds_count") == 4 \
            and metric(s, "hd_deliveries_inflight") == 0 else None

    s = wait_for(settled, what="metrics to count the four attempts")
    assert metric(s, "hd_events_deadlettered_total") == 1
    assert metric(s, "hd_events_matched_total") == 1
    assert metric(s, "hd_deliveries_total", outcome="success", status_class="2xx") == 1
    assert metric(s, "hd_deliveries_total", outcome="permanent", status_class="4xx") == 1
    assert metric(s, "hd_deliveries_total", outcome="retryable", status_class="5xx") == 2
    assert metric(s, "hd_retries_total", tier="0") == 1
    assert metric(s, "hd_delivery_attempt_duration_seconds_bucket", le="+Inf") == 4
    assert metric(s, "hd_match_subscriptions") == 3
    assert 0 <= metric(s, "hd_match_cache_age_seconds") < 60
    lag = {dict(k[1])["partition"]: v for k, v in s.items() if k[0] == "hd_consumer_lag"}
    assert lag and all(v >= 0 for v in lag.values())
    assert get(base + "/nope")[0] == 404
    for rec in results.for_event(ev["id"]):
        assert rec["replay"] is False
    hookd.stop(h)
    assert "not the first option" not in h.log()  # libmicrohttpd's complaint about the order of its options


def test_status_server_bad_address_is_a_clear_error(hookd):
    h = hookd.start(HOOKD_METRICS_LISTEN="no-port-here")
    wait_for(lambda: not h.alive(), what="hookd to exit")
    code, _ = h.stop()
    assert code != 0
    assert "metrics.listen" in h.log()


# ----------------------------------------------------------------------------------------------------------------
# Replay


def deliver_three(hookd, add_subscription, receiver, results, produce):
    """Two subscriptions, three events on partition 0 delivered by a dispatcher that is then stopped. Returns
    (subs, events, metas)."""
    subs = [add_subscription("ok"), add_subscription("ok")]
    h = hookd.start()
    events = [make_event() for _ in range(3)]
    metas = [produce(ev, partition=0) for ev in events]
    for ev in events:
        results.wait_event(ev["id"], count=2)
    hookd.stop(h)
    return subs, events, metas


def test_replay_offset_range_keeps_webhook_ids(hookd, hookd_bin, add_subscription, receiver, results, produce,
                                               topics):
    subs, events, metas = deliver_three(hookd, add_subscription, receiver, results, produce)
    first = {(r.json()["data"]["customer_id"], r.path): r.webhook_id for r in receiver.received()}
    assert len(first) == 6
    n_before = len(receiver.received())

    p = replay(hookd, hookd_bin, "--partition", "0", "--from-offset", str(metas[0].offset), "--to-offset",
               str(metas[1].offset))
    assert_no_sanitizer(p)
    assert p.returncode == 0, p.stderr
    assert "replay: done: 2/2 events, 4 deliveries" in p.stderr, p.stderr

    again = receiver.received()[n_before:]
    assert len(again) == 4
    for req in again:
        assert req.verified, req.verify_error
        assert req.webhook_id == first[(req.json()["data"]["customer_id"], req.path)]
    replayed_events = {req.json()["data"]["customer_id"] for req in again}
    assert replayed_events == {events[0]["data"]["customer_id"], events[1]["data"]["customer_id"]}

    for ev, meta in zip(events[:2], metas[:2]):
        recs = results.wait_event(ev["id"], count=4)
        replays = [r for r in recs if r["replay"]]
        assert len(replays) == 2 and len([r for r in recs if not r["replay"]]) == 2
        for r in replays:
            assert r["source"] == {"topic": topics.events, "partition": 0, "offset": meta.offset}
            assert WEBHOOK_ID.match(r["delivery_id"])
            assert r["success"] is True
    assert len(results.for_event(events[2]["id"])) == 2  # outside the range: not replayed

    # Running it again is safe: the same deliveries, the same webhook-ids.
    n_before = len(receiver.received())
    p = replay(hookd, hookd_bin, "--partition", "0", "--from-offset", str(metas[0].offset), "--to-offset",
               str(metas[1].offset))
    assert p.returncode == 0, p.stderr
    assert sorted(r.webhook_id for r in receiver.received()[n_before:]) == sorted(r.webhook_id for r in again)

    # The dispatchers' group offsets were not touched: a dispatcher started now delivers only the new event.
    n_before = len(receiver.received())
    h = hookd.start()
    fresh = make_event()
    produce(fresh, partition=0)
    results.wait_event(fresh["id"], count=2)
    results.settle(1.0)
    got = {r.json()["data"]["customer_id"] for r in receiver.received()[n_before:]}
    assert got == {fresh["data"]["customer_id"]}
    hookd.stop(h)


def test_replay_filters_and_new_ids(hookd, hookd_bin, add_subscription, receiver, results, produce):
    subs, events, metas = deliver_three(hookd, add_subscription, receiver, results, produce)
    old_ids = {r.webhook_id for r in receiver.received()}
    n_before = len(receiver.received())

    p = replay(hookd, hookd_bin, "--partition", "0", "--subscription", subs[1]["_id"], "--new-ids")
    assert p.returncode == 0, p.stderr
    again = receiver.received()[n_before:]
    assert len(again) == 3
    assert {r.path for r in again} == {subs[1]["path"]}
    assert all(r.verified for r in again)
    assert not ({r.webhook_id for r in again} & old_ids)

    n_before = len(receiver.received())
    p = replay(hookd, hookd_bin, "--partition", "0", "--tenant", "someone-else")
    assert p.returncode == 0, p.stderr
    assert len(receiver.received()) == n_before


def test_replay_by_time(hookd, hookd_bin, add_subscription, receiver, results, produce):
    subs, events, metas = deliver_three(hookd, add_subscription, receiver, results, produce)
    n_before = len(receiver.received())
    # Kafka's CreateTime of the second event; the range [from, to) is in Kafka timestamps.
    p = replay(hookd, hookd_bin, "--from-time", str(metas[1].timestamp), "--to-time", str(metas[2].timestamp + 1))
    assert p.returncode == 0, p.stderr
    got = {r.json()["data"]["customer_id"] for r in receiver.received()[n_before:]}
    assert got <= {events[1]["data"]["customer_id"], events[2]["data"]["customer_id"]}
    assert events[2]["data"]["customer_id"] in got
    assert events[0]["data"]["customer_id"] not in got


def test_replay_dry_run_sends_nothing(hookd, hookd_bin, add_subscription, receiver, results, produce, topics):
    subs, events, metas = deliver_three(hookd, add_subscription, receiver, results, produce)
    n_before, recs_before = len(receiver.received()), len(results.poll())

    p = replay(hookd, hookd_bin, "--partition", "0", "--dry-run")
    assert p.returncode == 0, p.stderr
    listed = [json.loads(line) for line in p.stdout.splitlines()]
    assert len(listed) == 6
    assert {(x["event_id"], x["subscription_id"]) for x in listed} == {
        (ev["id"], s["_id"]) for ev in events for s in subs}
    originals = {(r["event_id"], r["subscription_id"]): r["delivery_id"] for r in results.values()}
    for x in listed:
        assert x["webhook_id"] == originals[(x["event_id"], x["subscription_id"])]
        assert x["source"]["topic"] == topics.events and x["source"]["partition"] == 0
        assert x["url"].startswith("http://127.0.0.1:")
    assert "dry run: nothing sent" in p.stderr
    results.settle(1.0)
    assert len(receiver.received()) == n_before
    assert len(results.records) == recs_before


def test_replay_bad_input_is_a_clear_error(hookd, hookd_bin, add_subscription, receiver, produce, topics):
    add_subscription("ok")
    meta = produce(make_event(), partition=1)
    cases = [
        (["--topic", topics.events + ".nope", "--partition", "0"], "does not exist"),
        (["--partition", "1", "--from-offset", "5", "--to-offset", "2"], "bad range"),
        (["--partition", "1", "--from-offset", "0", "--to-offset", str(meta.offset + 10)], "bad range"),
        (["--partition", "7"], "has no partition 7"),
        (["--from-offset", "0"], "needs --partition"),
        (["--partition", "1", "--from-offset", "x"], "not a non-negative integer"),
        (["--from-time", "2026-01-02T00:00:00Z", "--to-time", "2026-01-01T00:00:00Z"], "bad range"),
        (["--from-time", "yesterday"], "RFC 3339"),
        (["--from-offset", "0", "--from-time", "0", "--partition", "0"], "not both"),
        (["--bogus", "1"], "unknown option"),
    ]
    for args, why in cases:
        p = replay(hookd, hookd_bin, *args)
        assert_no_sanitizer(p)
        assert p.returncode == 2, (args, p.returncode, p.stderr)
        assert why in p.stderr, (args, p.stderr)
    assert receiver.received() == []
    p = replay(hookd, hookd_bin, "--help")
    assert p.returncode == 0 and "Usage: hookd replay" in p.stdout


def test_a_kafka_setting_librdkafka_refuses_is_a_clear_error(hookd, hookd_bin):
    """kafka.* passes through to librdkafka; its refusal, and hookd's of a setting at-least-once depends on or of
    size limits that do not agree, must come out as an error and exit 1 (it once crashed the cleanup path when the
    consumer could not be created)."""
    cases = [
        ({"HOOKD_KAFKA_CONSUMER_FETCH_MAX_BYTES": "262144"}, [], 1, "`fetch.max.bytes` must be >= `message.max.bytes`"),
        ({"HOOKD_KAFKA_PRODUCER_ACKS": "0"}, [], 1, "acks"),
        ({}, ["--set", "kafka.no.such.property=1"], 1, "no.such.property"),
        # From the environment, a bad value of a real property is refused before anything starts.
        ({"HOOKD_KAFKA_SECURITY_PROTOCOL": "carrier-pigeon"}, [], 2, "HOOKD_KAFKA_SECURITY_PROTOCOL"),
        # At-least-once depends on these: refused by hookd, naming the setting.
        ({"HOOKD_KAFKA_ENABLE_AUTO_OFFSET_STORE": "true"}, [], 1, "kafka.enable.auto.offset.store = true is refused"),
        ({"HOOKD_KAFKA_PRODUCER_ENABLE_IDEMPOTENCE": "false"}, [], 1, "kafka.enable.idempotence = false is refused"),
        # event.max.bytes and a retry job must fit the producer's records.
        ({"HOOKD_EVENT_MAX_BYTES": "1000000"}, [], 1, "message.max.bytes"),
    ]
    for extra, args, code, why in cases:
        p = subprocess.run([str(hookd_bin), "dispatch", *args], env=dict(hookd.env(), **extra), capture_output=True,
                           text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
        assert_no_sanitizer(p)
        assert p.returncode == code, (extra, args, p.returncode, p.stderr)
        assert why in p.stderr, (extra, p.stderr)


def test_unknown_kafka_variables_from_the_environment_are_skipped(hookd, hookd_bin, add_subscription, receiver,
                                                                   produce):
    """A shell or Kubernetes (a Service named hookd-kafka) exports HOOKD_KAFKA_PORT and the like: hookd starts,
    warns naming the variable, and `hookd config` shows the configuration in force."""
    sub = add_subscription()
    extra = {"HOOKD_KAFKA_PORT": "tcp://10.0.0.1:9092", "HOOKD_KAFKA_SERVICE_HOST": "10.0.0.1"}
    h = hookd.start(**extra)
    produce(make_event())
    receiver.wait(1, sub["path"])
    hookd.stop(h)
    assert "environment variable HOOKD_KAFKA_PORT ignored" in h.log()

    p = subprocess.run([str(hookd_bin), "config", "--set", "workers=3"],
                       env=dict(hookd.env(HOOKD_MASTER_KEY="c2VjcmV0"), **extra), capture_output=True, text=True,
                       timeout=TIMEOUT)
    assert_no_sanitizer(p)
    assert p.returncode == 0, p.stderr
    lines = set(p.stdout.splitlines())
    assert {"workers = 3", f"group.id = {hookd.env()['HOOKD_GROUP_ID']}", "master.key = (redacted)"} <= lines
    assert "c2VjcmV0" not in p.stdout and "kafka.port" not in p.stdout


# ----------------------------------------------------------------------------------------------------------------
# Configuration reference


def test_configuration_doc_is_in_sync(hookd_bin):
    from conftest import ROOT

    p = subprocess.run([str(hookd_bin), "config", "--markdown"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert p.stdout == (ROOT / "docs/configuration.md").read_text(), "docs/configuration.md is stale: run make docs"
