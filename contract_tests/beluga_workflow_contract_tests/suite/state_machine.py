"""A hypothesis state machine: random save/load/list/delete sequences against a model.

The model is a dict. After every step the store must agree with it: load
returns the modelled state, list returns exactly the modelled states matching
the filter (at most ``limit``). Hypothesis shrinks a failure to the shortest
sequence of calls that shows it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, run_state_machine_as_test
from hypothesis.stateful import rule as step

from beluga_workflow import (
    EventType,
    HistoryEvent,
    WorkflowFilter,
    WorkflowState,
    WorkflowStatus,
    WorkflowStore,
)
from beluga_workflow_contract_tests.compare import first_difference
from beluga_workflow_contract_tests.context import ContractRun
from beluga_workflow_contract_tests.rule import sync_rule
from beluga_workflow_contract_tests.violations import check, fail

__all__ = ["StateMachineRules"]

ID_SUFFIXES = ["a", "b", "a/b", "a_b", "A", "é", "e\u0301", " ", "🐋", "x" * 200]
STEPS = 25

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)
moments = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)
events = st.builds(
    HistoryEvent,
    id=st.integers(min_value=0, max_value=2**40),
    type=st.sampled_from(EventType),
    timestamp=moments,
    result=json_values,
)
states = st.builds(
    WorkflowState,
    workflow_id=st.just("placeholder"),
    status=st.sampled_from(WorkflowStatus),
    input=json_values,
    result=json_values,
    error=st.none() | st.text(max_size=10),
    history=st.lists(events, max_size=4),
    created_at=moments,
    updated_at=moments,
    version=st.integers(min_value=0, max_value=2**31),
)


def machine_for(run: ContractRun, store: WorkflowStore) -> type[RuleBasedStateMachine]:
    """A state machine class driving ``store`` on ``run``'s loop."""

    class StoreAgainstModel(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            run.new_prefix()
            self.model: dict[str, WorkflowState] = {}
            self.ids = {suffix: run.id(suffix) for suffix in ID_SUFFIXES}

        @step(suffix=st.sampled_from(ID_SUFFIXES), state=states, mutate=st.booleans())
        def save(self, suffix: str, state: WorkflowState, mutate: bool) -> None:
            state.workflow_id = self.ids[suffix]
            self.model[state.workflow_id] = state.model_copy(deep=True)
            run.call(store.save(state))
            if mutate:  # the caller keeps using its object; the store must not care
                state.input = ["changed after save"]
                state.history.clear()

        @step(suffix=st.sampled_from(ID_SUFFIXES))
        def load(self, suffix: str) -> None:
            workflow_id = self.ids[suffix]
            loaded = run.call(store.load(workflow_id))
            expected = self.model.get(workflow_id)
            if expected is None:
                check(
                    loaded is None, f"load({workflow_id!r}) returned a state never saved or deleted"
                )
            else:
                check(loaded is not None, f"load({workflow_id!r}) returned None after save")
                difference = first_difference(expected, loaded)
                check(difference is None, f"load({workflow_id!r}) differs: {difference}")

        @step(suffix=st.sampled_from(ID_SUFFIXES))
        def delete(self, suffix: str) -> None:
            workflow_id = self.ids[suffix]
            run.call(store.delete(workflow_id))
            self.model.pop(workflow_id, None)

        @step(status=st.none() | st.sampled_from(WorkflowStatus), limit=st.integers(0, 6))
        def list_states(self, status: WorkflowStatus | None, limit: int) -> None:
            self._check_list(status, limit)

        def _check_list(self, status: WorkflowStatus | None, limit: int) -> None:
            everything = run.call(store.list(WorkflowFilter(status=status)))
            expected = {i: s for i, s in self.model.items() if status is None or s.status is status}
            mine = {s.workflow_id: s for s in everything if s.workflow_id in self.ids.values()}
            check(
                sorted(mine) == sorted(expected),
                f"list(status={status}) returned ids {sorted(mine)}, expected {sorted(expected)}",
            )
            for workflow_id, state in mine.items():
                difference = first_difference(expected[workflow_id], state)
                check(difference is None, f"list(status={status}) entry differs: {difference}")
            if limit:
                limited = run.call(store.list(WorkflowFilter(status=status, limit=limit)))
                check(
                    len(limited) == min(limit, len(everything)),
                    f"list(status={status}, limit={limit}) returned {len(limited)} states "
                    f"of {len(everything)}",
                )
                wrong = [s for s in limited if status is not None and s.status is not status]
                check(not wrong, f"list(status={status}, limit={limit}) returned another status")

        def teardown(self) -> None:
            for workflow_id in self.model:
                run.call(store.delete(workflow_id))

    return StoreAgainstModel


class StateMachineRules:
    """SPEC 4 as a whole, on random operation sequences."""

    @sync_rule(
        "model.state_machine",
        "any sequence of save, load, list and delete agrees with a dict-based model",
    )
    def test_random_operation_sequences(self, run: ContractRun) -> None:
        store = run.call(run.open())
        machine = machine_for(run, store)
        try:
            run_state_machine_as_test(
                machine,
                settings=settings(
                    max_examples=run.max_examples,
                    stateful_step_count=STEPS,
                    deadline=None,
                    database=None,
                    suppress_health_check=list(HealthCheck),
                    print_blob=False,
                    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
                ),
            )
        except Exception as exc:
            note: Any = getattr(exc, "__notes__", None)
            steps = "\n".join(note) if note else ""
            if steps:
                fail(f"{exc}\n{steps}")
            raise
