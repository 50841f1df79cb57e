#!/usr/bin/env python3
"""A loopback proxy in front of an AWS endpoint (the emulator, moto) that
writes every request it forwards as one JSON line: method, path, query,
the headers that name the operation and the caller, and the body (text,
or its size when it is binary or large).

    python3 record.py --upstream http://127.0.0.1:4566 --log calls.jsonl

It prints `listening on http://127.0.0.1:PORT` once ready and exits when
its standard input closes. Standard library only.
"""

import argparse
import http.client
import http.server
import json
import sys
import threading
import urllib.parse

SKIP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "expect"}
KEPT = ("x-amz-target", "content-type", "authorization", "x-amz-copy-source", "if-none-match", "if-match")
BODY_LIMIT = 1 << 20


def serve(upstream, log):
    target = urllib.parse.urlsplit(upstream)
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def forward(self):
            length = int(self.headers.get("content-length") or 0)
            if self.headers.get("transfer-encoding", "").lower() == "chunked":
                body = b""
                while True:
                    size = int(self.rfile.readline().split(b";")[0], 16)
                    if size == 0:
                        self.rfile.readline()
                        break
                    body += self.rfile.read(size)
                    self.rfile.readline()
            else:
                body = self.rfile.read(length) if length else b""
            path, _, query = self.path.partition("?")
            entry = {
                "method": self.command,
                "path": urllib.parse.unquote(path),
                "query": query,
                "headers": {k: self.headers[k] for k in KEPT if self.headers.get(k)},
            }
            if len(body) <= BODY_LIMIT:
                try:
                    entry["body"] = body.decode("utf-8")
                except UnicodeDecodeError:
                    entry["body_bytes"] = len(body)
            else:
                entry["body_bytes"] = len(body)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in SKIP}
            headers["Host"] = target.netloc
            headers["Content-Length"] = str(len(body))
            connection = http.client.HTTPConnection(target.hostname, target.port, timeout=300)
            try:
                connection.request(self.command, self.path, body=body, headers=headers)
                answer = connection.getresponse()
                data = answer.read()
            except OSError as error:
                self.send_error(502, str(error))
                return
            finally:
                connection.close()
            entry["status"] = answer.status
            with lock:
                log.write(json.dumps(entry) + "\n")
                log.flush()
            self.send_response(answer.status)
            for key, value in answer.getheaders():
                if key.lower() not in SKIP:
                    self.send_header(key, value)
            if self.command == "HEAD":
                self.send_header("Content-Length", answer.getheader("content-length") or "0")
                self.end_headers()
                return
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = forward

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--log", required=True)
    args = parser.parse_args()
    with open(args.log, "a", encoding="utf-8") as log:
        server = serve(args.upstream, log)
        print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
        sys.stdin.read()
        server.shutdown()


if __name__ == "__main__":
    main()
