"""The management dialect (reference 003, management API v11.5) end to end: `hookd api` with
api.dialects = native=/hookd/v1,management=/v1/webhooks, driven as the document's code samples are (curl with
Content-Type: application/json-patch+json, Accept: text/plain and x-api-key), with the dispatcher, the recorder and
the local receiver (standardwebhooks verifier) where deliveries are involved."""

import base64
import json
import subprocess

import pytest
import requests
import standardwebhooks

from conftest import TIMEOUT, free_port, make_event, wait_for

BASE = "/v1/webhooks"
SUBS = BASE + "/subscriptions"
NATIVE = "/hookd/v1/subscriptions"
SUB_KEYS = {"id", "name", "eventType", "url", "secret", "maxRetryCount", "isActive", "userId", "headers", "createdAt",
            "updatedAt", "webhookEvents"}
EVENT_KEYS = {"id", "webhookSubscriptionId", "eventType", "payload", "statusCode", "response", "errorMessage",
              "isSuccess", "retryCount", "sentAt", "nextRetryAt", "createdAt"}
# The document's example request body, as written.
DOC_BODY = ('{ "subscription": { "name": "string", "eventType": "string", "url": "string", "secret": "string", '
            '"headers": { "property1": "string", "property2": "string" }, "maxRetryCount": 0, "isActive": true } }')


class Mgmt:
    """Requests as the document's code samples send them."""

    def __init__(self, api):
        self.api = api

    def call(self, method, path, key="t1", body=None, params=None, headers=None, bearer=False):
        h = {"Accept": "text/plain"}
        if key is not None:
            k = self.api.keys.get(key, key)
            h.update({"Authorization": f"Bearer {k}"} if bearer else {"x-api-key": k})
        if body is not None:
            h["Content-Type"] = "application/json-patch+json"
            if not isinstance(body, (str, bytes)):
                body = json.dumps(body)
        h.update(headers or {})
        r = requests.request(method, self.api.base + path, data=body, headers=h, params=params, timeout=TIMEOUT)
        assert r.status_code < 500, f"{r.status_code}: {r.text}"
        assert r.headers["content-type"] == "application/json"
        return r


def ok(resp):
    assert resp.status_code == 200, f"{resp.status_code}: {resp.text}"
    body = resp.json()
    assert body["success"] is True and isinstance(body["message"], str) and body["message"], body
    return body


def err(resp, status, *words):
    """The dialect's error shape, {success: false, message}, with status and words in the message."""
    assert resp.status_code == status, f"expected {status}, got {resp.status_code}: {resp.text}"
    body = resp.json()
    assert set(body) == {"success", "message"} and body["success"] is False and body["message"], body
    for w in words:
        assert w in body["message"], body
    return body["message"]


def sub_body(url="http://127.0.0.1:9/hook", event_type="customer.created", **fields):
    s = {"name": "orders", "eventType": event_type, "url": url, "headers": {"x-source": "erp"}, "maxRetryCount": 2,
         "isActive": True}
    s.update(fields)
    return {"subscription": s}


@pytest.fixture
def api(api_server):
    return api_server(dialects="native=/hookd/v1,management=/v1/webhooks")


@pytest.fixture
def mgmt(api):
    return Mgmt(api)


def create(mgmt, key="t1", **fields):
    return ok(mgmt.call("POST", SUBS, key, sub_body(**fields)))["subscription"]


# ----------------------------------------------------------------------------------------------------------------
# Every operation, as the document writes it


def test_every_operation_in_the_documents_shapes(api, mgmt):
    # POST: the document's own body is answered in its shape; with real values it is created.
    msg = err(mgmt.call("POST", SUBS, body=DOC_BODY), 400, "secret")
    assert "6 given" in msg
    created = ok(mgmt.call("POST", SUBS, body=DOC_BODY.replace('"url": "string"', '"url": "https://erp.example/h"')
                           .replace('"eventType": "string"', '"eventType": "customer.created"')
                           .replace('"secret": "string"', '"secret": "0123456789abcdef"')))
    s = created["subscription"]
    assert set(s) == SUB_KEYS and set(created) == {"subscription", "success", "message"}
    assert isinstance(s["id"], int) and s["id"] > 0
    assert s["name"] == "string" and s["eventType"] == "customer.created" and s["url"] == "https://erp.example/h"
    assert s["secret"] == "0123456789abcdef", "the secret is shown whole at creation"
    assert json.loads(s["headers"]) == {"property1": "string", "property2": "string"}, "headers are JSON text"
    assert s["maxRetryCount"] == 0 and s["isActive"] is True and s["userId"] == "t1"
    assert s["createdAt"] and s["updatedAt"] and s["webhookEvents"] == []

    # GET one, GET all (with totals), PUT (full replace), event types, events, DELETE.
    got = ok(mgmt.call("GET", f"{SUBS}/{s['id']}"))["subscription"]
    assert got["secret"].startswith("****") and len(got["secret"]) == 8, "then only its last 4 characters"
    assert {k: v for k, v in got.items() if k != "secret"} == {k: v for k, v in s.items() if k != "secret"}
    listed = ok(mgmt.call("GET", SUBS))
    assert set(listed) == {"subscriptions", "totalSubscriptionsCount", "success", "message"}
    assert listed["totalSubscriptionsCount"] == 1 and listed["subscriptions"][0]["id"] == s["id"]
    assert "webhookEvents" not in listed["subscriptions"][0], "only with include=webhookEvents"
    put = ok(mgmt.call("PUT", f"{SUBS}/{s['id']}", body={"subscription": {
        "name": "renamed", "eventType": "customer.updated", "url": "https://erp.example/h2", "isActive": False}}))
    p = put["subscription"]
    assert (p["id"], p["name"], p["eventType"], p["url"], p["isActive"]) == (s["id"], "renamed", "customer.updated",
                                                                            "https://erp.example/h2", False)
    assert p["headers"] == "{}" and p["maxRetryCount"] == 5, "PUT replaces: absent fields take their defaults"
    assert p["secret"] == got["secret"], "the secret stays unless given"
    types = ok(mgmt.call("GET", f"{BASE}/event-types"))
    assert set(types) == {"eventTypes", "success", "message"}
    assert {"name": "customer.created", "description": "A customer was created."} in types["eventTypes"]
    assert all(set(t) == {"name", "description"} for t in types["eventTypes"])
    events = ok(mgmt.call("GET", f"{SUBS}/{s['id']}/events"))
    assert events["events"] == [] and events["totalEventsCount"] == 0
    deleted = ok(mgmt.call("DELETE", f"{SUBS}/{s['id']}"))
    assert set(deleted) == {"success", "message"}
    err(mgmt.call("GET", f"{SUBS}/{s['id']}"), 404, f"no subscription {s['id']}")


def test_bearer_and_both_content_types(api, mgmt):
    a = ok(mgmt.call("POST", SUBS, body=sub_body(), bearer=True))["subscription"]
    b = ok(mgmt.call("POST", SUBS, body=json.dumps(sub_body()), headers={"Content-Type": "application/json"}))
    assert b["subscription"]["id"] > a["id"]
    assert ok(mgmt.call("GET", f"{SUBS}/{a['id']}", bearer=True))["subscription"]["id"] == a["id"]
    for accept in ("text/plain", "application/json", "*/*"):
        ok(mgmt.call("GET", SUBS, headers={"Accept": accept}))


# ----------------------------------------------------------------------------------------------------------------
# Deliveries: a real event, the test event, the event log


def test_event_delivered_signed_and_logged(api, mgmt, hookd, master_key, receiver, produce):
    raw = "0123456789abcdef0123"  # not whsec_: its bytes are the key
    path = "/ok/mgmt"
    s = create(mgmt, url=receiver.url(path), secret=raw)
    whsec = "whsec_" + base64.b64encode(raw.encode()).decode()
    receiver.register(path, whsec)
    h = hookd.start(HOOKD_MASTER_KEY=master_key)
    ev = make_event(type="customer.created", tenant="t1", data={"customer_id": "cus_1"})
    produce(ev, key="cus_1")
    (req,) = receiver.wait(1, path)
    assert req.verified, req.verify_error
    # Verified again here with the reference library, from the secret the client gave.
    payload = standardwebhooks.Webhook(whsec).verify(req.body, {k: v for k, v in req.headers.items()})
    assert payload["data"] == {"customer_id": "cus_1"} and payload["type"] == "customer.created"
    assert req.headers["x-source"] == "erp", "the subscription's headers are sent"

    def logged():
        e = ok(mgmt.call("GET", f"{SUBS}/{s['id']}/events"))
        return e if e["events"] and e["events"][0]["isSuccess"] else None

    log = wait_for(logged, what="the delivery in the event log")
    (e,) = log["events"]
    assert log["totalEventsCount"] == 1 and set(e) == EVENT_KEYS
    assert isinstance(e["id"], int) and e["webhookSubscriptionId"] == s["id"] and e["eventType"] == "customer.created"
    assert e["statusCode"] == 200 and e["retryCount"] == 0 and e["errorMessage"] is None and e["nextRetryAt"] is None
    assert e["sentAt"] and e["createdAt"] and e["payload"] is None
    included = ok(mgmt.call("GET", SUBS, params={"include": "webhookEvents"}))["subscriptions"][0]["webhookEvents"]
    assert included == [e]
    assert ok(mgmt.call("GET", f"{SUBS}/{s['id']}"))["subscription"]["webhookEvents"] == [e]

    # The test event with a custom payload: an integer eventId, delivered signed, logged under that id.
    sent = ok(mgmt.call("POST", f"{SUBS}/{s['id']}/test", body={"payload": {"order": 7, "note": "ü"}}))
    assert set(sent) == {"success", "message", "eventId"} and isinstance(sent["eventId"], int)
    reqs = receiver.wait(2, path)
    assert reqs[1].verified and reqs[1].json()["data"] == {"order": 7, "note": "ü"}
    ok(mgmt.call("POST", f"{SUBS}/{s['id']}/test", body={"payload": None}))
    assert receiver.wait(3, path)[2].json()["data"]["test"] is True, "payload null: the default test data"

    def three():
        e = ok(mgmt.call("GET", f"{SUBS}/{s['id']}/events", params={"filter": "isSuccess eq true"}))
        return e if e["totalEventsCount"] == 3 else None

    ids = [x["id"] for x in wait_for(three, what="three successful deliveries")["events"]]
    assert sent["eventId"] in ids and len(set(ids)) == 3
    page = ok(mgmt.call("GET", f"{SUBS}/{s['id']}/events",
                        params={"sort": "id", "take": 1, "skip": 1, "select": "id,statusCode"}))
    assert page["totalEventsCount"] == 3 and page["events"] == [{"id": sorted(ids)[1], "statusCode": 200}]

    # Delete one event: gone from the log; again, or through another subscription, is 404.
    other = create(mgmt)
    err(mgmt.call("DELETE", f"{SUBS}/{other['id']}/events/{sent['eventId']}"), 404)
    ok(mgmt.call("DELETE", f"{SUBS}/{s['id']}/events/{sent['eventId']}"))
    err(mgmt.call("DELETE", f"{SUBS}/{s['id']}/events/{sent['eventId']}"), 404, f"no event {sent['eventId']}")
    assert ok(mgmt.call("GET", f"{SUBS}/{s['id']}/events"))["totalEventsCount"] == 2
    hookd.stop(h)


# ----------------------------------------------------------------------------------------------------------------
# select, filter, sort, include, take, skip


def test_list_query_parameters(api, mgmt):
    a = create(mgmt, name="alpha", maxRetryCount=1)
    b = create(mgmt, name="beta", maxRetryCount=3, isActive=False)
    c = create(mgmt, name="gamma", maxRetryCount=5, event_type="customer.updated")
    create(mgmt, "t2", name="other")

    def ids(**params):
        body = ok(mgmt.call("GET", SUBS, params=params))
        return [x["id"] for x in body["subscriptions"]], body["totalSubscriptionsCount"]

    assert ids() == ([a["id"], b["id"], c["id"]], 3)
    assert ids(sort="name desc") == ([c["id"], b["id"], a["id"]], 3)
    assert ids(sort="isActive, maxRetryCount desc") == ([b["id"], c["id"], a["id"]], 3)
    assert ids(filter="isActive eq true") == ([a["id"], c["id"]], 2)
    assert ids(filter="maxRetryCount ge 3 and isActive eq true") == ([c["id"]], 1)
    assert ids(filter="eventType eq 'customer.updated'") == ([c["id"]], 1)
    assert ids(filter="name ne 'beta' AND id gt 0") == ([a["id"], c["id"]], 2)
    assert ids(filter=f"createdAt ge '{a['createdAt']}'")[1] == 3
    assert ids(take=1, skip=1) == ([b["id"]], 3)
    assert ids(take=0) == ([], 3)
    assert ids(skip=10) == ([], 3)
    sel = ok(mgmt.call("GET", SUBS, params={"select": "id, name", "take": 1}))["subscriptions"]
    assert sel == [{"id": a["id"], "name": "alpha"}]
    inc = ok(mgmt.call("GET", SUBS, params={"include": "webhookEvents", "select": "id,webhookEvents"}))
    assert inc["subscriptions"][0] == {"id": a["id"], "webhookEvents": []}
    quoted = create(mgmt, name="o'brien")
    assert ids(filter="name eq 'o''brien'") == ([quoted["id"]], 1)

    for params, words in [
        ({"filter": "nope eq 1"}, ["nope", "not a field"]),
        ({"filter": "name eq"}, ["operator and a value"]),
        ({"filter": "name like 'a'"}, ["not an operator"]),
        ({"filter": "name gt 'a'"}, ["eq and ne only"]),
        ({"filter": "isActive eq 'yes'"}, ["true or false"]),
        ({"filter": "maxRetryCount eq x"}, ["an integer"]),
        ({"filter": "createdAt gt 'yesterday'"}, ["RFC 3339"]),
        ({"filter": "name eq 'a' or name eq 'b'"}, ["joined by \"and\""]),
        ({"filter": "name eq 'open"}, ["not closed"]),
        ({"filter": " and ".join(["isActive eq true"] * 11)}, ["at most 10"]),
        ({"filter": "x" * 2000}, ["at most 1024 bytes"]),
        ({"sort": "nope"}, ["not a field to sort by"]),
        ({"sort": "name sideways"}, ["asc, desc"]),
        ({"sort": "name, name desc"}, ["twice"]),
        ({"sort": "eventType"}, ["not a field to sort by"]),
        ({"sort": "name,,id"}, ["empty item"]),
        ({"select": "id,password"}, ["password"]),
        ({"select": ""}, ["empty item"]),
        ({"include": "secrets"}, ["webhookEvents"]),
        ({"take": "-1"}, ["take"]), ({"take": "1001"}, ["take"]), ({"take": "x"}, ["take"]),
        ({"skip": "99999999999"}, ["skip"]), ({"skip": "1.5"}, ["skip"]),
        ({"limit": "5"}, ["unknown query parameter", "limit"]),
    ]:
        err(mgmt.call("GET", SUBS, params=params), 400, *words)
    s = a["id"]
    err(mgmt.call("GET", f"{SUBS}/{s}/events", params={"include": "webhookEvents"}), 400, "nothing to include")
    err(mgmt.call("GET", f"{SUBS}/{s}/events", params={"filter": "name eq 'x'"}), 400, "not a field")
    err(mgmt.call("GET", f"{SUBS}/{s}/events", params={"select": "secret"}), 400, "secret")


# ----------------------------------------------------------------------------------------------------------------
# Errors and hostile input: always {success: false, message}, never a 5xx


def test_errors_in_the_documents_shape(api, mgmt):
    s = create(mgmt)
    sid = s["id"]
    r = mgmt.call("GET", SUBS, key=None)
    err(r, 401, "missing API key")
    assert r.headers["www-authenticate"] == "Bearer"
    err(mgmt.call("GET", SUBS, key="hk_0000000000000000_nope"), 401, "not valid")
    err(mgmt.call("GET", SUBS, headers={"Authorization": "Basic eDp5"}, key=None), 401, "Bearer")
    err(mgmt.call("GET", f"{SUBS}/0"), 400, "integer from 1")
    err(mgmt.call("GET", f"{SUBS}/abc"), 400, "integer from 1")
    err(mgmt.call("GET", f"{SUBS}/99999999999"), 400, "integer from 1")
    err(mgmt.call("GET", f"{SUBS}/2147483647"), 404, "no subscription 2147483647")
    err(mgmt.call("GET", f"{SUBS}/{sid}/events/1"), 405)
    err(mgmt.call("DELETE", f"{SUBS}/{sid}/events/x"), 400, "event id")
    err(mgmt.call("GET", f"{BASE}/nowhere"), 404, "no such route")
    err(mgmt.call("GET", f"{SUBS}/{sid}/rotate"), 404)
    r = mgmt.call("PATCH", f"{SUBS}/{sid}", body={"subscription": {}})
    err(r, 405, "GET, PUT, DELETE")
    assert r.headers["allow"] == "GET, PUT, DELETE"
    err(mgmt.call("POST", f"{BASE}/event-types", body={}), 405)
    err(mgmt.call("GET", f"{SUBS}/{sid}/test"), 405, "POST")
    err(mgmt.call("GET", f"{SUBS}/{sid}", params={"include": "webhookEvents"}), 400, "unknown query parameter")
    err(mgmt.call("POST", SUBS, body=sub_body(), params={"dryRun": "1"}), 400, "dryRun")
    assert ok(mgmt.call("GET", SUBS))["totalSubscriptionsCount"] == 1, "a refused request changes nothing"

    # Bodies: content type, JSON, envelope, unknown fields, wrong types, huge values.
    err(mgmt.call("POST", SUBS, body=json.dumps(sub_body()), headers={"Content-Type": "text/plain"}), 415,
        "application/json-patch+json")
    err(mgmt.call("POST", SUBS, body="{bad"), 400, "not valid JSON")
    err(mgmt.call("POST", SUBS, body="[]"), 400, "{\"subscription\"")
    err(mgmt.call("POST", SUBS, body="null"), 400, "not null")
    err(mgmt.call("POST", SUBS), 400, "{\"subscription\"")
    err(mgmt.call("POST", SUBS, body={"subscription": sub_body()["subscription"], "extra": 1}), 400, "nothing else")
    err(mgmt.call("POST", SUBS, body={"name": "flat"}), 400, "{\"subscription\"")
    for fields, words in [
        ({"color": "red"}, ["color", "unknown field"]),
        ({"id": 5}, ["id", "unknown field"]),
        ({"eventType": 5}, ["eventType", "a string"]),
        ({"eventType": ["customer.created"]}, ["eventType"]),
        ({"eventType": "no.such.type"}, ["eventType", "unknown event type"]),
        ({"url": None}, ["url", "required"]),
        ({"url": "ftp://x"}, ["url"]),
        ({"url": "http://x/" + "a" * 5000}, ["url"]),
        ({"headers": [1]}, ["headers"]),
        ({"headers": "{not json"}, ["headers"]),
        ({"headers": {"host": "x"}}, ["headers"]),
        ({"isActive": "yes"}, ["isActive", "boolean"]),
        ({"maxRetryCount": "x"}, ["maxRetryCount"]),
        ({"maxRetryCount": 10 ** 12}, ["maxRetryCount"]),
        ({"maxRetryCount": -1}, ["maxRetryCount"]),
        ({"name": "n" * 10000}, ["name"]),
        ({"secret": "short"}, ["secret", "16 to 64 bytes"]),
        ({"secret": "x" * 65}, ["secret"]),
        ({"secret": 12345}, ["secret", "a string"]),
        ({"secret": "whsec_!!!"}, ["secret"]),
    ]:
        body = sub_body()
        body["subscription"].update(fields)
        if fields.get("url", "") is None:
            del body["subscription"]["url"]
        err(mgmt.call("POST", SUBS, body=body), 400, *words)
        err(mgmt.call("PUT", f"{SUBS}/{sid}", body=body), 400, *words)
    err(mgmt.call("POST", SUBS, body='{"subscription": {"url": "http://127.0.0.1:9/x", "eventType": "a.b", '
                                     '"maxRetryCount": 1e999}}'), 400, "not valid JSON")
    err(mgmt.call("POST", f"{SUBS}/{sid}/test", body={"payload": [1]}), 400, "JSON object")
    err(mgmt.call("POST", f"{SUBS}/{sid}/test", body={"payload": {}, "type": "x"}), 400, "nothing else")
    big = requests.post(api.base + SUBS, data=b"{" + b" " * 70000 + b"}", timeout=TIMEOUT,
                        headers={"x-api-key": api.keys["t1"], "Content-Type": "application/json-patch+json"})
    err(big, 413, "exceeds")
    bad_utf8 = requests.get(api.base + SUBS + "/%ff", headers={"x-api-key": api.keys["t1"]}, timeout=TIMEOUT)
    err(bad_utf8, 400)
    after = ok(mgmt.call("GET", f"{SUBS}/{sid}"))["subscription"]
    assert {**after, "secret": None} == {**s, "secret": None}, "nothing was changed by a refused PUT"


def test_test_event_of_an_inactive_subscription_is_a_conflict(api, mgmt):
    s = create(mgmt, isActive=False)
    err(mgmt.call("POST", f"{SUBS}/{s['id']}/test", body={"payload": None}), 409, "not active")


# ----------------------------------------------------------------------------------------------------------------
# One subscription, every dialect; tenants


def test_the_same_subscription_through_both_dialects(api, mgmt):
    s = create(mgmt, name="shared", secret="whsec_" + base64.b64encode(b"k" * 24).decode())
    (native,) = [x for x in api.call("GET", NATIVE).json()["data"] if x["alias"] == s["id"]]
    assert (native["name"], native["event_types"], native["url"], native["max_retry_count"], native["is_active"],
            native["headers"], native["created_at"], native["updated_at"]) == (
        s["name"], [s["eventType"]], s["url"], s["maxRetryCount"], s["isActive"], json.loads(s["headers"]),
        s["createdAt"], s["updatedAt"])
    assert native["secret_last_4"] == s["secret"][-4:]

    # Natively created and changed: the management dialect sees it, under its alias.
    n = api.call("POST", NATIVE, json_body={"name": "native", "event_types": ["customer.updated", "customer.created"],
                                           "url": "http://127.0.0.1:9/n", "filter": {"data.credits": {"$gt": 1}}})
    assert n.status_code == 201, n.text
    n = n.json()["data"]
    m = ok(mgmt.call("GET", f"{SUBS}/{n['alias']}"))["subscription"]
    assert (m["name"], m["eventType"], m["url"]) == ("native", "customer.updated", "http://127.0.0.1:9/n")
    assert m["secret"] == "****" + n["secret"][-4:]
    # A management PUT replaces the fields it has and keeps the native-only ones (the filter).
    ok(mgmt.call("PUT", f"{SUBS}/{n['alias']}", body=sub_body(name="both")))
    again = api.call("GET", f"{NATIVE}/{n['id']}").json()["data"]
    assert again["name"] == "both" and again["event_types"] == ["customer.created"]
    assert again["filter"] == {"data.credits": {"$gt": 1}}
    # Deleted through one, gone from the other.
    assert api.call("DELETE", f"{NATIVE}/{n['id']}").status_code == 200
    err(mgmt.call("GET", f"{SUBS}/{n['alias']}"), 404)
    ok(mgmt.call("DELETE", f"{SUBS}/{s['id']}"))
    assert api.call("GET", f"{NATIVE}/{native['id']}").status_code == 404
    # The native API answers only at its own prefix now.
    assert api.call("GET", "/v1/webhooks/subscriptions/" + native["id"]).status_code == 400


def test_tenant_isolation(api, mgmt):
    mine = create(mgmt, "t1", name="mine")
    theirs = create(mgmt, "t2", name="theirs")
    body = ok(mgmt.call("GET", SUBS, "t2"))
    assert [x["id"] for x in body["subscriptions"]] == [theirs["id"]] and body["totalSubscriptionsCount"] == 1
    assert body["subscriptions"][0]["userId"] == "t2"
    sid = mine["id"]
    for method, path, b in [("GET", f"{SUBS}/{sid}", None), ("PUT", f"{SUBS}/{sid}", sub_body()),
                            ("DELETE", f"{SUBS}/{sid}", None), ("POST", f"{SUBS}/{sid}/test", {"payload": None}),
                            ("GET", f"{SUBS}/{sid}/events", None), ("DELETE", f"{SUBS}/{sid}/events/1", None)]:
        err(mgmt.call(method, path, "t2", b), 404, f"no subscription {sid}")
    assert ok(mgmt.call("GET", f"{SUBS}/{sid}"))["subscription"]["name"] == "mine"
    assert ok(mgmt.call("GET", SUBS, "t2", params={"filter": f"id eq {sid}"}))["totalSubscriptionsCount"] == 0


@pytest.mark.parametrize("dialects, words", [
    ("native,management", ["native at /v1/webhooks and management at /v1/webhooks", "cannot share a prefix"]),
    ("native=/v1,management", ["nest"]),
    ("management=v1", ["must be a path"]),
    ("native,nosuch", ["unknown dialect \"nosuch\"", "native, management"]),
    ("", ["at least one"]),
])
def test_dialect_configuration_errors_stop_the_start(hookd, hookd_bin, master_key, dialects, words):
    env = hookd.env(HOOKD_MASTER_KEY=master_key, HOOKD_API_PORT=free_port(), HOOKD_API_DIALECTS=dialects)
    out = subprocess.run([str(hookd_bin), "api"], env=env, capture_output=True, timeout=TIMEOUT, text=True)
    assert out.returncode == 1, out.stderr
    msg = json.loads(out.stderr.strip().splitlines()[-1])["msg"]
    for w in words:
        assert w in msg, msg
