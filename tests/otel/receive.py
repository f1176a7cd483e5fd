"""An OTLP/HTTP metrics receiver built from the official protobuf definitions (opentelemetry-proto).

Usage: receive.py PORT OUT
Decodes every POST to /v1/metrics as an ExportMetricsServiceRequest and appends it to OUT as
one JSON line (protobuf's own JSON mapping); answers 200 with an empty response message.
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

port, out = int(sys.argv[1]), sys.argv[2]


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path != "/v1/metrics" or self.headers.get("Content-Type") != "application/x-protobuf":
            self.send_response(404)
            self.end_headers()
            return
        req = ExportMetricsServiceRequest()
        req.ParseFromString(body)
        with open(out, "a") as f:
            f.write(json.dumps({"headers": dict(self.headers), "request": MessageToDict(req)}) + "\n")
        resp = ExportMetricsServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(resp)))
        self.end_headers()
        self.wfile.write(resp)

    def log_message(self, *args):
        pass


print("ready", flush=True)
HTTPServer(("127.0.0.1", port), Handler).serve_forever()
