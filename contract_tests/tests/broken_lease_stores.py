"""Stores that each break one ``lease.*`` rule (see ``broken_stores.py`` for the idea)."""

from __future__ import annotations

import asyncio

from beluga_workflow import WorkflowFilter, WorkflowState
from beluga_workflow.ownership import same_holder
from beluga_workflow.validation import require_append
from contract_tests.tests.broken_stores import ContractStore


def _to_milliseconds(state: WorkflowState) -> WorkflowState:
    lease = state.lease
    if lease is None:
        return state
    cut = lease.expires_at.replace(microsecond=lease.expires_at.microsecond // 1000 * 1000)
    return state.model_copy(update={"lease": lease.model_copy(update={"expires_at": cut})})


class LeaseExpiryInMilliseconds(ContractStore):
    """Keeps a lease's expiry to the millisecond (a column of too coarse a type)."""

    breaks = ("lease.roundtrip",)

    async def save(self, state: WorkflowState) -> None:
        await super().save(_to_milliseconds(state))

    async def compare_and_save(self, state: WorkflowState, expected_version: int) -> int:
        return await super().compare_and_save(_to_milliseconds(state), expected_version)

    async def append(self, state: WorkflowState, new_events: int) -> None:
        await super().append(_to_milliseconds(state), new_events)

    async def compare_and_append(
        self, state: WorkflowState, new_events: int, expected_version: int
    ) -> int:
        return await super().compare_and_append(
            _to_milliseconds(state), new_events, expected_version
        )


class ListLeavesLeaseOut(ContractStore):
    """Lists states without their lease (a list query that does not read that column)."""

    breaks = ("lease.roundtrip",)

    async def list(self, filter: WorkflowFilter | None = None) -> list[WorkflowState]:
        states = await super().list(filter)
        for state in states:
            state.lease = None
        return states


class RenewalKeepsStoredExpiry(ContractStore):
    """A head-only write by the lease's own holder keeps the stored expiry ("same lease")."""

    breaks = ("lease.head_only_write",)

    async def compare_and_append(
        self, state: WorkflowState, new_events: int, expected_version: int
    ) -> int:
        stored = self._states.get(state.workflow_id)
        if new_events == 0 and stored is not None and same_holder(stored.lease, state.lease):
            state = state.model_copy(update={"lease": stored.lease})
        return await super().compare_and_append(state, new_events, expected_version)


class RacyClaim(ContractStore):
    """A head-only write that changes the lease's owner checks, yields, then writes."""

    breaks = ("lease.one_claim_wins",)

    async def compare_and_append(
        self, state: WorkflowState, new_events: int, expected_version: int
    ) -> int:
        kept = require_append(state, new_events)
        self._check_open()
        stored = self._states.get(state.workflow_id)
        claim = (
            new_events == 0
            and stored is not None
            and state.lease is not None
            and (stored.lease is None or stored.lease.owner != state.lease.owner)
        )
        if not claim or stored is None or stored.version != expected_version:
            return await super().compare_and_append(state, new_events, expected_version)
        if len(stored.history) != kept:
            return await super().compare_and_append(state, new_events, expected_version)
        await asyncio.sleep(0)
        self._states[state.workflow_id] = state.model_copy(
            update={"version": expected_version + 1}, deep=True
        )
        self._changed(state.workflow_id)
        return expected_version + 1


class ClearedLeaseComesBack(ContractStore):
    """A write without a lease keeps the stored one (the lease is merged, not replaced)."""

    breaks = ("lease.clear_sticks",)

    def _kept(self, state: WorkflowState) -> WorkflowState:
        if not isinstance(state, WorkflowState) or not isinstance(state.workflow_id, str):
            return state  # bad input: let the store refuse it
        stored = self._states.get(state.workflow_id)
        if state.lease is None and stored is not None and stored.lease is not None:
            return state.model_copy(update={"lease": stored.lease})
        return state

    async def save(self, state: WorkflowState) -> None:
        await super().save(self._kept(state))

    async def compare_and_save(self, state: WorkflowState, expected_version: int) -> int:
        return await super().compare_and_save(self._kept(state), expected_version)

    async def append(self, state: WorkflowState, new_events: int) -> None:
        await super().append(self._kept(state), new_events)

    async def compare_and_append(
        self, state: WorkflowState, new_events: int, expected_version: int
    ) -> int:
        return await super().compare_and_append(self._kept(state), new_events, expected_version)


BROKEN_LEASE_STORES: list[type[ContractStore]] = [
    LeaseExpiryInMilliseconds,
    ListLeavesLeaseOut,
    RenewalKeepsStoredExpiry,
    RacyClaim,
    ClearedLeaseComesBack,
]
