"""Faults end to end: records that must fit Kafka's size limits, endpoints that hang or always fail beside healthy
ones, SIGKILL under load, SIGTERM with the broker away. Each scenario counts, for every (event, subscription) pair:
LOST (neither delivered nor on the dead-letter topic), UNSETTLED (no final results record) and DUPLICATES (extra
requests at the receiver); docs/operations.md keeps the figures. Assertions are on counts, never on timings."""

import json
import signal
import threading

from kafka import KafkaProducer
from kafka.admin import ConfigResource, ConfigResourceType

from conftest import KAFKA, TIMEOUT, Reply, make_event, wait_for

RETRY_TIMEOUT = max(TIMEOUT, 60)


def sized_event(size, **kw):
    """An envelope event whose JSON is exactly size bytes."""
    ev = make_event(data={"pad": ""}, **kw)
    ev["data"]["pad"] = "x" * (size - len(json.dumps(ev)))
    assert len(json.dumps(ev)) == size
    return ev


def final_records(results, sub_id):
    """event id -> the final results record of sub_id's delivery of it."""
    return {r["event_id"]: r for r in results.values() if r["subscription_id"] == sub_id and r["final"]}


def report(name, lost, unsettled, duplicates):
    print(f"\n{name}: LOST {lost}, UNSETTLED {unsettled}, DUPLICATES {duplicates}")


def test_oversize_events_are_delivered_or_dead_lettered(hookd, add_subscription, receiver, results, deadletter,
                                                         topics, kafka_admin):
    """Events at and around every size limit: event.max.bytes (960,000 by default, so that a retry job of the
    largest accepted event still fits), the producer's message.max.bytes (1,000,000) and beyond. An accepted event
    is delivered, through a retry job when its first attempt fails; a refused one is on the dead-letter topic with
    what fits of it and its source coordinates. None is lost: before, a dead letter or retry job over the producer's
    limit was refused by librdkafka, counted as written, and its offset committed."""
    kafka_admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topics.events,
                                              configs={"max.message.bytes": "4000000"})])
    seen = set()

    def first_fails(n, req):  # every delivery fails once, so that each accepted event needs its retry job
        if req.webhook_id in seen:
            return 200
        seen.add(req.webhook_id)
        return 503

    receiver.script("once", first_fails)
    sub = add_subscription(status_path="once")
    h = hookd.start()
    limit = 960_000
    sizes = [limit - 1, limit, limit + 1, 999_900, 1_010_001, 2_000_000]
    big = KafkaProducer(bootstrap_servers=KAFKA, acks="all", max_request_size=4_000_000)
    sent, raw = {}, {}
    for size in sizes:
        ev = sized_event(size)
        raw[ev["id"]] = json.dumps(ev).encode()
        meta = big.send(topics.events, raw[ev["id"]], key=ev["id"].encode()).get(timeout=TIMEOUT)
        sent[ev["id"]] = (size, meta)
    big.close()
    accepted = {i for i, (size, _) in sent.items() if size <= limit}
    refused = set(sent) - accepted

    def dead():
        out = {}
        for rec in deadletter.poll():
            hdr = {k: v.decode() for k, v in rec.headers}
            out[(hdr["hookd-source-partition"], hdr["hookd-source-offset"])] = (rec, hdr)
        return out

    def done():
        finals = final_records(results, sub["_id"])
        d = dead()
        return all(i in finals for i in accepted) and all(
            (str(m.partition), str(m.offset)) in d for i, (_, m) in sent.items() if i in refused)

    wait_for(done, RETRY_TIMEOUT * 2, "every accepted event delivered and every refused one dead-lettered")
    finals, d = final_records(results, sub["_id"]), dead()
    for i in accepted:
        assert finals[i]["success"] and finals[i]["attempt"] == 2, finals[i]
    for i in refused:
        size, meta = sent[i]
        rec, hdr = d[(str(meta.partition), str(meta.offset))]
        assert hdr["hookd-reason"] == "too-large" and hdr["hookd-source-topic"] == topics.events
        assert len(rec.value) <= 1_000_000 and raw[i].startswith(rec.value)
        if len(rec.value) < size:
            assert hdr["hookd-truncated-from"] == str(size)
    lost = len(accepted - set(finals)) + sum(1 for i in refused if (str(sent[i][1].partition),
                                                                     str(sent[i][1].offset)) not in d)
    by_id = receiver.by_webhook_id(sub["path"])
    dups = sum(len(v) - 2 for v in by_id.values() if len(v) > 2)  # two requests each: the failure and the retry
    report("oversize events", lost, len(accepted - set(finals)), dups)
    assert lost == 0 and dups == 0
    hookd.stop(h)
