"""crmcore.storage.front: the public helpers every store (and a third-party one) stands on."""

from __future__ import annotations

import inspect

import pytest
from hypothesis import given
from hypothesis import strategies as st

import crmcore.storage.front as front
from crmcore.errors import DataError, DuplicateRecord, NotFound, StorageError, VersionConflict


def test_every_public_helper_is_exported_and_documented() -> None:
    for name in front.__all__:
        value = getattr(front, name)
        if inspect.isfunction(value) or inspect.isclass(value):
            assert inspect.getdoc(value), f"{name} has no docstring"


def test_errors_are_worded_with_the_noun_and_carry_the_versions() -> None:
    errors = front.Errors("interaction")
    assert isinstance(errors.not_found(), NotFound)
    assert "an interaction" in str(errors.duplicate())
    assert isinstance(errors.duplicate(), DuplicateRecord)
    assert not isinstance(errors.duplicate(), StorageError)
    assert isinstance(errors.unreadable(), DataError)
    conflict = errors.conflict(1, 3)
    assert isinstance(conflict, VersionConflict)
    assert (conflict.expected, conflict.actual) == (1, 3)
    assert errors.check_version(2, None) == 2
    assert errors.check_version(2, 2) == 2
    with pytest.raises(NotFound):
        errors.check_version(None, 1)
    with pytest.raises(VersionConflict):
        errors.check_version(2, 1)
    with pytest.raises(NotFound):
        errors.found(None)


@given(st.integers(0, 30), st.integers(1, 10) | st.none())
def test_page_of_pages_rows_and_its_cursor_resumes_after_the_last(
    count: int, size: int | None
) -> None:
    rows = [(i * 10, f"id{i:03}", f"record {i}") for i in range(count)]
    fetched = rows if size is None else rows[: size + 1]
    page = front.page_of(fetched, size, "t", lambda rs: [r[2] for r in rs])
    shown = rows if size is None else rows[:size]
    assert page.items == tuple(r[2] for r in shown)
    if size is None or count <= size:
        assert page.next_cursor is None
    else:
        assert page.next_cursor is not None
        assert front.decode_cursor(page.next_cursor, "t", int) == (shown[-1][0], shown[-1][1])
