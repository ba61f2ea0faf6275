"""Big states come back whole: megabytes of payload, ten thousand events.

These rules are the slowest, so they run after every cheaper rule.
"""

from __future__ import annotations

from beluga_workflow import WorkflowStatus
from beluga_workflow_contract_tests.context import ContractRun
from beluga_workflow_contract_tests.rule import rule
from beluga_workflow_contract_tests.samples import sample_state
from beluga_workflow_contract_tests.suite.fidelity import round_trip

__all__ = ["VolumeRules"]

LARGE_TEXT_CHARS = 4 * 1024 * 1024
LONG_HISTORY = 10_000


class VolumeRules:
    """SPEC 4: round-trip fidelity of large payloads (MBs) and long histories."""

    @rule("fidelity.large_payload", "payloads of several megabytes come back whole")
    async def test_large_payload(self, run: ContractRun) -> None:
        chunk = "beluga 🐋 payload "
        text = chunk * (LARGE_TEXT_CHARS // len(chunk))
        numbers = [index * 1.5 if index % 2 else index for index in range(100_000)]
        state = sample_state(
            run.id("large"),
            1,
            status=WorkflowStatus.COMPLETED,
            input={"text": text},
            result=numbers,
        )
        await round_trip(run, [state], through_list=False)

    @rule("fidelity.long_history", "a history of 10,000 events comes back whole and in order")
    async def test_long_history(self, run: ContractRun) -> None:
        state = sample_state(run.id("long"), 1, events=LONG_HISTORY)
        await round_trip(run, [state], through_list=False)
