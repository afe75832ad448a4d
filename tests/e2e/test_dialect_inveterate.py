"""The Inveterate dialects end to end (docs/dialects.md): `inveterate-subscriptions` (reference 000) at
/v2.0/admin/webhook-subscriptions and `inveterate-webhooks` (reference 001) at /v2.0/admin/webhooks, served by
`hookd api` beside the native API, against real FerretDB and Kafka, with `hookd dispatch` and the local receiver
(standardwebhooks verifier) where deliveries are involved. Requests are sent as Inveterate's documents write them:
the key in X-Inveterate-Api-Key, JSON bodies, replies {"message", "data"}."""

import datetime as dt

import pytest

from conftest import make_event, wait_for

SUBS = "/v2.0/admin/webhook-subscriptions"
HOOKS = "/v2.0/admin/webhooks"
NATIVE = "/v1/webhooks/subscriptions"
TOPIC = "customer.joined.paid_tier"
EIGHT = ["merchant.updated", "merchant.reinstall", "customer.created", "customer.updated", "customer.credits.updated",
         "customer.ordered", "customer.cancellation_requested", "customer.confirmed_cancellation"]


@pytest.fixture
def api(api_server):
    return api_server(dialects="native,inveterate-subscriptions,inveterate-webhooks")


def inv(api, method, path, key="t1", body=None, data=None, params=None, headers=None):
    """A request as an Inveterate client sends it: the key in X-Inveterate-Api-Key (key None: no key)."""
    h = dict(headers or {})
    if key is not None:
        h["X-Inveterate-Api-Key"] = api.keys.get(key, key)
    return api.call(method, path, key=None, json_body=body, data=data, params=params, headers=h)


def ok(resp, status=200):
    assert resp.status_code == status, f"{resp.status_code}: {resp.text}"
    body = resp.json()
    assert set(body) == {"message", "data"} and isinstance(body["message"], str) and body["message"], body
    return body["data"]


def bad(resp, *words):
    """A 400 in Inveterate's shape: a message naming the cause, data null (nothing was done)."""
    assert resp.status_code == 400, f"expected 400, got {resp.status_code}: {resp.text}"
    body = resp.json()
    assert set(body) == {"message", "data"} and body["data"] is None and body["message"], body
    for w in words:
        assert w in body["message"], body
    return body["message"]


def new_subscription(api, key="t1", url="https://example.com/hooks/paid", name="paid tier"):
    return ok(inv(api, "POST", SUBS, key, {"topic": TOPIC, "callbackUrl": url, "name": name}), 201)


def new_webhook(api, key="t1", url="https://example.com/hooks/all"):
    return ok(inv(api, "POST", HOOKS, key, {"callbackUrl": url}), 201)


def native(api, sid, key="t1"):
    resp = api.call("GET", f"{NATIVE}/{sid}", key)
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]


# ----------------------------------------------------------------------------------------------------------------
# 000: webhook subscriptions


def test_subscriptions_as_documented(api):
    created = new_subscription(api)
    sid = created["id"]
    assert created["topic"] == TOPIC and created["callbackUrl"] == "https://example.com/hooks/paid"
    assert created["name"] == "paid tier" and created["token"].startswith("whsec_")
    assert created["createdAt"] and created["updatedAt"]

    (listed,) = ok(inv(api, "GET", SUBS))
    assert listed == {k: v for k, v in created.items() if k != "token"}, "the token is shown on create only"

    updated = ok(inv(api, "PUT", SUBS, body={"topic": TOPIC, "callbackUrl": "https://example.com/v2", "name": "renamed",
                                             "id": sid}))
    assert (updated["id"], updated["callbackUrl"], updated["name"]) == (sid, "https://example.com/v2", "renamed")
    assert "token" not in updated
    # callbackUrl and name are optional on update: what is left out stays
    updated = ok(inv(api, "PUT", SUBS, body={"topic": TOPIC, "id": sid, "name": "again"}))
    assert (updated["callbackUrl"], updated["name"]) == ("https://example.com/v2", "again")

    deleted = ok(inv(api, "DELETE", SUBS, body={"topic": TOPIC, "id": sid}), 201)
    assert deleted == {"id": sid, "topic": TOPIC}
    assert ok(inv(api, "GET", SUBS)) == []
    bad(inv(api, "DELETE", SUBS, body={"topic": TOPIC, "id": sid}), sid)
    assert api.call("GET", f"{NATIVE}/{sid}").status_code == 404


def test_subscription_agrees_with_native_api_and_webhooks_dialect(api):
    created = new_subscription(api)
    n = native(api, created["id"])
    assert n["event_types"] == [TOPIC] and n["url"] == created["callbackUrl"] and n["name"] == created["name"]
    assert n["secret_last_4"] == created["token"][-4:]
    (hook,) = ok(inv(api, "GET", HOOKS))
    assert hook["id"] == created["id"] and hook["callbackUrl"] == created["callbackUrl"]
    assert hook["events"] == [TOPIC]

    # and the other way round: a native subscription read through 000
    resp = api.call("POST", NATIVE, json_body={"name": "native", "event_types": [TOPIC, "customer.created"],
                                               "url": "https://example.com/native"})
    assert resp.status_code == 201, resp.text
    nid = resp.json()["data"]["id"]
    listed = {s["id"]: s for s in ok(inv(api, "GET", SUBS))}
    assert listed[nid]["topic"] == TOPIC and listed[nid]["callbackUrl"] == "https://example.com/native"


def test_subscription_topic_is_the_key(api):
    """Update and delete name a subscription by id and topic: another subscription's topic does not match."""
    hook = new_webhook(api)
    bad(inv(api, "PUT", SUBS, body={"topic": TOPIC, "id": hook["id"], "name": "x"}), hook["id"], TOPIC)
    bad(inv(api, "DELETE", SUBS, body={"topic": TOPIC, "id": hook["id"]}), hook["id"])
    assert native(api, hook["id"])["name"] == "", "nothing was done"


# ----------------------------------------------------------------------------------------------------------------
# 001: webhooks


def test_webhooks_as_documented(api):
    assert ok(inv(api, "GET", HOOKS)) == []
    created = new_webhook(api)
    hid = created["id"]
    assert created["callbackUrl"] == "https://example.com/hooks/all" and created["events"] == EIGHT
    assert created["token"].startswith("whsec_") and created["createdAt"]
    (listed,) = ok(inv(api, "GET", HOOKS))
    assert listed == {k: v for k, v in created.items() if k != "token"}
    named = ok(inv(api, "POST", HOOKS, body={"callbackUrl": "https://example.com/named", "name": "crm"}), 201)
    assert named["name"] == "crm"

    n = native(api, hid)
    assert n["event_types"] == EIGHT and n["url"] == created["callbackUrl"]
    assert n["secret_last_4"] == created["token"][-4:]

    assert ok(inv(api, "DELETE", f"{HOOKS}/{hid}"), 201) == {"id": hid}
    assert [h["id"] for h in ok(inv(api, "GET", HOOKS))] == [named["id"]]
    bad(inv(api, "DELETE", f"{HOOKS}/{hid}"), hid)
    assert api.call("GET", f"{NATIVE}/{hid}").status_code == 404


# ----------------------------------------------------------------------------------------------------------------
# Deliveries, event logs, test events


def test_deliveries_event_logs_and_test_events(api, hookd, master_key, receiver, produce):
    sub = new_subscription(api, url=receiver.url("/ok/paid"))
    receiver.register("/ok/paid", sub["token"])
    hook = new_webhook(api, url=receiver.url("/ok/all"))
    receiver.register("/ok/all", hook["token"])
    h = hookd.start(HOOKD_MASTER_KEY=master_key)

    paid, ordered = make_event(type=TOPIC), make_event(type="customer.ordered")
    produce(paid)
    produce(ordered)
    (req,) = receiver.wait(1, "/ok/paid")
    assert req.verified, req.verify_error
    assert req.json()["type"] == TOPIC and req.json()["data"] == paid["data"]
    (req,) = receiver.wait(1, "/ok/all")
    assert req.verified, req.verify_error
    assert req.json()["type"] == "customer.ordered", "customer.joined.paid_tier is not one of the eight"

    sent = ok(inv(api, "POST", f"{SUBS}/test", body={"topic": TOPIC, "id": sub["id"], "data": {"custom": "ü"}}), 201)
    assert sent["id"] == sub["id"] and sent["topic"] == TOPIC and sent["eventId"] and sent["deliveryId"]
    reqs = receiver.wait(2, "/ok/paid")
    assert reqs[1].verified and reqs[1].json()["data"] == {"custom": "ü"}
    assert reqs[1].webhook_id == sent["deliveryId"]

    hsent = ok(inv(api, "POST", f"{HOOKS}/{hook['id']}/test",
                   body={"topic": "customer.credits.updated", "data": {"credits": 7}}), 201)
    assert hsent["topic"] == "customer.credits.updated"
    reqs = receiver.wait(2, "/ok/all")
    assert reqs[1].verified and reqs[1].json()["type"] == "customer.credits.updated"
    assert reqs[1].json()["data"] == {"credits": 7}
    default = ok(inv(api, "POST", f"{HOOKS}/{hook['id']}/test"), 201)
    assert default["topic"] == "merchant.updated", "without a topic, the first of the eight"
    receiver.wait(3, "/ok/all")

    def logged(path, params, n):
        page = ok(inv(api, "GET", path, params=params))
        done = [e for e in page["events"] if e["status"] == "succeeded"]
        return page if len(done) == n else None

    page = wait_for(lambda: logged(f"{SUBS}/events", {"id": sub["id"], "topic": TOPIC}, 2), what="000's event log")
    assert page["lastEventId"] is None
    newest = page["events"][0]  # newest first
    assert newest["id"] == sent["deliveryId"] and newest["eventId"] == sent["eventId"]
    assert newest["subscriptionId"] == sub["id"] and newest["topic"] == TOPIC
    assert newest["statusCode"] == 200 and newest["success"] is True and newest["retryCount"] == 0
    assert newest["sentAt"] and newest["createdAt"] and newest["errorMessage"] is None
    assert page["events"][1]["eventId"] == paid["id"]

    page = wait_for(lambda: logged(f"{HOOKS}/{hook['id']}/events", None, 3), what="001's event log")
    assert {e["eventId"] for e in page["events"]} == {ordered["id"], hsent["eventId"], default["eventId"]}
    # one at a time: lastEventId leads to the next page
    first = ok(inv(api, "GET", f"{HOOKS}/{hook['id']}/events", params={"limit": 1}))
    assert len(first["events"]) == 1 and first["lastEventId"]
    second = ok(inv(api, "GET", f"{HOOKS}/{hook['id']}/events", params={"limit": 1, "lastEventId": first["lastEventId"]}))
    assert len(second["events"]) == 1 and second["events"][0]["id"] != first["events"][0]["id"]
    hookd.stop(h)


# ----------------------------------------------------------------------------------------------------------------
# Errors, bad input, tenants


def test_authentication_errors_are_400(api):
    for path in (SUBS, HOOKS):
        bad(inv(api, "GET", path, key=None), "X-Inveterate-Api-Key")
        bad(inv(api, "GET", path, key="hk_nope_nope"))
        # the native header is not this dialect's
        bad(api.call("GET", path))


def test_bad_input_is_400_and_changes_nothing(api):
    sid = new_subscription(api)["id"]
    hid = new_webhook(api)["id"]
    huge = "x" * 5000
    cases = [
        ("POST", SUBS, None, b"{not json"),
        ("POST", SUBS, None, b"[1, 2]"),
        ("POST", SUBS, None, b"null"),
        ("POST", SUBS, None, b'{"topic": "customer.joined.paid_tier", "callbackUrl": "https://e.x", "name": NaN}'),
        ("POST", SUBS, {"topic": TOPIC, "callbackUrl": "https://example.com"}, None),
        ("POST", SUBS, {"topic": "customer.created", "callbackUrl": "https://example.com", "name": "n"}, None),
        ("POST", SUBS, {"topic": [TOPIC], "callbackUrl": "https://example.com", "name": "n"}, None),
        ("POST", SUBS, {"topic": TOPIC, "callbackUrl": 42, "name": "n"}, None),
        ("POST", SUBS, {"topic": TOPIC, "callbackUrl": "ftp://example.com", "name": "n"}, None),
        ("POST", SUBS, {"topic": TOPIC, "callbackUrl": "https://example.com", "name": {"a": 1}}, None),
        ("POST", SUBS, {"topic": TOPIC, "callbackUrl": "https://example.com/" + huge * 20, "name": "n"}, None),
        ("POST", SUBS, {"topic": TOPIC, "callbackUrl": "https://example.com", "name": huge}, None),
        ("POST", SUBS, {"topic": TOPIC, "callbackUrl": "https://example.com", "name": "n", "secret": "s"}, None),
        ("PUT", SUBS, {"topic": TOPIC, "id": sid, "callbackUrl": "not a url"}, None),
        ("PUT", SUBS, {"topic": TOPIC, "id": 12345678901234567890}, None),
        ("PUT", SUBS, {"topic": TOPIC, "name": "no id"}, None),
        ("PUT", SUBS, {"topic": TOPIC, "id": "sub_" + huge}, None),
        ("DELETE", SUBS, None, None),
        ("DELETE", SUBS, {"id": sid}, None),
        ("DELETE", SUBS, {"topic": TOPIC, "id": sid, "extra": True}, None),
        ("POST", f"{SUBS}/test", {"topic": TOPIC, "id": sid, "data": "not an object"}, None),
        ("POST", HOOKS, {}, None),
        ("POST", HOOKS, {"callbackUrl": "https://example.com", "events": EIGHT}, None),
        ("POST", HOOKS, {"callbackUrl": ["https://example.com"]}, None),
        ("POST", HOOKS, {"callbackUrl": "https://user:pw@example.com/"}, None),
        ("POST", f"{HOOKS}/{hid}/test", {"topic": "order.paid"}, None),
        ("POST", f"{HOOKS}/{hid}/test", {"topic": 1}, None),
        ("POST", f"{HOOKS}/{hid}/test", {"event_type": "customer.created"}, None),
    ]
    for method, path, body, raw in cases:
        resp = inv(api, method, path, body=body, data=raw)
        bad(resp)
    for path, params in ((SUBS, {"limit": 1}), (HOOKS, {"foo": "bar"}), (f"{SUBS}/events", {"id": sid}),
                         (f"{SUBS}/events", {"id": sid, "topic": TOPIC, "limit": "0"}),
                         (f"{HOOKS}/{hid}/events", {"lastEventId": "!!"}),
                         (f"{HOOKS}/{hid}/events", {"take": "5"})):
        bad(inv(api, "GET", path, params=params))
    bad(inv(api, "POST", SUBS, data=b'{"topic": "customer.joined.paid_tier"}', headers={"content-type": "text/plain"}))
    for method, path, allow in (("PATCH", SUBS, "GET, POST, PUT, DELETE"), ("GET", f"{SUBS}/test", "POST"),
                                ("PUT", f"{HOOKS}/{hid}", "DELETE"), ("DELETE", f"{HOOKS}/{hid}/events", "GET")):
        resp = inv(api, method, path, body={"topic": TOPIC, "id": sid})
        assert resp.status_code == 405 and resp.headers["allow"] == allow, resp.text
        assert resp.json() == {"message": f"{method} is not allowed here (allowed: {allow})", "data": None}
    bad(inv(api, "GET", f"{HOOKS}/{hid}/nothing"), "not a path")
    assert len(ok(inv(api, "GET", SUBS))) == 2, "nothing was created"
    assert native(api, sid)["name"] == "paid tier" and native(api, sid)["url"] == "https://example.com/hooks/paid"


def test_tenant_isolation(api):
    sid = new_subscription(api)["id"]
    hid = new_webhook(api)["id"]
    assert ok(inv(api, "GET", SUBS, key="t2")) == [] and ok(inv(api, "GET", HOOKS, key="t2")) == []
    for method, path, body, params in [
        ("PUT", SUBS, {"topic": TOPIC, "id": sid, "name": "stolen"}, None),
        ("DELETE", SUBS, {"topic": TOPIC, "id": sid}, None),
        ("POST", f"{SUBS}/test", {"topic": TOPIC, "id": sid}, None),
        ("GET", f"{SUBS}/events", None, {"id": sid, "topic": TOPIC}),
        ("DELETE", f"{HOOKS}/{hid}", None, None),
        ("POST", f"{HOOKS}/{hid}/test", None, None),
        ("GET", f"{HOOKS}/{hid}/events", None, None),
    ]:
        bad(inv(api, method, path, key="t2", body=body, params=params))
    own = new_webhook(api, key="t2")
    assert [h["id"] for h in ok(inv(api, "GET", HOOKS, key="t2"))] == [own["id"]]
    assert {s["id"] for s in ok(inv(api, "GET", SUBS))} == {sid, hid}
    assert native(api, sid)["name"] == "paid tier"



def test_lists_are_whole_past_a_native_page(api, db):
    """GET answers every subscription of the merchant, however many native pages (500) they fill."""
    now = dt.datetime.now(dt.timezone.utc)
    db.subscriptions.insert_many([
        {"_id": f"sub_bulk_{i:04d}", "tenant": "t1", "name": f"bulk {i}", "event_types": EIGHT,
         "url": f"https://example.com/{i}", "is_active": True, "created_at": now, "updated_at": now}
        for i in range(520)])
    db.subscriptions.insert_one({"_id": "sub_bulk_other", "tenant": "t2", "name": "other", "event_types": EIGHT,
                                 "url": "https://example.com/other", "created_at": now, "updated_at": now})
    hooks = ok(inv(api, "GET", HOOKS))
    assert [h["id"] for h in hooks] == [f"sub_bulk_{i:04d}" for i in range(520)]
    assert len(ok(inv(api, "GET", SUBS))) == 520


def test_backend_errors_are_500_with_data(api_server):
    """A failure behind the API (here Kafka refusing the test event's topic) is a 500 whose data names the error."""
    api = api_server(dialects="inveterate-subscriptions,inveterate-webhooks", HOOKD_TOPICS="not a valid topic!")
    sub = new_subscription(api)
    hook = new_webhook(api)
    for resp in (inv(api, "POST", f"{SUBS}/test", body={"topic": TOPIC, "id": sub["id"]}),
                 inv(api, "POST", f"{HOOKS}/{hook['id']}/test")):
        assert resp.status_code == 500, resp.text
        assert resp.json() == {"message": "sending the test event failed; the server log has the cause",
                               "data": {"error": "internal"}}
