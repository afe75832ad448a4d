"""Matching and rendering end to end: CloudEvents input (binary and structured Kafka modes), wildcard and status
subscriptions, payload filters, payload templates, the size limit, and ed25519 (v1a) signatures checked with an
independent implementation (PyPI `cryptography`). See docs/events.md."""

import base64
import json
import secrets
import uuid

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from conftest import make_event


def ce_headers(type_="customer.created", tenant="t1", id_=None, content_type="application/json", **extra):
    hdrs = {
        "ce_specversion": "1.0",
        "ce_id": id_ or f"ce_{uuid.uuid4().hex}",
        "ce_type": type_,
        "ce_source": "/e2e/crm",
        "ce_tenant": tenant,
        "ce_time": "2026-11-22T06:35:57.123Z",
        "content-type": content_type,
    }
    hdrs.update(extra)
    return [(k, v.encode()) for k, v in hdrs.items()]


def ed25519_keys():
    sk = Ed25519PrivateKey.generate()
    seed = sk.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    pk = sk.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "whsk_" + base64.b64encode(seed + pk).decode(), "whpk_" + base64.b64encode(pk).decode()


def settle_event(results, event_id, count):
    """Wait until every delivery of an event has its results record: after that, no more requests for it come."""
    return results.wait_event(event_id, count)


def test_cloudevents_binary_mode_is_delivered(hookd, add_subscription, receiver, results, produce):
    sub = add_subscription()
    h = hookd.start()
    headers = ce_headers()
    event_id = dict(headers)["ce_id"].decode()
    produce(json.dumps({"customer_id": "cus_1", "credits": 5}), headers=headers)

    (req,) = receiver.wait(1, sub["path"])
    assert req.verified, req.verify_error
    body = req.json()
    assert body == {"type": "customer.created", "timestamp": "2026-11-22T06:35:57.123Z",
                    "data": {"customer_id": "cus_1", "credits": 5}}
    (res,) = results.wait_event(event_id)
    assert res["outcome"] == "success" and res["tenant"] == "t1"
    hookd.stop(h)


def test_cloudevents_structured_mode_is_delivered(hookd, add_subscription, receiver, results, produce):
    sub = add_subscription(version=2)  # the CloudEvents JSON shape
    h = hookd.start()
    ev = {"specversion": "1.0", "id": f"ce_{uuid.uuid4().hex}", "type": "customer.created", "source": "/e2e/shop",
          "tenant": "t1", "time": "2026-11-22T06:35:57Z", "data": {"customer_id": "cus_2"}}
    produce(ev, headers=[("content-type", b"application/cloudevents+json; charset=utf-8")])

    (req,) = receiver.wait(1, sub["path"])
    assert req.verified, req.verify_error
    assert req.headers["content-type"].startswith("application/cloudevents+json")
    body = req.json()
    assert body["specversion"] == "1.0" and body["id"] == ev["id"] and body["source"] == "/e2e/shop"
    assert body["type"] == "customer.created" and body["data"] == {"customer_id": "cus_2"}
    results.wait_event(ev["id"])
    hookd.stop(h)


def test_bad_cloudevent_is_dead_lettered_with_reason(hookd, add_subscription, receiver, deadletter, produce):
    add_subscription()
    h = hookd.start()
    headers = ce_headers(ce_specversion="0.3")
    meta = produce(b"{}", headers=headers)
    def origin(r):
        h = dict(r.headers)
        return (h.get("hookd-source-partition"), h.get("hookd-source-offset")) == (str(meta.partition).encode(),
                                                                                 str(meta.offset).encode())

    (rec,) = deadletter.wait(origin)
    hdrs = dict(rec.headers)
    assert hdrs["hookd-reason"] == b"bad-specversion"
    assert hdrs["ce_specversion"] == b"0.3"  # the original headers travel along
    hookd.stop(h)


def test_wildcards_one_and_many_segments(hookd, add_subscription, receiver, results, produce):
    one = add_subscription(event_types=["customer.*"])
    many = add_subscription(event_types=["customer.**"])
    exact = add_subscription(event_types=["customer.credits.updated"])
    other_tenant = add_subscription(tenant="t2", event_types=["*"])
    h = hookd.start()
    created = make_event(type="customer.created")
    updated = make_event(type="customer.credits.updated")
    produce(created, key=created["id"])
    produce(updated, key=updated["id"])

    settle_event(results, created["id"], 2)
    settle_event(results, updated["id"], 2)
    assert [r.json()["type"] for r in receiver.received(one["path"])] == ["customer.created"]
    assert sorted(r.json()["type"] for r in receiver.received(many["path"])) == ["customer.created",
                                                                                 "customer.credits.updated"]
    assert [r.json()["type"] for r in receiver.received(exact["path"])] == ["customer.credits.updated"]
    assert receiver.received(other_tenant["path"]) == []
    hookd.stop(h)


def test_filter_and_statuses_exclude(hookd, add_subscription, receiver, results, produce):
    control = add_subscription(event_types=["order.*"])
    # MongoDB refuses $-prefixed keys in stored documents, so the filter is stored as its JSON text.
    big = add_subscription(event_types=["order.*"], filter=json.dumps({"data.total": {"$gte": 100},
                                                                      "data.items.sku": {"$in": ["A"]}}))
    paid = add_subscription(event_types=["order.updated"], statuses=["paid"])
    h = hookd.start()
    small_open = make_event(type="order.updated", data={"status": "open", "total": 10, "items": [{"sku": "A"}]})
    big_paid = make_event(type="order.updated", data={"status": "paid", "total": 150, "items": [{"sku": "B"}, {"sku": "A"}]})
    produce(small_open, key="o")
    produce(big_paid, key="o")

    settle_event(results, small_open["id"], 1)
    settle_event(results, big_paid["id"], 3)
    assert len(receiver.received(control["path"])) == 2
    assert [r.json()["data"]["total"] for r in receiver.received(big["path"])] == [150]
    assert [r.json()["data"]["status"] for r in receiver.received(paid["path"])] == ["paid"]
    hookd.stop(h)


def test_invalid_filter_subscription_is_not_loaded(hookd, add_subscription, receiver, results, produce):
    good = add_subscription()
    bad = add_subscription(filter=json.dumps({"data.x": {"$regex": "a"}}))
    h = hookd.start()
    ev = make_event()
    produce(ev)
    settle_event(results, ev["id"], 1)
    assert len(receiver.received(good["path"])) == 1
    assert receiver.received(bad["path"]) == []
    hookd.stop(h)
    assert "$regex" in h.log()


def test_template_shapes_the_payload(hookd, add_subscription, receiver, results, produce):
    template = {"email": "{{data.customer.email}}", "credits": "{{data.credits}}", "customer": "{{data.customer}}",
                "missing": "{{data.nope}}", "text": "Hi {{data.customer.email}}, {{data.credits}} credits",
                "event": {"id": "{{id}}", "type": "{{type}}"}, "fixed": [1, True, None]}
    tmpl = add_subscription(payload_template=template)
    plain = add_subscription()
    h = hookd.start()
    ev = make_event(data={"customer": {"email": "a@example.com", "vip": True}, "credits": 42})
    produce(ev)

    (req,) = receiver.wait(1, tmpl["path"])
    assert req.verified, req.verify_error
    assert req.json() == {"email": "a@example.com", "credits": 42, "customer": {"email": "a@example.com", "vip": True},
                          "missing": None, "text": "Hi a@example.com, 42 credits",
                          "event": {"id": ev["id"], "type": "customer.created"}, "fixed": [1, True, None]}
    (other,) = receiver.wait(1, plain["path"])
    assert set(other.json()) == {"type", "timestamp", "data"}
    hookd.stop(h)


def test_payload_over_the_limit_fails_permanently(hookd, add_subscription, receiver, results, produce):
    sub = add_subscription()
    h = hookd.start(HOOKD_RENDER_MAX_BYTES=256)
    ev = make_event(data={"blob": "x" * 1000})
    produce(ev)
    (res,) = results.wait_event(ev["id"])
    assert res["outcome"] == "permanent" and res["success"] is False
    assert "render.max.bytes" in res["error"]
    assert receiver.received(sub["path"]) == []
    hookd.stop(h)


def test_ed25519_signature_verifies(hookd, add_subscription, receiver, results, produce):
    signing_key, public_key = ed25519_keys()
    both = add_subscription(signing_key=signing_key)  # and the default secret: v1 and v1a side by side
    h = hookd.start()
    ev = make_event()
    produce(ev)

    (req,) = receiver.wait(1, both["path"])
    assert req.verified, req.verify_error  # the v1 entry, by the reference verifier
    entries = req.headers["webhook-signature"].split(" ")
    assert [e.split(",")[0] for e in entries] == ["v1", "v1a"]
    signed = f"{req.webhook_id}.{req.headers['webhook-timestamp']}.".encode() + req.body
    pk = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key[5:]))
    pk.verify(base64.b64decode(entries[1][4:]), signed)  # raises InvalidSignature on mismatch
    hookd.stop(h)


def test_v1a_only_subscription(hookd, db, receiver, results, produce):
    signing_key, public_key = ed25519_keys()
    sub_id = f"sub_{secrets.token_hex(8)}"
    path = f"/ok/{sub_id}"
    db.subscriptions.insert_one({"_id": sub_id, "tenant": "t1", "event_types": ["customer.created"],
                                 "url": receiver.url(path), "signing_key": signing_key, "is_active": True})
    h = hookd.start()
    ev = make_event()
    produce(ev)
    (req,) = receiver.wait(1, path)
    sig = req.headers["webhook-signature"]
    assert sig.startswith("v1a,") and " " not in sig
    signed = f"{req.webhook_id}.{req.headers['webhook-timestamp']}.".encode() + req.body
    Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key[5:])).verify(base64.b64decode(sig[4:]), signed)
    hookd.stop(h)
