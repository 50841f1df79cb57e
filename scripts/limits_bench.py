#!/usr/bin/env python3
"""Figures of driftless at its limits, against the local emulator.

    scripts/limits_bench.py BIN ENDPOINT

- peak resident memory of a deploy whose bucket content holds a 600 MB
  file (streamed, multipart above 16 MiB);
- CPU the loop's listener spends while 350 connections sit idle on it,
  with the process limited to 256 open files;
- how long a git host that accepts and never answers holds a tick
  (`--git-timeout 10`; the default is 120 s).
"""

import atexit
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

BIN, ENDPOINT = os.path.abspath(sys.argv[1]), sys.argv[2]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOP = tempfile.mkdtemp(prefix="limits-bench-")
atexit.register(shutil.rmtree, TOP, True)


def env(account):
    e = dict(os.environ)
    e.update(AWS_ACCESS_KEY_ID=account, AWS_SECRET_ACCESS_KEY="test", DRIFTLESS_ENDPOINT=ENDPOINT)
    e.pop("AWS_PROFILE", None)
    return e


def big_content_deploy():
    project = os.path.join(TOP, "site")
    shutil.copytree(os.path.join(ROOT, "tests/fixtures/site"), project)
    public = os.path.join(project, "specs/files/public")
    os.makedirs(public, exist_ok=True)
    with open(os.path.join(public, "big.bin"), "wb") as f:
        block = os.urandom(1 << 20)
        for _ in range(600):
            f.write(block)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.monotonic()
    done = subprocess.run(
        [BIN, "-C", project, "deploy", "dev", "--yes", "--no-smoke"],
        env=env("320000000001"), capture_output=True, text=True,
    )
    took = time.monotonic() - started
    if done.returncode != 0:
        sys.exit("the deploy failed:\n" + done.stdout + done.stderr)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if peak <= before:
        sys.exit("no peak measured: an earlier child used more")
    print("deploy with a 600 MB content file: peak RSS %.1f MB, %.1f s" % (peak / 1024, took))


def bare_repo():
    work = os.path.join(TOP, "work")
    os.makedirs(work)
    for part in ("specs", "environments"):
        shutil.copytree(os.path.join(ROOT, part), os.path.join(work, part))
    git = lambda *a: subprocess.run(
        ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com", *a],
        cwd=work, check=True, capture_output=True)
    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-q", "-m", "app")
    bare = os.path.join(TOP, "origin.git")
    git("clone", "-q", "--bare", ".", bare)
    return bare


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle_listener():
    limit = lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
    agent = subprocess.Popen(
        [BIN, "--output", "json", "reconcile", "dev", "--repo", bare_repo(), "--branch", "main",
         "--interval", "1h", "--listen", "127.0.0.1:0"],
        env=env("320000000002"), cwd=TOP, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True, preexec_fn=limit,
    )
    atexit.register(agent.kill)
    address = None
    for line in agent.stdout:
        if '"listening"' in line:
            address = line.split('"address":"')[1].split('"')[0]
            break
    if address is None:
        sys.exit("the loop never listened")
    threading.Thread(target=lambda: [None for _ in agent.stdout], daemon=True).start()
    time.sleep(3)  # the first tick
    host, port = address.rsplit(":", 1)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1024), max(hard, 1024)))
    held = []
    for _ in range(350):
        s = socket.socket()
        s.connect((host, int(port)))
        s.send(b"GET / HTTP/1.1\r\n")  # a head never finished
        held.append(s)
    time.sleep(1)
    start = cpu_seconds(agent.pid)
    time.sleep(20)
    used = cpu_seconds(agent.pid) - start
    alive = agent.poll() is None
    print("listener with 350 idle connections, 256 open files allowed: %.2f s CPU over 20 s (%.1f%% of a core)%s"
          % (used, used / 20 * 100, "" if alive else "; the process ended"))
    for s in held:
        s.close()
    agent.kill()


def stalled_git_host():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held = []
    threading.Thread(target=lambda: [held.append(listener.accept()) for _ in iter(int, 1)], daemon=True).start()
    url = "http://127.0.0.1:%d/o/r.git" % listener.getsockname()[1]
    started = time.monotonic()
    subprocess.run(
        [BIN, "reconcile", "dev", "--repo", url, "--branch", "main", "--once", "--git-timeout", "10"],
        env=env("320000000003"), cwd=TOP, capture_output=True,
    )
    print("a git host that never answers holds a tick %.1f s (--git-timeout 10)" % (time.monotonic() - started))


big_content_deploy()
idle_listener()
stalled_git_host()
