"""`queue` trigger: messages sent to the workflow's queue (POST /api/v1/workflows/{id}/enqueue) start one run
each, exactly once per message: a durable SQLite queue in the embedded mode, Amazon SQS on AWS."""

from mediaflow.nodes.base import Field, NodeConfig


class Config(NodeConfig):
    media_key_field: str = Field(default="objectKey", pattern=r"^[A-Za-z0-9_.\-]{1,64}$",
                                 description="Message field holding the stored media key to run on")
