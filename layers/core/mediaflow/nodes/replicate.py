"""`replicate`: run a model on Replicate with the media as one of its inputs.

The media goes in as ``imageInput`` (an https URL, a data URL or an uploaded file), with the fixed ``input``
values beside it. A file output (a URL) becomes the new media, stored under the run's prefix; any other
output (text, numbers, JSON) is kept in the step output and, as JSON text, in ``replicate_output`` metadata
while the media passes through. The API token comes from settings, never from the workflow."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any, Literal

from mediaflow.errors import ProviderError
from mediaflow.nodes.base import Field, NodeConfig

if TYPE_CHECKING:
    from mediaflow.execution.contract import OpContext, TaskEnvironment
    from mediaflow.media import MediaRef

MAX_METADATA = 1024


class Config(NodeConfig):
    model: str = Field(pattern=r"^[a-z0-9][a-z0-9_.\-]{0,63}/[a-z0-9][a-z0-9_.\-]{0,99}$",
                       description="owner/name on Replicate")
    version: str | None = Field(default=None, pattern=r"^[a-f0-9]{64}$",
                                description="A version id; without it the model's latest version runs")
    input: dict[str, Any] = Field(default_factory=dict, max_length=50, description="Fixed inputs of the model")
    image_input: str | None = Field(default="image", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$",
                                    description="The model input that receives the media (null: none)")
    output: Literal["media", "metadata"] = Field(default="media", description="media: a file output becomes "
                                                 "the new media; metadata: the output is recorded only")


def run_model(media: MediaRef, ctx: OpContext, env: TaskEnvironment, *, model: str, version: str | None,
              inputs: dict[str, Any], image_input: str | None, output: str) -> tuple[MediaRef, dict[str, Any]]:
    from mediaflow.adapters.replicate import ReplicateClient

    settings = env.settings
    client = ReplicateClient(settings.replicate_api_token, settings.replicate_base_url)
    inputs = dict(inputs)
    if image_input:
        data = env.blobs.read_range(media.key, 0, media.size or 1 << 40)
        url = env.blobs.url(media.key)
        inputs[image_input] = client.media_input(url, data, media.content_type, media.filename or "media")
    prediction = client.predict(model, version, inputs, settings.replicate_wait_seconds)
    result = prediction.get("output")
    record = {"model": model, "version": prediction.get("version") or version, "predictionId": prediction.get("id"),
              "metrics": prediction.get("metrics")}
    first = result[0] if isinstance(result, list) and result else result
    if output == "media":
        if not isinstance(first, str) or not first.startswith(("http://", "https://")):
            raise ProviderError(f"{model} returned no file (output {str(result)[:200]!r}); use output: metadata",
                                field="output")
        return _store(media, ctx, env, client.fetch(first)), {**record, "output": first}
    text = json.dumps(result, default=str)
    annotated = media.model_copy(update={"metadata": {**media.metadata, "replicate_output": text[:MAX_METADATA]}})
    return annotated, {**record, "output": result}


def _store(media: MediaRef, ctx: OpContext, env: TaskEnvironment, fetched: tuple[bytes, str]) -> MediaRef:
    from mediaflow.filenames import clean_component, original_stem
    from mediaflow.sniff import sniff

    data, declared = fetched
    sniffed = sniff(data[:4096])
    if sniffed.media_type == "other":
        raise ProviderError(f"the model's output is not media this engine reads ({declared or 'unknown type'})")
    extension = sniffed.content_type.split("/")[-1].replace("jpeg", "jpg")
    source = hashlib.sha256(f"{media.key}\0{media.etag}".encode()).hexdigest()[:10]
    folder = "/".join(clean_component(part) or "_" for part in (ctx.run.tenant, "runs", ctx.run.run_id, ctx.node_id))
    name = f"{original_stem(media)}.{extension}"
    stored = env.blobs.put_bytes(f"{folder}/{source}/{name}", data, sniffed.content_type)
    return stored.model_copy(update={"media_type": sniffed.media_type, "filename": name, "width": None,
                                     "height": None, "metadata": dict(media.metadata),
                                     "source_key": media.source_key or media.key})


def execute(media: MediaRef, config: Config, ctx: OpContext, env: TaskEnvironment
            ) -> tuple[MediaRef, dict[str, Any]]:
    return run_model(media, ctx, env, model=config.model, version=config.version, inputs=config.input,
                     image_input=config.image_input, output=config.output)
