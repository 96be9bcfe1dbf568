"""Testing kit for apps and storage adapters built on crmcore (the ``testing`` extra).

- ``crmcore.testing.strategies``: hypothesis strategies for every model; installing
  crmcore registers them with hypothesis, so ``st.from_type(Customer)`` just works;
- :class:`StorageContract` (with :class:`MergeContract` and :class:`WorkItemsContract`):
  the contract tests a store must pass; :class:`IntegrityContract`, its referential
  integrity; :class:`PrivacyContract` those of
  :class:`~crmcore.storage.SupportsPrivacy` (audit trail, suppressions, requests);
  :class:`ErasureContract` those of erasure and restriction (down to the bytes of
  the adapter's files);
- :class:`StoreStateMachine` and :class:`MergeStoreStateMachine`: random operations on a
  store and the in-memory reference;
- ``crmcore.testing.plugin``: store fixtures, loaded by pytest through its entry point.

Names are imported on first use: ``crmcore.testing.strategies`` must import
without pytest, and hypothesis runs :func:`_hypothesis_setup_hook` from here
whenever it is imported, so this package itself imports nothing heavy.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crmcore.testing.contract import StorageContract
    from crmcore.testing.erasure_contract import ErasureContract
    from crmcore.testing.integrity_contract import IntegrityContract
    from crmcore.testing.merge_contract import MergeContract
    from crmcore.testing.merge_stateful import MergeStoreStateMachine
    from crmcore.testing.privacy_contract import PrivacyContract
    from crmcore.testing.stateful import StoreStateMachine
    from crmcore.testing.strategies import register_strategies
    from crmcore.testing.work_contract import WorkItemsContract

_HOMES = {
    "ErasureContract": "crmcore.testing.erasure_contract",
    "IntegrityContract": "crmcore.testing.integrity_contract",
    "MergeContract": "crmcore.testing.merge_contract",
    "MergeStoreStateMachine": "crmcore.testing.merge_stateful",
    "PrivacyContract": "crmcore.testing.privacy_contract",
    "StorageContract": "crmcore.testing.contract",
    "StoreStateMachine": "crmcore.testing.stateful",
    "WorkItemsContract": "crmcore.testing.work_contract",
    "register_strategies": "crmcore.testing.strategies",
}

__all__ = [
    "ErasureContract",
    "IntegrityContract",
    "MergeContract",
    "MergeStoreStateMachine",
    "PrivacyContract",
    "StorageContract",
    "StoreStateMachine",
    "WorkItemsContract",
    "register_strategies",
]

# The kit's modules whose failing asserts an adapter author reads: pytest must
# rewrite them, which it can only do before they are first imported.
_ASSERTING_MODULES = (
    "crmcore.testing.contract",
    "crmcore.testing.integrity_contract",
    "crmcore.testing.merge_contract",
    "crmcore.testing.stateful",
    "crmcore.testing.merge_stateful",
    "crmcore.testing.work_contract",
    "crmcore.testing.privacy_contract",
    "crmcore.testing.erasure_contract",
    "crmcore.testing._kit",
)


def _register_assert_rewrite() -> None:
    """Ask pytest, when it is running, to rewrite the kit's asserts."""
    pytest = sys.modules.get("pytest")
    if pytest is None:
        return  # not under pytest: nothing would rewrite them anyway
    pending = [name for name in _ASSERTING_MODULES if name not in sys.modules]
    if pending:
        pytest.register_assert_rewrite(*pending)


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    _register_assert_rewrite()
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])


def _hypothesis_setup_hook() -> None:
    """Register the strategies with hypothesis (run by hypothesis' entry point).

    Hypothesis calls this whenever it is imported, so it only registers
    resolvers: the strategies module is imported the first time one is used.
    """
    from crmcore.testing._registry import register_lazily

    register_lazily()
