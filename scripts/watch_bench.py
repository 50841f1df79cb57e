#!/usr/bin/env python3
"""Watch-mode figures against the running local emulator.

Usage: watch_bench.py BIN ENDPOINT RUNS

On a copy of the reference app (deployed first), `driftless watch dev` runs
while the handler is edited RUNS times. For each edit: the time from the
file written until the endpoint serves the new code (polled every 5 ms), and
driftless's share of it (the pass's `live_ms`: from the first file event
until UpdateFunctionCode returned). Then the idle watch process: resident
memory, and CPU time and wake-ups over 10 s without changes.
"""

import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time

BIN, ENDPOINT, RUNS = sys.argv[1], sys.argv[2], int(sys.argv[3])
ACCOUNT = "300000000030"
ROOT = os.path.abspath("target/bench/watch")
HANDLER = os.path.join(ROOT, "specs/api/runtime/lambda_function.py")
ENV = dict(os.environ, AWS_ACCESS_KEY_ID=ACCOUNT, AWS_SECRET_ACCESS_KEY="test")


def driftless(*args, **kw):
    return subprocess.run([BIN, "-C", ROOT, *args], env=ENV, check=True, capture_output=True, text=True, **kw)


def get(url):
    rest = url[len("http://"):]
    authority, _, path = rest.partition("/")
    port = int(authority.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    auth = f"AWS4-HMAC-SHA256 Credential={ACCOUNT}/20260101/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature=0"
    conn.request("GET", "/" + path, headers={"Host": authority, "Authorization": auth})
    body = conn.getresponse().read().decode()
    conn.close()
    return body


def quantile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def proc_stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime + stime
    status = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            status[key] = value.strip()
    wakeups = int(status["voluntary_ctxt_switches"]) + int(status["nonvoluntary_ctxt_switches"])
    return ticks, int(status["VmRSS"].split()[0]), wakeups


def bench(debounce):
    watch = subprocess.Popen(
        [BIN, "-C", ROOT, "--output", "json", "watch", "dev", "--debounce", str(debounce)],
        env=ENV, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    passes = []
    ready = threading.Condition()

    def read():
        for line in watch.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") == "watch_pass":
                with ready:
                    passes.append(event)
                    ready.notify_all()

    threading.Thread(target=read, daemon=True).start()

    def wait_pass(count):
        with ready:
            if not ready.wait_for(lambda: len(passes) >= count, timeout=60):
                raise SystemExit("watch did not finish a pass within 60 s")
            return passes[count - 1]

    wait_pass(1)
    original = open(HANDLER).read()
    latencies, shares = [], []
    for i in range(RUNS):
        marker = f"edit {debounce}-{i}"
        text = original.replace('f"no user {username}"', f'f"{marker} {{username}}"')
        with open(HANDLER, "w") as f:
            f.write(text)
        saved = time.monotonic()
        while marker not in get(URL):
            if time.monotonic() - saved > 10:
                raise SystemExit("the new code was not served within 10 s")
            time.sleep(0.005)
        latencies.append((time.monotonic() - saved) * 1000)
        event = wait_pass(i + 2)
        if event["result"] != "hotswapped":
            raise SystemExit(f"expected a hotswap: {event}")
        shares.append(max(s["live_ms"] for s in event["hotswapped"] if s.get("live_ms") is not None))
        time.sleep(0.2)
    with open(HANDLER, "w") as f:
        f.write(original)
    wait_pass(RUNS + 2)
    time.sleep(2)
    ticks0, _, wake0 = proc_stat(watch.pid)
    time.sleep(10)
    ticks1, rss_kb, wake1 = proc_stat(watch.pid)
    watch.terminate()
    watch.wait()
    label = f"watch dev (--debounce {debounce})"
    print(f"{label + ': save to live':<58} median {statistics.median(latencies):7.2f} ms   p90 {quantile(latencies, 0.9):7.2f} ms   ({RUNS} edits)")
    print(f"{label + ': save to UpdateFunctionCode done':<58} median {statistics.median(shares):7.2f} ms   p90 {quantile(shares, 0.9):7.2f} ms")
    return rss_kb, ticks1 - ticks0, wake1 - wake0


shutil.rmtree(ROOT, ignore_errors=True)
os.makedirs(ROOT)
for part in ("specs", "environments"):
    shutil.copytree(part, os.path.join(ROOT, part))
dev = os.path.join(ROOT, "environments/dev.yaml")
with open(dev) as f:
    text = f.read().replace("app: user-management", "app: watch-bench")
with open(dev, "w") as f:
    f.write(text)
driftless("deploy", "dev", "--yes", "--no-smoke")
URL = None
for line in driftless("--output", "json", "outputs", "dev").stdout.splitlines():
    event = json.loads(line)
    if event.get("event") == "output" and event.get("name") == "api.endpoint":
        URL = event["value"] + "/users/ghost"
if URL is None:
    raise SystemExit("no API endpoint in the outputs")

rss_kb, ticks, wakeups = bench(100)
bench(20)
hz = os.sysconf("SC_CLK_TCK")
print(f"{'watch dev, idle: resident memory':<58} {rss_kb / 1024:7.1f} MB")
print(f"{'watch dev, idle 10 s: CPU time, wake-ups':<58} {ticks * 1000 / hz:7.0f} ms, {wakeups} wake-ups")
