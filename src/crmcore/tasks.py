"""Tasks: planned follow-ups (a call, an email, a meeting, a to-do) with a due time.

A task is about one record (a customer, a lead, an opportunity or a case,
told apart by the id's prefix) and moves through a small state machine
declared as data, :data:`TASK_TRANSITIONS`.
"""

from __future__ import annotations

import enum
import types
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Final

import attrs

from crmcore._validation import Problems, enum_member, utcnow
from crmcore._work import check_description, check_work_fields, moment, parse_work_fields
from crmcore.errors import InvalidTransition, ValidationError
from crmcore.ids import (
    InteractionId,
    TaskId,
    is_case_id,
    is_customer_id,
    is_lead_id,
    is_opportunity_id,
    is_task_id,
    is_valid_id,
    new_task_id,
)
from crmcore.values import CustomFields, clean_text, optional_text

__all__ = ["TASK_TRANSITIONS", "Priority", "Task", "TaskKind", "TaskStatus", "is_work_subject"]


class TaskKind(enum.Enum):
    """What a task is: a call to make, an email to write, a meeting, a to-do."""

    CALL = "call"
    EMAIL = "email"
    MEETING = "meeting"
    TODO = "todo"


class TaskStatus(enum.Enum):
    """Where a task stands: ``open``, then ``done`` or ``cancelled`` (both can reopen)."""

    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"

    def can_become(self, target: TaskStatus) -> bool:
        """Whether :data:`TASK_TRANSITIONS` allows moving from this status to ``target``."""
        return target in TASK_TRANSITIONS[self]


class Priority(enum.Enum):
    """How urgent a task or a support case is, lowest first."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"

    @property
    def rank(self) -> int:
        """Position from ``LOW`` (0) to ``URGENT`` (3), for sorting."""
        return _PRIORITY_ORDER.index(self)


_PRIORITY_ORDER: Final = tuple(Priority)

TASK_TRANSITIONS: Final[Mapping[TaskStatus, frozenset[TaskStatus]]] = types.MappingProxyType(
    {
        TaskStatus.OPEN: frozenset({TaskStatus.DONE, TaskStatus.CANCELLED}),
        TaskStatus.DONE: frozenset({TaskStatus.OPEN}),
        TaskStatus.CANCELLED: frozenset({TaskStatus.OPEN}),
    }
)
"""The task state machine: which status each status may move to."""


def is_work_subject(value: object) -> bool:
    """Whether ``value`` is the id of what a task can be about.

    A customer, a lead, an opportunity or a support case.
    """
    return (
        is_customer_id(value)
        or is_lead_id(value)
        or is_opportunity_id(value)
        or (is_case_id(value))
    )


@attrs.frozen(repr=False)
class Task:
    """A planned follow-up, assigned to someone, due at a (timezone-aware) time.

    ``completed_at`` and ``interaction_id`` (the interaction that did the
    task) are set by :meth:`complete` and only on a done task; ``about_id``
    names the customer, lead, opportunity or case the task is about.
    """

    id: TaskId
    title: str
    kind: TaskKind = TaskKind.TODO
    status: TaskStatus = TaskStatus.OPEN
    priority: Priority = Priority.NORMAL
    due_at: datetime | None = None
    assignee: str | None = None
    about_id: str | None = None
    description: str | None = None
    completed_at: datetime | None = None
    interaction_id: InteractionId | None = None
    tags: frozenset[str] = frozenset()
    custom_fields: CustomFields = CustomFields.EMPTY
    version: int = 0
    created_at: datetime = attrs.field(factory=utcnow)
    updated_at: datetime = attrs.field(factory=utcnow)

    def __attrs_post_init__(self) -> None:
        problems = Problems()
        if not is_task_id(self.id):
            problems.add("id", "must be a task id")
        problems.set(self, "title", clean_text, self.title, "title", max_length=300)
        for field, kind in (("kind", TaskKind), ("status", TaskStatus), ("priority", Priority)):
            if not isinstance(getattr(self, field), kind):
                problems.add(field, f"must be a {kind.__name__}")
        if self.due_at is not None:
            problems.utc(self, "due_at")
        problems.set(self, "assignee", optional_text, self.assignee, "assignee", max_length=200)
        if self.about_id is not None and not is_work_subject(self.about_id):
            problems.add("about_id", "must be a customer, lead, opportunity or case id")
        check_description(self, problems)
        if self.completed_at is not None:
            problems.utc(self, "completed_at")
        if self.interaction_id is not None and not is_valid_id(self.interaction_id, "ixn_"):
            problems.add("interaction_id", "must be an interaction id")
        if self.status is TaskStatus.DONE:
            if self.completed_at is None:
                problems.add("completed_at", "a done task needs the time it was done")
        else:
            if self.completed_at is not None:
                problems.add("completed_at", "is only for a done task")
            if self.interaction_id is not None:
                problems.add("interaction_id", "is only for a done task")
        check_work_fields(self, problems)
        problems.raise_if_any()

    @classmethod
    def create(
        cls,
        *,
        title: str,
        kind: TaskKind | str = TaskKind.TODO,
        priority: Priority | str = Priority.NORMAL,
        due_at: datetime | None = None,
        assignee: str | None = None,
        about_id: str | None = None,
        description: str | None = None,
        tags: Iterable[str] = (),
        custom_fields: Mapping[str, object] | None = None,
    ) -> Task:
        """Plan a new (open) task; ``kind`` and ``priority`` may be given by value (``"call"``)."""
        problems = Problems()
        values: dict[str, Any] = {}
        problems.parse_into(values, "kind", enum_member, TaskKind, kind, "kind")
        problems.parse_into(values, "priority", enum_member, Priority, priority, "priority")
        parse_work_fields(problems, values, tags, custom_fields)
        problems.raise_if_any()
        now = utcnow()
        return cls(
            id=new_task_id(),
            title=title,
            due_at=due_at,
            assignee=assignee,
            about_id=about_id,
            description=description,
            created_at=now,
            updated_at=now,
            **values,
        )

    def _moved(self, target: TaskStatus) -> None:
        if not self.status.can_become(target):
            raise InvalidTransition(f"a task cannot go from {self.status.value} to {target.value}")

    def complete(
        self, *, at: datetime | None = None, interaction_id: InteractionId | None = None
    ) -> Task:
        """Mark an open task done at ``at`` (default: now), by interaction ``interaction_id``.

        Raises:
            InvalidTransition: when the task is not open.
            ValidationError: naming ``at`` or ``interaction_id``.
        """
        self._moved(TaskStatus.DONE)
        when = moment(at)
        if interaction_id is not None and not is_valid_id(interaction_id, "ixn_"):
            raise ValidationError("interaction_id", "must be an interaction id")
        return attrs.evolve(
            self, status=TaskStatus.DONE, completed_at=when, interaction_id=interaction_id
        )

    def cancel(self) -> Task:
        """Cancel an open task (InvalidTransition otherwise)."""
        self._moved(TaskStatus.CANCELLED)
        return attrs.evolve(self, status=TaskStatus.CANCELLED)

    def reopen(self) -> Task:
        """Reopen a done or cancelled task; completion time and interaction are cleared."""
        self._moved(TaskStatus.OPEN)
        return attrs.evolve(self, status=TaskStatus.OPEN, completed_at=None, interaction_id=None)

    def is_overdue(self, at: datetime) -> bool:
        """Whether the task is open and was due before ``at`` (timezone-aware)."""
        when = moment(at)
        return self.status is TaskStatus.OPEN and self.due_at is not None and self.due_at < when

    def repointed(self, old: str, new: str) -> Task:
        """Return a copy about ``new`` where it was about ``old`` (used by merges, conversions)."""
        if self.about_id != old:
            return self
        return attrs.evolve(self, about_id=new)

    def __repr__(self) -> str:
        return f"Task(id={self.id!r}, status={self.status.value!r}, version={self.version})"

    __str__ = __repr__
