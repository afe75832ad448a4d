"""`hookd dispatch` end to end: events produced with an independent Kafka client (kafka-python) reach a local
receiver as Standard Webhooks, every attempt is recorded on the results topic, bad input goes to the dead-letter
topic, and offsets survive a restart. See conftest.py for the fixtures."""

import datetime as dt
import json
import time

from conftest import WEBHOOK_ID, log_change, make_event, parse_iso, produce_until


def ms(t):
    """Compare instants to the millisecond (the wire formats carry milliseconds)."""
    return int(t.timestamp() * 1000)


# ----------------------------------------------------------------------------------------------------------------
# Delivery


def test_event_is_delivered_signed(hookd, add_subscription, receiver, results, produce):
    sub = add_subscription(headers={"x-custom": "v", "x-other": "w"})
    h = hookd.start()
    ev = make_event(data={"customer_id": "cus_1", "credits": 7, "nested": {"a": [1, 2, "ü"]}})
    produce(ev, key=ev["id"])

    (req,) = receiver.wait(1, sub["path"])
    assert req.method == "POST"
    assert req.verified, f"standardwebhooks rejected the signature: {req.verify_error}"
    assert req.headers["content-type"].startswith("application/json")
    assert req.headers["user-agent"].startswith("hookd/")
    assert req.headers["x-custom"] == "v"
    assert req.headers["x-other"] == "w"
    assert WEBHOOK_ID.match(req.webhook_id), req.webhook_id
    assert req.headers["webhook-signature"].startswith("v1,")
    assert abs(int(req.headers["webhook-timestamp"]) - time.time()) < 60

    body = req.json()
    assert set(body) == {"type", "timestamp", "data"}
    assert body["type"] == "customer.created"
    assert body["data"] == ev["data"]
    assert ms(parse_iso(body["timestamp"])) == ms(parse_iso(ev["time"]))

    (res,) = results.wait_event(ev["id"])
    assert res["delivery_id"] == req.webhook_id
    hookd.stop(h)


def test_results_record(hookd, add_subscription, receiver, results, produce):
    sub = add_subscription()
    h = hookd.start()
    ev = make_event()
    meta = produce(ev, key="k1")

    (res,) = results.wait_event(ev["id"])
    (req,) = receiver.received(sub["path"])
    assert res["delivery_id"] == req.webhook_id
    assert res["event_id"] == ev["id"]
    assert res["event_type"] == "customer.created"
    assert res["subscription_id"] == sub["_id"]
    assert res["tenant"] == "t1"
    assert res["attempt"] == 1
    assert res["url"] == sub["url"]
    assert res["status_code"] == 200
    assert res["success"] is True
    assert res["outcome"] == "success"
    assert res["error"] is None
    assert isinstance(res["duration_ms"], (int, float)) and res["duration_ms"] >= 0
    attempted = parse_iso(res["attempted_at"])
    assert abs((attempted - dt.datetime.now(dt.timezone.utc)).total_seconds()) < 120
    assert ms(parse_iso(res["event_time"])) == ms(parse_iso(ev["time"]))
    assert res["source"] == {"topic": meta.topic, "partition": meta.partition, "offset": meta.offset}

    (rec,) = [r for r in results.records if json.loads(r.value)["event_id"] == ev["id"]]
    assert rec.key == res["delivery_id"].encode()
    hookd.stop(h)


def test_event_without_time_uses_record_time(hookd, add_subscription, receiver, results, produce):
    sub = add_subscription()
    h = hookd.start()
    ev = make_event(omit_time=True)
    before = dt.datetime.now(dt.timezone.utc)
    produce(ev)

    (req,) = receiver.wait(1, sub["path"])
    assert req.verified, req.verify_error
    stamp = parse_iso(req.json()["timestamp"])
    assert abs((stamp - before).total_seconds()) < 30, stamp
    (res,) = results.wait_event(ev["id"])
    assert res["success"] is True
    hookd.stop(h)


def test_fan_out_to_every_matching_subscription(hookd, add_subscription, receiver, results, produce):
    a = add_subscription()
    b = add_subscription(event_types=["customer.deleted", "customer.created"], headers={})
    h = hookd.start()
    ev = make_event()
    produce(ev)

    (ra,) = receiver.wait(1, a["path"])
    (rb,) = receiver.wait(1, b["path"])
    assert ra.verified and rb.verified, (ra.verify_error, rb.verify_error)
    assert "x-custom" not in rb.headers
    assert ra.webhook_id != rb.webhook_id
    recs = results.wait_event(ev["id"], count=2)
    assert {r["subscription_id"] for r in recs} == {a["_id"], b["_id"]}
    assert {r["delivery_id"] for r in recs} == {ra.webhook_id, rb.webhook_id}
    hookd.stop(h)


def test_non_matching_events_are_not_delivered(hookd, add_subscription, receiver, results, produce):
    match = add_subscription()
    other_tenant = add_subscription(tenant="t2")
    other_type = add_subscription(event_types=["customer.deleted"])
    inactive = add_subscription(is_active=False)
    h = hookd.start()

    # Same key -> same partition, so hookd sees them in this order and the matching event comes last.
    misses = [make_event(tenant="t3"), make_event(type="customer.updated"), make_event(type="customer.created.v2"),
              make_event(type="customer")]
    for ev in misses:
        produce(ev, key="same")
    hit = make_event()
    produce(hit, key="same")

    (req,) = receiver.wait(1, match["path"])
    assert req.verified, req.verify_error
    results.wait_event(hit["id"])
    results.settle(1.0)  # give anything wrongly matched a moment to show up
    for sub in (other_tenant, other_type, inactive):
        assert receiver.received(sub["path"]) == [], sub
    assert len(receiver.received()) == 1
    assert {r["event_id"] for r in results.values()} == {hit["id"]}
    hookd.stop(h)


def test_subscription_added_while_running_is_picked_up(hookd, add_subscription, receiver, results, produce):
    first = add_subscription()
    h = hookd.start()
    ev = make_event()
    produce(ev)
    receiver.wait(1, first["path"])  # hookd is up and consuming

    late = add_subscription(tenant="t9")
    # The store is refreshed every 200 ms; keep producing until one event reaches the new subscription.
    deadline = time.monotonic() + 30
    while not receiver.received(late["path"]) and time.monotonic() < deadline:
        produce(make_event(tenant="t9"))
        time.sleep(0.3)
    (req, *_) = receiver.received(late["path"])
    assert req.verified, req.verify_error
    hookd.stop(h)


def test_subscription_deleted_while_running_stops_receiving(hookd, add_subscription, receiver, results, produce, db):
    # The deleted one is not the newest: the change log entry tells the dispatcher.
    gone = add_subscription(updated_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1))
    kept = add_subscription()
    h = hookd.start()
    ev = make_event()
    produce(ev)
    results.wait_event(ev["id"], count=2)
    db.subscriptions.delete_one({"_id": gone["_id"]})
    log_change(db, gone["_id"])
    # The store is refreshed every 200 ms; keep producing until an event reaches only the one kept.
    recs = produce_until(produce, results, lambda recs: [r["subscription_id"] for r in recs] == [kept["_id"]])
    assert [r["subscription_id"] for r in recs] == [kept["_id"]], recs
    hookd.stop(h)


# ----------------------------------------------------------------------------------------------------------------
# Outcomes


def test_receiver_error_is_retryable(hookd, add_subscription, receiver, results, produce):
    sub = add_subscription(status_path="fail")
    h = hookd.start()
    ev = make_event()
    produce(ev)

    (req, *_) = receiver.wait(1, sub["path"])
    assert req.verified, req.verify_error
    res = results.wait_event(ev["id"])[0]
    assert res["attempt"] == 1
    assert res["success"] is False
    assert res["outcome"] == "retryable"
    assert res["status_code"] == 500
    assert res["delivery_id"] == req.webhook_id
    hookd.stop(h)


def test_success_code(hookd, add_subscription, receiver, results, produce):
    wants_202_gets_200 = add_subscription(status_path="ok", success_code=202)
    wants_202_gets_202 = add_subscription(status_path="accepted", success_code=202)
    any_2xx_gets_201 = add_subscription(status_path="created")
    h = hookd.start()
    ev = make_event()
    produce(ev)

    recs = {r["subscription_id"]: r for r in results.wait_event(ev["id"], count=3)}
    r = recs[wants_202_gets_200["_id"]]
    assert (r["status_code"], r["success"]) == (200, False)
    assert r["outcome"] != "success"
    r = recs[wants_202_gets_202["_id"]]
    assert (r["status_code"], r["success"], r["outcome"]) == (202, True, "success")
    r = recs[any_2xx_gets_201["_id"]]
    assert (r["status_code"], r["success"], r["outcome"]) == (201, True, "success")
    hookd.stop(h)


# ----------------------------------------------------------------------------------------------------------------
# Bad input


BAD_INPUT = [
    (b"this is not json {", "not-json"),
    (json.dumps({"id": "evt_notype", "tenant": "t1", "data": {}}).encode(), "missing-type"),
    (json.dumps({"type": "customer.created", "tenant": "t1", "data": {}}).encode(), "missing-id"),
    (b"[1, 2, 3]", "not-object"),
]


def test_malformed_events_go_to_deadletter(hookd, add_subscription, receiver, results, deadletter, produce, topics):
    sub = add_subscription()
    h = hookd.start()
    sent = []
    for i, (value, reason) in enumerate(BAD_INPUT):
        sent.append((produce(value, key=f"bad-{i}"), value, f"bad-{i}".encode(), reason))
    good = make_event()
    produce(good, key="good")

    (req,) = receiver.wait(1, sub["path"])
    assert req.verified and req.json()["data"] == good["data"]
    recs = deadletter.wait(count=len(BAD_INPUT))
    assert len(recs) == len(BAD_INPUT)
    by_key = {r.key: r for r in recs}
    for meta, value, key, reason in sent:
        rec = by_key[key]
        hdrs = {k: v.decode() for k, v in rec.headers}
        assert rec.value == value, "dead-letter value must be the original bytes"
        assert hdrs.get("hookd-reason") == reason, hdrs
        assert hdrs.get("hookd-error"), hdrs
        assert hdrs.get("hookd-source-topic") == topics.events
        assert hdrs.get("hookd-source-partition") == str(meta.partition)
        assert hdrs.get("hookd-source-offset") == str(meta.offset)
    results.wait_event(good["id"])
    assert {r["event_id"] for r in results.values()} == {good["id"]}
    hookd.stop(h)


# ----------------------------------------------------------------------------------------------------------------
# Offsets, identity, shutdown


def test_restart_does_not_redeliver(hookd, add_subscription, receiver, results, produce):
    sub = add_subscription()
    h = hookd.start()
    first = [make_event(data={"n": i}) for i in range(6)]
    for ev in first:
        produce(ev, key=ev["id"])  # spread over the 3 partitions
    for ev in first:
        results.wait_event(ev["id"])
    receiver.wait(len(first), sub["path"])
    hookd.stop(h)

    h2 = hookd.start()
    # One more event per partition: anything of the first batch redelivered would precede it in its partition.
    last = [make_event(data={"last": p}) for p in range(3)]
    for p, ev in enumerate(last):
        produce(ev, partition=p)
    for ev in last:
        results.wait_event(ev["id"])
    results.settle(1.0)

    counts = {wid: len(reqs) for wid, reqs in receiver.by_webhook_id(sub["path"]).items()}
    assert len(counts) == len(first) + len(last)
    assert all(c == 1 for c in counts.values()), f"redelivered after restart: {counts}"
    per_event = {}
    for r in results.values():
        per_event[r["event_id"]] = per_event.get(r["event_id"], 0) + 1
    assert per_event == {ev["id"]: 1 for ev in first + last}
    hookd.stop(h2)


def test_webhook_id_is_stable_per_event_and_subscription(hookd, add_subscription, receiver, results, produce):
    a = add_subscription()
    b = add_subscription()
    h = hookd.start()
    ev = make_event()
    m1 = produce(ev, key="x")
    m2 = produce(dict(ev, data={"changed": True}), key="x")  # same event id, e.g. a replay or a producer retry
    other = make_event()
    produce(other, key="x")

    receiver.wait(3, a["path"])
    receiver.wait(3, b["path"])
    recs = results.wait_event(ev["id"], count=4)
    ids_a = {r.webhook_id for r in receiver.received(a["path"]) if r.json()["data"] != other["data"]}
    ids_b = {r.webhook_id for r in receiver.received(b["path"]) if r.json()["data"] != other["data"]}
    assert len(ids_a) == 1 and len(ids_b) == 1, (ids_a, ids_b)
    assert ids_a != ids_b
    by_sub = {}
    for r in recs:
        by_sub.setdefault(r["subscription_id"], set()).add(r["delivery_id"])
    assert by_sub == {a["_id"]: ids_a, b["_id"]: ids_b}
    assert {r["source"]["offset"] for r in recs} == {m1.offset, m2.offset}
    (other_res, *_) = results.wait_event(other["id"], count=2)
    assert other_res["delivery_id"] not in ids_a | ids_b
    hookd.stop(h)


def test_sigterm_exits_quickly(hookd, add_subscription, receiver, results, produce):
    sub = add_subscription()
    h = hookd.start()
    produce(make_event())
    receiver.wait(1, sub["path"])  # fully up: joined the group, loaded subscriptions, delivered
    took = hookd.stop(h)
    assert took < 5, f"SIGTERM took {took:.1f} s"


def test_sigterm_during_startup(hookd, topics):
    h = hookd.start()
    time.sleep(0.5)  # deliberately mid-start (connecting, joining the group)
    assert h.alive(), h.log()
    took = hookd.stop(h)
    assert took < 10, f"SIGTERM took {took:.1f} s"
