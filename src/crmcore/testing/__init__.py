"""Testing kit for apps and storage adapters built on crmcore (the ``testing`` extra).

- :class:`StorageContract`: the contract tests a store must pass;
- :class:`StoreStateMachine`: random operations on a store and the in-memory reference;
- ``pytest_plugins = ["crmcore.testing.plugin"]``: store fixtures.
"""

from crmcore.testing.contract import StorageContract
from crmcore.testing.stateful import StoreStateMachine

__all__ = ["StorageContract", "StoreStateMachine"]
