"""`branch`: evaluate conditions on the media; the `true` edge or the `false` edge continues."""

from mediaflow.conditions import ConditionGroup
from mediaflow.nodes.base import Field, NodeConfig


class Config(NodeConfig):
    conditions: ConditionGroup | None = Field(
        default=None, description="Required; may come from the Convertly definition's branchConditions")
