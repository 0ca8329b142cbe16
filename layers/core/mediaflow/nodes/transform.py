"""`transform`: edit the media's metadata (set keys from templates, remove keys)."""

from pydantic import Field, field_validator

from mediaflow.nodes.base import NodeConfig

_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


class Config(NodeConfig):
    set: dict[str, str] = Field(default_factory=dict, max_length=50,
                                description="Keys to set; values may use {original} {format} {nodeId} {runId}")
    remove: list[str] = Field(default_factory=list, max_length=50)

    @field_validator("set", "remove")
    @classmethod
    def _plain_keys(cls, value: dict[str, str] | list[str]) -> dict[str, str] | list[str]:
        for key in value:
            if not key or len(key) > 64 or not set(key) <= _KEY_CHARS:
                raise ValueError(f"metadata key {key!r}: use 1-64 letters, digits or '_'")
        return value
