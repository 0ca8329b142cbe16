"""Replicate's HTTP API (https://replicate.com/docs/reference/http), used by the ``replicate`` kinds on both
runtimes: create a prediction (``Prefer: wait``), poll it, cancel it past the time budget, fetch its output.

The token comes from settings (``MEDIAFLOW_REPLICATE_API_TOKEN`` or ``REPLICATE_API_TOKEN``). Media reach
Replicate as an https URL when the store hands one out (S3 presigned), else inline as a data URL (up to
256 KB), else uploaded through Replicate's files API. Output files are fetched only over https, or from the
configured API host itself (a local proxy or stub)."""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
import uuid
from typing import Any
from urllib.parse import urlsplit

from mediaflow.errors import PluginUnavailable, ProviderError, TransientError

TERMINAL = frozenset({"succeeded", "failed", "canceled"})
DATA_URL_LIMIT = 256 * 1024
MAX_OUTPUT_BYTES = 200 * 1024 * 1024
POLL_SECONDS = 1.0


class ReplicateClient:
    def __init__(self, token: str, base_url: str = "https://api.replicate.com", *, timeout: float = 30.0) -> None:
        if not token:
            raise PluginUnavailable("Replicate needs an API token: set MEDIAFLOW_REPLICATE_API_TOKEN")
        self.token, self.base, self.timeout = token, base_url.rstrip("/"), timeout

    # -- requests ------------------------------------------------------------------------------------
    def _request(self, method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None,
                 *, authorised: bool = True, limit: int = 16 * 1024 * 1024) -> tuple[bytes, str]:
        all_headers = {"User-Agent": "mediaflow", **(headers or {})}
        if authorised:
            all_headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(url, data=body, method=method, headers=all_headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                data = response.read(limit + 1)
                if len(data) > limit:
                    raise ProviderError(f"Replicate answered more than {limit} bytes")
                return data, str(response.headers.get("Content-Type") or "")
        except urllib.error.HTTPError as error:
            detail = _detail(error.read(4096))
            if error.code in (401, 403):
                raise PluginUnavailable(f"Replicate refused the token ({error.code}): {detail}") from None
            if error.code == 429 or error.code >= 500:
                raise TransientError(f"Replicate answered {error.code}: {detail}") from None
            raise ProviderError(f"Replicate answered {error.code}: {detail}") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            raise TransientError(f"Replicate could not be reached: {error}") from None

    def _json(self, method: str, url: str, payload: Any = None, headers: dict[str, str] | None = None
              ) -> dict[str, Any]:
        body = None if payload is None else json.dumps(payload).encode()
        data, _ = self._request(method, url, body, {"Content-Type": "application/json", **(headers or {})})
        parsed = json.loads(data or b"{}")
        if not isinstance(parsed, dict):
            raise ProviderError("Replicate answered something that is not a JSON object")
        return parsed

    # -- predictions ---------------------------------------------------------------------------------
    def predict(self, model: str, version: str | None, inputs: dict[str, Any], wait_seconds: float
                ) -> dict[str, Any]:
        """Run one prediction to its end (or cancel it past ``wait_seconds``); returns the prediction."""
        deadline = time.monotonic() + wait_seconds
        prefer = {"Prefer": f"wait={max(1, min(60, int(wait_seconds)))}"}
        if version:
            prediction = self._json("POST", f"{self.base}/v1/predictions", {"version": version, "input": inputs},
                                    prefer)
        else:
            prediction = self._json("POST", f"{self.base}/v1/models/{model}/predictions", {"input": inputs}, prefer)
        while prediction.get("status") not in TERMINAL:
            if time.monotonic() > deadline:
                cancel = (prediction.get("urls") or {}).get("cancel")
                if cancel:
                    self._json("POST", self._own(cancel))
                raise ProviderError(f"Replicate prediction {prediction.get('id')} did not finish within "
                                    f"{wait_seconds:g} s (cancelled)")
            time.sleep(POLL_SECONDS)
            prediction = self._json("GET", self._own((prediction.get("urls") or {}).get("get")
                                                     or f"{self.base}/v1/predictions/{prediction.get('id')}"))
        if prediction["status"] != "succeeded":
            raise ProviderError(f"Replicate prediction {prediction.get('id')} {prediction['status']}: "
                                f"{prediction.get('error') or 'no reason given'}")
        return prediction

    def media_input(self, url: str | None, data: bytes, content_type: str, filename: str) -> str:
        """What to send as a file input: an https URL, a data URL, or a file uploaded to Replicate."""
        if url and url.startswith("https://"):
            return url
        if len(data) <= DATA_URL_LIMIT:
            return f"data:{content_type};base64,{base64.b64encode(data).decode()}"
        boundary = uuid.uuid4().hex
        body = (f'--{boundary}\r\nContent-Disposition: form-data; name="content"; filename="{filename}"\r\n'
                f"Content-Type: {content_type}\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
        raw, _ = self._request("POST", f"{self.base}/v1/files", body,
                               {"Content-Type": f"multipart/form-data; boundary={boundary}"})
        uploaded = json.loads(raw)
        return str((uploaded.get("urls") or {}).get("get") or "")

    def fetch(self, url: str) -> tuple[bytes, str]:
        """An output file (https, or on the API host itself)."""
        own = urlsplit(url)[:2] == urlsplit(self.base)[:2]
        if not (url.startswith("https://") or own):
            raise ProviderError(f"Replicate output {url!r} is not an https URL")
        return self._request("GET", url, authorised=own, limit=MAX_OUTPUT_BYTES)

    def _own(self, url: str) -> str:
        """A URL Replicate handed back for this prediction, kept on the configured API host."""
        parts = urlsplit(url)
        return f"{self.base}{parts.path}" + (f"?{parts.query}" if parts.query else "")


def _detail(data: bytes) -> str:
    try:
        parsed = json.loads(data)
    except ValueError:
        return data.decode("utf-8", errors="replace")[:300]
    return str(parsed.get("detail") or parsed.get("title") or parsed)[:300] if isinstance(parsed, dict) else str(parsed)
