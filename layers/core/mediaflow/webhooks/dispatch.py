"""The dispatcher: Standard Webhooks signatures, retries with backoff and jitter, Retry-After, 410 disables,
dead letters after the last attempt, and the SSRF guard at registration and before every attempt."""

from __future__ import annotations

import http.client
import json
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from mediaflow.clock import now_iso
from mediaflow.ports import WebhookRepository
from mediaflow.webhooks.ssrf import Resolver, Target, UnsafeWebhookUrl, check_url, system_resolver

DEFAULT_SCHEDULE = (5.0, 30.0, 120.0, 600.0, 1800.0, 3600.0, 7200.0)
MAX_RETRY_AFTER = 86_400.0
USER_AGENT = "mediaflow-webhooks/1"


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]


Sender = Callable[[Target, bytes, dict[str, str], float], Response]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the address that passed the SSRF check, whatever DNS says now."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=ssl.create_default_context())
        self._address = target.address

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]


def pinned_send(target: Target, body: bytes, headers: dict[str, str], timeout: float) -> Response:
    """POST without following redirects (a 3xx is just a failed attempt)."""
    connection_class = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(target, timeout)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(65_536)
        return Response(response.status, {k.lower(): v for k, v in response.getheaders()})
    finally:
        connection.close()


def sign(secret: str, message_id: str, timestamp: int, body: str) -> str:
    from standardwebhooks.webhooks import Webhook

    return Webhook(secret).sign(message_id, datetime.fromtimestamp(timestamp, UTC), body)


def retry_after_seconds(value: str | None, now: float) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None


class Dispatcher:
    def __init__(
        self,
        store: WebhookRepository,
        *,
        schedule: Sequence[float] = DEFAULT_SCHEDULE,
        jitter: float = 0.2,
        timeout_seconds: float = 15.0,
        allow_loopback_http: bool = False,
        resolver: Resolver = system_resolver,
        sender: Sender = pinned_send,
        clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
        dead_letter: Callable[[dict[str, Any]], None] | None = None,
        url_for: Callable[[str], str] | None = None,
        secret_overlap_seconds: float = 86_400.0,
    ) -> None:
        self.store = store
        self.schedule = list(schedule)
        self.jitter = jitter
        self.timeout_seconds = timeout_seconds
        self.allow_loopback_http = allow_loopback_http
        self.resolver = resolver
        self.sender = sender
        self.clock = clock
        self.rng = rng
        self.dead_letter = dead_letter
        self.url_for = url_for
        self.secret_overlap_seconds = secret_overlap_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def max_attempts(self) -> int:
        return len(self.schedule) + 1

    # -- subscriptions --------------------------------------------------------------------------------
    def register(self, tenant: str, url: str, event_types: list[str], *, workflow_id: str | None = None,
                 description: str = "") -> tuple[dict[str, Any], str]:
        check_url(url, allow_loopback_http=self.allow_loopback_http, resolver=self.resolver)
        return self.store.create(tenant, url, event_types, workflow_id=workflow_id, description=description)

    def rotate_secret(self, tenant: str, webhook_id: str) -> str:
        return self.store.rotate_secret(tenant, webhook_id, self.secret_overlap_seconds, self.clock())

    # -- events ---------------------------------------------------------------------------------------
    def enqueue(self, event_type: str, detail: dict[str, Any], *, only: str | None = None) -> list[dict[str, Any]]:
        """One delivery per subscription of the event's tenant that wants this event type."""
        tenant = str(detail.get("tenant") or "")
        if not tenant:
            return []
        subscriptions = self.store.active_for(tenant, event_type, detail.get("workflowId"))
        if only is not None:
            subscriptions = [s for s in subscriptions if s["id"] == only] or [self.store.get(tenant, only)]
        # Download links are signed at each attempt (see _body), so a late retry or a replay never carries
        # an expired presigned URL; the stored payload keeps the output keys only.
        payload = {"type": event_type, "timestamp": now_iso(self.clock()), "data": detail}
        return [self.store.add_delivery(tenant, sub["id"], event_type, payload, self.clock())
                for sub in subscriptions]

    def on_event(self, event: Any) -> None:
        """An in-process bus subscriber (``InProcessEventBus.subscribe(dispatcher.on_event)``)."""
        self.enqueue(event.detail_type, event.detail)

    def ping(self, tenant: str, webhook_id: str) -> dict[str, Any]:
        self.store.get(tenant, webhook_id)
        detail = {"tenant": tenant, "webhookId": webhook_id, "message": "ping"}
        return self.enqueue("webhook.ping", detail, only=webhook_id)[0]

    def replay(self, tenant: str, webhook_id: str, delivery_id: str) -> dict[str, Any]:
        delivery = self.store.delivery(tenant, delivery_id)
        if delivery["webhookId"] != webhook_id:
            from mediaflow.errors import NotFound

            raise NotFound(f"no delivery {delivery_id!r} for webhook {webhook_id!r}", field="deliveryId")
        return self.store.requeue(tenant, delivery_id, self.clock())

    def _body(self, payload: dict[str, Any]) -> str:
        if isinstance(payload.get("data"), dict):
            payload = {**payload, "data": self._with_urls(payload["data"])}
        return json.dumps(payload, separators=(",", ":"), sort_keys=True)

    def _with_urls(self, detail: dict[str, Any]) -> dict[str, Any]:
        if self.url_for is None or not isinstance(detail.get("outputs"), list):
            return detail
        outputs = [{**o, "downloadUrl": self.url_for(o["key"])} if isinstance(o, dict) and "key" in o else o
                   for o in detail["outputs"]]
        return {**detail, "outputs": outputs}

    # -- delivery -------------------------------------------------------------------------------------
    def run_due(self, limit: int = 50) -> int:
        count = 0
        for delivery in self.store.due(self.clock(), limit):
            if self.attempt(delivery):
                count += 1
        return count

    def attempt(self, delivery: dict[str, Any]) -> bool:
        tenant, delivery_id, attempts = delivery["tenant"], delivery["id"], delivery["attempts"]
        if not self.store.claim(tenant, delivery_id, attempts):
            return False
        number = attempts + 1
        started = time.perf_counter()
        status_code: int | None = None
        error: str | None = None
        retry_after: float | None = None
        try:
            webhook = self.store.get(tenant, delivery["webhookId"], with_secrets=True)
        except Exception:
            self.store.record_attempt(tenant, delivery_id, number, None, 0.0, "webhook deleted",
                                      status="failed", next_attempt_at=None)
            return True
        if webhook["status"] != "active":
            self.store.record_attempt(tenant, delivery_id, number, None, 0.0, "webhook disabled",
                                      status="failed", next_attempt_at=None)
            return True
        try:
            target = check_url(webhook["url"], allow_loopback_http=self.allow_loopback_http, resolver=self.resolver)
            body = self._body(delivery["payload"])
            response = self.sender(target, body.encode(), self._headers(webhook, delivery_id, body),
                                   self.timeout_seconds)
            status_code = response.status
            retry_after = retry_after_seconds(response.headers.get("retry-after"), self.clock())
        except UnsafeWebhookUrl as refused:
            error = f"refused: {refused.message}"
        except (OSError, http.client.HTTPException, ssl.SSLError) as failure:
            error = f"{type(failure).__name__}: {failure}"
        latency = (time.perf_counter() - started) * 1000
        if status_code is not None and 200 <= status_code < 300:
            self.store.record_attempt(tenant, delivery_id, number, status_code, latency, None,
                                      status="succeeded", next_attempt_at=None)
        elif status_code == 410:
            self.store.disable(tenant, webhook["id"], "the endpoint answered 410 Gone")
            self.store.record_attempt(tenant, delivery_id, number, status_code, latency, "410 Gone: endpoint disabled",
                                      status="failed", next_attempt_at=None)
        elif number >= self.max_attempts:
            self.store.record_attempt(tenant, delivery_id, number, status_code, latency, error,
                                      status="dead", next_attempt_at=None)
            if self.dead_letter is not None:
                self.dead_letter(self.store.delivery(tenant, delivery_id))
        else:
            delay = self.schedule[min(number - 1, len(self.schedule) - 1)]
            delay *= 1 + self.jitter * (2 * self.rng() - 1)
            if retry_after is not None and status_code in (429, 503):
                delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
            self.store.record_attempt(tenant, delivery_id, number, status_code, latency, error,
                                      status="retrying", next_attempt_at=self.clock() + delay)
        return True

    def _headers(self, webhook: dict[str, Any], message_id: str, body: str) -> dict[str, str]:
        timestamp = int(self.clock())
        signatures = [sign(webhook["secret"], message_id, timestamp, body)]
        if webhook.get("previousSecret") and (webhook.get("previousExpiresAt") or 0) > self.clock():
            signatures.append(sign(webhook["previousSecret"], message_id, timestamp, body))
        return {"content-type": "application/json", "user-agent": USER_AGENT, "webhook-id": message_id,
                "webhook-timestamp": str(timestamp), "webhook-signature": " ".join(signatures)}

    # -- background worker (embedded mode) ------------------------------------------------------------
    def start(self, poll_seconds: float = 0.5) -> None:
        def loop() -> None:
            while not self._stop.wait(poll_seconds):
                try:
                    self.run_due()
                except Exception:  # the worker keeps going; the delivery log has the details
                    continue

        self._thread = threading.Thread(target=loop, name="mediaflow-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
