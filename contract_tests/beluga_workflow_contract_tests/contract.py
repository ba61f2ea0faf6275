"""``StoreContract``: subclass it in a test module to check a store against every rule."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, ClassVar

import pytest

from beluga_workflow_contract_tests.capabilities import declared_capabilities
from beluga_workflow_contract_tests.context import ContractRun
from beluga_workflow_contract_tests.names import NOTE_PROPERTY
from beluga_workflow_contract_tests.suite.append import AppendRules
from beluga_workflow_contract_tests.suite.bad_input import BadInputRules
from beluga_workflow_contract_tests.suite.compare_and_append import CompareAndAppendRules
from beluga_workflow_contract_tests.suite.concurrency import ConcurrencyRules
from beluga_workflow_contract_tests.suite.deleting import DeleteRules
from beluga_workflow_contract_tests.suite.durability import DurabilityRules
from beluga_workflow_contract_tests.suite.engine_records import EngineRecordRules
from beluga_workflow_contract_tests.suite.fidelity import FidelityRules
from beluga_workflow_contract_tests.suite.ids import IdRules
from beluga_workflow_contract_tests.suite.isolation import IsolationRules
from beluga_workflow_contract_tests.suite.leases import LeaseRules
from beluga_workflow_contract_tests.suite.lifecycle import LifecycleRules
from beluga_workflow_contract_tests.suite.listing import ListRules
from beluga_workflow_contract_tests.suite.live_listing import LiveListingRules
from beluga_workflow_contract_tests.suite.namespaces import NamespaceRules
from beluga_workflow_contract_tests.suite.optimistic import OptimisticConcurrencyRules
from beluga_workflow_contract_tests.suite.ordering import OrderingRules
from beluga_workflow_contract_tests.suite.queue_dispatch import QueueDispatchRules
from beluga_workflow_contract_tests.suite.retention import RetentionRules
from beluga_workflow_contract_tests.suite.save_load import SaveLoadRules
from beluga_workflow_contract_tests.suite.state_machine import StateMachineRules
from beluga_workflow_contract_tests.suite.status_index import StatusIndexRules
from beluga_workflow_contract_tests.suite.volume import VolumeRules
from beluga_workflow_contract_tests.suite.watch import WatchRules
from beluga_workflow_contract_tests.suite.watch_recovery import WatchRecoveryRules

__all__ = ["StoreContract"]

MISSING_FACTORY = """\
{cls} subclasses StoreContract but no `store_factory` fixture is defined.
Add one to the class (or to a conftest.py), returning an async callable that opens
a NEW store on the SAME backend namespace, fresh for each test:

    @pytest.fixture
    def store_factory(self, tmp_path):
        async def open_one():
            return MyStore(...)
        return open_one
"""


# pytest runs inherited tests base by base in reverse MRO order, so the basic
# rules come last here to run first: a defect is then reported by the most
# specific rule that shows it.
class StoreContract(
    QueueDispatchRules,
    RetentionRules,
    WatchRecoveryRules,
    WatchRules,
    LeaseRules,
    StateMachineRules,
    VolumeRules,
    LiveListingRules,
    StatusIndexRules,
    EngineRecordRules,
    CompareAndAppendRules,
    AppendRules,
    OptimisticConcurrencyRules,
    OrderingRules,
    NamespaceRules,
    DurabilityRules,
    LifecycleRules,
    ConcurrencyRules,
    BadInputRules,
    IdRules,
    FidelityRules,
    IsolationRules,
    DeleteRules,
    ListRules,
    SaveLoadRules,
):
    """The store contract (SPEC section 4) as a pytest test class to subclass.

    Provide the fixture ``store_factory`` (an async callable opening a new store
    on a namespace that is fresh for each test) and, optionally, ``store_spec``
    (an :func:`~beluga_workflow.open_store` argument for the same namespace, so
    durability is also checked from another OS process), ``store_poison``
    (a callable ``(store, workflow_id)``, async or not, writing where ``store``
    keeps its states a record for that id which the store cannot decode, so the
    suite checks that such a record does not stop ``list``; without it that
    rule is skipped, saying so) and ``namespace_factory`` (a callable taking a
    suffix and opening a store in the test's namespace extended by it, so
    stores in namespaces that nest are checked to never meet; see
    :data:`~.context.NamespaceFactory`) and, for a store that talks to a server,
    ``outage_factory`` (as for :class:`~.server_contract.ServerStoreContract`:
    a store reaching its server through an outage handle, so a watcher is
    checked to miss nothing when its connection is cut and restored). Set ``provider_name`` to the
    registered provider's name and the capabilities checked are those of its
    plugin record (or set ``capabilities`` to override them); rules of other
    capabilities are skipped with the capability named.
    """

    provider_name: ClassVar[str | None] = None
    """The registered provider whose record (``StoreProvider.capabilities``) says what the
    store declares; with it, the capabilities checked cannot drift from what users are told."""

    capabilities: ClassVar[Collection[str] | None] = None
    """Capability names the store declares (see :class:`beluga_workflow.Capability`), to
    override the provider record's; ``None`` takes the record's, or none without
    ``provider_name``."""

    max_examples: ClassVar[int] = 25
    """Examples the state-machine rule generates; lower it for slow backends."""

    rule_timeout: ClassVar[float] = 120.0
    """Seconds one rule may take before it fails as hung."""

    @pytest.fixture
    def contract_capabilities(self) -> Collection[str]:
        """The declared capabilities: ``capabilities`` if set, else the provider record's."""
        return declared_capabilities(type(self))

    @pytest.fixture
    def contract_shared_namespace(self) -> bool:
        """Whether the namespace may hold other data (only the ready-made class says so)."""
        return False

    @pytest.fixture
    def contract_setup_problem(self) -> str | None:
        """Why the suite cannot run at all (the ready-made class reports a bad --beluga-store)."""
        return None

    @pytest.fixture
    def contract_run(
        self,
        request: pytest.FixtureRequest,
        contract_capabilities: Collection[str],
        contract_shared_namespace: bool,
        contract_setup_problem: str | None,
    ) -> ContractRun:
        """The harness every rule receives."""
        factory, problem = None, contract_setup_problem
        try:
            factory = request.getfixturevalue("store_factory")
        except pytest.FixtureLookupError:
            problem = problem or MISSING_FACTORY.format(cls=type(self).__name__)
        else:
            if not callable(factory) and problem is None:
                problem = f"the store_factory fixture returned {factory!r}, which is not callable"
        spec: Any
        try:
            spec = request.getfixturevalue("store_spec")
        except pytest.FixtureLookupError:
            spec = None
        poison: Any
        try:
            poison = request.getfixturevalue("store_poison")
        except pytest.FixtureLookupError:
            poison = None
        namespaces: Any
        try:
            namespaces = request.getfixturevalue("namespace_factory")
        except pytest.FixtureLookupError:
            namespaces = None
        outages: Any
        try:
            outages = request.getfixturevalue("outage_factory")
        except pytest.FixtureLookupError:
            outages = None
        examples = request.config.getoption("beluga_examples", default=None)
        node = request.node

        def note(text: str) -> None:
            node.user_properties.append((NOTE_PROPERTY, text))

        return ContractRun(
            factory=factory,
            capabilities=contract_capabilities,
            store_spec=spec,
            poison=poison,
            namespace_factory=namespaces,
            outage_factory=outages,
            max_examples=int(examples) if examples else self.max_examples,
            timeout=self.rule_timeout,
            shared_namespace=contract_shared_namespace,
            setup_problem=problem,
            note=note,
        )
