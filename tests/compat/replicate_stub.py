"""A loopback stand-in for Replicate's HTTP API, answering with the responses recorded in
tests/compat/replicate/ (ids and URLs moved onto the stub). A prediction starts, is processing at the first
poll and succeeds at the next; its output file is the input image tinted sepia (a "colourised" PNG), so a
test can tell the output from the input. Every request is kept in ``requests`` for assertions."""

from __future__ import annotations

import base64
import io
import json
import re
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

RECORDED = Path(__file__).resolve().parent / "replicate"
TOKEN = "r8_compat_test_token"
HOSTS = ("https://api.replicate.com", "https://replicate.delivery", "https://stream.replicate.com")


def tint(data: bytes) -> bytes:
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as image:
        coloured = ImageOps.colorize(image.convert("L"), black="#2b1a0e", white="#f6e7c8")
    out = io.BytesIO()
    coloured.save(out, "PNG")
    return out.getvalue()


class ReplicateStub:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.predictions: dict[str, dict[str, Any]] = {}
        self.files: dict[str, bytes] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> ReplicateStub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def recorded(self, name: str, prediction_id: str, **changes: Any) -> dict[str, Any]:
        text = (RECORDED / f"{name}.json").read_text().replace("ufawqhfynnddngldkgtslldrkq", prediction_id)
        for host in HOSTS:
            text = text.replace(host, self.url)
        return {**json.loads(text), **changes}

    def _input_bytes(self, value: str) -> bytes:
        if value.startswith("data:"):
            return base64.b64decode(value.split(",", 1)[1])
        if value.startswith(self.url + "/v1/files/"):
            return self.files[value.rsplit("/", 1)[-1]]
        import requests  # an S3 presigned URL: on moto, answered in this process

        return requests.get(value, timeout=30).content

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: Any, content_type: str = "application/json") -> None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _route(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                stub.requests.append({"method": method, "path": self.path, "headers": dict(self.headers),
                                      "body": body})
                if self.path.startswith("/pbxt/"):
                    prediction = stub.predictions[self.path.split("/")[2]]
                    return self._send(200, prediction["file"], "image/png")
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self._send(401, json.loads((RECORDED / "unauthenticated.json").read_text()))
                if method == "POST" and self.path == "/v1/files":
                    file_id = uuid.uuid4().hex[:24]
                    stub.files[file_id] = body.split(b"\r\n\r\n", 1)[1].rsplit(b"\r\n--", 1)[0]
                    return self._send(201, {"id": file_id, "urls": {"get": f"{stub.url}/v1/files/{file_id}"}})
                if method == "POST" and re.fullmatch(r"/v1/(models/[^/]+/[^/]+/)?predictions", self.path):
                    request = json.loads(body)
                    prediction_id = uuid.uuid4().hex[:26]
                    image = next((v for v in request["input"].values() if isinstance(v, str)
                                  and v.startswith(("data:", "http"))), None)
                    stub.predictions[prediction_id] = {"polls": 0, "input": request["input"],
                                                       "file": tint(stub._input_bytes(image)) if image else b""}
                    return self._send(201, stub.recorded("prediction_starting", prediction_id,
                                                         input=request["input"]))
                found = re.fullmatch(r"/v1/predictions/([a-z0-9]+)(/cancel)?", self.path)
                if found and found.group(1) in stub.predictions:
                    prediction = stub.predictions[found.group(1)]
                    prediction["polls"] += 1
                    name = "prediction_processing" if prediction["polls"] == 1 else "prediction_succeeded"
                    if found.group(2):
                        name = "prediction_processing"
                        return self._send(200, stub.recorded(name, found.group(1), status="canceled"))
                    return self._send(200, stub.recorded(name, found.group(1), input=prediction["input"]))
                return self._send(404, {"title": "Not found", "detail": self.path, "status": 404})

            def do_GET(self) -> None:
                self._route("GET")

            def do_POST(self) -> None:
                self._route("POST")

        return Handler
