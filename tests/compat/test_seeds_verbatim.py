"""The requests the compatibility tests send are the documents' own text: each one is found, character for
character (line ends aside), in the product document it comes from. The documents live in shared/seeds
beside the checkout (MEDIAFLOW_SEEDS_DIR may point elsewhere); without them this check is skipped."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.compat import convertly_docs, mindia_docs

pytestmark = pytest.mark.compat
ROOT = Path(__file__).resolve().parents[2]
SEEDS = Path(os.environ.get("MEDIAFLOW_SEEDS_DIR") or ROOT.parent / "shared" / "seeds")
CASES = [
    ("000", convertly_docs.WORKFLOW_PAYLOAD), ("000", convertly_docs.RUN_FILE),
    ("001", convertly_docs.CREATE_JOB), ("001", convertly_docs.POLL_JOB), ("001", convertly_docs.CANCEL_JOB),
    ("003", mindia_docs.CREATE), ("003", mindia_docs.TRIGGER), ("003", mindia_docs.LIST.split(" ", 1)[1]),
    ("003", mindia_docs.GET.split(" ", 1)[1]), ("003", mindia_docs.UPDATE.split(" ", 1)[1]),
    ("003", mindia_docs.DELETE.split(" ", 1)[1]), ("003", mindia_docs.EXECUTIONS.split(" ", 1)[1]),
    ("003", mindia_docs.EXECUTION.split(" ", 1)[1]),
]


def _document(number: str) -> str:
    found = sorted(SEEDS.glob(f"{number}_*.txt")) if SEEDS.is_dir() else []
    if not found:
        pytest.skip(f"product document {number} not found under {SEEDS}")
    return found[0].read_text().replace("\r\n", "\n")


@pytest.mark.parametrize(("number", "text"), CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_a_sent_request_is_the_documents_text(number: str, text: str) -> None:
    assert text in _document(number)


def test_every_documented_convertly_workflow_endpoint_is_served() -> None:
    from mediaflow.api.compat import convertly

    served = {(method, rule.replace("<workflow_id>", "{id}")) for method, rule, _ in convertly.router.scopes}
    assert set(convertly_docs.ENDPOINTS) <= served
