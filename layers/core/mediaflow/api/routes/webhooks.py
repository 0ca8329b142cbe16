"""Webhook subscriptions: register (secret shown once), list, delete, rotate, deliveries, replay, ping."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import ConfigDict, Field
from pydantic.alias_generators import to_camel

from mediaflow.api.models import Model, examples
from mediaflow.api.problems import ApiProblem
from mediaflow.api.routes import SecuredRouter, no_content, reply
from mediaflow.errors import NotFound

WebhookId = Annotated[str, Path(min_length=1, max_length=64)]
TAGS = ["webhooks"]


router = SecuredRouter()


class WebhookIn(Model):
    model_config = Model.model_config | examples(
        {"url": "https://hooks.example.com/mediaflow", "eventTypes": ["workflow.completed", "workflow.failed"]})

    url: str = Field(min_length=8, max_length=2048, description="https URL of a public host")
    event_types: list[Annotated[str, Field(pattern=r"^[a-z0-9_.*]{1,64}$")]] = Field(
        default_factory=list, max_length=20, description="Empty = every event")
    workflow_id: str | None = Field(default=None, max_length=64)
    description: str = Field(default="", max_length=500)


class Webhook(Model):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    id: str
    url: str
    event_types: list[str]
    workflow_id: str | None = None
    description: str = ""
    status: str
    created_at: str
    disabled_reason: str | None = None


class WebhookCreated(Webhook):
    secret: str = Field(description="whsec_...: shown once; verify signatures with it")


class WebhookList(Model):
    count: int
    webhooks: list[Webhook]


class Attempt(Model):
    number: int
    at: str
    status_code: int | None = None
    latency_ms: float | None = None
    error: str | None = None


class Delivery(Model):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    id: str
    webhook_id: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: float | None = None
    last_status_code: int | None = None
    created_at: str
    payload: dict[str, Any]
    log: list[Attempt]


class DeliveryList(Model):
    count: int
    deliveries: list[Delivery]


class Secret(Model):
    secret: str


def require_own_workflow(workflow_id: str) -> None:
    """404 unless the workflow is the caller's (another tenant's id reads as not found)."""
    try:
        router.ctx.workflows.get(router.tenant(), workflow_id)
    except NotFound:
        raise NotFound(f"workflow {workflow_id!r} not found", field="workflowId") from None


def hooks() -> Any:
    if router.ctx.webhooks is None:
        raise ApiProblem(503, "webhooks are not configured in this deployment", code="WebhooksUnavailable")
    return router.ctx.webhooks


@router.secured("POST", "/v1/webhooks", "workflows:write", summary="Register a webhook (secret shown once)",
                tags=TAGS, status_code=201)
def create_webhook(body: WebhookIn) -> Response[WebhookCreated]:
    if body.workflow_id is not None:
        require_own_workflow(body.workflow_id)
    record, secret = hooks().register(router.tenant(), body.url, body.event_types,
                                      workflow_id=body.workflow_id, description=body.description)
    return reply(WebhookCreated, {**record, "secret": secret}, 201, {"Location": f"/v1/webhooks/{record['id']}"})


@router.secured("GET", "/v1/webhooks", "workflows:read", summary="The tenant's webhooks", tags=TAGS)
def list_webhooks() -> Response[WebhookList]:
    records = hooks().store.list_webhooks(router.tenant())
    return reply(WebhookList, {"count": len(records), "webhooks": records})


@router.secured("GET", "/v1/webhooks/<webhook_id>", "workflows:read", summary="One webhook", tags=TAGS)
def get_webhook(webhook_id: WebhookId) -> Response[Webhook]:
    return reply(Webhook, hooks().store.get(router.tenant(), webhook_id))


@router.secured("DELETE", "/v1/webhooks/<webhook_id>", "workflows:write", summary="Delete a webhook", tags=TAGS,
                status_code=204)
def delete_webhook(webhook_id: WebhookId) -> Response[None]:
    hooks().store.delete(router.tenant(), webhook_id)
    return no_content()


@router.secured("POST", "/v1/webhooks/<webhook_id>/rotate", "workflows:write",
                summary="Rotate the secret (the old one keeps signing for 24 h)", tags=TAGS)
def rotate_secret(webhook_id: WebhookId) -> Response[Secret]:
    return reply(Secret, {"secret": hooks().rotate_secret(router.tenant(), webhook_id)})


@router.secured("GET", "/v1/webhooks/<webhook_id>/deliveries", "workflows:read",
                summary="Deliveries with their attempts (status codes, latency)", tags=TAGS)
def list_deliveries(webhook_id: WebhookId) -> Response[DeliveryList]:
    records = hooks().store.deliveries(router.tenant(), webhook_id)
    return reply(DeliveryList, {"count": len(records), "deliveries": records})


@router.secured("POST", "/v1/webhooks/<webhook_id>/deliveries/<delivery_id>/replay", "workflows:write",
                summary="Send a delivery again (same webhook-id)", tags=TAGS, status_code=202)
def replay_delivery(webhook_id: WebhookId, delivery_id: WebhookId) -> Response[Delivery]:
    return reply(Delivery, hooks().replay(router.tenant(), webhook_id, delivery_id), 202)


@router.secured("POST", "/v1/webhooks/<webhook_id>/ping", "workflows:write", summary="Send a test ping",
                tags=TAGS, status_code=202)
def ping_webhook(webhook_id: WebhookId) -> Response[Delivery]:
    return reply(Delivery, hooks().ping(router.tenant(), webhook_id), 202)
