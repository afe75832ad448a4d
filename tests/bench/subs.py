#!/usr/bin/env python3
"""Subscriptions at scale (docs/capacity.md): memory and start-up with many subscriptions, and change churn.

Scenarios:
  memory  hookd (release build) with 1,000, 100,000 and 1,000,000 subscriptions (100 per tenant) from the file
          store: load time, RSS and peak RSS after the load and across a full reload (the file touched); bytes
          per subscription over the 1,000-subscription baseline.
  churn   100,000 subscriptions in a private FerretDB, a steady stream of creates, updates, disables and deletes
          through the collection (as the API writes them: the document, then its change log entry), once against
          a dispatcher applying changes (the default) and once against one doing a full reload per refresh, in the
          same run, and once with no dispatcher (what the writes alone cost FerretDB): change-to-applied latency
          p50/p99, documents read per refresh and per change, dispatcher CPU per refresh, FerretDB CPU per change.

Run with the services up (scripts/services up, or the shared ones), after `make build/hookd`:
  .cache/venv/bin/python tests/bench/subs.py memory [--counts 1000,100000,1000000]
  .cache/venv/bin/python tests/bench/subs.py churn [--subs 100000 --rate 0.5 --seconds 60]
The churn scenario starts its own FerretDB (scripts/services ferretdb-up with a private run directory and port)
and removes it afterwards. Figures go to stdout as JSON.
"""
import argparse
import base64
import datetime as dt
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from common import free_port, log

ROOT = Path(__file__).resolve().parents[2]
HOOKD = ROOT / "build/hookd"
KAFKA = os.environ.get("HOOKD_TEST_KAFKA", "127.0.0.1:19092")
TMP = Path(tempfile.mkdtemp(prefix="hookd-subs-bench-"))
TYPES = ["customer.created", "customer.updated", "customer.deleted", "order.created", "order.updated",
         "order.paid", "order.shipped", "invoice.created", "invoice.paid", "payment.failed"]
TS = re.compile(r'"ts":"([^"]+)"')


def sub_doc(t, k, rnd):
    """One subscription as the API stores it (plaintext secret: the file store has no master key)."""
    types = rnd.sample(TYPES, rnd.choice((1, 1, 2, 3)))
    return {"_id": f"sub_{rnd.getrandbits(48):012x}{rnd.getrandbits(64):016x}", "tenant": f"merchant-{t:05d}",
            "name": f"Webhook {k}", "event_types": types,
            "url": f"https://hooks.merchant-{t:05d}.example.com/webhooks/{k % 3}",
            "secret": "whsec_" + base64.b64encode(rnd.randbytes(24)).decode(), "is_active": True,
            "max_retry_count": 5}


def write_file(path, count, per_tenant=100):
    rnd = random.Random(count)
    with open(path, "w") as f:
        f.write('{"subscriptions": [')
        for i in range(count):
            d = sub_doc(i // per_tenant, i % per_tenant, rnd)
            d["id"] = d.pop("_id")
            f.write(("," if i else "") + json.dumps(d))
        f.write("]}")


def ts_ms(line):
    m = TS.search(line)
    return dt.datetime.fromisoformat(m.group(1).replace("Z", "+00:00")).timestamp() * 1000 if m else None


class Hookd:
    def __init__(self, name, env):
        self.log_path = TMP / f"{name}.log"
        u = uuid.uuid4().hex[:8]
        self.prefix = f"bench.subs.{name}.{u}"
        full = {k: v for k, v in os.environ.items() if not k.startswith("HOOKD_")}
        full.update({"HOOKD_BROKERS": KAFKA, "HOOKD_TOPICS": f"{self.prefix}.events",
                     "HOOKD_RESULTS_TOPIC": f"{self.prefix}.results", "HOOKD_DEADLETTER_TOPIC": f"{self.prefix}.dead",
                     "HOOKD_RETRY_TOPIC_PREFIX": f"{self.prefix}.retry", "HOOKD_OPS_TOPIC": f"{self.prefix}.ops",
                     "HOOKD_GROUP_ID": self.prefix, "HOOKD_LOG_LEVEL": "info"})
        full.update(env)
        self.proc = subprocess.Popen([str(HOOKD), "dispatch"], env=full, stderr=open(self.log_path, "w"))

    def lines(self):
        return self.log_path.read_text(errors="replace").splitlines()

    def wait_log(self, text, timeout=600, after=0):
        end = time.time() + timeout
        while time.time() < end:
            hits = [ln for ln in self.lines() if text in ln]
            if len(hits) > after:
                return hits[after]
            if self.proc.poll() is not None:
                raise RuntimeError(f"hookd exited; see {self.log_path}")
            time.sleep(0.1)
        raise RuntimeError(f"hookd never logged {text!r}; see {self.log_path}")

    def status_kb(self, field):
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        return 0

    def cpu_seconds(self):
        f = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=120)
        delete_topics(self.prefix)


def delete_topics(prefix):
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=KAFKA)
    try:
        mine = [t for t in admin.list_topics() if t.startswith(prefix + ".")]
        if mine:
            admin.delete_topics(mine, timeout_ms=15000)
    finally:
        admin.close()


def memory(counts):
    out = []
    for n in counts:
        path = TMP / f"subs-{n}.json"
        write_file(path, n)
        h = Hookd(f"memory-{n}", {"HOOKD_STORE": f"file:{path}"})
        line = h.wait_log(f"subscriptions loaded: {n} in")
        load_ms = float(re.search(r"in ([\d.]+) ms", line).group(1))
        r = {"subscriptions": n, "file_mb": round(path.stat().st_size / 2**20, 1), "load_ms": load_ms,
             "rss_mb": round(h.status_kb("VmRSS") / 1024, 1), "peak_rss_mb": round(h.status_kb("VmHWM") / 1024, 1)}
        os.utime(path)  # a full reload of the same content: every subscription shared, nothing parsed twice
        line = h.wait_log("subscriptions reloaded", timeout=600)
        r["reload_ms"] = float(re.search(r"in ([\d.]+) ms", line).group(1))
        r["peak_rss_after_reload_mb"] = round(h.status_kb("VmHWM") / 1024, 1)
        h.stop()
        path.unlink()
        out.append(r)
        log(json.dumps(r))
    base = out[0]
    for r in out[1:]:
        r["bytes_per_subscription"] = round((r["rss_mb"] - base["rss_mb"]) * 2**20 /
                                            (r["subscriptions"] - base["subscriptions"]))
    return out


# ---- churn ----

class PrivateMongo:
    def __init__(self):
        self.port = int(os.environ.get("HOOKD_BENCH_MONGO_PORT", free_port()))
        self.run = TMP / "mongo"
        self.env = dict(os.environ, HOOKD_SERVICES_RUN=str(self.run), HOOKD_MONGO_PORT=str(self.port))
        self.uri = f"mongodb://127.0.0.1:{self.port}/"

    def services(self, cmd):
        subprocess.run([str(ROOT / "scripts/services"), cmd], env=self.env, check=True, stdin=subprocess.DEVNULL)

    def pid(self):
        return int((self.run / "ferretdb.pid").read_text())


def proc_cpu(pid):
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def churn_phase(name, coll, log_coll, db, uri, subs, rate, seconds, full, mongo_pid, rnd, ids):
    """One dispatcher (none when full is None: the writes' own cost to the database), `seconds` of changes at
    `rate` per second; returns its figures."""
    # debug: the looks that find nothing new are logged too (no events flow, so little else is)
    env = {"HOOKD_STORE": uri, "HOOKD_MONGO_DATABASE": db, "HOOKD_SUBSCRIPTIONS_REFRESH_MS": "1000",
           "HOOKD_LOG_LEVEL": "debug"}
    # A full reload on every refresh: what a dispatcher did on any change before changes were applied.
    env["HOOKD_SUBSCRIPTIONS_FULL_RELOAD_MS"] = "1" if full else "0"
    h = Hookd(f"churn-{name}", env) if full is not None else None
    if h:
        h.wait_log(f"subscriptions loaded: {subs} in", timeout=1200)
        time.sleep(2)
    writes = []  # wall ms after each write and its log entry returned
    cpu0, db0 = h.cpu_seconds() if h else 0, proc_cpu(mongo_pid)
    start = time.time()
    i = 0
    while time.time() - start < seconds:
        due = start + i / rate
        if due > time.time():
            time.sleep(due - time.time())
        kind = ("create", "update", "disable", "delete")[i % 4]
        now = dt.datetime.now(dt.timezone.utc)
        if kind == "create":
            d = sub_doc(rnd.randrange(10000), rnd.randrange(100), rnd)
            d["updated_at"] = now
            coll.insert_one(d)
            ids.append(sid := d["_id"])
        elif kind == "update":
            coll.update_one({"_id": (sid := rnd.choice(ids))}, {"$set": {"name": f"renamed {i}", "updated_at": now}})
        elif kind == "disable":
            coll.update_one({"_id": (sid := rnd.choice(ids))}, {"$set": {"is_active": False, "updated_at": now}})
        else:
            coll.delete_one({"_id": (sid := ids.pop(rnd.randrange(len(ids))))})
        # as the API does after every write (hd_store_changed)
        log_coll.update_one({"_id": str(int(time.time()))}, {"$push": {"ids": sid}}, upsert=True)
        writes.append(time.time() * 1000)
        i += 1
    if not h:
        db_cpu = proc_cpu(mongo_pid) - db0
        return {"mode": name, "changes": len(writes), "ferretdb_cpu_s": round(db_cpu, 2),
                "ferretdb_cpu_ms_per_change": round(db_cpu * 1000 / len(writes), 1)}
    # Let the last changes land: two refreshes, or the reload in progress plus one.
    time.sleep(3 if not full else 0)
    if full:
        n = sum(1 for ln in h.lines() if "subscriptions reloaded" in ln)
        h.wait_log("subscriptions reloaded", timeout=600, after=n + 1)
    cpu, db_cpu = h.cpu_seconds() - cpu0, proc_cpu(mongo_pid) - db0
    pat = re.compile(r"subscriptions reloaded: \d+ in ([\d.]+) ms \(([\d.]+) ms CPU\)" if full else
                     r"subscription changes: (\d+) written, (\d+) gone, (\d+) documents read in ([\d.]+) ms "
                     r"\(([\d.]+) ms CPU\)")
    looks = []  # (start ms, end ms, documents read, cpu ms)
    for ln in h.lines():
        m = pat.search(ln)
        t = ts_ms(ln)
        if not m or t is None or t < writes[0] - 5000:
            continue
        g = m.groups()
        if full:
            looks.append((t - float(g[0]), t, subs, float(g[1])))
        else:
            looks.append((t - float(g[3]), t, int(g[2]), float(g[4])))
    h.stop()
    # A change is applied by the first look that started after its write returned (an upper bound: one that
    # started during the write may have seen it already).
    lat = []
    for w in writes:
        end = next((e for s, e, _, _ in looks if s > w), None)
        if end is not None:
            lat.append(end - w)
    lat.sort()
    q = lambda p: round(lat[min(len(lat) - 1, int(p * len(lat)))]) if lat else None
    reads = [r for _, _, r, _ in looks]
    cpus = [c for _, _, _, c in looks]
    return {"mode": name, "changes": len(writes), "applied_measured": len(lat), "latency_p50_ms": q(0.5),
            "latency_p99_ms": q(0.99), "looks": len(looks),
            "documents_read_per_look": round(statistics.mean(reads), 1) if reads else None,
            "documents_read_per_change": round(sum(reads) / len(writes), 1),
            "dispatcher_cpu_ms_per_look": round(statistics.median(cpus), 2) if cpus else None,
            "dispatcher_cpu_s": round(cpu, 2), "ferretdb_cpu_s": round(db_cpu, 2),
            "ferretdb_cpu_ms_per_change": round(db_cpu * 1000 / len(writes), 1)}


def churn(subs, rate, seconds):
    import pymongo

    m = PrivateMongo()
    m.services("ferretdb-up")
    try:
        client = pymongo.MongoClient(m.uri)
        db = f"churn_{uuid.uuid4().hex[:8]}"
        coll, log_coll = client[db].subscriptions, client[db].subscription_changes
        rnd = random.Random(7)
        old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
        ids = []
        t0 = time.time()
        for i in range(0, subs, 5000):
            docs = [dict(sub_doc((i + j) // 10, (i + j) % 10, rnd), updated_at=old) for j in range(min(5000, subs - i))]
            coll.insert_many(docs)
            ids += [d["_id"] for d in docs]
        log(f"{subs} subscriptions inserted in {time.time() - t0:.0f} s")
        pid = m.pid()
        out = [churn_phase("writes only", coll, log_coll, db, m.uri, subs, rate, seconds, None, pid, rnd, ids)]
        log(json.dumps(out[-1]))
        # creates and deletes need not balance: each dispatcher waits for the count the collection has
        out.append(churn_phase("apply", coll, log_coll, db, m.uri, coll.estimated_document_count(), rate, seconds,
                               False, pid, rnd, ids))
        log(json.dumps(out[-1]))
        out.append(churn_phase("full-reload", coll, log_coll, db, m.uri, coll.estimated_document_count(), rate,
                               seconds, True, pid, rnd, ids))
        log(json.dumps(out[-1]))
        client.drop_database(db)
        return out
    finally:
        m.services("ferretdb-down")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("scenario", choices=["memory", "churn"])
    ap.add_argument("--counts", default="1000,100000,1000000")
    ap.add_argument("--subs", type=int, default=100000)
    # FerretDB (SQLite) spends about a second of CPU on each update or delete in a 100,000-document collection
    ap.add_argument("--rate", type=float, default=0.5)
    ap.add_argument("--seconds", type=float, default=60)
    args = ap.parse_args()
    try:
        if args.scenario == "memory":
            res = memory([int(c) for c in args.counts.split(",")])
        else:
            res = churn(args.subs, args.rate, args.seconds)
        print(json.dumps(res, indent=1))
    finally:
        shutil.rmtree(TMP, True)


if __name__ == "__main__":
    main()
