"""A tiny S3 look-alike that lists one object and then answers every HEAD and GET of it with a
Content-Length of 20 digits, as a broken proxy or a hostile server might.

    python3 hostile_s3.py PORT
"""
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LISTING = b"""<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
<Name>backups</Name><Prefix>app/</Prefix><KeyCount>1</KeyCount><IsTruncated>false</IsTruncated>
<Contents><Key>app/a.ini</Key><LastModified>2024-03-05T06:07:08.000Z</LastModified>
<ETag>"900150983cd24fb0d6963f7d28e17f72"</ETag><Size>3</Size></Contents>
</ListBucketResult>"""
HUGE = "99999999999999999999"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, body, length=None, with_body=True):
        self.send_response(200)
        self.send_header("Content-Length", length or str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if with_body:
            self.wfile.write(body)
        self.close_connection = True

    def do_HEAD(self):
        if self.path.rstrip("/") == "/backups":
            return self.answer(b"", with_body=False)
        self.answer(b"", HUGE, with_body=False)

    def do_GET(self):
        if "list-type=2" in self.path:
            return self.answer(LISTING)
        self.answer(b"abc", HUGE)


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
