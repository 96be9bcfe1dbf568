"""The exception hierarchy and ValidationError's problem list."""

from __future__ import annotations

import pytest

import crmcore
from crmcore import (
    CrmError,
    DuplicateRecord,
    InvalidTransition,
    NotFound,
    StorageError,
    ValidationError,
    VersionConflict,
)
from crmcore.errors import join_path


@pytest.mark.parametrize(
    "cls",
    [ValidationError, NotFound, VersionConflict, InvalidTransition, DuplicateRecord, StorageError],
)
def test_every_error_is_a_crm_error(cls: type[Exception]) -> None:
    assert issubclass(cls, CrmError)
    assert getattr(crmcore, cls.__name__) is cls


def test_builtin_bases_callers_already_catch() -> None:
    assert issubclass(ValidationError, ValueError)
    assert issubclass(NotFound, LookupError)


def test_validation_error_carries_every_problem() -> None:
    exc = ValidationError(
        [("emails[1]", "is not a valid email address"), ("name.family", "must be text")]
    )
    assert exc.problems == (
        ("emails[1]", "is not a valid email address"),
        ("name.family", "must be text"),
    )
    assert exc.paths == ("emails[1]", "name.family")
    assert list(exc) == list(exc.problems)
    assert str(exc) == "emails[1]: is not a valid email address; name.family: must be text"


def test_validation_error_shorthands() -> None:
    assert ValidationError("phone", "is not a phone number").problems == (
        ("phone", "is not a phone number"),
    )
    assert ValidationError("phone").problems == (("phone", "is invalid"),)
    assert ValidationError([]).problems == (("", "is invalid"),)
    assert str(ValidationError([("", "the document is too large")])) == "the document is too large"


def test_prefixed_builds_paths() -> None:
    exc = ValidationError([("family", "must be text"), ("", "is invalid"), ("[2]", "bad")])
    assert exc.prefixed("name").paths == ("name.family", "name", "name[2]")
    assert exc.prefixed("").paths == exc.paths


@pytest.mark.parametrize(
    ("prefix", "path", "joined"),
    [
        ("emails", "[1]", "emails[1]"),
        ("emails[1]", "address", "emails[1].address"),
        ("", "name", "name"),
        ("name", "", "name"),
        ("", "", ""),
    ],
)
def test_join_path(prefix: str, path: str, joined: str) -> None:
    assert join_path(prefix, path) == joined


def test_version_conflict_and_duplicate_record_carry_details() -> None:
    conflict = VersionConflict("stale write", expected=3, actual=4)
    assert (conflict.expected, conflict.actual) == (3, 4)
    duplicate = DuplicateRecord("already stored", matches=["m1", "m2"])
    assert duplicate.matches == ("m1", "m2")
    assert DuplicateRecord("x").matches == ()


def test_validation_errors_can_be_caught_as_value_errors() -> None:
    with pytest.raises(ValueError, match="email: is not a valid email address"):
        crmcore.EmailAddress.parse("nope")


def _every_error() -> list[Exception]:
    from crmcore.errors import (
        DataError,
        DuplicateDetected,
        IntegrityError,
        OperationalError,
    )
    from crmcore.io import ColumnError, InputError
    from crmcore.merge import UnmergeConflict

    return [
        CrmError("base"),
        ValidationError([("emails[1]", "is not a valid email address"), ("", "is invalid")]),
        ValidationError("name.family", "must not be blank"),
        ColumnError("city", "Town", "unknown column 'Town'"),
        NotFound("no record has that id"),
        VersionConflict("stale write", expected=3, actual=4),
        InvalidTransition("a lost lead cannot be converted"),
        DuplicateRecord("already stored", matches=["m1", "m2"]),
        DuplicateDetected("looks like a stored person", matches=[("a", 0.9)]),
        StorageError("backend failed"),
        OperationalError("database is locked"),
        IntegrityError("constraint"),
        DataError("corrupt"),
        InputError("contacts.csv: no such file"),
        UnmergeConflict("changed since", record_ids=["r1"], fields=["emails"], later_merges=["m"]),
    ]


@pytest.mark.parametrize("error", _every_error(), ids=lambda e: type(e).__name__)
def test_every_error_pickles_round_trip_exactly(error: Exception) -> None:
    import copy
    import pickle

    error.add_note("a note survives too")
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        back = pickle.loads(pickle.dumps(error, protocol))
        assert type(back) is type(error)
        assert str(back) == str(error)
        assert back.args == error.args
        assert vars(back) == vars(error)
    assert vars(copy.copy(error)) == vars(error)
    assert str(copy.deepcopy(error)) == str(error)


def test_a_pickled_validation_error_keeps_its_problems() -> None:
    import pickle

    error = ValidationError([("emails[1]", "is not a valid email address")])
    back = pickle.loads(pickle.dumps(error))
    assert str(back) == "emails[1]: is not a valid email address"
    assert back.problems == error.problems
