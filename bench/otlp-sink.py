#!/usr/bin/env python3
"""A stand-in OpenTelemetry collector for bench/run.sh: accepts OTLP/HTTP posts on 127.0.0.1:PORT, answers 200 with
an empty body, and appends each request's path and size to LOG. Usage: otlp-sink.py PORT LOG"""
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Sink(BaseHTTPRequestHandler):
    def do_POST(self):
        size = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(size)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()
        with open(sys.argv[2], "a", encoding="utf-8") as log:
            log.write(f"{self.path} {size}\n")

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()
