"""Testing kit for apps and storage adapters built on crmcore (the ``testing`` extra).

- ``crmcore.testing.strategies``: hypothesis strategies for every model;
  :func:`register_strategies` makes ``st.from_type(Customer)`` use them;
- :class:`StorageContract`: the contract tests a store must pass;
- :class:`StoreStateMachine`: random operations on a store and the in-memory reference;
- ``pytest_plugins = ["crmcore.testing.plugin"]``: store fixtures.
"""

from crmcore.testing.contract import StorageContract
from crmcore.testing.stateful import StoreStateMachine
from crmcore.testing.strategies import register_strategies

__all__ = ["StorageContract", "StoreStateMachine", "register_strategies"]
