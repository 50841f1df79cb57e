#!/usr/bin/env python3
"""Cold deploys through scripts/latency_proxy.py, against the critical path.

    python3 scripts/schedule_bench.py BIN EMULATOR_ENDPOINT [RUNS]

For the reference application (dev) and a 40-stack project of mixed
resource types in a mixed graph (written by the synthetic example), each
deployed cold (a fresh account per run) with `--order ready` and with
`--order waves`. The critical path is computed from the graph (`plan
--offline --output json`: what each stack reads, and the tiers) and the
durations the proxy held each stack operation for; no schedule of those
stack operations can be shorter. Prints, per project and order, the median
time the stack operations took (first start to last end, as driftless
reports it), the whole deploy, and both against the critical path.
"""

import json
import os
import pathlib
import random
import shutil
import statistics
import subprocess
import sys
import tempfile

EXTRA = os.environ.get("DEPLOY_ARGS", "").split()
ROOT = pathlib.Path(__file__).resolve().parent.parent


def start_proxy(upstream, log):
    proxy = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts/latency_proxy.py"), "--upstream", upstream, "--port", "0", "--log", log],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proxy.stdout.readline().strip()
    return proxy, line.removeprefix("listening on ")


def graph(binary, project):
    out = subprocess.run(
        [binary, "-C", project, "plan", "dev", "--offline", "--output", "json"],
        capture_output=True, text=True, check=False,
    ).stdout
    stacks = {}
    for line in out.splitlines():
        event = json.loads(line)
        if event.get("event") == "stack":
            rank = 1 if event["tier"] == "stateful" else 2
            stacks[event["stack"]] = (rank, event.get("depends_on", []))
    stacks["driftless-bootstrap"] = (0, [])
    return stacks


def critical_path(stacks, seconds):
    finish = {}

    def end(name):
        if name not in finish:
            rank, after = stacks[name]
            before = list(after) + [s for s, (r, _) in stacks.items() if r < rank]
            finish[name] = seconds.get(name, 0.0) + max((end(b) for b in before), default=0.0)
        return finish[name]

    return max(end(s) for s in stacks)


def deploy(binary, project, endpoint, account, order):
    env = dict(os.environ, DRIFTLESS_ENDPOINT=endpoint, AWS_ACCESS_KEY_ID=account, AWS_SECRET_ACCESS_KEY="test")
    env.pop("AWS_PROFILE", None)
    out = subprocess.run(
        [binary, "-C", project, "deploy", "dev", "--yes", "--no-smoke", "--order", order, "--output", "json"] + EXTRA,
        capture_output=True, text=True, env=env, check=False,
    )
    summary = [json.loads(l) for l in out.stdout.splitlines() if '"summary"' in l]
    if out.returncode != 0 or not summary:
        raise SystemExit(f"deploy failed ({out.returncode}): {out.stderr[-2000:]}")
    return summary[-1]


def main():
    binary, upstream = sys.argv[1], sys.argv[2]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    work = pathlib.Path(tempfile.mkdtemp(prefix="driftless-schedule-"))
    try:
        reference = work / "reference"
        reference.mkdir()
        for part in ("specs", "environments"):
            shutil.copytree(ROOT / part, reference / part)
        mixed = work / "mixed"
        synthetic = pathlib.Path(binary).resolve().parent / "examples/synthetic"
        subprocess.run([str(synthetic), str(mixed), "--mixed", "40"], check=True)
        log = str(work / "held.jsonl")
        proxy, endpoint = start_proxy(upstream, log)
        # A fresh 12-digit account per deploy (an account is a MiniStack
        # access key id): every deploy is cold, across runs of the script too.
        account = random.SystemRandom().randrange(400000000000, 499999990000)
        print(f"through the latency proxy (scripts/latency_model.json), {runs} cold deploys each, medians")
        for label, project in (("reference app", reference), ("40 stacks, mixed graph", mixed)):
            stacks = graph(binary, str(project))
            for order in ("ready", "waves"):
                rows = []
                for _ in range(runs):
                    account += 1
                    summary = deploy(binary, str(project), endpoint, str(account), order)
                    held = {}
                    with open(log, encoding="utf-8") as f:
                        for line in f:
                            r = json.loads(line)
                            if r["account"] == str(account):
                                held[r["stack"]] = r["seconds"]
                    # The apply loop runs the environment's stacks; the
                    # bootstrap stack deploys before it (and is in the deploy).
                    env_stacks = {k: v for k, v in stacks.items() if k != "driftless-bootstrap"}
                    rows.append((
                        summary["stacks"]["stacks_ms"] / 1000,
                        critical_path(env_stacks, held),
                        summary["duration_ms"] / 1000,
                        critical_path(stacks, held),
                    ))
                med = [statistics.median(r[k] for r in rows) for k in range(4)]
                print(
                    f"{label:<24} {order:<6} stacks {med[0]:6.2f} s vs critical path {med[1]:6.2f} s "
                    f"({med[0] / med[1]:4.2f}x, {med[0] - med[1]:+5.2f} s)   "
                    f"whole deploy {med[2]:6.2f} s vs {med[3]:6.2f} s with the bootstrap stack"
                )
        proxy.stdin.close()
        proxy.wait(timeout=10)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
