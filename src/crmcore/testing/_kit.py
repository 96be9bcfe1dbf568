"""Helpers every part of the contract kit uses: reading all pages, comparing, running draws."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import given
from hypothesis import strategies as st

from crmcore.serialization import to_dict

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
