"""Failure notifications: the e-mail sent when a subscription is disabled (read with Python's email package from a
local aiosmtpd sink), and the dispatcher's closing summary when a disable cancels retries. See conftest.py for the
fixtures."""

import re

import pytest

from conftest import SmtpSink, log_change, make_event, wait_for

REJECTED = "rejected@example.com"


@pytest.fixture
def strict_sink():
    s = SmtpSink(refuse={REJECTED})
    yield s
    s.close()


def test_disabled_mail_reaches_every_good_address(hookd, add_subscription, results, produce, db, strict_sink):
    import email
    import email.policy

    # Written straight to the store, as the API would refuse it: a name with CR/LF and non-ASCII text, and
    # addresses that are broken (a line break, no domain) or that the server refuses.
    name = "Bestellungen\r\nBcc: evil@example.net — Über"
    sub = add_subscription(status_path="gone", name=name, notify=True,
                           notification_emails=["ops@example.com", "bad\r\nBcc: evil@example.net", "nobody",
                                                REJECTED, "dev@example.com"])
    h = hookd.start(HOOKD_SMTP_URL=strict_sink.url, HOOKD_SMTP_FROM="hookd@example.org")
    ev = make_event()
    produce(ev)
    results.wait_event(ev["id"])
    wait_for(lambda: db.subscriptions.find_one({"_id": sub["_id"]})["is_active"] is False, what="the disable")

    mail = wait_for(strict_sink.received, what="the notification e-mail")[0]
    rcpts, data = mail.rcpt_tos, mail.data
    assert sorted(rcpts) == ["dev@example.com", "ops@example.com"]
    assert b"\r\nBcc:" not in data and b"evil@example.net\r\n" not in data.split(b"\r\n\r\n")[0]
    assert not re.search(rb"[^\r]\n", data), "every line ends in CRLF"
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert msg["subject"] == 'Webhook subscription "Bestellungen  Bcc: evil@example.net — Über" was disabled'
    assert msg["bcc"] is None
    body = msg.get_content()
    disabled_at = db.subscriptions.find_one({"_id": sub["_id"]})["disabled_at"]
    m = re.search(r" at (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)\.", body)
    assert m and m.group(1)[:16] == disabled_at.strftime("%Y-%m-%dT%H:%M"), body
    assert f"PATCH /v1/webhooks/subscriptions/{sub['_id']}" in body and '{"is_active": true}' in body
    wait_for(lambda: "sent to 3 of 5 address(es)" in h.log(), what="the log line of the e-mail")
    assert h.log().count("skipping a recipient that is not an e-mail address") == 2
    hookd.stop(h)


def test_summary_does_not_count_cancelled_retries_as_failed(hookd, add_subscription, results, produce, db):
    sub = add_subscription(status_path="fail", max_retry_count=3)
    h = hookd.start(HOOKD_RETRY_SCHEDULE="3s")
    ev = make_event()
    produce(ev)
    results.wait_event(ev["id"])  # attempt 1 failed, a retry scheduled
    db.subscriptions.update_one({"_id": sub["_id"]}, {"$set": {"is_active": False, "updated_at": sub["updated_at"]
                                                               .replace(year=sub["updated_at"].year + 1)}})
    log_change(db, sub["_id"])
    recs = results.wait_event(ev["id"], count=2)
    assert recs[1]["error"] == "the subscription was disabled before the retry"
    hookd.stop(h)
    m = re.search(r"(\d+) deliveries \((\d+) succeeded, (\d+) failed", h.log())
    assert m and (int(m.group(1)), int(m.group(2)), int(m.group(3))) == (1, 0, 1), m and m.group(0)
