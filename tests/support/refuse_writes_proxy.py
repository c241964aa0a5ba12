#!/usr/bin/env python3
"""A reverse proxy in front of an S3 test server that allows reads and refuses writes.

    refuse_writes_proxy.py PORT UPSTREAM_PORT [COUNTS_FILE] [MAX_SECONDS]

Listens on 127.0.0.1:PORT (0: the kernel picks one) and forwards GET and HEAD requests, unchanged,
to 127.0.0.1:UPSTREAM_PORT (moto_server, s3rver). PUT, POST and DELETE are answered with
403 AccessDenied (S3's XML error body) and never reach the server: a bucket whose policy allows
reads and denies writes, as a read-only key or a full quota gives.

Prints "ready PORT" on stdout once it listens. Counts the requests per method (and the ones
forwarded / refused); the counts are written as one JSON object to COUNTS_FILE after every
request (temporary file + rename, so a reader never sees half of it) and printed on stdout at
exit. Exits on SIGTERM / SIGINT, or by itself after MAX_SECONDS (default 600): a test that
forgets it leaves nothing running for long. Only python3's standard library.
"""

import http.client
import http.server
import json
import os
import signal
import socketserver
import sys
import threading

MAX_BODY = 256 << 20  # a request body larger than this is not read (connection closed)
SOCKET_TIMEOUT = 30  # seconds, client and upstream sides
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
}

counts = {"total": 0, "forwarded": 0, "refused": 0, "upstream_errors": 0, "by_method": {}}
counts_lock = threading.Lock()
counts_file = None
upstream_port = 0


def record(method, outcome):
    with counts_lock:
        counts["total"] += 1
        counts[outcome] += 1
        counts["by_method"][method] = counts["by_method"].get(method, 0) + 1
        snapshot = json.dumps(counts, sort_keys=True)
    if counts_file:
        tmp = f"{counts_file}.tmp.{threading.get_ident()}"
        with open(tmp, "w") as f:
            f.write(snapshot + "\n")
        os.replace(tmp, counts_file)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as S3 clients expect; 100-continue handled
    timeout = SOCKET_TIMEOUT

    def log_message(self, fmt, *args):  # quiet: the counts say what happened
        pass

    def read_body(self):
        """The request body (Content-Length or chunked); None if too large or malformed."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = bytearray()
            while True:
                line = self.rfile.readline(1024)
                try:
                    size = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    return None
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return bytes(body)
                if len(body) + size > MAX_BODY:
                    return None
                body += self.rfile.read(size)
                self.rfile.readline(1024)
        try:
            length = int(self.headers.get("Content-Length", "0") or "0")
        except ValueError:
            return None
        if length < 0 or length > MAX_BODY:
            return None
        return self.rfile.read(length) if length else b""

    def refuse(self):
        body = self.read_body()
        if body is None:
            self.close_connection = True
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            "<Error><Code>AccessDenied</Code><Message>Access Denied</Message>"
            f"<Resource>{self.path.split('?')[0]}</Resource>"
            "<RequestId>refuse-writes-proxy</RequestId></Error>"
        ).encode()
        self.send_response(403)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(xml)))
        self.send_header("x-amz-request-id", "refuse-writes-proxy")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(xml)
        record(self.command, "refused")

    def forward(self):
        body = self.read_body()
        if body is None:
            self.send_error(413)
            self.close_connection = True
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        headers.pop("Expect", None)
        headers.pop("expect", None)
        conn = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=SOCKET_TIMEOUT)
        try:
            conn.request(self.command, self.path, body=body or None, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException):
            conn.close()
            record(self.command, "upstream_errors")
            self.send_error(502)  # the server behind is gone: a gateway error, as a proxy says
            self.close_connection = True
            return
        conn.close()
        self.send_response(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() not in HOP_BY_HOP and k.lower() != "content-length":
                self.send_header(k, v)
        if self.command == "HEAD":
            length = resp.getheader("Content-Length")
            if length is not None:
                self.send_header("Content-Length", length)
        else:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        record(self.command, "forwarded")

    def do_GET(self):
        self.forward()

    def do_HEAD(self):
        self.forward()

    def do_PUT(self):
        self.refuse()

    def do_POST(self):
        self.refuse()

    def do_DELETE(self):
        self.refuse()


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


def main():
    global counts_file, upstream_port
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    port, upstream_port = int(sys.argv[1]), int(sys.argv[2])
    counts_file = sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] else None
    max_seconds = float(sys.argv[4]) if len(sys.argv) > 4 else 600.0

    server = Server(("127.0.0.1", port), Handler)
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if counts_file:
        with open(counts_file, "w") as f:
            f.write(json.dumps(counts, sort_keys=True) + "\n")
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    print(f"ready {server.server_address[1]}", flush=True)
    stop.wait(max_seconds)
    server.shutdown()
    server.server_close()
    with counts_lock:
        print(json.dumps(counts, sort_keys=True), flush=True)


if __name__ == "__main__":
    main()
