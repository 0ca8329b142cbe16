"""The environment variables behind the settings, readable without loading them.

``settings.py`` reads and validates every setting once; this module only knows how a setting's variable is
named (``MEDIAFLOW_<FIELD>``, any case) and imports nothing else, so that work a command starts before it
loads its settings (``mediaflow run`` starting an ffprobe of each input while its modules load) can see the
raw value the settings will read. Such work records the value it assumed and is used only where the
validated settings agree with it.
"""

from __future__ import annotations

import os

ENV_PREFIX = "MEDIAFLOW_"


def lowered_environment() -> dict[str, str]:
    """The process environment with every name in lower case (variables are matched in any case)."""
    return {name.lower(): value for name, value in os.environ.items()}


def raw_setting(field: str) -> str | None:
    """The unvalidated value of the setting ``field`` (``MEDIAFLOW_<FIELD>``), None when not set."""
    return lowered_environment().get(f"{ENV_PREFIX}{field}".lower())
