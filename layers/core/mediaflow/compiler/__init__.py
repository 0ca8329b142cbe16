"""definition -> Amazon States Language, as a pure function (no I/O, deterministic bytes)."""

from mediaflow.compiler.asl import (
    BatchOptions,
    Compiled,
    CompiledTask,
    compile_definition,
    compile_workflow,
    dumps_asl,
)
from mediaflow.compiler.plan import Plan, plan_workflow

__all__ = ["BatchOptions", "Compiled", "CompiledTask", "Plan", "compile_definition", "compile_workflow", "dumps_asl",
           "plan_workflow"]
