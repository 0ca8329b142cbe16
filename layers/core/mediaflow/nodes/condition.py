"""`condition`: a gate; the path goes on only when the conditions hold, else it ends as skipped."""

from mediaflow.conditions import ConditionGroup
from mediaflow.nodes.base import Field, NodeConfig


class Config(NodeConfig):
    conditions: ConditionGroup = Field(description="Conditions on the current media")
