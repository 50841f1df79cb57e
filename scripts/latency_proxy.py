#!/usr/bin/env python3
"""A loopback proxy that makes an AWS emulator as slow as AWS, to measure
deploy schedules. Any tool can use it through AWS_ENDPOINT_URL.

    python3 scripts/latency_proxy.py --upstream http://127.0.0.1:4566 [--port 0]
        [--model scripts/latency_model.json] [--scale 1.0] [--log FILE]

It prints `listening on http://127.0.0.1:PORT` once ready, and exits when
its standard input closes (so a harness that dies takes it along).

Every request waits `call_latency_ms` before it is forwarded, so API-call
counts show in wall time. A stack operation (ExecuteChangeSet) is held in
progress for its modelled duration (see the model file): until then,
DescribeStacks answers the stack's status as *_IN_PROGRESS and
DescribeStackEvents leaves out the stack's own final event, whatever the
emulator has already done. Deletes are not modelled (the emulator's answer
passes through).

Standard library only.
"""

import argparse
import http.client
import http.server
import json
import re
import sys
import threading
import time
import urllib.parse

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
}
TERMINAL = re.compile(r"_(COMPLETE|FAILED)$")


class Model:
    def __init__(self, path, scale):
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        self.scale = scale
        self.call_latency = data.get("call_latency_ms", 30) / 1000.0
        self.stack_seconds = data.get("stack_seconds", 0.3)
        self.default_seconds = data.get("default_seconds", 0.5)
        self.types = data.get("types", {})

    def seconds(self, type_name):
        return self.types.get(type_name, self.default_seconds)

    def operation(self, old, new):
        """Seconds a stack operation from template `old` (None: a create)
        to `new` takes: the longest dependency chain of what changes."""
        old_resources = (old or {}).get("Resources") or {}
        new_resources = new.get("Resources") or {}
        changed = {
            rid: r
            for rid, r in new_resources.items()
            if old_resources.get(rid) != r
        }
        removed = [r for rid, r in old_resources.items() if rid not in new_resources]
        memo = {}

        def finish(rid, stack=()):
            if rid in memo:
                return memo[rid]
            if rid in stack:
                return 0.0
            resource = new_resources.get(rid) or {}
            own = self.seconds(resource.get("Type", "")) if rid in changed else 0.0
            before = [
                finish(dep, stack + (rid,))
                for dep in dependencies(resource)
                if dep in new_resources
            ]
            memo[rid] = own + max(before, default=0.0)
            return memo[rid]

        longest = max((finish(rid) for rid in new_resources), default=0.0)
        longest = max([longest] + [self.seconds(r.get("Type", "")) for r in removed])
        if not changed and not removed:
            return 0.0
        return (self.stack_seconds + longest) * self.scale


def dependencies(value):
    """Logical ids a resource waits for: Ref, Fn::GetAtt, DependsOn."""
    out = set()

    def walk(v):
        if isinstance(v, dict):
            if len(v) == 1 and isinstance(v.get("Ref"), str):
                out.add(v["Ref"])
                return
            att = v.get("Fn::GetAtt") if len(v) == 1 else None
            if isinstance(att, list) and att and isinstance(att[0], str):
                out.add(att[0])
                return
            if isinstance(att, str):
                out.add(att.split(".", 1)[0])
                return
            for item in v.values():
                walk(item)
        elif isinstance(v, list):
            for item in v:
                walk(item)

    walk((value or {}).get("Properties"))
    depends = (value or {}).get("DependsOn")
    if isinstance(depends, str):
        out.add(depends)
    elif isinstance(depends, list):
        out.update(d for d in depends if isinstance(d, str))
    return out


class State:
    def __init__(self):
        self.lock = threading.Lock()
        # (account, stack) -> the last template seen for it.
        self.templates = {}
        # (account, stack, change set name), or (account, "", its ARN)
        # -> (stack, seconds, template)
        self.change_sets = {}
        # (account, stack) -> monotonic time until which it is held.
        self.holds = {}

    def held(self, account, stack):
        with self.lock:
            until = self.holds.get((account, stack))
        return until is not None and time.monotonic() < until


def account_of(headers):
    auth = headers.get("Authorization", "")
    match = re.search(r"Credential=([^/,\s]+)/", auth)
    return match.group(1) if match else ""


def members(xml, tag):
    """(start, end) of each <member> element holding a <tag>."""
    for m in re.finditer(r"<member>(?:(?!<member>).)*?</member>", xml, re.S):
        if f"<{tag}>" in m.group(0):
            yield m


def field(text, tag):
    m = re.search(f"<{tag}>(.*?)</{tag}>", text, re.S)
    return m.group(1) if m else None


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream = None
    model = None
    state = None
    log = None

    def log_message(self, *args):
        pass

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return body
                body += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def upstream_call(self, method, path, body, headers):
        conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=120)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            conn.close()

    def do_any(self):
        body = self.read_body()
        time.sleep(self.model.call_latency)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        headers["Content-Length"] = str(len(body))
        action = None
        params = {}
        if body and "x-www-form-urlencoded" in self.headers.get("Content-Type", ""):
            params = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode("utf-8", "replace")).items()}
            action = params.get("Action")
        account = account_of(self.headers)
        if action == "CreateChangeSet":
            self.before_change_set(account, params, headers)
        status, response_headers, payload = self.upstream_call(self.command, self.path, body, headers)
        if action == "CreateChangeSet" and status == 200:
            self.after_change_set(account, params, payload)
        elif action == "ExecuteChangeSet" and status == 200:
            self.hold(account, params)
        elif action in ("DescribeStacks", "DescribeStackEvents") and status == 200:
            payload = self.rewrite(account, action, payload)
        self.send_response(status)
        for name, value in response_headers:
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_any

    def template_of(self, params, headers):
        if params.get("TemplateBody"):
            return json.loads(params["TemplateBody"])
        url = params.get("TemplateURL")
        if url:
            path = urllib.parse.urlparse(url).path
            get = {k: v for k, v in headers.items() if k.lower() in ("authorization", "host")}
            status, _, payload = self.upstream_call("GET", path, None, get)
            if status == 200:
                return json.loads(payload)
        return None

    def before_change_set(self, account, params, headers):
        try:
            self.pending = self.template_of(params, headers)
        except (ValueError, OSError):
            self.pending = None

    def after_change_set(self, account, params, payload):
        new = getattr(self, "pending", None)
        stack = params.get("StackName", "")
        if new is None:
            return
        with self.state.lock:
            old = self.state.templates.get((account, stack))
            seconds = self.model.operation(old, new)
            # A change set is named within its stack (two stacks may use one
            # name at once), or by its ARN.
            text = payload.decode("utf-8", "replace")
            keys = [(account, stack, params.get("ChangeSetName", "")), (account, "", field(text, "Id") or "")]
            for key in keys:
                if key[2]:
                    self.state.change_sets[key] = (stack, seconds, new)

    def hold(self, account, params):
        with self.state.lock:
            name = params.get("ChangeSetName", "")
            key = (account, "", name) if name.startswith("arn:") else (account, params.get("StackName", ""), name)
            entry = self.state.change_sets.pop(key, None)
            if entry is None:
                return
            stack, seconds, template = entry
            self.state.templates[(account, stack)] = template
            self.state.holds[(account, stack)] = time.monotonic() + seconds
            if self.log:
                record = {"account": account, "stack": stack, "seconds": round(seconds, 3)}
                self.log.write(json.dumps(record) + "\n")
                self.log.flush()

    def rewrite(self, account, action, payload):
        text = payload.decode("utf-8", "replace")
        if action == "DescribeStacks":
            return self.rewrite_stacks(account, text).encode("utf-8")
        out = []
        last = 0
        # Stack events are flat members: the stack's own final event of a
        # held operation is left out.
        for m in members(text, "ResourceStatus"):
            member = m.group(0)
            stack = field(member, "StackName")
            own = stack is not None and field(member, "LogicalResourceId") == stack
            if own and TERMINAL.search(field(member, "ResourceStatus") or "") and self.state.held(account, stack):
                out.append(text[last:m.start()])
                last = m.end()
        out.append(text[last:])
        return "".join(out).encode("utf-8")

    def rewrite_stacks(self, account, text):
        """Each <StackStatus> belongs to the <StackName> nearest before it
        (its stack's member); a held stack's final status reads in progress."""
        out = []
        last = 0
        name = None
        for m in re.finditer(r"<StackName>(.*?)</StackName>|<StackStatus>(.*?)</StackStatus>", text, re.S):
            if m.group(1) is not None:
                name = m.group(1)
                continue
            status = m.group(2)
            if name and TERMINAL.search(status) and self.state.held(account, name):
                out.append(text[last:m.start()])
                out.append(f"<StackStatus>{TERMINAL.sub('_IN_PROGRESS', status)}</StackStatus>")
                last = m.end()
        out.append(text[last:])
        return "".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream", required=True, help="the emulator, e.g. http://127.0.0.1:4566")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--model", default=None, help="latency model (default: latency_model.json beside this script)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every modelled stack duration")
    parser.add_argument("--log", default=None, help="append each held stack operation here, one JSON object per line")
    args = parser.parse_args()
    if args.log:
        Proxy.log = open(args.log, "a", encoding="utf-8")
    model_path = args.model or str(__import__("pathlib").Path(__file__).with_name("latency_model.json"))
    Proxy.upstream = urllib.parse.urlparse(args.upstream)
    Proxy.model = Model(model_path, args.scale)
    Proxy.state = State()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Proxy)
    server.daemon_threads = True
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)

    def watch_stdin():
        sys.stdin.read()
        server.shutdown()

    threading.Thread(target=watch_stdin, daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
