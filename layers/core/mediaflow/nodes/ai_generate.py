"""`ai_generate`: generate a text for the media (alt text, a caption, tags) with a language model and keep
it as a metadata key of the media, so that later nodes, the run's outputs and webhooks carry it.

The provider is a setting (``MEDIAFLOW_AI_PROVIDER``): ``bedrock`` calls Amazon Bedrock's Converse API (the
default on AWS), ``openai`` calls any OpenAI-compatible ``/chat/completions`` endpoint at
``MEDIAFLOW_AI_BASE_URL`` (the default in the embedded mode: a local model server or a hosted one). Images up
to ``MEDIAFLOW_AI_MAX_IMAGE_BYTES`` are sent along with the prompt; other media send the prompt and the
media's description only. Throttling and 5xx answers are retried by the compiled Retry policy
(``TransientError``); any other failure fails the node with ``AiProviderFailed``.
"""

from __future__ import annotations

import base64
import json
import unicodedata
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any

from mediaflow.errors import NodeError, TransientError
from mediaflow.nodes.base import Field, NodeConfig

if TYPE_CHECKING:
    from mediaflow.execution.contract import OpContext, TaskEnvironment
    from mediaflow.media import MediaRef
    from mediaflow.settings import Settings

MAX_TEXT = 1024
"""Characters kept of a generated text (object-store metadata values stay small)."""


class AiProviderFailed(NodeError):
    code = "AiProviderFailed"


class AiProviderUnavailable(NodeError):
    code = "AiProviderUnavailable"


class Config(NodeConfig):
    prompt: str = Field(default="Write a short alt text for this {format} file.", min_length=1, max_length=4000,
                        description="Instruction to the model; may use {original} {format} {nodeId} {runId}")
    field: str = Field(default="altText", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$",
                       description="Metadata key that receives the generated text")
    model: str | None = Field(default=None, max_length=200, description="Model id; default from settings")
    max_tokens: int = Field(default=200, ge=1, le=4096)
    temperature: float = Field(default=0.2, ge=0.0, le=2.0)
    include_image: bool = Field(default=True, description="Send the image itself (images only)")


def _clean(text: str) -> str:
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf", "Cs") or ch == "\n")
    return text.strip()[:MAX_TEXT]


def _image_bytes(media: MediaRef, config: Config, env: TaskEnvironment) -> bytes | None:
    if not config.include_image or media.media_type != "image" or not media.size:
        return None
    if media.size > env.settings.ai_max_image_bytes:
        return None
    return env.blobs.read_range(media.key, 0, media.size)


def _describe(media: MediaRef) -> str:
    parts = [f"file {media.filename or media.key.rsplit('/', 1)[-1]}", f"type {media.content_type}"]
    if media.width and media.height:
        parts.append(f"{media.width}x{media.height} pixels")
    if media.duration_ms:
        parts.append(f"{media.duration_ms / 1000:.1f} s")
    return "; ".join(parts)


def provider_of(settings: Settings) -> str:
    if settings.ai_provider != "auto":
        return settings.ai_provider
    return "bedrock" if settings.mode == "aws" else "openai"


def call_openai(settings: Settings, model: str, prompt: str, image: bytes | None, content_type: str,
                config: Config) -> str:
    """POST ``{base}/chat/completions`` (OpenAI-compatible); the first choice's message text."""
    if not settings.ai_base_url:
        raise AiProviderUnavailable("no AI endpoint is configured: set MEDIAFLOW_AI_BASE_URL", field="provider")
    content: list[dict[str, Any]] = [{"type": "text", "text": prompt}]
    if image is not None:
        data_url = f"data:{content_type};base64,{base64.b64encode(image).decode()}"
        content.append({"type": "image_url", "image_url": {"url": data_url}})
    body = json.dumps({"model": model, "max_tokens": config.max_tokens, "temperature": config.temperature,
                       "messages": [{"role": "user", "content": content}]}).encode()
    headers = {"Content-Type": "application/json"}
    if settings.ai_api_key:
        headers["Authorization"] = f"Bearer {settings.ai_api_key}"
    request = urllib.request.Request(settings.ai_base_url.rstrip("/") + "/chat/completions", data=body,
                                     headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=settings.ai_timeout_seconds) as response:
            answer = json.loads(response.read(2_000_000))
    except urllib.error.HTTPError as error:
        if error.code == 429 or error.code >= 500:
            raise TransientError(f"the AI endpoint answered {error.code}") from None
        raise AiProviderFailed(f"the AI endpoint answered {error.code}: {error.read(300)!r}") from None
    except (urllib.error.URLError, TimeoutError) as error:
        raise TransientError(f"the AI endpoint could not be reached: {error}") from None
    except ValueError:
        raise AiProviderFailed("the AI endpoint answered something that is not JSON") from None
    try:
        text = answer["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise AiProviderFailed("the AI endpoint's answer has no choices[0].message.content") from None
    if isinstance(text, list):  # some servers answer content parts
        text = "".join(str(part.get("text", "")) for part in text if isinstance(part, dict))
    return str(text)


def call_bedrock(settings: Settings, model: str, prompt: str, image: bytes | None, content_type: str,
                 config: Config, client: Any = None) -> str:
    """Amazon Bedrock Converse; the first text block of the answer."""
    from botocore.exceptions import BotoCoreError, ClientError

    if client is None:
        import boto3

        client = boto3.client("bedrock-runtime", region_name=settings.region)
    content: list[dict[str, Any]] = [{"text": prompt}]
    if image is not None:
        fmt = content_type.split("/", 1)[-1].replace("jpg", "jpeg")
        if fmt in ("png", "jpeg", "gif", "webp"):
            content.append({"image": {"format": fmt, "source": {"bytes": image}}})
    try:
        answer = client.converse(modelId=model, messages=[{"role": "user", "content": content}],
                                 inferenceConfig={"maxTokens": config.max_tokens,
                                                  "temperature": config.temperature})
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in ("ThrottlingException", "ServiceUnavailableException", "ModelNotReadyException"):
            raise TransientError(f"Bedrock: {code}") from None
        raise AiProviderFailed(f"Bedrock: {code}: {error}") from None
    except BotoCoreError as error:
        raise TransientError(f"Bedrock could not be reached: {error}") from None
    blocks = answer.get("output", {}).get("message", {}).get("content", [])
    return "".join(str(block.get("text", "")) for block in blocks if isinstance(block, dict))


def execute(
    media: MediaRef, config: Config, ctx: OpContext, env: TaskEnvironment
) -> tuple[MediaRef, dict[str, Any]]:
    from mediaflow.nodes.rename import render, token_values

    settings = env.settings
    provider = provider_of(settings)
    model = config.model or (settings.ai_bedrock_model if provider == "bedrock" else settings.ai_model)
    prompt = f"{render(config.prompt, token_values(media, ctx))}\n\nMedia: {_describe(media)}"
    image = _image_bytes(media, config, env)
    call = call_bedrock if provider == "bedrock" else call_openai
    text = _clean(call(settings, model, prompt, image, media.content_type, config))
    if not text:
        raise AiProviderFailed("the model answered an empty text")
    metadata = {**media.metadata, config.field: text}
    return media.model_copy(update={"metadata": metadata}), {"field": config.field, "text": text,
                                                             "provider": provider, "model": model}
