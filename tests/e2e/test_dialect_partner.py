"""The partner dialect (reference API 002) end to end: `hookd api` serving it beside the native API, its OAuth2
client-credentials flow with clients from `hookd apikey create --client-credentials`, every operation sent as the
document writes it, a signed delivery to a subscription made through it, its webhook-event log, test events,
errors, tenant isolation and agreement with the native API. Guide: docs/dialects.md, "partner"."""

import base64
import datetime as dt
import json
import subprocess

import pytest
import requests

from conftest import TIMEOUT, Api, free_port, make_event, new_secret, wait_for

BASE = "/webhooks"
TOKEN = "/webhooks/oauth/token"
FORM = {"content-type": "application/x-www-form-urlencoded"}


class Partner:
    """A running `hookd api` (conftest.Api) serving the partner dialect at mount + /webhooks, with an OAuth2 client
    and an access token for each of tenants."""

    def __init__(self, api, master_key, mount="", tenants=("t1", "t2")):
        self.api, self.master_key, self.base = api, master_key, api.base + mount
        self.clients = {t: self.new_client(t) for t in tenants}
        self.tokens = {t: self.token(*self.clients[t]) for t in tenants}

    def new_client(self, tenant):
        out = subprocess.run([str(self.api.bin), "apikey", "create", "--tenant", tenant, "--client-credentials"],
                             env=self.api.env, capture_output=True, check=True, timeout=TIMEOUT).stdout.decode()
        fields = dict(line.split("=", 1) for line in out.split())
        assert set(fields) == {"client_id", "client_secret"}, out
        return fields["client_id"], fields["client_secret"]

    def token(self, client_id, client_secret):
        r = self.form({"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret})
        assert r.status_code == 200, r.text
        return r.json()["access_token"]

    def form(self, fields, headers=None, auth=None):
        return requests.post(self.base + TOKEN, data=fields, headers={**FORM, **(headers or {})}, auth=auth,
                             timeout=TIMEOUT)

    def call(self, *args, **kwargs):
        """A native request (x-api-key)."""
        return self.api.call(*args, **kwargs)

    def p(self, method, path, tenant="t1", json_body=None, data=None, params=None, headers=None):
        """A partner request with tenant's access token (tenant None: no Authorization; a str starting with
        "raw:": that Authorization value)."""
        h = dict(headers or {})
        if tenant and tenant.startswith("raw:"):
            h["authorization"] = tenant[4:]
        elif tenant:
            h["authorization"] = f"Bearer {self.tokens[tenant]}"
        if json_body is not None:
            data = json.dumps(json_body).encode()
        if data is not None:
            h.setdefault("content-type", "application/json")
        return requests.request(method, self.base + BASE + path, data=data, params=params, headers=h,
                                timeout=TIMEOUT)


@pytest.fixture
def partner(api_server, master_key):
    return Partner(api_server(dialects="native,partner"), master_key)


SUB_FIELDS = {"created_at", "endpoint_url", "id", "is_active", "partner_id", "secret_last_4_digits", "topic",
              "updated_at"}
EVENT_FIELDS = {"id", "subscription_id", "event_id", "topic", "status", "status_code", "response", "error_message",
                "retry_count", "sent_at", "next_retry_at", "created_at"}
PAGE_FIELDS = {"data", "start_cursor", "end_cursor", "has_next_page", "has_previous_page"}


def good(resp, status=200):
    assert resp.status_code == status, f"{resp.status_code}: {resp.text}"
    assert resp.headers["content-type"] == "application/json"
    return resp.json()


def bad(resp, status, code, field=None):
    assert resp.status_code == status, f"expected {status}, got {resp.status_code}: {resp.text}"
    body = resp.json()
    assert set(body) == {"error", "message", "details"} and body["error"] == code and body["message"], body
    if field:
        assert field in [d["field"] for d in body["details"]], body
    return body


def oauth_bad(resp, status, code):
    assert resp.status_code == status, f"expected {status}, got {resp.status_code}: {resp.text}"
    body = resp.json()
    assert set(body) == {"error", "error_description"} and body["error"] == code and body["error_description"], body
    return body


def subscribe(partner, tenant="t1", **fields):
    body = {"endpoint_url": "https://hooks.example.com/partner", "topic": "customer.created"}
    body.update(fields)
    return good(partner.p("POST", "", tenant, body), 201)


# ----------------------------------------------------------------------------------------------------------------
# OAuth2


def test_token_endpoint(partner):
    cid, secret = partner.clients["t1"]
    r = partner.form({"grant_type": "client_credentials", "client_id": cid, "client_secret": secret})
    body = good(r)
    assert set(body) == {"access_token", "token_type", "expires_in"}, body
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["access_token"].startswith("hdat_")
    assert r.headers["cache-control"] == "no-store"
    # HTTP Basic (RFC 6749 section 2.3.1), and the token works
    r = partner.form({"grant_type": "client_credentials"}, auth=(cid, secret))
    tok = good(r)["access_token"]
    good(partner.p("GET", "", f"raw:Bearer {tok}"))
    # scope is ignored, as RFC 6749 asks of parameters it does not define for the grant
    good(partner.form({"grant_type": "client_credentials", "client_id": cid, "client_secret": secret, "scope": "x"}))

    oauth_bad(partner.form({"grant_type": "client_credentials", "client_id": cid, "client_secret": secret + "x"}),
              401, "invalid_client")
    other_id, _ = partner.clients["t2"]
    oauth_bad(partner.form({"grant_type": "client_credentials", "client_id": other_id, "client_secret": secret}),
              401, "invalid_client")
    r = partner.form({"grant_type": "client_credentials"}, auth=(cid, "hk_nope"))
    oauth_bad(r, 401, "invalid_client")
    assert r.headers["www-authenticate"].startswith("Basic")
    oauth_bad(partner.form({"grant_type": "client_credentials"}), 401, "invalid_client")
    oauth_bad(partner.form({"grant_type": "client_credentials", "client_id": cid}, auth=(cid, secret)), 400,
              "invalid_request")
    oauth_bad(partner.form({"grant_type": "password", "client_id": cid, "client_secret": secret}), 400,
              "unsupported_grant_type")
    oauth_bad(partner.form({"client_id": cid, "client_secret": secret}), 400, "invalid_request")
    oauth_bad(partner.form("grant_type=client_credentials&grant_type=client_credentials"), 400, "invalid_request")
    oauth_bad(partner.form("grant_type=%ff"), 400, "invalid_request")
    r = requests.post(partner.base + TOKEN, json={"grant_type": "client_credentials", "client_id": cid,
                                                  "client_secret": secret}, timeout=TIMEOUT)
    oauth_bad(r, 400, "invalid_request")
    r = requests.post(partner.base + TOKEN + "?grant_type=client_credentials", data={"client_id": cid},
                      headers=FORM, timeout=TIMEOUT)
    oauth_bad(r, 400, "invalid_request")
    r = requests.get(partner.base + TOKEN, timeout=TIMEOUT)
    bad(r, 405, "method_not_allowed")
    assert r.headers["allow"] == "POST"


def test_bearer_token_checked_on_every_request(partner):
    r = partner.p("GET", "", None)
    bad(r, 401, "invalid_token")
    assert r.headers["www-authenticate"] == 'Bearer realm="hookd"'
    tok = partner.tokens["t1"]
    for auth in (f"Bearer {tok[:-2]}", f"Bearer {tok}x", "Bearer " + partner.clients["t1"][1], "Basic abc",
                 f"Bearer {partner.tokens['t1'][:5]}AAAA{tok[9:]}"):
        r = partner.p("GET", "", "raw:" + auth)
        bad(r, 401, "invalid_token")
        assert "realm=\"hookd\"" in r.headers["www-authenticate"]
    r = partner.p("GET", "", f"raw:Bearer {tok}x")
    assert 'error="invalid_token"' in r.headers["www-authenticate"]
    # the native API does not take access tokens, nor the partner dialect native keys
    assert partner.call("GET", "/v1/webhooks/subscriptions", key=tok).status_code == 401

    # revoking the client through the native api-keys route ends its tokens at their next use
    cid, secret = partner.new_client("t1")
    tok = partner.token(cid, secret)
    good(partner.p("GET", "", f"raw:Bearer {tok}"))
    assert partner.call("DELETE", f"/v1/webhooks/api-keys/{cid}", key="admin").status_code == 200
    r = partner.p("GET", "", f"raw:Bearer {tok}")
    bad(r, 401, "invalid_token")
    assert "revoked" in r.json()["message"]
    oauth_bad(partner.form({"grant_type": "client_credentials", "client_id": cid, "client_secret": secret}), 401,
              "invalid_client")


def test_token_of_another_master_key_is_refused(partner, hookd, hookd_bin, tmp_path):
    """A token is only as good as the master key that signed it: another deployment's does not verify."""
    env = hookd.env(HOOKD_MASTER_KEY=base64.b64encode(b"k" * 32).decode(), HOOKD_API_PORT=free_port(),
                    HOOKD_API_RECORDER="0")
    other = Api(hookd_bin, env, tmp_path / "other-api.log", dialects="partner")
    try:
        r = partner.p("GET", "", "raw:Bearer " + Partner(other, None, tenants=("t1",)).tokens["t1"])
        bad(r, 401, "invalid_token")
        assert "does not verify" in r.json()["message"]
    finally:
        other.stop()


# ----------------------------------------------------------------------------------------------------------------
# Operations as the document writes them


def test_subscribe_read_list_delete(partner):
    created = subscribe(partner)
    assert set(created) == SUB_FIELDS | {"secret_key"}, created
    assert created["secret_key"].startswith("whsec_")
    assert created["secret_last_4_digits"] == created["secret_key"][-4:]
    assert created["endpoint_url"] == "https://hooks.example.com/partner" and created["topic"] == "customer.created"
    assert created["is_active"] is True and created["partner_id"] == "t1" and isinstance(created["id"], str)
    dt.datetime.fromisoformat(created["created_at"].replace("Z", "+00:00"))

    got = good(partner.p("GET", f"/{created['id']}"))
    assert got == {k: v for k, v in created.items() if k != "secret_key"}

    given = subscribe(partner, secret_key=new_secret(), topic="customer.updated")
    assert "secret_key" not in given
    page = good(partner.p("GET", ""))
    assert set(page) == PAGE_FIELDS and [s["id"] for s in page["data"]] == [created["id"], given["id"]]
    assert page["has_next_page"] is False and page["has_previous_page"] is False
    only = good(partner.p("GET", "", params={"topic": "customer.updated"}))["data"]
    assert [s["id"] for s in only] == [given["id"]]
    assert good(partner.p("GET", "", params={"is_active": "false"}))["data"] == []

    first = good(partner.p("GET", "", params={"limit": 1}))
    assert [s["id"] for s in first["data"]] == [created["id"]] and first["has_next_page"] is True
    second = good(partner.p("GET", "", params={"limit": 1, "after": first["end_cursor"]}))
    assert [s["id"] for s in second["data"]] == [given["id"]] and second["has_previous_page"] is True
    back = good(partner.p("GET", "", params={"limit": 1, "before": second["start_cursor"]}))
    assert [s["id"] for s in back["data"]] == [created["id"]]

    deleted = good(partner.p("DELETE", f"/{created['id']}"))
    assert deleted == got
    bad(partner.p("GET", f"/{created['id']}"), 404, "not_found")
    bad(partner.p("DELETE", f"/{created['id']}"), 404, "not_found")
    assert [s["id"] for s in good(partner.p("GET", ""))["data"]] == [given["id"]]


def test_same_subscription_in_native_api(partner):
    made = subscribe(partner, topic="customer.updated")
    native = partner.call("GET", f"/v1/webhooks/subscriptions/{made['id']}").json()
    assert native["success"] is True, native
    native = native["data"]
    assert native["url"] == made["endpoint_url"] and native["event_types"] == [made["topic"]]
    assert native["secret_last_4"] == made["secret_last_4_digits"] and native["is_active"] == made["is_active"]
    assert native["created_at"] == made["created_at"] and native["updated_at"] == made["updated_at"]
    # a partner_id the partner sends is kept among the subscription's metadata and returned
    tagged = subscribe(partner, partner_id="acme-partner-9")
    assert tagged["partner_id"] == "acme-partner-9"
    assert good(partner.p("GET", f"/{tagged['id']}"))["partner_id"] == "acme-partner-9"
    stored = partner.call("GET", f"/v1/webhooks/subscriptions/{tagged['id']}").json()["data"]
    assert stored["metadata"] == {"partner_id": "acme-partner-9"}
    # a native subscription with several types shows its first as the topic
    body = {"name": "n", "event_types": ["order.paid", "customer.created"], "url": "http://127.0.0.1:9/h"}
    sid = partner.call("POST", "/v1/webhooks/subscriptions", json_body=body).json()["data"]["id"]
    assert good(partner.p("GET", f"/{sid}"))["topic"] == "order.paid"
    # paused natively: the partner sees it inactive
    partner.call("PATCH", f"/v1/webhooks/subscriptions/{sid}", json_body={"is_active": False})
    assert good(partner.p("GET", f"/{sid}"))["is_active"] is False
    assert [s["id"] for s in good(partner.p("GET", "", params={"is_active": "false"}))["data"]] == [sid]


def test_raw_secret_key_signs(partner, hookd, receiver, produce):
    """A secret_key that is not whsec_ is the raw HMAC key: a receiver verifies with whsec_ + its base64."""
    raw = "partner-raw-secret-0123"
    made = subscribe(partner, endpoint_url=receiver.url("/ok/raw"), secret_key=raw)
    receiver.register("/ok/raw", "whsec_" + base64.b64encode(raw.encode()).decode())
    h = hookd.start(HOOKD_MASTER_KEY=partner.master_key)
    ev = make_event(tenant="t1")
    produce(ev, key=ev["id"])
    (req,) = receiver.wait(1, "/ok/raw")
    assert req.verified, req.verify_error
    assert req.json()["data"] == ev["data"]
    assert made["secret_last_4_digits"] == base64.b64encode(raw.encode()).decode()[-4:]
    hookd.stop(h)


def test_delivery_signed_and_logged(partner, hookd, receiver, produce):
    secret = new_secret()
    made = subscribe(partner, endpoint_url=receiver.url("/ok/partner"), secret_key=secret)
    receiver.register("/ok/partner", secret)
    other = subscribe(partner, endpoint_url=receiver.url("/ok/other"), topic="order.paid")
    h = hookd.start(HOOKD_MASTER_KEY=partner.master_key)
    ev = make_event(tenant="t1")
    produce(ev, key=ev["id"])
    (req,) = receiver.wait(1, "/ok/partner")
    assert req.verified, req.verify_error
    assert req.json()["data"] == ev["data"]

    def logged():
        rows = good(partner.p("GET", "/events", params={"status": "succeeded"}))["data"]
        return rows or None

    (row,) = wait_for(logged, what="the delivery in /webhooks/events")
    assert set(row) == EVENT_FIELDS, row
    assert row["subscription_id"] == made["id"] and row["event_id"] == ev["id"] and row["topic"] == "customer.created"
    assert row["status_code"] == 200 and row["retry_count"] == 0 and row["sent_at"] and row["created_at"]
    assert row["id"] == req.webhook_id
    page = good(partner.p("GET", "/events", params={"topic": "customer.created", "limit": 10}))
    assert set(page) == PAGE_FIELDS and [r["id"] for r in page["data"]] == [row["id"]]
    assert good(partner.p("GET", "/events", params={"topic": "order.paid"}))["data"] == []
    assert good(partner.p("GET", "/events", params={"status": "failed"}))["data"] == []
    today = dt.datetime.now(dt.timezone.utc).date()
    assert good(partner.p("GET", "/events", params={"from_date": today.isoformat()}))["data"] == [row]
    tomorrow = (today + dt.timedelta(days=1)).isoformat()
    assert good(partner.p("GET", "/events", params={"from_date": tomorrow}))["data"] == []
    assert good(partner.p("GET", "/events", params={"to_date": "2000-01-01T00:00:00Z"}))["data"] == []
    assert good(partner.p("GET", "/events", params={"to_date": tomorrow + "T00:00:00+00:00"}))["data"] == [row]
    assert good(partner.p("GET", "/events", "t2"))["data"] == []
    assert receiver.received("/ok/other") == []
    assert other["topic"] == "order.paid"
    hookd.stop(h)


def test_test_event_with_custom_payload(partner, hookd, receiver):
    made = subscribe(partner, endpoint_url=receiver.url("/ok/test"), secret_key=(secret := new_secret()))
    receiver.register("/ok/test", secret)
    h = hookd.start(HOOKD_MASTER_KEY=partner.master_key)
    sent = good(partner.p("POST", f"/{made['id']}/test", json_body={"payload": {"order": 7, "note": "ü"}}), 202)
    assert set(sent) == {"event_id", "delivery_id", "topic", "subscription_id", "status"}, sent
    assert sent["topic"] == "customer.created" and sent["subscription_id"] == made["id"] and sent["status"] == "pending"
    (req,) = receiver.wait(1, "/ok/test")
    assert req.verified, req.verify_error
    assert req.json()["data"] == {"order": 7, "note": "ü"} and req.webhook_id == sent["delivery_id"]

    def logged():
        rows = good(partner.p("GET", "/events"))["data"]
        return rows if rows and rows[0]["status"] == "succeeded" else None

    (row,) = wait_for(logged, what="the test event in /webhooks/events")
    assert row["event_id"] == sent["event_id"] and row["id"] == sent["delivery_id"]
    # without a body: the subscription's topic and hookd's default payload
    assert good(partner.p("POST", f"/{made['id']}/test"), 202)["topic"] == "customer.created"
    bad(partner.p("POST", f"/{made['id']}/test", json_body={"topic": "order.paid"}), 422,
        "unprocessable_entity", "topic")
    bad(partner.p("POST", f"/{made['id']}/test", json_body={"data": {}}), 422, "unprocessable_entity", "data")
    bad(partner.p("POST", f"/{made['id']}/test", json_body={"url": "x"}), 422, "unprocessable_entity", "url")
    bad(partner.p("POST", f"/{made['id']}/test", json_body={"payload": [1]}), 422, "unprocessable_entity",
        "payload")
    hookd.stop(h)


# ----------------------------------------------------------------------------------------------------------------
# Errors, bad input, tenants


def test_validation_errors(partner):
    bad(partner.p("POST", "", json_body={"topic": "customer.created"}), 422, "unprocessable_entity", "endpoint_url")
    bad(partner.p("POST", "", json_body={"endpoint_url": "https://e.example/h"}), 422, "unprocessable_entity", "topic")
    bad(partner.p("POST", "", json_body={"endpoint_url": "ftp://e.example/h", "topic": "customer.created"}), 422,
        "unprocessable_entity", "endpoint_url")
    bad(partner.p("POST", "", json_body={"endpoint_url": "https://e.example/h", "topic": "no.such.topic"}), 422,
        "unprocessable_entity", "topic")
    bad(partner.p("POST", "", json_body={"endpoint_url": "https://e.example/h", "topic": ["customer.created"]}), 422,
        "unprocessable_entity", "topic")
    bad(partner.p("POST", "", json_body={"endpoint_url": 5, "topic": "customer.created"}), 422,
        "unprocessable_entity", "endpoint_url")
    for key in ("short", "x" * 65, 12, "whsec_!!"):
        bad(partner.p("POST", "", json_body={"endpoint_url": "https://e.example/h", "topic": "customer.created",
                                             "secret_key": key}), 422, "unprocessable_entity", "secret_key")
    bad(partner.p("POST", "", json_body={"endpoint_url": "https://e.example/h", "topic": "customer.created",
                                         "name": "x"}), 422, "unprocessable_entity", "name")
    for pid in (5, "", "p" * 257, None):
        bad(partner.p("POST", "", json_body={"endpoint_url": "https://e.example/h", "topic": "customer.created",
                                             "partner_id": pid}), 422, "unprocessable_entity", "partner_id")
    bad(partner.p("POST", "", json_body={"endpoint_url": "https://e.example/" + "a" * 5000,
                                         "topic": "customer.created"}), 422, "unprocessable_entity", "endpoint_url")
    bad(partner.p("POST", "", data=b'{"endpoint_url": "' + b"a" * 70000 + b'"}'), 413, "payload_too_large")
    bad(partner.p("POST", "", data=b'{"endpoint_url": '), 400, "invalid_request")
    bad(partner.p("POST", "", data=b"[]"), 400, "invalid_request")
    bad(partner.p("POST", ""), 400, "invalid_request")
    bad(partner.p("POST", "", data=b"{}", headers={"content-type": "text/plain"}), 415, "unsupported_media_type")
    assert partner.p("GET", "").json()["data"] == [], "nothing was stored by the refused requests"


def test_query_and_route_errors(partner):
    bad(partner.p("GET", "", params={"sort": "id"}), 400, "invalid_request", "sort")
    bad(partner.p("GET", "", params={"limit": 0}), 400, "invalid_request", "limit")
    bad(partner.p("GET", "", params={"limit": "ten"}), 400, "invalid_request", "limit")
    bad(partner.p("GET", "", params={"limit": 10 ** 12}), 400, "invalid_request", "limit")
    bad(partner.p("GET", "", params={"is_active": "yes"}), 400, "invalid_request", "is_active")
    bad(partner.p("GET", "", params={"after": "garbage"}), 400, "invalid_request", "after")
    bad(partner.p("GET", "/events", params={"status": "done"}), 400, "invalid_request", "status")
    bad(partner.p("GET", "/events", params={"from_date": "yesterday"}), 400, "invalid_request", "from_date")
    bad(partner.p("GET", "/events", params={"to_date": "2026-02-30"}), 400, "invalid_request", "to_date")
    bad(partner.p("GET", "/events", params={"event_type": "customer.created"}), 400, "invalid_request")
    bad(partner.p("GET", "/sub_nope"), 404, "not_found")
    bad(partner.p("GET", "/sub_nope/test"), 405, "method_not_allowed")
    r = partner.p("PUT", "/sub_nope", json_body={})
    bad(r, 405, "method_not_allowed")
    assert r.headers["allow"] == "GET, DELETE"
    bad(partner.p("GET", "/a/b/c"), 404, "not_found")
    made = subscribe(partner)
    bad(partner.p("GET", f"/{made['id']}", params={"x": "1"}), 400, "invalid_request", "x")


def test_tenant_isolation(partner):
    mine = subscribe(partner, "t1")
    theirs = subscribe(partner, "t2")
    assert theirs["partner_id"] == "t2"
    assert [s["id"] for s in good(partner.p("GET", "", "t1"))["data"]] == [mine["id"]]
    assert [s["id"] for s in good(partner.p("GET", "", "t2"))["data"]] == [theirs["id"]]
    bad(partner.p("GET", f"/{theirs['id']}", "t1"), 404, "not_found")
    bad(partner.p("DELETE", f"/{theirs['id']}", "t1"), 404, "not_found")
    bad(partner.p("POST", f"/{theirs['id']}/test", "t1"), 404, "not_found")
    assert good(partner.p("GET", f"/{theirs['id']}", "t2"))["id"] == theirs["id"]


def test_other_prefix(api_server, master_key):
    """Mounted elsewhere, every path moves with the prefix, the token endpoint too."""
    api = api_server(dialects="native=/hookd/v1,partner=/p/webhooks")
    moved = Partner(api, master_key, mount="/p", tenants=("t1",))
    made = subscribe(moved)
    assert good(moved.p("GET", f"/{made['id']}"))["id"] == made["id"]
    assert requests.get(api.base + "/webhooks", timeout=TIMEOUT).status_code == 404
    assert api.call("GET", f"/hookd/v1/subscriptions/{made['id']}").status_code == 200


def test_same_subscription_in_management_dialect(api_server, master_key):
    """Served together, the partner and management dialects and the native API show one subscription."""
    api = api_server(dialects="native=/hookd/v1,management=/v1/webhooks,partner")
    partner = Partner(api, master_key, tenants=("t1",))
    made = subscribe(partner, topic="order.paid", endpoint_url="https://hooks.example.com/both")
    native = api.call("GET", f"/hookd/v1/subscriptions/{made['id']}").json()["data"]
    mgmt_headers = {"x-api-key": api.keys["t1"], "Accept": "text/plain"}
    r = requests.get(f"{api.base}/v1/webhooks/subscriptions/{native['alias']}", headers=mgmt_headers, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    m = r.json()["subscription"]
    assert (m["eventType"], m["url"], m["isActive"]) == (made["topic"], made["endpoint_url"], made["is_active"])
    assert m["secret"] == "****" + made["secret_last_4_digits"]

    body = {"subscription": {"name": "m", "eventType": "customer.updated", "url": "https://hooks.example.com/m",
                             "isActive": False}}
    r = requests.post(f"{api.base}/v1/webhooks/subscriptions", data=json.dumps(body),
                      headers={**mgmt_headers, "Content-Type": "application/json-patch+json"}, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    (seen,) = good(partner.p("GET", "", params={"topic": "customer.updated"}))["data"]
    assert (seen["endpoint_url"], seen["is_active"], seen["partner_id"]) == ("https://hooks.example.com/m", False, "t1")
