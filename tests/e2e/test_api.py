"""`hookd api` end to end: the management API against real FerretDB and Kafka, driven with `requests` as a client
would, with `hookd dispatch` and the local receiver (standardwebhooks verifier) where deliveries are involved.
Fixtures: conftest.py (the API process and its keys: Api, api_server); `api` below is the native API alone."""

import base64
import datetime as dt
import json
import secrets
import signal
import subprocess
import time

import pytest
import standardwebhooks
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

# Api, free_port and master_key are re-exported for the test modules that import them from here.
from conftest import SANITIZER_MARKERS, TIMEOUT, Api, free_port, make_event, master_key, wait_for  # noqa: F401

SUBS = "/v1/webhooks/subscriptions"


@pytest.fixture
def api(api_server):
    return api_server()


def ok(resp, status=200):
    assert resp.status_code == status, f"{resp.status_code}: {resp.text}"
    body = resp.json()
    assert body["success"] is True, body
    return body["data"]


def err(resp, status, slug=None):
    assert resp.status_code == status, f"expected {status}, got {resp.status_code}: {resp.text}"
    body = resp.json()
    assert body["success"] is False and set(body) == {"success", "error", "message", "details"}, body
    assert body["message"], body
    if slug:
        assert body["error"] == slug, body
    return body


def new_sub(api, key="t1", **fields):
    body = {"name": "s", "event_types": ["customer.created"], "url": "http://127.0.0.1:9/hook"}
    body.update(fields)
    return ok(api.call("POST", SUBS, key, body), 201)


def sub_for(api, receiver, name, key="t1", status_path="ok", **fields):
    """A subscription whose URL is the receiver's /<status_path>/<name>, its secret registered there."""
    path = f"/{status_path}/{name}"
    s = new_sub(api, key, url=receiver.url(path), name=name, **fields)
    receiver.register(path, s["secret"])
    s["path"] = path
    return s


# ----------------------------------------------------------------------------------------------------------------
# Health, authentication


def test_health_and_readiness(api):
    assert ok(api.call("GET", "/healthz", key=None)) == "ok"
    assert ok(api.call("GET", "/readyz", key=None)) == "ready"


def test_metrics_count_requests(api):
    """The API serves Prometheus metrics on its own port (no key needed), counting what it answered."""
    ok(api.call("GET", SUBS))
    err(api.call("GET", SUBS, key=None), 401)
    resp = api.call("GET", "/metrics", key=None)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
    lines = resp.text.splitlines()
    assert any(l.startswith('hd_api_requests_total{method="GET",status_class="2xx"} ') for l in lines), resp.text
    assert any(l.startswith('hd_api_requests_total{method="GET",status_class="4xx"} ') for l in lines), resp.text
    assert any(l.startswith("hd_api_request_duration_seconds_count ") for l in lines), resp.text


def test_auth_failures(api):
    err(api.call("GET", SUBS, key=None), 401, "invalid-token")
    err(api.call("GET", SUBS, key="nonsense"), 401, "invalid-token")
    forged = api.keys["t1"][:-4] + "AAAA"
    err(api.call("GET", SUBS, key=forged), 401, "invalid-token")
    err(api.call("GET", SUBS, key=None, headers={"authorization": "Basic dTpw"}), 401, "invalid-token")
    err(api.call("GET", SUBS, key=None, headers={"authorization": "Bearer hk_0000000000000000_x"}), 401)
    ok(api.call("GET", SUBS, key=None, headers={"authorization": "Bearer " + api.keys["t1"]}))
    ok(api.call("GET", SUBS, key="t1"))


def test_apikey_stored_only_as_hash(api, db):
    (doc,) = [d for d in db.api_keys.find() if api.keys["t2"].startswith(f"hk_{d['_id']}_")]
    assert doc["tenant"] == "t2"
    assert api.keys["t2"] not in json.dumps(doc, default=str)
    assert api.keys["t2"].split("_", 2)[2] not in json.dumps(doc, default=str)


def test_apikeys_listed_and_revoked_at_once(api):
    """Keys are listed (CLI and admin route) without their secret part, and a revoked key fails its next request."""
    def cli(*args, check=True):
        return subprocess.run([str(api.bin), "apikey", *args], env=api.env, capture_output=True, timeout=TIMEOUT,
                              check=check)

    victim, other = api.new_key("t2"), api.new_key("t2")
    ids = {k: k.split("_")[1] for k in (victim, other)}
    lines = cli("list", "--tenant", "t2").stdout.decode().splitlines()
    assert {l.split("\t")[0] for l in lines} >= set(ids.values()) and all(l.split("\t")[1] == "t2" for l in lines)
    assert victim.split("_", 2)[2] not in "\n".join(lines)

    listed = ok(api.call("GET", "/v1/webhooks/api-keys", "admin", params={"tenant": "t2", "limit": 500}))
    assert {x["id"] for x in listed} >= set(ids.values()) and all(set(x) == {"id", "tenant", "admin", "created_at"}
                                                                   for x in listed), listed
    err(api.call("GET", "/v1/webhooks/api-keys", "t1"), 403, "forbidden")
    err(api.call("DELETE", f"/v1/webhooks/api-keys/{ids[other]}", "t1"), 403, "forbidden")

    ok(api.call("GET", SUBS, victim))
    ok(api.call("DELETE", f"/v1/webhooks/api-keys/{ids[victim]}", "admin"))
    err(api.call("GET", SUBS, victim), 401, "invalid-token")
    err(api.call("DELETE", f"/v1/webhooks/api-keys/{ids[victim]}", "admin"), 404, "not-found")

    ok(api.call("GET", SUBS, other))
    cli("revoke", other)  # a whole key names its id
    err(api.call("GET", SUBS, other), 401, "invalid-token")
    assert cli("revoke", ids[other], check=False).returncode == 1


# ----------------------------------------------------------------------------------------------------------------
# Subscriptions


# What the dispatcher runs: a JSON template as text and a MongoDB-style filter (stored as JSON text, since MongoDB
# field names cannot start with '$').
TEMPLATE = '{"email": "{{data.customer.email}}", "amount": "{{data.amount}}"}'
FILTER = {"data.amount": {"$gte": 100}, "$or": [{"data.currency": "EUR"}, {"data.currency": {"$exists": False}}]}


def test_crud(api, db):
    created = new_sub(api, name="crud", event_types=["customer.created", "order.*"], headers={"x-a": "1"},
                      max_retry_count=3, success_code=202, statuses=["paid"], payload_template=TEMPLATE,
                      version=2, notify=True, notification_emails=["ops@example.com"], filter=FILTER)
    sid = created["id"]
    assert created["secret"].startswith("whsec_")
    assert created["secret_last_4"] == created["secret"][-4:]
    for k, v in {"name": "crud", "event_types": ["customer.created", "order.*"], "headers": {"x-a": "1"},
                 "max_retry_count": 3, "success_code": 202, "is_active": True, "statuses": ["paid"],
                 "payload_template": TEMPLATE, "version": 2, "notify": True,
                 "notification_emails": ["ops@example.com"], "filter": FILTER}.items():
        assert created[k] == v, k

    got = ok(api.call("GET", f"{SUBS}/{sid}"))
    assert "secret" not in got and got["secret_last_4"] == created["secret"][-4:]
    assert got["updated_at"] == got["created_at"]

    stored = db.subscriptions.find_one({"_id": sid})
    assert stored["tenant"] == "t1" and stored["secret"].startswith("enc:v1:")
    assert created["secret"] not in json.dumps(stored, default=str)
    assert isinstance(stored["updated_at"], dt.datetime)

    patched = ok(api.call("PATCH", f"{SUBS}/{sid}", json_body={"is_active": False, "name": "renamed"}))
    assert patched["is_active"] is False and patched["name"] == "renamed" and patched["headers"] == {"x-a": "1"}
    assert patched["updated_at"] > got["updated_at"]

    # As the dispatcher leaves a subscription it disabled: the API shows why and since when it was failing, and
    # re-enabling it clears both (a fresh auto-disable clock).
    since = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    db.subscriptions.update_one({"_id": sid}, {"$set": {"disabled_reason": "the endpoint has failed continuously",
                                                        "disabled_at": since, "failing_since": since}})
    got = ok(api.call("GET", f"{SUBS}/{sid}"))
    assert got["failing_since"].startswith("2026-01-01T00:00:00") and got["disabled_reason"], got
    enabled = ok(api.call("PATCH", f"{SUBS}/{sid}", json_body={"is_active": True}))
    assert (enabled["is_active"], enabled["disabled_reason"], enabled["failing_since"]) == (True, None, None), enabled

    put = ok(api.call("PUT", f"{SUBS}/{sid}", json_body={"event_types": ["customer.updated"],
                                                         "url": "https://example.com/h"}))
    assert put["event_types"] == ["customer.updated"] and put["url"] == "https://example.com/h"
    assert put["headers"] == {} and put["is_active"] is True and put["max_retry_count"] == 5  # replaced
    assert put["secret_last_4"] == created["secret"][-4:]  # PUT keeps the secret unless given
    assert put["updated_at"] > enabled["updated_at"]

    ok(api.call("DELETE", f"{SUBS}/{sid}"))
    err(api.call("GET", f"{SUBS}/{sid}"), 404, "not-found")
    err(api.call("DELETE", f"{SUBS}/{sid}"), 404, "not-found")
    assert db.subscriptions.count_documents({"_id": sid}) == 0


def test_secret_shown_once(api):
    given = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    s = new_sub(api, secret=given)
    assert "secret" not in s, "a secret the client chose is not echoed"
    assert s["secret_last_4"] == given[-4:]
    gen = new_sub(api)
    assert gen["secret"].startswith("whsec_")
    listed = ok(api.call("GET", SUBS))
    assert all("secret" not in x for x in listed)
    assert gen["secret"] not in api.call("GET", SUBS).text
    assert gen["secret"] not in api.call("GET", f"{SUBS}/{gen['id']}").text


def test_long_secrets_kept_whole(api):
    """Secrets up to whsec_ + base64 of 64 bytes (94 characters) are stored whole on create and on rotate-secret."""
    for size in (48, 64):
        given = "whsec_" + base64.b64encode(secrets.token_bytes(size)).decode()
        s = new_sub(api, secret=given)
        assert s["secret_last_4"] == given[-4:], size
        rotated = "whsec_" + base64.b64encode(secrets.token_bytes(size)).decode()
        r = ok(api.call("POST", f"{SUBS}/{s['id']}/rotate-secret", json_body={"secret": rotated}))
        assert r["secret_last_4"] == rotated[-4:] and r["secret"] == rotated, size
    too_long = "whsec_" + base64.b64encode(secrets.token_bytes(65)).decode()
    err(api.call("POST", SUBS, json_body={"event_types": ["customer.created"], "url": "http://127.0.0.1:9/h",
                                          "secret": too_long}), 422)


def test_delete_takes_the_delivery_log(api, db):
    """Deleting a subscription deletes its delivery-log rows; a row recorded afterwards stays removable."""
    s, keep = new_sub(api, name="gone"), new_sub(api, name="kept")
    now = dt.datetime.now(dt.timezone.utc)
    for sub, eid in [(s, "evt_1"), (s, "evt_2"), (keep, "evt_3")]:
        db.deliveries.insert_one({"_id": f"row_{eid}", "tenant": "t1", "subscription_id": sub["id"], "event_id": eid,
                                  "event_type": "customer.created", "status": "failed", "sort_key": f"0:{eid}",
                                  "created_at": now})
    ok(api.call("DELETE", f"{SUBS}/{s['id']}"))
    assert [x["event_id"] for x in ok(api.call("GET", "/v1/webhooks/events"))] == ["evt_3"]
    db.deliveries.insert_one({"_id": "row_late", "tenant": "t1", "subscription_id": s["id"], "event_id": "evt_late",
                              "event_type": "customer.created", "status": "failed", "sort_key": "0:late",
                              "created_at": now})
    err(api.call("DELETE", f"{SUBS}/{s['id']}/events/evt_late", "t2"), 404)
    ok(api.call("DELETE", f"{SUBS}/{s['id']}/events/evt_late"))
    assert db.deliveries.count_documents({"subscription_id": s["id"]}) == 0


def test_pagination_forward_and_back(api):
    ids = [new_sub(api, name=f"p{i}")["id"] for i in range(7)]
    seen, pages, after = [], [], None
    while True:
        body = api.call("GET", SUBS, params={"limit": 3, **({"after": after} if after else {})}).json()
        pages.append(body)
        seen += [x["id"] for x in body["data"]]
        if not body["pagination"]["has_next_page"]:
            break
        after = body["pagination"]["end_cursor"]
    assert seen == ids, "stable creation order, nothing lost or repeated"
    assert [len(p["data"]) for p in pages] == [3, 3, 1]
    assert [p["pagination"]["has_previous_page"] for p in pages] == [False, True, True]

    back, before = [], pages[-1]["pagination"]["start_cursor"]
    while before:
        body = api.call("GET", SUBS, params={"limit": 3, "before": before}).json()
        back = [x["id"] for x in body["data"]] + back
        assert body["pagination"]["has_next_page"] is True
        before = body["pagination"]["start_cursor"] if body["pagination"]["has_previous_page"] else None
    assert back == ids[:6]


def test_offset_pagination_with_totals(api):
    ids = [new_sub(api, name=f"o{i}")["id"] for i in range(5)]
    new_sub(api, "t2", name="other")
    body = api.call("GET", SUBS, params={"limit": 2, "offset": 1}).json()
    assert [x["id"] for x in body["data"]] == ids[1:3]
    assert body["pagination"] == {"start_cursor": None, "end_cursor": None, "has_next_page": True,
                                  "has_previous_page": True, "limit": 2, "offset": 1, "total": 5}
    last = api.call("GET", SUBS, params={"limit": 2, "offset": 4, "name": "o4"}).json()
    assert last["data"] == [] and last["pagination"]["total"] == 1 and last["pagination"]["has_next_page"] is False
    assert ok(api.call("GET", SUBS, params={"offset": 0}))[0]["id"] == ids[0]
    for bad in ("-1", "x", "1.5", "99999999999"):
        err(api.call("GET", SUBS, params={"offset": bad}), 400, "invalid-param")
    cursor = api.call("GET", SUBS, params={"limit": 1}).json()["pagination"]["end_cursor"]
    err(api.call("GET", SUBS, params={"offset": 1, "after": cursor}), 400, "invalid-param")


def test_unknown_query_parameters_refused(api):
    s = new_sub(api)
    for method, path, body in [("GET", SUBS, None), ("POST", SUBS, {"url": "http://127.0.0.1:9/x",
                                                                       "event_types": ["customer.created"]}),
                               ("GET", f"{SUBS}/{s['id']}", None), ("PATCH", f"{SUBS}/{s['id']}", {"name": "n"}),
                               ("GET", f"{SUBS}/{s['id']}/events", None), ("GET", "/v1/webhooks/events", None),
                               ("GET", "/v1/webhooks/event-types", None), ("DELETE", f"{SUBS}/{s['id']}", None)]:
        e = err(api.call(method, path, json_body=body, params={"take": "5"}), 400, "invalid-param")
        assert e["details"] == [{"field": "take", "message": "unknown query parameter"}], e
    err(api.call("GET", "/v1/webhooks/api-keys", key="admin", params={"tenantt": "t1"}), 400, "invalid-param")
    assert len(ok(api.call("GET", SUBS))) == 1, "nothing was created by the refused POST"
    assert ok(api.call("GET", f"{SUBS}/{s['id']}"))["name"] == "s", "nothing was changed by the refused PATCH"


def test_alias_and_metadata(api, api_server, db):
    a = new_sub(api, metadata={"partner_id": 42, "nested": {"k": ["v"]}})
    b = new_sub(api, "t2")
    assert isinstance(a["alias"], int) and isinstance(b["alias"], int) and b["alias"] > a["alias"] > 0
    assert a["metadata"] == {"partner_id": 42, "nested": {"k": ["v"]}} and b["metadata"] == {}
    assert db.subscriptions.find_one({"_id": a["id"]})["alias"] == a["alias"]
    patched = ok(api.call("PATCH", f"{SUBS}/{a['id']}", json_body={"name": "renamed"}))
    assert patched["alias"] == a["alias"] and patched["metadata"] == a["metadata"]
    put = ok(api.call("PUT", f"{SUBS}/{a['id']}", json_body={"url": "http://127.0.0.1:9/y",
                                                                "event_types": ["customer.created"]}))
    assert put["alias"] == a["alias"] and put["metadata"] == {}, "PUT replaces metadata too"
    for bad in ([1], "x", {"$where": 1}, {"a.b": 1}, {"": 1}, {"big": "x" * 9000}):
        e = err(api.call("PATCH", f"{SUBS}/{a['id']}", json_body={"metadata": bad}), 422, "invalid-param")
        assert [d["field"] for d in e["details"]] == ["metadata"], e
    # Subscriptions written before aliases existed get one when the API starts.
    db.subscriptions.update_one({"_id": b["id"]}, {"$unset": {"alias": ""}})
    assert ok(api.call("GET", f"{SUBS}/{b['id']}", key="t2"))["alias"] is None
    again = api_server()
    alias = ok(again.call("GET", f"{SUBS}/{b['id']}", key="t2"))["alias"]
    assert isinstance(alias, int) and alias > b["alias"]
    assert ok(again.call("GET", f"{SUBS}/{a['id']}"))["alias"] == a["alias"], "an alias never changes"


def test_list_filters(api):
    a = new_sub(api, name="alpha", event_types=["customer.created"])
    b = new_sub(api, name="beta", event_types=["customer.updated", "customer.created"], is_active=False)
    c = new_sub(api, name="gamma", event_types=["order.*"])

    def ids(**params):
        return [x["id"] for x in ok(api.call("GET", SUBS, params=params))]

    assert ids(event_type="customer.created") == [a["id"], b["id"]]
    assert ids(event_type="order.*") == [c["id"]]
    assert ids(is_active="false") == [b["id"]]
    assert ids(is_active="true") == [a["id"], c["id"]]
    assert ids(name="gamma") == [c["id"]]
    assert ids(name="gamma", is_active="false") == []
    err(api.call("GET", SUBS, params={"is_active": "yes"}), 400, "invalid-param")


def test_tenant_isolation_on_every_route(api, db):
    s = new_sub(api, "t1")
    sid = s["id"]
    db.deliveries.insert_one({"_id": "msg_x", "tenant": "t1", "subscription_id": sid, "event_id": "evt_x",
                              "event_type": "customer.created", "status": "failed", "sort_key": "0:msg_x",
                              "created_at": dt.datetime.now(dt.timezone.utc)})
    other = [
        ("GET", f"{SUBS}/{sid}", None),
        ("PUT", f"{SUBS}/{sid}", {"event_types": ["customer.created"], "url": "http://127.0.0.1:9/x"}),
        ("PATCH", f"{SUBS}/{sid}", {"name": "stolen"}),
        ("POST", f"{SUBS}/{sid}/rotate-secret", None),
        ("POST", f"{SUBS}/{sid}/test", None),
        ("GET", f"{SUBS}/{sid}/events", None),
        ("DELETE", f"{SUBS}/{sid}/events/evt_x", None),
        ("POST", f"{SUBS}/{sid}/events/evt_x/retry", None),
        ("DELETE", f"{SUBS}/{sid}", None),
    ]
    for method, path, body in other:
        e = err(api.call(method, path, "t2", body), 404, "not-found")
        assert "t1" not in e["message"]
    assert ok(api.call("GET", SUBS, "t2")) == []
    assert ok(api.call("GET", "/v1/webhooks/events", "t2")) == []
    assert ok(api.call("GET", f"{SUBS}/{sid}"))["name"] == "s"  # untouched
    assert [x["id"] for x in ok(api.call("GET", "/v1/webhooks/events"))] == ["msg_x"]
    assert db.deliveries.count_documents({}) == 1


# ----------------------------------------------------------------------------------------------------------------
# Bad input


def test_validation_errors(api):
    def bad(body, status=422, slug="invalid-param", field=None, raw=None, headers=None):
        r = api.call("POST", SUBS, json_body=None if raw is not None else body, data=raw, headers=headers)
        e = err(r, status, slug)
        if field:
            assert field in {d["field"] for d in e["details"]}, e
        return e

    base = {"event_types": ["customer.created"], "url": "http://127.0.0.1:9/h"}
    bad(None, 400, "invalid-json", raw=b'{"name": ')
    bad(None, 400, "invalid-json", raw=b'{"name": "x"} trailing')
    bad(None, 400, "invalid-json", raw=b'{"name": "\xff\xfe"}')  # invalid UTF-8
    bad(None, 400, "invalid-param", raw=b"[1, 2]")
    bad(None, 400, "invalid-param", raw=b"null ")
    bad(None, 400, "invalid-json", raw=b'{"event_types": ["customer.created"]}\x00{}')
    # RFC 8259, stricter than json-c's own strict mode
    for text in [b"{'name': 'x'}", b'{"max_retry_count": NaN}', b'{"max_retry_count": -Infinity}',
                 b'{"max_retry_count": 1e999}', b'{"name": "\\ud800"}', b'{"name": "\\udc00\\ud800"}',
                 b'{"name": "a\x01b"}']:
        bad(None, 400, "invalid-json", raw=text)
    bad(None, 400, "missing-param", raw=b"")
    bad(None, 415, "invalid-content-type", raw=b"name=x", headers={"content-type": "application/x-www-form-urlencoded"})
    bad(None, 413, "too-large", raw=json.dumps({**base, "name": "x" * 200_000}).encode())
    bad({**base, "name": 5}, field="name")
    bad({**base, "event_types": "customer.created"}, field="event_types")
    bad({**base, "event_types": []}, field="event_types")
    bad({**base, "event_types": ["no.such.type"]}, field="event_types[0]")
    bad({**base, "event_types": ["bad type"]}, field="event_types[0]")
    bad({**base, "max_retry_count": "3"}, field="max_retry_count")
    bad({**base, "max_retry_count": 10**6}, field="max_retry_count")
    bad({**base, "is_active": "true"}, field="is_active")
    bad({**base, "success_code": 404}, field="success_code")
    bad({**base, "unknown_field": 1}, field="unknown_field")
    bad({**base, "secret": "not-a-secret"}, field="secret")
    bad({**base, "notification_emails": ["nobody"]}, field="notification_emails")
    bad({**base, "filter": [1]}, field="filter")
    for invalid in [{"$where": "1"}, {"a": {"$in": 5}}, {"a": {"$unknown": 1}}, {"$and": {"a": 1}}]:
        bad({**base, "filter": invalid}, field="filter")
    for template in ["not json {", 5, "[1, 2", "{'a': '{{data.a}}'}", '{"a": NaN}']:
        bad({**base, "payload_template": template}, field="payload_template")
    for version in ["v2", 0, 3, 1.5]:
        bad({**base, "version": version}, field="version")
    for url in ["ftp://example.com/x", "/relative", "http://", "javascript:alert(1)", "not a url", "", 42,
                "http:///path", "http:/example.com/x", "https://user:s3cr3t@example.com/", "https://token@example.com/"]:
        e = bad({**base, "url": url}, field="url")
        assert "s3cr3t" not in json.dumps(e)
    e = bad({**base, "url": "https://user:s3cr3t@example.com/"}, field="url")
    assert "credentials" in e["details"][0]["message"], e
    bad({"event_types": ["customer.created"]}, field="url")
    for headers in [{"x-a": "v\r\nx-injected: 1"}, {"x-a\r\nx-b": "v"}, {"x-a": "v\n"}, {"content-type": "text/x"},
                    {"webhook-id": "x"}, {"x-a": 5}, {"": "v"}]:
        bad({**base, "headers": headers}, field="headers")
    assert ok(api.call("GET", SUBS)) == [], "nothing invalid was stored"


def test_absurd_pagination_and_urls(api):
    for params in [{"limit": 0}, {"limit": -1}, {"limit": 501}, {"limit": 10**30}, {"limit": "abc"},
                   {"after": "!!!"}, {"before": "%%%"}, {"after": "YQ", "before": "YQ"}]:
        err(api.call("GET", SUBS, params=params), 400, "invalid-param")
        err(api.call("GET", "/v1/webhooks/events", params=params), 400, "invalid-param")
    err(api.call("GET", "/v1/webhooks/events", params={"from_date": "yesterday"}), 400, "invalid-param")
    err(api.call("GET", "/v1/webhooks/events", params={"status": "lost"}), 400, "invalid-param")
    assert ok(api.call("GET", SUBS, params={"limit": 500})) == []
    err(api.call("GET", SUBS + "/%ff%fe"), 400, "invalid-param")
    err(api.call("GET", SUBS + "/" + "x" * 5000), 400)
    err(api.call("GET", "/v1/nothing"), 404, "not-found")
    err(api.call("POST", f"{SUBS}/sub_x/nothing"), 404, "not-found")
    err(api.call("DELETE", SUBS), 405)


# ----------------------------------------------------------------------------------------------------------------
# Event types


def test_event_types(api):
    names = [x["name"] for x in ok(api.call("GET", "/v1/webhooks/event-types", params={"limit": 500}))]
    for seeded in ["merchant.updated", "merchant.reinstall", "customer.created", "customer.credits.updated",
                   "customer.joined.paid_tier", "customer.confirmed_cancellation", "order.shipped"]:
        assert seeded in names
    err(api.call("PUT", "/v1/webhooks/event-types/invoice.paid", "t1", {"description": "x"}), 403, "forbidden")
    err(api.call("POST", SUBS, json_body={"event_types": ["invoice.paid"], "url": "http://127.0.0.1:9/h"}), 422)
    schema = {"type": "object", "required": ["invoice_id"]}
    put = ok(api.call("PUT", "/v1/webhooks/event-types/invoice.paid", "admin",
                      {"description": "An invoice was paid.", "schema": schema}))
    assert put == {"name": "invoice.paid", "description": "An invoice was paid.", "schema": schema}
    new_sub(api, event_types=["invoice.paid"])
    err(api.call("PUT", "/v1/webhooks/event-types/invoice.paid", "admin", {"description": 1}), 422)
    ok(api.call("DELETE", "/v1/webhooks/event-types/invoice.paid", "admin"))
    err(api.call("DELETE", "/v1/webhooks/event-types/invoice.paid", "admin"), 404)


# ----------------------------------------------------------------------------------------------------------------
# With a running dispatcher


def test_test_event_delivered_and_logged(api, hookd, master_key, receiver):
    target = sub_for(api, receiver, "target")
    bystander = sub_for(api, receiver, "bystander")
    h = hookd.start(HOOKD_MASTER_KEY=master_key)
    sent = ok(api.call("POST", f"{SUBS}/{target['id']}/test", json_body={"data": {"hello": "ü"}}), 202)
    assert sent["event_type"] == "customer.created"
    (req,) = receiver.wait(1, target["path"])
    assert req.verified, req.verify_error
    assert req.json()["data"] == {"hello": "ü"}
    assert req.webhook_id == sent["delivery_id"]

    def logged():
        rows = ok(api.call("GET", f"{SUBS}/{target['id']}/events"))
        return rows if rows and rows[0]["status"] == "succeeded" else None

    (row,) = wait_for(logged, what="the test event in the delivery log")
    assert row["event_id"] == sent["event_id"] and row["id"] == sent["delivery_id"]
    assert row["status_code"] == 200 and row["is_success"] is True and row["retry_count"] == 0
    assert row["sent_at"] and row["created_at"]
    assert receiver.received(bystander["path"]) == [], "a test event goes to its subscription only"
    assert ok(api.call("GET", "/v1/webhooks/events", params={"status": "succeeded"}))[0]["id"] == row["id"]
    assert ok(api.call("GET", "/v1/webhooks/events", params={"status": "failed"})) == []
    hookd.stop(h)


def test_retry_resends_through_kafka(api, hookd, master_key, receiver):
    s = sub_for(api, receiver, "flaky", status_path="flaky", max_retry_count=0)
    receiver.set_status("flaky", 500)
    h = hookd.start(HOOKD_MASTER_KEY=master_key)
    sent = ok(api.call("POST", f"{SUBS}/{s['id']}/test"), 202)
    receiver.wait(1, s["path"])

    def row_status(want):
        rows = ok(api.call("GET", f"{SUBS}/{s['id']}/events", params={"status": want}))
        return rows or None

    (row,) = wait_for(lambda: row_status("failed"), what="the failed delivery in the log")
    assert row["status_code"] == 500 and row["error_message"]
    receiver.set_status("flaky", 200)
    ok(api.call("POST", f"{SUBS}/{s['id']}/events/{sent['event_id']}/retry"), 202)
    reqs = receiver.wait(2, s["path"])
    assert reqs[1].webhook_id == reqs[0].webhook_id and reqs[1].body == reqs[0].body
    (row,) = wait_for(lambda: row_status("succeeded"), what="the retried delivery in the log")
    assert row["id"] == sent["delivery_id"]
    ok(api.call("DELETE", f"{SUBS}/{s['id']}/events/{sent['event_id']}"))
    assert ok(api.call("GET", f"{SUBS}/{s['id']}/events")) == []
    hookd.stop(h)


def test_rotation_signs_with_both_secrets(api, hookd, master_key, receiver, produce):
    s = sub_for(api, receiver, "rot")
    old = s["secret"]
    h = hookd.start(HOOKD_MASTER_KEY=master_key)
    rotated = ok(api.call("POST", f"{SUBS}/{s['id']}/rotate-secret"))
    new = rotated["secret"]
    assert new.startswith("whsec_") and new != old and rotated["secret_last_4"] == new[-4:]
    assert rotated["previous_secret_expires_at"]
    assert "secret" not in ok(api.call("GET", f"{SUBS}/{s['id']}"))
    receiver.register(s["path"], new)
    time.sleep(2)  # the rotation reaches the dispatcher within 2 s
    produce(make_event())
    (req,) = receiver.wait(1, s["path"])
    sigs = req.headers["webhook-signature"].split()
    assert len(sigs) == 2, sigs
    for secret in (old, new):
        standardwebhooks.Webhook(secret).verify(req.body, req.headers)  # raises when it does not verify
    hookd.stop(h)


def test_signing_key_set_rotated_and_public_key_read_through_the_api(api, hookd, master_key, receiver, produce, db):
    """An ed25519 signing_key is set through the API (stored encrypted, never shown), its public key read back; a
    rotation generates a new one and both sign v1a during the grace period."""
    from test_matching import ed25519_keys

    signing_key, public_key = ed25519_keys()
    s = sub_for(api, receiver, "ed", signing_key=signing_key)
    assert s["signing_public_key"] == public_key and "signing_key" not in s
    stored = db.subscriptions.find_one({"_id": s["id"]})
    assert stored["signing_key"].startswith("enc:v1:") and signing_key not in json.dumps(stored, default=str)
    err(api.call("PATCH", f"{SUBS}/{s['id']}", json_body={"signing_key": "whsk_bad"}), 422)
    rotated = ok(api.call("POST", f"{SUBS}/{s['id']}/rotate-signing-key"))
    new_public = rotated["signing_public_key"]
    assert new_public.startswith("whpk_") and new_public != public_key and rotated["previous_signing_key_expires_at"]
    assert "signing_key" not in rotated and "secret" not in rotated
    h = hookd.start(HOOKD_MASTER_KEY=master_key)
    produce(make_event())
    (req,) = receiver.wait(1, s["path"])
    entries = req.headers["webhook-signature"].split(" ")
    assert [e.split(",")[0] for e in entries] == ["v1", "v1a", "v1a"], entries
    signed = f"{req.webhook_id}.{req.headers['webhook-timestamp']}.".encode() + req.body
    for key, entry in zip((new_public, public_key), entries[1:]):
        Ed25519PublicKey.from_public_bytes(base64.b64decode(key[5:])).verify(base64.b64decode(entry[4:]), signed)
    hookd.stop(h)
    cleared = ok(api.call("PATCH", f"{SUBS}/{s['id']}", json_body={"signing_key": None}))
    assert cleared["signing_public_key"] is None


def test_changes_reach_a_running_dispatcher_within_2s(api, hookd, master_key, receiver, produce):
    first = sub_for(api, receiver, "first")
    h = hookd.start(HOOKD_MASTER_KEY=master_key, HOOKD_SUBSCRIPTIONS_REFRESH_MS=1000)  # the default
    produce(make_event(), key="one-partition")
    receiver.wait(1, first["path"])  # consuming

    late = sub_for(api, receiver, "late")
    time.sleep(2)
    produce(make_event(), key="one-partition")
    receiver.wait(1, late["path"])

    ok(api.call("PATCH", f"{SUBS}/{late['id']}", json_body={"is_active": False}))
    ok(api.call("DELETE", f"{SUBS}/{first['id']}"))
    time.sleep(2)
    marker = make_event()
    produce(marker, key="one-partition")
    mover = sub_for(api, receiver, "after")  # created after the marker's event: proves the dispatcher moved on
    time.sleep(2)
    produce(make_event(), key="one-partition")
    receiver.wait(1, mover["path"])
    # first: the opening event and the one that reached late; late: that one; neither: the marker.
    assert len(receiver.received(first["path"])) == 2 and len(receiver.received(late["path"])) == 1
    hookd.stop(h)


def test_dispatcher_refuses_encrypted_secrets_without_master_key(api, hookd):
    new_sub(api)
    h = hookd.start()
    h.proc.wait(timeout=TIMEOUT)
    code, _ = h.stop()
    assert code != 0
    assert "master.key is not set" in h.log()


# ----------------------------------------------------------------------------------------------------------------
# Recorder


def result_record(delivery_id, attempt=1, success=False, at=None, next_retry_at=None, final=None, status=500,
                  sub="sub_r", event_type="customer.created", tenant="t1"):
    at = at or dt.datetime.now(dt.timezone.utc)
    rec = {"delivery_id": delivery_id, "event_id": "evt_" + delivery_id, "event_type": event_type,
           "subscription_id": sub, "tenant": tenant, "attempt": attempt, "url": "http://x", "status_code": status,
           "success": success, "outcome": "success" if success else "retryable",
           "error": None if success else "receiver answered 500", "duration_ms": 3,
           "attempted_at": at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z",
           "event_time": "2026-01-01T00:00:00.000Z", "source": {"topic": "x", "partition": 0, "offset": 1}}
    if next_retry_at:
        rec["next_retry_at"] = next_retry_at
    if final is not None:
        rec["final"] = final
    return rec


def test_recorder_is_idempotent_and_maps_status(api, db, produce, topics):
    t0 = dt.datetime.now(dt.timezone.utc)
    first = result_record("msg_a", attempt=1, at=t0, next_retry_at="2030-01-01T00:00:00Z")
    second = result_record("msg_a", attempt=2, at=t0 + dt.timedelta(seconds=1), success=True, status=200)
    failed = result_record("msg_b", attempt=1, at=t0)
    for rec in (first, second, first, second, failed, failed):  # re-consumption and out-of-order duplicates
        produce(rec, key=rec["delivery_id"], topic=topics.results)
    produce(b"not json", topic=topics.results)

    def rows():
        docs = list(db.deliveries.find({}, {"_id": 1, "status": 1, "retry_count": 1}).sort("_id"))
        return docs if len(docs) == 2 and docs[0]["status"] == "succeeded" else None

    docs = wait_for(rows, what="two delivery rows")
    assert docs == [{"_id": "msg_a", "status": "succeeded", "retry_count": 1},
                    {"_id": "msg_b", "status": "failed", "retry_count": 0}]
    produce(result_record("msg_c", next_retry_at="2030-01-01T00:00:00Z"), topic=topics.results)
    wait_for(lambda: db.deliveries.find_one({"_id": "msg_c", "status": "retrying"}), what="a retrying row")
    # A response longer than the row keeps (1024 bytes) is cut on a character boundary: the log stays UTF-8.
    produce({**result_record("msg_d", sub="sub_r"), "response": "x" + "é" * 600}, topic=topics.results)
    wait_for(lambda: db.deliveries.find_one({"_id": "msg_d"}), what="the long response's row")
    log = ok(api.call("GET", "/v1/webhooks/events", params={"limit": 500}))
    (row,) = [x for x in log if x["id"] == "msg_d"]
    assert row["response"] == "x" + "é" * 511, row["response"][-5:]
    aliases = [x["alias"] for x in log]
    assert all(isinstance(a, int) and a > 0 for a in aliases) and len(set(aliases)) == len(log), log
    assert db.deliveries.find_one({"_id": "msg_a"})["alias"] == [x for x in log if x["id"] == "msg_a"][0]["alias"]


def test_delivery_log_filters_and_pages(api, produce, topics):
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    for i in range(7):
        produce(result_record(f"msg_{i}", at=t0 + dt.timedelta(hours=i), success=i % 2 == 0, status=200 if i % 2 == 0 else 500,
                              event_type="customer.created" if i < 5 else "customer.updated"), topic=topics.results)
    produce(result_record("msg_other", tenant="t2"), topic=topics.results)
    wait_for(lambda: len(ok(api.call("GET", "/v1/webhooks/events", params={"limit": 500}))) == 7, what="7 rows")

    seen, after = [], None
    while True:
        body = api.call("GET", "/v1/webhooks/events", params={"limit": 2, **({"after": after} if after else {})}).json()
        seen += [x["id"] for x in body["data"]]
        if not body["pagination"]["has_next_page"]:
            break
        after = body["pagination"]["end_cursor"]
    assert seen == [f"msg_{i}" for i in reversed(range(7))], "newest first, every row once"

    def ids(**params):
        return [x["id"] for x in ok(api.call("GET", "/v1/webhooks/events", params=params))]

    assert ids(status="failed") == ["msg_5", "msg_3", "msg_1"]
    assert ids(event_type="customer.updated") == ["msg_6", "msg_5"]
    assert ids(from_date="2026-01-01T02:00:00Z", to_date="2026-01-01T04:00:00Z") == ["msg_4", "msg_3", "msg_2"]
    assert ids(status="succeeded", from_date="2026-01-01T03:00:00+00:00") == ["msg_6", "msg_4"]
    err(api.call("GET", f"{SUBS}/sub_r/events"), 404)  # the log of an unknown subscription


def test_recorder_runs_on_its_own(hookd, hookd_bin, db, produce, topics, tmp_path):
    """`hookd recorder` (api.recorder = 0 on the API) fills the same log; SIGTERM stops it cleanly."""
    env = hookd.env(HOOKD_RECORDER_GROUP_ID=topics.group + ".standalone")
    log = open(tmp_path / "recorder.log", "wb")
    proc = subprocess.Popen([str(hookd_bin), "recorder"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        produce(result_record("msg_solo", success=True, status=200), topic=topics.results)
        wait_for(lambda: db.deliveries.find_one({"_id": "msg_solo", "status": "succeeded"}), what="the recorded row")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=TIMEOUT)
        log.close()
    text = (tmp_path / "recorder.log").read_text(errors="replace")
    assert proc.returncode == 0, text
    assert not any(m in text for m in SANITIZER_MARKERS), text


def test_filter_template_and_version_set_through_the_api_drive_the_dispatcher(api, hookd, master_key, receiver,
                                                                                produce):
    """What the API stores (filter as JSON text, template as text, integer version) is what the dispatcher runs."""
    s = sub_for(api, receiver, "shaped", filter={"data.amount": {"$gte": 100}},
                payload_template='{"who": "{{data.customer.email}}", "amount": "{{data.amount}}", "kind": "{{type}}"}')
    plain = sub_for(api, receiver, "cloudevent", version=2)
    assert ok(api.call("GET", f"{SUBS}/{s['id']}"))["filter"] == {"data.amount": {"$gte": 100}}
    h = hookd.start(HOOKD_MASTER_KEY=master_key)
    small = make_event(data={"amount": 50, "customer": {"email": "small@example.com"}})
    big = make_event(data={"amount": 150, "customer": {"email": "big@example.com"}})
    produce(small, key="one-partition")
    produce(big, key="one-partition")
    (req,) = receiver.wait(1, s["path"])
    assert json.loads(req.body) == {"who": "big@example.com", "amount": 150, "kind": "customer.created"}
    ces = receiver.wait(2, plain["path"])  # no filter: both, as CloudEvents (version 2)
    for r in ces:
        assert r.headers["content-type"].startswith("application/cloudevents+json")
        assert json.loads(r.body)["specversion"] == "1.0"
    time.sleep(1)
    assert len(receiver.received(s["path"])) == 1, "the filter let the small order through"
    hookd.stop(h)
