#!/usr/bin/env python3
"""Watch-mode figures against the running local emulator.

Usage: watch_bench.py BIN ENDPOINT RUNS

On a copy of the reference app (deployed first), `driftless watch dev` runs
while the handler is edited RUNS times: from an idle watch, and as pairs of
saves 0.5 s apart (the second lands during the first pass's tail). For each
edit: the time from the file written until the endpoint serves the new code
(polled every 5 ms), and driftless's share of it (the pass's `live_ms`: from
the first file event until Lambda accepted UpdateFunctionCode). Both with
the default start (on the save) and with `--debounce 100`. Then the idle
watch process: resident memory, and CPU time and wake-ups over 10 s without
changes.
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


def save(text):
    with open(HANDLER, "w") as f:
        f.write(text)
    return time.monotonic()


def served(marker, saved):
    while marker not in get(URL):
        if time.monotonic() - saved > 10:
            raise SystemExit("the new code was not served within 10 s")
        time.sleep(0.005)
    return (time.monotonic() - saved) * 1000


def bench(debounce, gap=None):
    start = [] if debounce is None else ["--debounce", str(debounce)]
    watch = subprocess.Popen(
        [BIN, "-C", ROOT, "--output", "json", "watch", "dev", *start],
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

    def edited(tag):
        return original.replace('f"no user {username}"', f'f"{tag} {{username}}"')

    def live_ms(event):
        values = [s["live_ms"] for s in event.get("hotswapped") or [] if s.get("live_ms") is not None]
        return max(values) if values else None

    for i in range(RUNS):
        seen = len(passes)
        if gap is None:
            marker = f"edit {debounce}-{i}"
            latencies.append(served(marker, save(edited(marker))))
            event = wait_pass(seen + 1)
            if event["result"] != "hotswapped":
                raise SystemExit(f"expected a hotswap: {event}")
            shares.append(live_ms(event))
        else:
            save(edited(f"first {debounce}-{i}"))
            time.sleep(gap)
            marker = f"second {debounce}-{i}"
            latencies.append(served(marker, save(edited(marker))))
            time.sleep(1.5)
            with ready:
                last = [p for p in passes[seen:] if p["result"] == "hotswapped" and live_ms(p) is not None]
            if not last:
                raise SystemExit(f"expected a hotswap: {passes[seen:]}")
            shares.append(live_ms(last[-1]))
        time.sleep(0.3)
    seen = len(passes)
    save(original)
    wait_pass(seen + 1)
    time.sleep(2)
    ticks0, _, wake0 = proc_stat(watch.pid)
    time.sleep(10)
    ticks1, rss_kb, wake1 = proc_stat(watch.pid)
    watch.terminate()
    watch.wait()
    label = "watch dev (on save)" if debounce is None else f"watch dev (--debounce {debounce})"
    if gap is not None:
        label += f", 2nd of 2 saves {gap}s apart"
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

rss_kb, ticks, wakeups = bench(None)
bench(None, gap=0.5)
bench(100)
bench(100, gap=0.5)
hz = os.sysconf("SC_CLK_TCK")
print(f"{'watch dev, idle: resident memory':<58} {rss_kb / 1024:7.1f} MB")
print(f"{'watch dev, idle 10 s: CPU time, wake-ups':<58} {ticks * 1000 / hz:7.0f} ms, {wakeups} wake-ups")
