"""`event` trigger: POST /v1/workflows/events with a matching event name starts the run."""

from mediaflow.nodes.base import Field, NodeConfig


class Config(NodeConfig):
    event_name: str = Field(default="*", min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:\-*]+$",
                            description="Event name to match; `*` matches any event")
