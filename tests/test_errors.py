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
