"""Subscription changes reach running dispatchers incrementally (docs/api.md, "How changes reach the dispatchers"):
created, updated, disabled and deleted subscriptions take effect with the full reload turned off, written through
the API or straight into the database (with their change log entry), on two dispatchers at once; each refresh
reads only what changed; a dispatcher that could not look while the database was away catches up, deletes
included."""

import datetime as dt
import json
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from conftest import log_change, make_event, new_secret, wait_for
from test_api import SUBS, api, master_key, ok, sub_for  # noqa: F401 - api and master_key are fixtures

CHANGES = re.compile(r"subscription changes: (\d+) written, (\d+) gone, (\d+) documents read")


def refreshes(h):
    """(written, gone, read) of every incremental refresh in h's log."""
    out = []
    for line in h.log().splitlines():
        try:
            msg = json.loads(line).get("msg", "")
        except ValueError:
            continue
        m = CHANGES.search(msg)
        if m:
            out.append(tuple(int(x) for x in m.groups()) + ("none new" not in msg,))
    return out


def converge(results, produce, want, timeout=30, **event):
    """Produce events (each also reaches a sentinel subscription) until the subscriptions one reaches, sorted,
    are want; return them (the last event's when none did within timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        ev = make_event(**event)
        produce(ev)
        results.wait_event(ev["id"])
        results.settle(0.5)
        got = sorted(r["subscription_id"] for r in results.for_event(ev["id"]))
        if got == sorted(want) or time.monotonic() >= deadline:
            return got


def now():
    return dt.datetime.now(dt.timezone.utc)


def doc_for(receiver, tenant="t1", types=("customer.created",), **fields):
    sid = f"sub_{uuid.uuid4().hex[:16]}"
    path = f"/ok/{sid}"
    doc = {"_id": sid, "tenant": tenant, "name": sid, "event_types": list(types), "url": receiver.url(path),
           "secret": new_secret(), "is_active": True, "created_at": now(), "updated_at": now()}
    doc.update(fields)
    receiver.register(path, doc["secret"])
    return doc


BOTH = ("customer.created", "order.created")


def test_direct_writes_apply_incrementally(hookd, db, receiver, results, produce, topics):
    """A tool writing straight to MongoDB: insert, update, disable and delete, each followed by its change log
    entry, take effect on two running dispatchers (each in its own consumer group, so both deliver every event)
    whose full reload is off, and a refresh reads the log and the changed documents, not the 300 others of the
    collection."""
    an_hour_ago = now() - dt.timedelta(hours=1)
    db.subscriptions.insert_many([doc_for(receiver, tenant=f"other{i}", updated_at=an_hour_ago) for i in range(300)])
    sentinel, keep = doc_for(receiver, types=BOTH), doc_for(receiver)
    db.subscriptions.insert_many([sentinel, keep])
    hs = [hookd.start(HOOKD_SUBSCRIPTIONS_FULL_RELOAD_MS=0, HOOKD_GROUP_ID=group)
          for group in (topics.group, topics.group + ".b")]

    def twice(*ids):
        return sorted(list(ids) * 2)

    base = [sentinel["_id"]]
    assert converge(results, produce, twice(*base, keep["_id"])) == twice(*base, keep["_id"])

    new = doc_for(receiver)
    db.subscriptions.insert_one(new)
    log_change(db, new["_id"])
    assert converge(results, produce, twice(*base, keep["_id"], new["_id"])) == twice(*base, keep["_id"], new["_id"])

    db.subscriptions.update_one({"_id": new["_id"]}, {"$set": {"event_types": ["order.created"], "updated_at": now()}})
    log_change(db, new["_id"])
    assert converge(results, produce, twice(*base, new["_id"]), type="order.created") == twice(*base, new["_id"])

    db.subscriptions.update_one({"_id": keep["_id"]}, {"$set": {"is_active": False, "updated_at": now()}})
    log_change(db, keep["_id"])
    assert converge(results, produce, twice(*base)) == twice(*base)

    db.subscriptions.delete_one({"_id": new["_id"]})
    log_change(db, new["_id"])
    assert converge(results, produce, twice(*base), type="order.created") == twice(*base)

    for h in hs:
        log = h.log()
        assert "subscriptions reloaded" not in log and "subscriptions loaded: 302 in" in log
        reads = [r[2] for r in refreshes(h)]
        assert reads and max(reads) <= 8, reads  # the log's recent seconds and the changed ids, never the collection
        hookd.stop(h)


def test_api_changes_reach_two_dispatchers(hookd, api, master_key, receiver, results, produce, topics):
    """Changes through the API (create, update, disable, re-enable, delete) take effect on two dispatchers (each
    in its own consumer group, so both deliver every event) with the full reload off: the API logs each write."""
    hs = [hookd.start(HOOKD_SUBSCRIPTIONS_FULL_RELOAD_MS=0, HOOKD_MASTER_KEY=master_key, HOOKD_GROUP_ID=group)
          for group in (topics.group, topics.group + ".b")]
    sentinel = sub_for(api, receiver, f"sentinel-{uuid.uuid4().hex[:8]}", event_types=list(BOTH))
    s = sub_for(api, receiver, f"s-{uuid.uuid4().hex[:8]}")
    base = [sentinel["id"]] * 2
    assert converge(results, produce, base + [s["id"]] * 2) == sorted(base + [s["id"]] * 2)

    ok(api.call("PATCH", f"{SUBS}/{s['id']}", json_body={"event_types": ["order.created"]}))
    assert converge(results, produce, base + [s["id"]] * 2, type="order.created") == sorted(base + [s["id"]] * 2)
    ok(api.call("PATCH", f"{SUBS}/{s['id']}", json_body={"is_active": False}))
    assert converge(results, produce, base, type="order.created") == base
    ok(api.call("PATCH", f"{SUBS}/{s['id']}", json_body={"is_active": True}))
    assert converge(results, produce, base + [s["id"]] * 2, type="order.created") == sorted(base + [s["id"]] * 2)
    ok(api.call("DELETE", f"{SUBS}/{s['id']}"))
    assert converge(results, produce, base, type="order.created") == base
    for h in hs:
        assert "subscriptions reloaded" not in h.log()
        assert [r for r in refreshes(h) if r[1]], "the delete came through a refresh"
        hookd.stop(h)


def test_concurrent_api_writes_all_reach_the_dispatcher(hookd, api, master_key, receiver, results, produce):
    """Sixteen creates at once: writers creating the same second's change log document race for its upsert, and
    the loser (a duplicate key error) appends again, so no change waits for the full reload."""
    run = uuid.uuid4().hex[:8]
    sentinel = sub_for(api, receiver, f"sentinel-{run}")
    h = hookd.start(HOOKD_SUBSCRIPTIONS_FULL_RELOAD_MS=0, HOOKD_MASTER_KEY=master_key)
    wait_for(lambda: "subscriptions loaded: 1 in" in h.log(), what="the dispatcher's first load")
    with ThreadPoolExecutor(16) as pool:
        subs = list(pool.map(lambda i: sub_for(api, receiver, f"c{i}-{run}"), range(16)))
    want = sorted([s["id"] for s in subs] + [sentinel["id"]])
    assert converge(results, produce, want) == want
    assert "logging the change" not in api.log()
    hookd.stop(h)


def test_changes_made_while_the_database_was_away_are_caught_up(hookd, receiver, results, produce, private_mongo,
                                                               names):
    """The dispatcher cannot look while the database is away; the changes made once it is back but before the
    dispatcher's next successful look (an insert, an update, a delete) are all applied: the change cursor stays
    where the last successful look left it."""
    client = private_mongo.client()
    sentinel, first, second = doc_for(receiver, types=BOTH), doc_for(receiver), doc_for(receiver)
    client[names.db].subscriptions.insert_many([sentinel, first, second])
    h = hookd.start(HOOKD_STORE=private_mongo.uri, HOOKD_SUBSCRIPTIONS_FULL_RELOAD_MS=0)
    base = [sentinel["_id"]]
    want = base + [first["_id"], second["_id"]]
    assert converge(results, produce, want) == sorted(want)

    private_mongo.down()
    wait_for(lambda: "keeping the last snapshot" in h.log(), what="hookd noticing the database is away")
    private_mongo.up()
    client = private_mongo.client()
    third = doc_for(receiver)
    db = client[names.db]
    db.subscriptions.delete_one({"_id": first["_id"]})
    db.subscriptions.update_one({"_id": second["_id"]}, {"$set": {"event_types": ["order.created"], "updated_at": now()}})
    db.subscriptions.insert_one(third)
    log_change(db, first["_id"], second["_id"], third["_id"])
    wait_for(lambda: "reachable again" in h.log(), what="hookd noticing the database is back")
    want = base + [third["_id"]]
    assert converge(results, produce, want) == sorted(want)
    want = base + [second["_id"]]
    assert converge(results, produce, want, type="order.created") == sorted(want)
    assert "subscriptions reloaded" not in h.log()
    hookd.stop(h)
