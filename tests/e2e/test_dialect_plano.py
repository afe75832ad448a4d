"""The PlanoAuth dialect (reference 004, docs/dialects.md) end to end: `hookd api` serving the native API and
`planoauth` at /api/v1, driven as a PlanoAuth client would, with the token and ids in JSON bodies; deliveries
through `hookd run` to the local receiver, verified with the standardwebhooks library."""

import json
import uuid

import pytest
import requests
import standardwebhooks

from conftest import TIMEOUT, make_event, wait_for

BASE = "/api/v1/webhook_out_subs"
NATIVE = "/v1/webhooks/subscriptions"
ORDER_STATUSES = ["pending", "paid", "processing", "shipped", "delivered", "completed", "cancelled", "refunded"]


@pytest.fixture
def api(api_server):
    return api_server(dialects="native,planoauth=/api/v1")


def plano(api, method, route, body=None, tenant="t1", data=None, headers=None, params=None):
    """A PlanoAuth request: the token goes in the body (unless body already has one, or tenant is None)."""
    h = {"content-type": "application/json", **(headers or {})}
    if body is not None:
        body = dict(body)
        if tenant is not None:
            body.setdefault("token", api.keys[tenant])
        data = json.dumps(body).encode()
    return requests.request(method, api.base + BASE + route, data=data, headers=h, params=params, timeout=TIMEOUT)


def done(resp):
    assert resp.status_code == 200, f"{resp.status_code}: {resp.text}"
    body = resp.json()
    assert set(body) == {"status", "data"} and body["status"] == "action-successful", body
    return body["data"]


def fails(resp, http, slug, param=None):
    assert resp.status_code == http, f"expected {http} {slug}, got {resp.status_code}: {resp.text}"
    body = resp.json()
    assert set(body) == {"status", "message", "errors"}, body
    assert body["status"] == slug and body["message"], body
    if param:
        assert param in [e["param"] for e in body["errors"]], body
    return body


def create(api, tenant="t1", **fields):
    body = {"integration_id": 7, "callback_url": "http://127.0.0.1:9/hook", "version": "1", "name": "orders"}
    body.update(fields)
    return done(plano(api, "POST", "/create", body, tenant))["webhook_out_sub"]


def native(api, sub_id, tenant="t1"):
    resp = api.call("GET", f"{NATIVE}/{sub_id}", tenant)
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]


# ----------------------------------------------------------------------------------------------------------------
# Operations


def test_update_as_documented_and_read_through_native(api):
    s = create(api, key="k-1", statuses=["pending"])
    assert isinstance(s["id"], int) and s["integration_id"] == 7 and s["key"] == "k-1"
    assert s["secret"].startswith("whsec_") and s["events"] == ["order.**"] and s["version"] == "1"
    # Every parameter of the document's update, as it writes them.
    update = {"token": api.keys["t1"], "integration_id": 7, "id": s["id"], "statuses": ["paid", "shipped"],
              "events": ["order.paid", "order.status.updated"], "name": "Order feed",
              "notification_emails": "ops@example.com, billing@example.org", "notify": True, "key": "k-2",
              "payload_render_view": '{"order": "{{data.order_id}}", "state": "{{data.status}}"}',
              "callback_url": "https://hooks.example.com/orders", "success_code": "202", "active": False,
              "version": "2"}
    u = done(plano(api, "PUT", "/update", update))["webhook_out_sub"]
    for k, v in update.items():
        if k == "token":
            continue
        want = "ops@example.com,billing@example.org" if k == "notification_emails" else v
        assert u[k] == want, (k, u[k])
    assert "secret" not in u and u["secret_last_4"] == s["secret"][-4:]
    shown = done(plano(api, "POST", "/show", {"id": s["id"]}))["webhook_out_sub"]
    assert shown == u
    n = native(api, s["subscription_id"])
    assert n["url"] == "https://hooks.example.com/orders" and n["event_types"] == ["order.paid", "order.status.updated"]
    assert n["statuses"] == ["paid", "shipped"] and n["notification_emails"] == ["ops@example.com", "billing@example.org"]
    assert n["success_code"] == 202 and n["version"] == 2 and n["is_active"] is False and n["notify"] is True
    assert n["payload_template"] == update["payload_render_view"] and n["name"] == "Order feed"
    # A native change shows through the dialect; a partial update keeps what it is not given.
    assert api.call("PATCH", f"{NATIVE}/{s['subscription_id']}", json_body={"success_code": None}).status_code == 200
    u = done(plano(api, "PUT", "/update", {"integration_id": 7, "id": s["id"], "version": "1",
                                            "success_code": "", "payload_render_view": ""}))["webhook_out_sub"]
    assert u["success_code"] is None and u["payload_render_view"] is None and u["version"] == "1"
    assert u["name"] == "Order feed" and u["statuses"] == ["paid", "shipped"] and u["key"] == "k-2"
    n = native(api, s["subscription_id"])
    assert n["success_code"] is None and n["payload_template"] is None and n["version"] == 1


def test_list_pages_with_totals_and_delete(api):
    made = [create(api, integration_id=1 + i % 2, name=f"s{i}") for i in range(5)]
    page = done(plano(api, "POST", "/list", {"offset": 1, "limit": 2}))
    assert page["total"] == 5 and page["offset"] == 1 and page["limit"] == 2
    assert [s["id"] for s in page["webhook_out_subs"]] == [made[1]["id"], made[2]["id"]]
    every = done(plano(api, "POST", "/list", {}))
    assert [s["id"] for s in every["webhook_out_subs"]] == [s["id"] for s in made] and every["limit"] == 50
    assert all("secret" not in s for s in every["webhook_out_subs"])
    ones = done(plano(api, "POST", "/list", {"integration_id": 1}))
    assert ones["total"] == 3 and {s["integration_id"] for s in ones["webhook_out_subs"]} == {1}
    assert done(plano(api, "POST", "/list", {"offset": 10}))["webhook_out_subs"] == []

    assert done(plano(api, "POST", "/delete", {"id": made[0]["id"]})) == {"id": made[0]["id"]}
    fails(plano(api, "POST", "/show", {"id": made[0]["id"]}), 400, "invalid-param", "id")
    fails(plano(api, "POST", "/delete", {"id": made[0]["id"]}), 400, "invalid-param", "id")
    assert api.call("GET", f"{NATIVE}/{made[0]['subscription_id']}").status_code == 404
    assert done(plano(api, "POST", "/list", {}))["total"] == 4
    # ids stay with their subscriptions
    assert done(plano(api, "POST", "/show", {"id": made[4]["id"]}))["webhook_out_sub"]["name"] == "s4"


def test_integration_id_must_match(api):
    s = create(api, integration_id=3)
    fails(plano(api, "POST", "/show", {"id": s["id"], "integration_id": 4}), 400, "invalid-param", "integration_id")
    fails(plano(api, "PUT", "/update", {"id": s["id"], "integration_id": 4, "version": "1", "name": "x"}), 400,
          "invalid-param", "integration_id")
    assert done(plano(api, "POST", "/show", {"id": s["id"], "integration_id": 3}))["webhook_out_sub"]["name"] == "orders"
    # one created through the native API has no integration: the first update naming one gives it
    n = api.call("POST", NATIVE, json_body={"url": "http://127.0.0.1:9/n", "event_types": ["order.paid"]}).json()["data"]
    u = done(plano(api, "PUT", "/update", {"id": n["alias"], "integration_id": 5, "version": "1"}))["webhook_out_sub"]
    assert u["integration_id"] == 5 and u["events"] == ["order.paid"] and u["subscription_id"] == n["id"]
    assert native(api, n["id"])["metadata"] == {"integration_id": 5}


# ----------------------------------------------------------------------------------------------------------------
# Deliveries, jobs, test events


def plano_sub_for(api, receiver, name, **fields):
    path = f"/ok/{name}"
    s = create(api, callback_url=receiver.url(path), name=name, **fields)
    receiver.register(path, s["secret"])
    s["path"] = path
    return s


def test_matching_order_event_is_signed_delivered_and_in_the_jobs(api, hookd, master_key, receiver, produce):
    s = plano_sub_for(api, receiver, "paid", events=["order.paid", "order.status.updated"], statuses=["paid"])
    h = hookd.start(HOOKD_MASTER_KEY=master_key)
    order = f"ord_{uuid.uuid4().hex[:8]}"
    skipped = make_event(type="order.status.updated", data={"order_id": order, "status": "processing"})
    wanted = make_event(type="order.status.updated", data={"order_id": order, "status": "paid"})
    produce(skipped, key=order)
    produce(wanted, key=order)
    (req,) = receiver.wait(1, s["path"])
    assert req.verified, req.verify_error
    standardwebhooks.Webhook(s["secret"]).verify(req.body, req.headers)  # the independent verifier, once more
    assert req.json()["type"] == "order.status.updated" and req.json()["data"]["status"] == "paid"

    def jobs():
        got = done(plano(api, "POST", "/jobs", {"id": s["id"]}))
        return got if got["jobs"] and got["jobs"][0]["status"] == "succeeded" else None

    page = wait_for(jobs, what="the delivery in the jobs")
    assert page["total"] == 1 and page["offset"] == 0
    (job,) = page["jobs"]
    assert job["job_id"] == req.webhook_id and job["event_id"] == wanted["id"] and job["event"] == "order.status.updated"
    assert job["webhook_out_sub_id"] == s["id"] and job["success"] is True and job["status_code"] == 200
    assert job["retry_count"] == 0 and job["sent_at"] and job["created_at"] and job["error_message"] is None
    assert done(plano(api, "POST", "/jobs", {"id": s["id"], "status": "failed"}))["jobs"] == []
    assert len(receiver.received(s["path"])) == 1, "the status filter let the processing event through"
    hookd.stop(h)


def test_test_event_with_a_custom_payload_and_render_view(api, hookd, master_key, receiver):
    s = plano_sub_for(api, receiver, "tested", events=["order.shipped"],
                      payload_render_view='{"kind": "{{type}}", "parcel": "{{data.parcel}}"}')
    h = hookd.start(HOOKD_MASTER_KEY=master_key)
    sent = done(plano(api, "POST", "/test", {"id": s["id"], "payload": {"parcel": {"no": 42, "carrier": "ü"}}}))
    assert sent["event"] == "order.shipped" and sent["event_id"]
    (req,) = receiver.wait(1, s["path"])
    assert req.verified, req.verify_error
    assert req.json() == {"kind": "order.shipped", "parcel": {"no": 42, "carrier": "ü"}}
    assert req.webhook_id == sent["job_id"]

    def logged():
        got = done(plano(api, "POST", "/jobs", {"id": s["id"]}))["jobs"]
        return got if got and got[0]["status"] == "succeeded" else None

    (job,) = wait_for(logged, what="the test event in the jobs")
    assert job["job_id"] == sent["job_id"] and job["event_id"] == sent["event_id"]
    fails(plano(api, "POST", "/test", {"id": s["id"], "event": "order.paid"}), 400, "invalid-param", "event")
    fails(plano(api, "POST", "/test", {"id": s["id"], "payload": [1]}), 400, "invalid-param", "payload")
    done(plano(api, "PUT", "/update", {"id": s["id"], "integration_id": 7, "version": "1", "active": False}))
    fails(plano(api, "POST", "/test", {"id": s["id"]}), 400, "invalid-param")
    hookd.stop(h)


# ----------------------------------------------------------------------------------------------------------------
# Errors, tenants, bad input


def test_document_errors(api):
    s = create(api)
    one = {"id": s["id"]}
    fails(plano(api, "POST", "/show", one, tenant=None), 400, "missing-param", "token")
    fails(plano(api, "POST", "/show", {"token": "hk_nope_nope", **one}), 401, "invalid-token")
    fails(plano(api, "POST", "/show", {"token": 12, **one}), 401, "invalid-token")
    fails(plano(api, "PUT", "/update", {"id": s["id"], "integration_id": 7}), 400, "missing-param", "version")
    fails(plano(api, "PUT", "/update", {"integration_id": 7, "version": "1"}), 400, "missing-param", "id")
    fails(plano(api, "POST", "/create", {"integration_id": 7, "version": "1"}), 400, "missing-param", "callback_url")
    fails(plano(api, "POST", "/show", {"id": s["id"] + 1000}), 400, "invalid-param", "id")
    upd = {"id": s["id"], "integration_id": 7, "version": "1"}
    fails(plano(api, "PUT", "/update", {**upd, "notification_emails": "ops@example.com, not-an-address"}), 400,
          "invalid-param", "notification_emails")
    fails(plano(api, "PUT", "/update", {**upd, "version": "3"}), 400, "invalid-param", "version")
    fails(plano(api, "PUT", "/update", {**upd, "version": 1}), 400, "invalid-param", "version")
    fails(plano(api, "PUT", "/update", {**upd, "success_code": "404"}), 400, "invalid-param", "success_code")
    fails(plano(api, "PUT", "/update", {**upd, "success_code": 200}), 400, "invalid-param", "success_code")
    fails(plano(api, "PUT", "/update", {**upd, "statuses": ["lost"]}), 400, "invalid-param", "statuses[0]")
    fails(plano(api, "PUT", "/update", {**upd, "events": ["order.unknown"]}), 400, "invalid-param", "events[0]")
    fails(plano(api, "PUT", "/update", {**upd, "callback_url": "ftp://x"}), 400, "invalid-param", "callback_url")
    fails(plano(api, "PUT", "/update", {**upd, "colour": "red"}), 400, "invalid-param", "colour")
    fails(plano(api, "PUT", "/update", upd, headers={"content-type": "text/plain"}), 400, "invalid-content-type")
    fails(plano(api, "PUT", "/update", data=b'{"token": "x", "id": 1,}'), 400, "invalid-encoded-params")
    fails(plano(api, "POST", "/show", data=b"{}"), 400, "no-params-decoded")
    fails(plano(api, "POST", "/show", data=b""), 400, "no-params-decoded")
    fails(plano(api, "POST", "/show", one, params={"verbose": "1"}), 400, "invalid-param", "verbose")
    fails(plano(api, "POST", "/nothing", one), 500, "route-non-existent")
    r = plano(api, "GET", "/show", one)
    fails(r, 405, "route-non-existent")
    assert r.headers["allow"] == "POST"
    assert plano(api, "POST", "/update", {**upd}).headers["allow"] == "PUT"


def test_tenant_isolation(api):
    mine = create(api, tenant="t1", name="mine")
    theirs = create(api, tenant="t2", name="theirs")
    for route, method, body in [("/show", "POST", {}), ("/delete", "POST", {}), ("/jobs", "POST", {}),
                                ("/test", "POST", {}),
                                ("/update", "PUT", {"integration_id": 7, "version": "1", "name": "stolen"})]:
        fails(plano(api, method, route, {"id": mine["id"], **body}, tenant="t2"), 400, "invalid-param", "id")
    assert [s["name"] for s in done(plano(api, "POST", "/list", {}, tenant="t2"))["webhook_out_subs"]] == ["theirs"]
    assert done(plano(api, "POST", "/list", {}))["total"] == 1
    assert done(plano(api, "POST", "/show", {"id": mine["id"]}))["webhook_out_sub"]["name"] == "mine"
    assert theirs["subscription_id"] != mine["subscription_id"]


def test_bad_input_never_a_server_error(api):
    s = create(api)
    upd = {"id": s["id"], "integration_id": 7, "version": "1"}
    cases = [
        ("PUT", "/update", {**upd, "name": "x" * 100000}),
        ("PUT", "/update", {**upd, "id": 2**63}),
        ("PUT", "/update", {**upd, "id": -1}),
        ("PUT", "/update", {**upd, "id": "1"}),
        ("PUT", "/update", {**upd, "integration_id": 1.5}),
        ("PUT", "/update", {**upd, "statuses": "paid"}),
        ("PUT", "/update", {**upd, "events": [["order.paid"]]}),
        ("PUT", "/update", {**upd, "active": "yes"}),
        ("PUT", "/update", {**upd, "notify": 1}),
        ("PUT", "/update", {**upd, "payload_render_view": "{not json"}),
        ("PUT", "/update", {**upd, "payload_render_view": {"a": 1}}),
        ("PUT", "/update", {**upd, "key": "k" * 201}),
        ("PUT", "/update", {**upd, "notification_emails": "a@x.com," * 30}),
        ("PUT", "/update", {**upd, "ü" * 5000: 1}),
        ("POST", "/list", {"offset": -1}),
        ("POST", "/list", {"limit": 0}),
        ("POST", "/list", {"limit": 10**9}),
        ("POST", "/jobs", {"id": s["id"], "status": "lost"}),
    ]
    for method, route, body in cases:
        r = plano(api, method, route, body)
        assert r.status_code == 400, (body if len(json.dumps(body)) < 300 else route, r.status_code, r.text[:300])
        assert r.json()["status"] == "invalid-param", r.text[:300]
    for raw in [b"[]", b"null", b"\"x\"", b"{\"token\": \"\\ud800\"}", b"{\"a\": NaN}", b"x" * 70000,
                "{\"token\": \"ü\"}".encode("latin-1")]:
        r = plano(api, "POST", "/show", data=raw)
        assert 400 <= r.status_code < 500, (raw[:40], r.status_code, r.text[:300])
        assert set(r.json()) == {"status", "message", "errors"}, r.text[:300]
    assert done(plano(api, "POST", "/show", {"id": s["id"]}))["webhook_out_sub"]["name"] == "orders"


def test_catalogue_statuses(api):
    s = create(api, statuses=ORDER_STATUSES, events=[])
    assert s["statuses"] == ORDER_STATUSES and s["events"] == ["order.**"]


def test_one_subscription_through_planoauth_management_and_native(api_server):
    api = api_server(dialects="native=/hookd/v1,management=/v1/webhooks,planoauth=/api/v1")
    s = create(api, name="shared", events=["order.refunded"], callback_url="https://hooks.example.com/shared")
    n = api.call("GET", f"/hookd/v1/subscriptions/{s['subscription_id']}").json()["data"]
    m = api.call("GET", f"/v1/webhooks/subscriptions/{s['id']}").json()["subscription"]
    assert n["alias"] == m["id"] == s["id"]
    assert n["name"] == m["name"] == s["name"] == "shared"
    assert n["url"] == m["url"] == s["callback_url"]
    assert n["event_types"] == [m["eventType"]] == s["events"] == ["order.refunded"]
    assert n["is_active"] is m["isActive"] is s["active"] is True
    # a change through management shows through PlanoAuth
    sub = {"name": "renamed", "eventType": "order.refunded", "url": s["callback_url"], "isActive": True}
    r = api.call("PUT", f"/v1/webhooks/subscriptions/{s['id']}", json_body={"subscription": sub})
    assert r.status_code == 200, r.text
    assert done(plano(api, "POST", "/show", {"id": s["id"]}))["webhook_out_sub"]["name"] == "renamed"


def test_database_away_is_application_crash(api_server, private_mongo):
    api = api_server(dialects="planoauth", HOOKD_STORE=private_mongo.uri + "?serverSelectionTimeoutMS=1000")
    s = create(api)
    private_mongo.down()
    body = fails(plano(api, "POST", "/show", {"id": s["id"]}), 500, "application-crash")
    assert "mongo" not in body["message"].lower(), "the cause goes to the server log, not to the client"
    private_mongo.up()
    wait_for(lambda: plano(api, "POST", "/show", {"id": s["id"]}).status_code == 200, what="the database back")
