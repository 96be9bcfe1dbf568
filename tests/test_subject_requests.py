"""Subject requests: a deadline one calendar month after receipt, extendable by two."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmcore.errors import InvalidTransition, ValidationError
from crmcore.ids import is_request_id
from crmcore.subject_requests import RequestKind, SubjectRequest, add_months

moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
)


@given(moments, st.sampled_from(RequestKind))
def test_a_request_is_due_one_calendar_month_after_receipt(
    received: datetime, kind: RequestKind
) -> None:
    request = SubjectRequest.create(kind, received_at=received)
    assert is_request_id(request.id)
    assert request.due_at == add_months(received, 1)
    assert timedelta(days=28) <= request.due_at - received <= timedelta(days=31)
    assert request.due_at.day == received.day or request.due_at.month != received.month
    assert request.is_open
    assert request.deadline == request.due_at


@given(moments, st.sampled_from([1, 2]))
def test_an_extension_moves_the_deadline_at_most_two_months(
    received: datetime, months: int
) -> None:
    request = SubjectRequest.create(RequestKind.ERASURE, received_at=received)
    extended = request.extended(months=months)
    assert extended.deadline == add_months(received, 1 + months)
    assert extended.deadline > request.due_at
    assert extended.deadline <= add_months(received, 3)


def test_the_end_of_january_is_due_at_the_end_of_february() -> None:
    request = SubjectRequest.create(
        RequestKind.ACCESS, received_at=datetime(2024, 1, 31, 12, tzinfo=UTC)
    )
    assert request.due_at == datetime(2024, 2, 29, 12, tzinfo=UTC)


@pytest.mark.parametrize("months", [0, 3, True, "2"])
def test_an_extension_beyond_two_months_is_refused(months: object) -> None:
    request = SubjectRequest.create(RequestKind.ACCESS)
    with pytest.raises(ValidationError) as info:
        request.extended(months=months)  # type: ignore[arg-type]
    assert info.value.paths == ("months",)


def test_an_answered_request_cannot_be_answered_or_extended_again() -> None:
    answered = SubjectRequest.create(RequestKind.ACCESS).answered()
    assert not answered.is_open
    with pytest.raises(InvalidTransition):
        answered.answered()
    with pytest.raises(InvalidTransition):
        answered.extended()


def test_an_answer_before_receipt_is_refused() -> None:
    request = SubjectRequest.create(RequestKind.ACCESS)
    with pytest.raises(ValidationError) as info:
        request.answered(at=request.received_at - timedelta(days=1))
    assert info.value.paths == ("answered_at",)


def test_a_deadline_that_is_not_the_rule_is_refused() -> None:
    request = SubjectRequest.create(RequestKind.ACCESS)
    with pytest.raises(ValidationError) as info:
        SubjectRequest(
            id=request.id,
            kind=request.kind,
            subject_id=None,
            received_at=request.received_at,
            due_at=request.received_at + timedelta(days=90),
        )
    assert info.value.paths == ("due_at",)


def test_the_note_stays_out_of_the_repr() -> None:
    request = SubjectRequest.create(RequestKind.RECTIFICATION, note="Ada says her name is wrong")
    assert "Ada" not in repr(request)


def test_a_naive_receipt_is_refused() -> None:
    with pytest.raises(ValidationError) as info:
        SubjectRequest.create(RequestKind.ACCESS, received_at=datetime(2024, 1, 1))
    assert info.value.paths == ("received_at",)
