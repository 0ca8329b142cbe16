"""Regenerate (or check) statemachines/<example>.asl.json from examples/*.json.

    python -m mediaflow.compiler.golden            # write
    python -m mediaflow.compiler.golden --check    # exit 1 when a golden file drifted
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mediaflow.compiler.asl import BatchOptions, dumps_asl
from mediaflow.compiler.plan import plan_workflow
from mediaflow.validation import validate


def golden_texts(examples: Path) -> dict[str, str]:
    texts = {}
    for path in sorted(examples.glob("*.json")):
        report = validate(path.read_text(encoding="utf-8"))
        if not report.valid or report.definition is None:
            raise SystemExit(f"{path}: invalid: {'; '.join(str(e) for e in report.errors)}")
        plan = plan_workflow(report.definition, report.configs)
        texts[f"{path.stem}.asl.json"] = dumps_asl(plan.compiled.asl)
        if path.stem.startswith("batch-"):
            batch = plan_workflow(report.definition, report.configs, batch=BatchOptions(expected_items=100))
            texts[f"{path.stem}.map.asl.json"] = dumps_asl(batch.compiled.asl)
    return texts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=Path, default=Path("examples"))
    parser.add_argument("--out", type=Path, default=Path("statemachines"))
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    texts = golden_texts(args.examples)
    drifted = []
    for name, text in texts.items():
        target = args.out / name
        if args.check:
            if not target.exists() or target.read_text(encoding="utf-8") != text:
                drifted.append(name)
        else:
            args.out.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    if args.check:
        stale = sorted(p.name for p in args.out.glob("*.asl.json") if p.name not in texts)
        for name in drifted + stale:
            print(f"drifted: {args.out / name}", file=sys.stderr)
        return 1 if drifted or stale else 0
    print(json.dumps({"written": sorted(texts)}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
