"""Testing kit for apps built on crmcore (install the ``testing`` extra).

``crmcore.testing.strategies`` holds hypothesis strategies for every model;
:func:`register_strategies` makes ``st.from_type(Customer)`` use them.
"""

from crmcore.testing.strategies import register_strategies

__all__ = ["register_strategies"]
