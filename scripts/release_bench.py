#!/usr/bin/env python3
"""Figures of releases against the local emulator.

    scripts/release_bench.py BIN ENDPOINT [RUNS]

For the reference app in dev, with a handler change each time:
- the API calls of a deploy that releases with `all_at_once` and with
  `canary 10% 2s` (the calls a gradual release adds);
- the time from the end of the canary's bake (its `shifting` event plus
  the bake) to all traffic on the new version (its `done` event),
  median of RUNS (5).
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

BIN, ENDPOINT = os.path.abspath(sys.argv[1]), sys.argv[2]
RUNS = int(sys.argv[3]) if len(sys.argv) > 3 else 5
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BAKE = 2.0


def project(app, strategy):
    top = tempfile.mkdtemp(prefix="release-bench-")
    for part in ("specs", "environments"):
        shutil.copytree(os.path.join(ROOT, part), os.path.join(top, part),
                        ignore=shutil.ignore_patterns(".driftless", "__pycache__"))
    path = os.path.join(top, "environments", "dev.yaml")
    with open(path) as f:
        text = f.read().replace("app: user-management", f"app: {app}")
    text = text.replace("hotswap: true", f"hotswap: true\nreleases: {{ strategy: {strategy} }}")
    with open(path, "w") as f:
        f.write(text)
    return top


def env(account):
    e = dict(os.environ, AWS_ACCESS_KEY_ID=account, AWS_SECRET_ACCESS_KEY="test", DRIFTLESS_ENDPOINT=ENDPOINT)
    e.pop("AWS_PROFILE", None)
    return e


def touch_handler(top, mark):
    path = os.path.join(top, "specs", "api", "runtime", "lambda_function.py")
    with open(path, "a") as f:
        f.write(f"\n# {mark}\n")


def deploy(top, account):
    """Each event with the time it arrived, and the summary's API calls."""
    proc = subprocess.Popen([BIN, "-C", top, "--output", "json", "deploy", "dev", "--yes"],
                            env=env(account), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    seen = []
    for line in proc.stdout:
        try:
            seen.append((time.monotonic(), json.loads(line)))
        except ValueError:
            pass
    assert proc.wait() == 0, seen[-1]
    return seen


def calls(seen):
    summary = [e for _, e in seen if e.get("event") == "summary"][-1]
    c = summary["api_calls"]
    return c["total"], c["by_operation"]


def main():
    figures = {}
    for strategy, account in (("all_at_once", "600000000001"), (f"canary 10% {BAKE:g}s", "600000000002")):
        top = project(f"rel{account[-4:]}", strategy)
        deploy(top, account)
        touch_handler(top, "warm")
        deploy(top, account)
        touch_handler(top, "measured")
        figures[strategy] = calls(deploy(top, account))
    (a, a_ops), (b, b_ops) = figures["all_at_once"], figures[f"canary 10% {BAKE:g}s"]
    extra = {k: v - a_ops.get(k, 0) for k, v in b_ops.items() if v != a_ops.get(k, 0)}
    print(f"API calls of a deploy that releases a new handler: all_at_once {a}, canary {b} "
          f"(+{b - a}: {', '.join(f'{k} {v:+d}' for k, v in sorted(extra.items()))})")

    top = project("relbake", f"canary 10% {BAKE:g}s")
    account = "600000000003"
    deploy(top, account)
    waits = []
    for i in range(RUNS):
        touch_handler(top, f"run {i}")
        seen = deploy(top, account)
        shifting = next(t for t, e in seen if e.get("event") == "release" and e.get("state") == "shifting")
        done = next(t for t, e in seen if e.get("event") == "release" and e.get("state") == "done")
        waits.append(done - shifting - BAKE)
    waits.sort()
    print(f"end of the bake to all traffic on the new version: median {1000 * statistics.median(waits):.0f} ms, "
          f"min {1000 * waits[0]:.0f} ms, max {1000 * waits[-1]:.0f} ms ({RUNS} releases)")


main()
