#!/usr/bin/env python3
"""A small in-memory S3 server for tests that misbehaves on purpose.

    fault_s3.py [--port N] [--bucket NAME] [--seed DIR PREFIX] [--fault NAME[=VALUE]]...
                [--only OPS] [--times N] [--max-seconds S]

Listens on 127.0.0.1:PORT (0, the default: the kernel picks one) and prints "ready PORT" on
stdout once it listens. Path-style requests only, no signature check. It serves one bucket
(default `backups`) well enough for cfgsync's restore, ls, status, sync and watch: HeadBucket,
ListObjectsV2 (1000 keys a page, encoding-type=url), HEAD, GET, PUT, DELETE, DeleteObjects,
multipart create/upload/complete/abort and ListMultipartUploads. `--seed DIR PREFIX` stores
every file under DIR as PREFIX/relative-path, with rclone's mtime and mode metadata.

Faults (repeat --fault, or set FAULT_S3_FAULTS="name=value,name"):
  status=CODE          answer CODE (500, 503, 429...) with an S3 error body
  retry-after=VALUE    with status: a Retry-After header (seconds, or "date+N": an HTTP date N
                       seconds ahead)
  short-body           GET object: Content-Length 1000 more than sent, then the connection closes
  bad-md5              GET object: the body's last byte is changed (ETag and metadata unchanged)
  trickle=N            GET object: the body at N bytes a second
  delay=N              every answer waits N seconds before its first byte
  repeat-token         ListObjectsV2: every page is truncated and names the same token
  empty-token          ListObjectsV2: truncated with an empty NextContinuationToken
  synthetic=N          the bucket also lists N objects PREFIX/synthetic/kNNNNNNNN.ini (generated
                       lazily page by page: nothing is held per key; HEAD and GET serve them)
  synthetic-prefix=P   the PREFIX for synthetic keys (default "app")
  redirect=CODE        301 PermanentRedirect (with x-amz-bucket-region) or 307 with a Location
  deny-put             PUT and multipart requests: 403 AccessDenied
  huge-header=N        every answer carries an x-amz-meta-padding header of N bytes
  huge-length          HEAD and GET object: Content-Length 99999999999999999999
  skew=SECONDS         403 RequestTimeTooSkewed; the server's clock (Date header, ServerTime)
                       is SECONDS ahead
  fail-part=N          multipart: part N answers 500
  stale-upload=KEY     an incomplete multipart upload of KEY, initiated two days ago, exists
                       from the start
`--only` limits the faults to a comma-separated list of operations (list, list-uploads,
head-bucket, head, get, put, part, initiate, complete, abort, delete, multi-delete), and
`--times N` to the first N requests they apply to.

GET /__stats answers a JSON object: total requests, per operation and per method, and the
current objects and multipart uploads (keys). POST /__reset zeroes the counts. Exits on SIGTERM
or SIGINT, or by itself after --max-seconds (default 600). Only python3's standard library.
"""

import argparse
import base64
import email.utils
import hashlib
import html
import json
import os
import re
import signal
import socket
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAGE = 1000
MAX_BODY = 256 << 20

lock = threading.Lock()
objects = {}  # key -> dict(body, meta, etag, modified)
uploads = {}  # upload id -> dict(key, meta, parts, initiated)
stats = {"total": 0, "by_op": {}, "by_method": {}, "faulted": 0}
opts = None
faults = {}
only = set()
times_left = [None]


def iso(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(ts))


def etag_of(data):
    return hashlib.md5(data).hexdigest()


def synthetic_count():
    return int(faults.get("synthetic", 0) or 0)


def synthetic_key(i):
    return "%s/synthetic/k%08d.ini" % (faults.get("synthetic-prefix", "app"), i)


def synthetic_index(key):
    m = re.fullmatch(re.escape(faults.get("synthetic-prefix", "app")) + r"/synthetic/k(\d{8})\.ini", key)
    if not m or int(m.group(1)) >= synthetic_count():
        return None
    return int(m.group(1))


def synthetic_object(i):
    body = ("synthetic %d\n" % i).encode()
    return {"body": body, "meta": {"mtime": "1700000000"}, "etag": etag_of(body), "modified": 1700000000.0}


def error_xml(code, message, extra=""):
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>%s</Message>%s'
        "<RequestId>fault-s3</RequestId></Error>" % (code, html.escape(message), extra)
    ).encode()


def seed(directory, prefix):
    for root, _dirs, files in os.walk(directory):
        for name in files:
            path = os.path.join(root, name)
            rel = os.path.relpath(path, directory).replace(os.sep, "/")
            with open(path, "rb") as f:
                body = f.read()
            st = os.stat(path)
            meta = {"mtime": "%.9f" % st.st_mtime, "mode": "%o" % st.st_mode}
            key = prefix.strip("/") + "/" + rel if prefix.strip("/") else rel
            objects[key] = {"body": body, "meta": meta, "etag": etag_of(body), "modified": time.time()}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: the counts are the record
        pass

    # --- plumbing

    def date_time_string(self, timestamp=None):
        """The Date header: the server's clock, SECONDS ahead with skew=SECONDS."""
        ahead = float(faults.get("skew", 0)) if not self.path.startswith("/__") else 0
        return email.utils.formatdate((timestamp or time.time()) + ahead, usegmt=True)

    def route(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        parts = url.path.lstrip("/").split("/", 1)
        bucket = urllib.parse.unquote(parts[0])
        key = urllib.parse.unquote(parts[1]) if len(parts) > 1 else ""
        return bucket, key, query

    def operation(self, key, query):
        m = self.command
        if not key:
            if m == "HEAD":
                return "head-bucket"
            if m == "GET" and "uploads" in query:
                return "list-uploads"
            if m == "GET":
                return "list"
            if m == "POST" and "delete" in query:
                return "multi-delete"
            return "bucket-other"
        if m == "PUT":
            return "part" if "uploadId" in query else "put"
        if m == "POST":
            return "initiate" if "uploads" in query else "complete"
        if m == "DELETE":
            return "abort" if "uploadId" in query else "delete"
        return "head" if m == "HEAD" else "get"

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.close_connection = True
            return None
        return self.rfile.read(length) if length else b""

    def send(self, code, body=b"", headers=None, length=None):
        self.send_response(code)
        if "huge-header" in faults and not self.path.startswith("/__"):
            self.send_header("x-amz-meta-padding", "x" * int(faults["huge-header"]))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def error(self, code, s3code, message, headers=None, extra=""):
        self.send(code, error_xml(s3code, message, extra), dict({"Content-Type": "application/xml"}, **(headers or {})))

    def count(self, op):
        with lock:
            stats["total"] += 1
            stats["by_op"][op] = stats["by_op"].get(op, 0) + 1
            stats["by_method"][self.command] = stats["by_method"].get(self.command, 0) + 1

    def faulted(self, op):
        """Whether the faults apply to this request (--only, --times)."""
        if only and op not in only:
            return False
        with lock:
            if times_left[0] is not None:
                if times_left[0] <= 0:
                    return False
                times_left[0] -= 1
            stats["faulted"] += 1
        return True

    # --- control endpoints

    def control(self):
        if self.path == "/__stats":
            with lock:
                snap = dict(stats, objects=sorted(objects), uploads=sorted(u["key"] for u in uploads.values()))
            self.send(200, json.dumps(snap, sort_keys=True).encode(), {"Content-Type": "application/json"})
        elif self.path == "/__reset":
            with lock:
                stats.update(total=0, by_op={}, by_method={}, faulted=0)
            self.send(200, b"{}")
        else:
            self.send(404)

    # --- requests

    def handle_any(self):
        if self.path.startswith("/__"):
            self.read_body()
            return self.control()
        bucket, key, query = self.route()
        op = self.operation(key, query)
        self.count(op)
        body = self.read_body() if self.command in ("PUT", "POST") else b""
        if body is None:
            return self.error(400, "EntityTooLarge", "too large")
        if bucket != opts.bucket:
            return self.error(404, "NoSuchBucket", "The specified bucket does not exist")
        # The GET body faults obey --only and --times like the others.
        self.body_faults = self.faulted(op)
        if self.body_faults and self.request_fault(op, key):
            return
        handler = getattr(self, "op_" + op.replace("-", "_"), None)
        if handler is None:
            return self.error(501, "NotImplemented", op)
        handler(key, query, body)

    def request_fault(self, op, key):
        """Answers the request with a fault when one applies; True if it did."""
        if "delay" in faults:
            time.sleep(float(faults["delay"]))
        if "redirect" in faults:
            code = int(faults["redirect"])
            loc = "http://127.0.0.1:9/%s/%s" % (opts.bucket, key)
            headers = {"Location": loc, "x-amz-bucket-region": "eu-west-3"}
            if code == 301:
                self.error(301, "PermanentRedirect", "Use the specified endpoint", headers,
                           "<Endpoint>elsewhere.example</Endpoint>")
            else:
                self.error(code, "TemporaryRedirect", "Please re-send this request", headers)
            return True
        if "skew" in faults:
            server = time.time() + float(faults["skew"])
            self.error(403, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large.",
                       extra="<RequestTime>%s</RequestTime><ServerTime>%s</ServerTime>" % (iso(time.time()), iso(server)))
            return True
        if "status" in faults:
            code = int(faults["status"])
            headers = {}
            ra = faults.get("retry-after")
            if ra:
                headers["Retry-After"] = (email.utils.formatdate(time.time() + int(ra[5:]), usegmt=True)
                                          if ra.startswith("date+") else ra)
            s3code = {500: "InternalError", 503: "SlowDown", 429: "SlowDown"}.get(code, "Fault")
            self.error(code, s3code, "injected fault", headers)
            return True
        if "deny-put" in faults and op in ("put", "part", "initiate", "complete"):
            self.error(403, "AccessDenied", "Access Denied")
            return True
        if "fail-part" in faults and op == "part":
            if self.route()[2].get("partNumber") == str(faults["fail-part"]):
                self.error(500, "InternalError", "injected part failure")
                return True
        return False

    def find(self, key):
        with lock:
            obj = objects.get(key)
        if obj is None and synthetic_count():
            i = synthetic_index(key)
            if i is not None:
                obj = synthetic_object(i)
        return obj

    def object_headers(self, obj):
        h = {"ETag": '"%s"' % obj["etag"], "Last-Modified": email.utils.formatdate(obj["modified"], usegmt=True),
             "Content-Type": "application/octet-stream"}
        for k, v in obj["meta"].items():
            h["x-amz-meta-" + k] = v
        return h

    def op_head_bucket(self, key, query, body):
        self.send(200)

    def op_head(self, key, query, body):
        obj = self.find(key)
        if obj is None:
            return self.send(404)
        length = "99999999999999999999" if "huge-length" in faults else len(obj["body"])
        self.send(200, obj["body"], self.object_headers(obj), length=length)

    def op_get(self, key, query, body):
        obj = self.find(key)
        if obj is None:
            return self.error(404, "NoSuchKey", "The specified key does not exist.")
        data = obj["body"]
        if self.body_faults and "bad-md5" in faults and data:
            data = data[:-1] + bytes([data[-1] ^ 1])
        if "huge-length" in faults:
            self.close_connection = True
            return self.send(200, data, self.object_headers(obj), length="99999999999999999999")
        if self.body_faults and "short-body" in faults:
            self.close_connection = True
            self.send(200, data, self.object_headers(obj), length=len(data) + 1000)
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if self.body_faults and "trickle" in faults:
            rate = max(1, int(faults["trickle"]))
            self.close_connection = True
            self.send(200, b"", self.object_headers(obj), length=len(data))
            for i in range(0, len(data), rate):
                self.wfile.write(data[i:i + rate])
                self.wfile.flush()
                time.sleep(1)
            return
        self.send(200, data, self.object_headers(obj))

    def op_put(self, key, query, body):
        meta = {k[11:].lower(): v for k, v in self.headers.items() if k.lower().startswith("x-amz-meta-")}
        obj = {"body": body, "meta": meta, "etag": etag_of(body), "modified": time.time()}
        with lock:
            objects[key] = obj
        self.send(200, headers={"ETag": '"%s"' % obj["etag"]})

    def op_delete(self, key, query, body):
        with lock:
            objects.pop(key, None)
        self.send(204)

    def op_multi_delete(self, key, query, body):
        keys = [html.unescape(k) for k in re.findall(r"<Key>(.*?)</Key>", body.decode("utf-8", "replace"), re.S)]
        with lock:
            for k in keys:
                objects.pop(k, None)
        out = "".join("<Deleted><Key>%s</Key></Deleted>" % html.escape(k) for k in keys)
        self.send(200, ('<?xml version="1.0" encoding="UTF-8"?>\n<DeleteResult>%s</DeleteResult>' % out).encode(),
                  {"Content-Type": "application/xml"})

    def listing_keys(self, prefix, after):
        """The keys after `after` under `prefix`, sorted, one page and whether more follow."""
        with lock:
            stored = sorted(k for k in objects if k.startswith(prefix) and k > after)
        out = []
        n = synthetic_count()
        if n:
            # The synthetic keys form one sorted run: start at the first one after `after`.
            lo, hi = 0, n
            while lo < hi:
                mid = (lo + hi) // 2
                if synthetic_key(mid) <= after:
                    lo = mid + 1
                else:
                    hi = mid
            i = lo
            j = 0
            while len(out) <= PAGE and (i < n or j < len(stored)):
                sk = synthetic_key(i) if i < n else None
                if sk is not None and not sk.startswith(prefix):
                    sk = None
                    i = n
                if sk is not None and (j >= len(stored) or sk < stored[j]):
                    out.append((sk, synthetic_object(i)))
                    i += 1
                elif j < len(stored):
                    with lock:
                        obj = objects.get(stored[j])
                    if obj is not None:
                        out.append((stored[j], obj))
                    j += 1
                else:
                    break
        else:
            for k in stored[:PAGE + 1]:
                with lock:
                    obj = objects.get(k)
                if obj is not None:
                    out.append((k, obj))
        return out[:PAGE], len(out) > PAGE

    def op_list(self, key, query, body):
        prefix = query.get("prefix", "")
        token = query.get("continuation-token", "")
        after = base64.urlsafe_b64decode(token.encode()).decode("utf-8", "surrogateescape") if token else ""
        page, more = self.listing_keys(prefix, after)
        if "repeat-token" in faults:
            more, next_token = True, "c2FtZS10b2tlbg=="
        elif "empty-token" in faults:
            more, next_token = True, ""
        else:
            next_token = base64.urlsafe_b64encode(page[-1][0].encode("utf-8", "surrogateescape")).decode() if more else ""
        enc = query.get("encoding-type") == "url"
        parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult><Name>%s</Name>' % opts.bucket,
                 "<Prefix>%s</Prefix><KeyCount>%d</KeyCount><MaxKeys>%d</MaxKeys>" % (html.escape(prefix), len(page), PAGE)]
        if enc:
            parts.append("<EncodingType>url</EncodingType>")
        parts.append("<IsTruncated>%s</IsTruncated>" % ("true" if more else "false"))
        if more and ("empty-token" not in faults):
            parts.append("<NextContinuationToken>%s</NextContinuationToken>" % next_token)
        elif more:
            parts.append("<NextContinuationToken></NextContinuationToken>")
        for k, obj in page:
            name = urllib.parse.quote(k, safe="/-_.~") if enc else html.escape(k)
            parts.append("<Contents><Key>%s</Key><LastModified>%s</LastModified><ETag>&quot;%s&quot;</ETag>"
                         "<Size>%d</Size><StorageClass>STANDARD</StorageClass></Contents>"
                         % (name, iso(obj["modified"]), obj["etag"], len(obj["body"])))
        parts.append("</ListBucketResult>")
        self.send(200, "".join(parts).encode(), {"Content-Type": "application/xml"})

    def op_list_uploads(self, key, query, body):
        prefix = query.get("prefix", "")
        with lock:
            ups = sorted((u["key"], uid, u["initiated"]) for uid, u in uploads.items() if u["key"].startswith(prefix))
        items = "".join("<Upload><Key>%s</Key><UploadId>%s</UploadId><Initiated>%s</Initiated>"
                        "<StorageClass>STANDARD</StorageClass></Upload>" % (html.escape(k), uid, iso(t))
                        for k, uid, t in ups)
        self.send(200, ('<?xml version="1.0" encoding="UTF-8"?>\n<ListMultipartUploadsResult><Bucket>%s</Bucket>'
                        "<KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker><Prefix>%s</Prefix>"
                        "<MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>%s</ListMultipartUploadsResult>"
                        % (opts.bucket, html.escape(prefix), items)).encode(), {"Content-Type": "application/xml"})

    def op_initiate(self, key, query, body):
        uid = uuid.uuid4().hex
        meta = {k[11:].lower(): v for k, v in self.headers.items() if k.lower().startswith("x-amz-meta-")}
        with lock:
            uploads[uid] = {"key": key, "meta": meta, "parts": {}, "initiated": time.time()}
        self.send(200, ('<?xml version="1.0" encoding="UTF-8"?>\n<InitiateMultipartUploadResult><Bucket>%s</Bucket>'
                        "<Key>%s</Key><UploadId>%s</UploadId></InitiateMultipartUploadResult>"
                        % (opts.bucket, html.escape(key), uid)).encode(), {"Content-Type": "application/xml"})

    def op_part(self, key, query, body):
        with lock:
            up = uploads.get(query["uploadId"])
            if up is not None:
                up["parts"][int(query["partNumber"])] = body
        if up is None:
            return self.error(404, "NoSuchUpload", "The specified upload does not exist.")
        self.send(200, headers={"ETag": '"%s"' % etag_of(body)})

    def op_complete(self, key, query, body):
        numbers = [int(n) for n in re.findall(r"<PartNumber>(\d+)</PartNumber>", body.decode())]
        with lock:
            up = uploads.pop(query.get("uploadId", ""), None)
            if up is not None:
                data = b"".join(up["parts"][n] for n in numbers if n in up["parts"])
                digest = hashlib.md5(b"".join(hashlib.md5(up["parts"][n]).digest() for n in numbers)).hexdigest()
                objects[key] = {"body": data, "meta": up["meta"], "etag": "%s-%d" % (digest, len(numbers)),
                                "modified": time.time()}
        if up is None:
            return self.error(404, "NoSuchUpload", "The specified upload does not exist.")
        self.send(200, ('<?xml version="1.0" encoding="UTF-8"?>\n<CompleteMultipartUploadResult><Key>%s</Key>'
                        "<ETag>&quot;%s&quot;</ETag></CompleteMultipartUploadResult>"
                        % (html.escape(key), objects[key]["etag"])).encode(), {"Content-Type": "application/xml"})

    def op_abort(self, key, query, body):
        with lock:
            up = uploads.pop(query.get("uploadId", ""), None)
        if up is None:
            return self.error(404, "NoSuchUpload", "The specified upload does not exist.")
        self.send(204)

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = handle_any


def parse_args():
    p = argparse.ArgumentParser(description="fault-injecting S3 server for tests")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--bucket", default="backups")
    p.add_argument("--seed", nargs=2, metavar=("DIR", "PREFIX"), action="append", default=[])
    p.add_argument("--fault", action="append", default=[])
    p.add_argument("--only", default="")
    p.add_argument("--times", type=int)
    p.add_argument("--max-seconds", type=float, default=600)
    return p.parse_args()


def main():
    global opts
    opts = parse_args()
    specs = list(opts.fault)
    if os.environ.get("FAULT_S3_FAULTS"):
        specs += os.environ["FAULT_S3_FAULTS"].split(",")
    for spec in specs:
        name, _, value = spec.partition("=")
        faults[name.strip()] = value.strip() or "1"
    only.update(o for o in opts.only.split(",") if o)
    times_left[0] = opts.times
    for directory, prefix in opts.seed:
        seed(directory, prefix)
    if "stale-upload" in faults:
        uploads["stale" + uuid.uuid4().hex] = {"key": faults["stale-upload"], "meta": {}, "parts": {},
                                                "initiated": time.time() - 2 * 86400}
    server = ThreadingHTTPServer(("127.0.0.1", opts.port), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    threading.Timer(opts.max_seconds, server.shutdown).start()
    print("ready %d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    print(json.dumps(dict(stats, objects=len(objects))), flush=True)
    os._exit(0)


if __name__ == "__main__":
    main()
