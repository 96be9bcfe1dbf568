"""Helpers every part of the contract kit uses: reading all pages, comparing, running draws."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmcore.serialization import to_dict
from crmcore.storage.protocols import Store, SupportsWorkItems, WorkStore

T = TypeVar("T")


def collect(
    read: Callable[..., Any],
    *args: Any,
    between: Callable[[], None] | None = None,
    **kwargs: Any,
) -> list[str]:
    """Read every page of ``read(*args, cursor=..., **kwargs)``; return the ids in order."""
    seen: list[str] = []
    cursor = None
    for _ in range(1_000):
        page = read(*args, cursor=cursor, **kwargs)
        seen.extend(r.id for r in page.items)
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor
        if between is not None:
            between()
    raise AssertionError("pagination did not end after 1,000 pages")


def same(read: object, stored: object) -> None:
    """``read`` is ``stored``: equal, and with the same payload to the last digit.

    Equality leaves out what identity does not need (a phone's raw text, an
    amount's trailing zeros); the payload holds everything.
    """
    assert read == stored
    assert to_dict(read) == to_dict(stored)


def check_every(strategy: st.SearchStrategy[T], check: Callable[[T], None]) -> None:
    """Run ``check`` on examples of ``strategy`` under the settings current *now*.

    The property tests take the adapter's ``store`` fixture and run hypothesis
    inside: settings built at call time follow the profile the adapter's test
    suite loaded (a ``@settings`` decorator would freeze whatever profile was
    active when this module was imported), and the fixture is one store for all
    examples, which is safe because every example draws new ids.
    """
    given(strategy)(check)()


def require_work_items(contract: object, store: Store) -> WorkStore:
    """``store`` as a :class:`WorkStore`, or skip the check visibly.

    Skipped when the contract's ``supports_work_items`` flag is ``False`` (the
    adapter says it keeps none) or the store does not implement
    :class:`SupportsWorkItems`: never for a store that claims them.
    """
    if not getattr(contract, "supports_work_items", True):
        pytest.skip("the adapter does not claim work items (supports_work_items = False)")
    if not isinstance(store, SupportsWorkItems):
        pytest.skip("the store keeps no opportunities, tasks or cases (SupportsWorkItems)")
    return store
