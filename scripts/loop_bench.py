#!/usr/bin/env python3
"""Figures of the reconcile loop against the local emulator.

    scripts/loop_bench.py BIN ENDPOINT [RUNS]

- API calls of a tick with no new commit (`reconcile --once`), for the
  reference app and for the 40-stack synthetic project (target/bench/stacks40,
  made by scripts/bench);
- the idle agent's resident memory and CPU time over 60 s, and its memory
  over a soak of SOAK_TICKS (200) ticks at a 0.2 s interval;
- time from a signed push hook to the stack updated, median of RUNS (10),
  for one environment and for four followed by one agent (all four applied).
"""

import atexit
import hashlib
import hmac
import json
import os
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

BIN, ENDPOINT = os.path.abspath(sys.argv[1]), sys.argv[2]
RUNS = int(sys.argv[3]) if len(sys.argv) > 3 else 10
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ELSEWHERE = tempfile.mkdtemp(prefix="loop-bench-cwd-")
atexit.register(shutil.rmtree, ELSEWHERE, True)


def env(account):
    e = dict(os.environ)
    e.update(
        AWS_ACCESS_KEY_ID=account,
        AWS_SECRET_ACCESS_KEY="test",
        DRIFTLESS_ENDPOINT=ENDPOINT,
        HOOK_SECRET="bench-secret",
    )
    e.pop("AWS_PROFILE", None)
    return e


def git(cwd, *args):
    subprocess.run(
        ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com", *args],
        cwd=cwd, check=True, capture_output=True,
    )


def repo_of(project, app, copies=()):
    """A bare repository holding `project` (app renamed), and its work clone;
    `copies` are more environments, each a copy of dev."""
    top = tempfile.mkdtemp(prefix="loop-bench-")
    atexit.register(shutil.rmtree, top, True)
    work = os.path.join(top, "work")
    # Only what a project is: its specs and environments.
    for part in ("specs", "environments"):
        shutil.copytree(os.path.join(project, part), os.path.join(work, part),
                        ignore=shutil.ignore_patterns(".driftless", "__pycache__"))
    for name in os.listdir(os.path.join(work, "environments")):
        path = os.path.join(work, "environments", name)
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(text.replace("app: user-management", f"app: {app}"))
    with open(os.path.join(work, "environments", "dev.yaml")) as f:
        dev = f.read()
    for name in copies:
        with open(os.path.join(work, "environments", f"{name}.yaml"), "w") as f:
            f.write(dev.replace("environment: dev", f"environment: {name}"))
    git(work, "init", "-q", "-b", "main")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "first")
    git(top, "clone", "-q", "--bare", "work", "origin.git")
    git(work, "remote", "add", "origin", os.path.join(top, "origin.git"))
    return top, work, os.path.join(top, "origin.git")


class Agent:
    def __init__(self, origin, account, *extra, environments=("dev",)):
        self.proc = subprocess.Popen(
            [BIN, "--output", "json", "reconcile", *environments, "--repo", origin, "--branch", "main", *extra],
            cwd=ELSEWHERE, env=env(account), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                self.lines.put((time.monotonic(), json.loads(line)))
            except ValueError:
                pass

    def next(self, want, limit=120):
        deadline = time.monotonic() + limit
        while True:
            at, event = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            if want(event):
                return at, event

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def once_calls(project, app, account):
    _, _, origin = repo_of(project, app)
    e = env(account)
    cmd = [BIN, "--output", "json", "reconcile", "dev", "--repo", origin, "--branch", "main", "--once"]
    subprocess.run(cmd, cwd=ELSEWHERE, env=e, capture_output=True)  # applies
    out = subprocess.run(cmd, cwd=ELSEWHERE, env=e, capture_output=True, text=True).stdout
    tick = next(json.loads(l) for l in out.splitlines() if '"reconcile_tick"' in l)
    return tick


def proc_figures(pid):
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    return rss, ticks / os.sysconf("SC_CLK_TCK")


def main():
    tick = once_calls(ROOT, "loopref", "400000000001")
    print(f"tick with no new commit, reference app: {tick['result']}, {tick['api_calls']['total']} API calls, "
          f"{tick['api_calls']['mutating']} mutating, {tick['seconds'] * 1000:.0f} ms")
    stacks40 = os.path.join(ROOT, "target", "bench", "stacks40")
    if os.path.isdir(stacks40):
        tick = once_calls(stacks40, "loop40", "400000000040")
        print(f"tick with no new commit, 40 stacks:     {tick['result']}, {tick['api_calls']['total']} API calls, "
              f"{tick['api_calls']['mutating']} mutating, {tick['seconds'] * 1000:.0f} ms")

    _, work, origin = repo_of(ROOT, "loopidle")
    agent = Agent(origin, "400000000002", "--interval", "180", "--listen", "127.0.0.1:0",
                  "--webhook-secret-env", "HOOK_SECRET")
    _, listening = agent.next(lambda e: e.get("state") == "listening")
    address = listening["address"]
    agent.next(lambda e: e.get("event") == "reconcile_tick")
    rss0, cpu0 = proc_figures(agent.proc.pid)
    time.sleep(60)
    rss1, cpu1 = proc_figures(agent.proc.pid)
    print(f"idle agent over 60 s: resident {rss1 / 1024:.1f} MiB (was {rss0 / 1024:.1f}), CPU {1000 * (cpu1 - cpu0):.0f} ms")

    push_to_applied(agent, work, address, ("dev",), "one environment")
    agent.stop()

    envs = ("dev", "qa1", "qa2", "qa3")
    _, work, origin = repo_of(ROOT, "loopfour", envs[1:])
    agent = Agent(origin, "400000000004", "--interval", "180", "--listen", "127.0.0.1:0",
                  "--webhook-secret-env", "HOOK_SECRET", environments=envs)
    _, listening = agent.next(lambda e: e.get("state") == "listening")
    for _ in envs:
        agent.next(lambda e: e.get("event") == "reconcile_tick", limit=300)
    push_to_applied(agent, work, listening["address"], envs, "four environments, one agent")
    agent.stop()

    soak = int(os.environ.get("SOAK_TICKS", "200"))
    _, _, origin = repo_of(ROOT, "loopsoak")
    agent = Agent(origin, "400000000005", "--interval", "0.2")
    agent.next(lambda e: e.get("event") == "reconcile_tick" and e.get("result") == "applied", limit=300)
    rss0, _ = proc_figures(agent.proc.pid)
    started = time.monotonic()
    for _ in range(soak):
        agent.next(lambda e: e.get("event") == "reconcile_tick")
    rss1, cpu1 = proc_figures(agent.proc.pid)
    took = time.monotonic() - started
    agent.stop()
    print(f"soak over {soak} quiet ticks ({took:.0f} s): resident {rss0 / 1024:.1f} MiB after the first tick, "
          f"{rss1 / 1024:.1f} MiB after the last")


def push_to_applied(agent, work, address, envs, label):
    """Pushes RUNS commits, each announced by a signed hook; the time from
    the hook to every environment's tick applying it."""
    memory = ["256", "384"]
    times = []
    for i in range(RUNS):
        path = os.path.join(work, "specs", "api", "unit.yaml")
        with open(path) as f:
            text = f.read()
        old, new = memory[i % 2], memory[(i + 1) % 2]
        with open(path, "w") as f:
            f.write(text.replace(f"default: {old} }}", f"default: {new} }}"))
        git(work, "commit", "-q", "-am", f"memory {new}")
        git(work, "push", "-q", "origin", "main")
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=work, capture_output=True, text=True).stdout.strip()
        body = json.dumps({"ref": "refs/heads/main", "after": commit}).encode()
        signature = "sha256=" + hmac.new(b"bench-secret", body, hashlib.sha256).hexdigest()
        request = urllib.request.Request(f"http://{address}/hooks/git", data=body, method="POST",
                                         headers={"X-Hub-Signature-256": signature, "X-GitHub-Event": "push"})
        started = time.monotonic()
        urllib.request.urlopen(request, timeout=10).read()
        waiting = set(envs)
        at = started
        while waiting:
            at, event = agent.next(lambda e: e.get("event") == "reconcile_tick" and e.get("commit") == commit
                                   and e.get("result") == "applied")
            waiting.discard(event.get("environment"))
        times.append(at - started)
    times.sort()
    print(f"signed push hook to stack updated, {label} (smoke checks included): "
          f"median {1000 * statistics.median(times):.0f} ms, "
          f"min {1000 * times[0]:.0f} ms, max {1000 * times[-1]:.0f} ms ({RUNS} runs)")


main()
