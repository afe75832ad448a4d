"""Test events are delivered whatever the dispatcher has loaded and whatever the subscription filters (docs/api.md,
"Delivery log, test events and retries"): one sent right after its subscription's create reaches it although the
dispatcher's next refresh is a minute away; statuses and filters do not hold back a test event; and a test event
whose subscription is gone by the time the dispatcher reads it ends as failed in the log, never pending."""

import uuid

from conftest import wait_for
from test_api import SUBS, api, master_key, ok, sub_for  # noqa: F401 - api and master_key are fixtures

SLOW = {"HOOKD_SUBSCRIPTIONS_REFRESH_MS": 60000, "HOOKD_SUBSCRIPTIONS_FULL_RELOAD_MS": 0}


def row(api, sub_id, status):
    rows = ok(api.call("GET", f"{SUBS}/{sub_id}/events"))
    return rows[0] if rows and rows[0]["status"] == status else None


def test_test_event_right_after_create_is_delivered(api, hookd, master_key, receiver):
    h = hookd.start(HOOKD_MASTER_KEY=master_key, **SLOW)
    wait_for(lambda: "assigned" in h.log(), what="the dispatcher's partitions")
    s = sub_for(api, receiver, f"fresh-{uuid.uuid4().hex[:8]}")
    sent = ok(api.call("POST", f"{SUBS}/{s['id']}/test"), 202)
    (req,) = receiver.wait(1, s["path"])
    assert req.verified and req.webhook_id == sent["delivery_id"]
    assert wait_for(lambda: row(api, s["id"], "succeeded"), what="the test event logged as succeeded")
    hookd.stop(h)


def test_test_event_bypasses_statuses_and_filter(api, hookd, master_key, receiver):
    s = sub_for(api, receiver, f"picky-{uuid.uuid4().hex[:8]}", statuses=["shipped"],
                filter={"data.total": {"$gte": 100}})
    h = hookd.start(HOOKD_MASTER_KEY=master_key)
    sent = ok(api.call("POST", f"{SUBS}/{s['id']}/test"), 202)
    (req,) = receiver.wait(1, s["path"])
    assert req.verified and req.json()["data"] == {"test": True, "subscription_id": s["id"]}
    assert wait_for(lambda: row(api, s["id"], "succeeded"), what="the test event logged as succeeded")
    assert sent["delivery_id"] == req.webhook_id
    hookd.stop(h)


def test_test_event_of_a_deleted_subscription_ends_failed(api, hookd, master_key, receiver, mongo_client, topics):
    """The subscription is deleted after the API produced its test event and before the dispatcher looks: the
    event's log row ends failed with the reason, instead of pending forever. The dispatcher starts after the delete,
    so the order is fixed."""
    s = sub_for(api, receiver, f"gone-{uuid.uuid4().hex[:8]}")
    sent = ok(api.call("POST", f"{SUBS}/{s['id']}/test"), 202)
    # The row outlives the subscription's delete only while the log keeps it: delete the document directly.
    mongo_client[topics.db].subscriptions.delete_one({"_id": s["id"]})
    h = hookd.start(HOOKD_MASTER_KEY=master_key, **SLOW)

    def failed():
        rows = ok(api.call("GET", "/v1/webhooks/events", params={"status": "failed"}))
        return [r for r in rows if r["id"] == sent["delivery_id"]]

    (r,) = wait_for(failed, what="the test event logged as failed")
    assert "no such subscription" in r["error_message"]
    assert receiver.received(s["path"]) == []
    hookd.stop(h)
