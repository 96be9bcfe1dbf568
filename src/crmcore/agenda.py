"""The agenda: completing tasks (with the interaction that did them), overdue and due-today lists.

"Today" is a day in the assignee's time zone, not in UTC: a task due at 23:30
in Los Angeles is due today there, though it is tomorrow in UTC. Times are
stored in UTC; :func:`due_today` turns the local day into its UTC bounds,
across daylight-saving changes (a day of 23 or 25 hours) and the rare day a
time zone skipped.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crmcore._reports import check_work_store, iter_matching, optional_key
from crmcore._validation import ensure_utc, utcnow
from crmcore.audit import AuditAction, audited
from crmcore.errors import ValidationError
from crmcore.events import (
    DomainEvent,
    EventDispatcher,
    InteractionLogged,
    TaskCompleted,
    publish,
)
from crmcore.ids import TaskId, is_task_id
from crmcore.interactions import Interaction
from crmcore.tasks import Task, TaskStatus

if TYPE_CHECKING:
    from crmcore.storage import Filter, WorkStore

__all__ = ["complete_task", "due_today", "overdue"]

_MAX_ZONE_NAME = 100


def complete_task(
    store: WorkStore,
    task_id: str,
    *,
    interaction: Interaction | None = None,
    at: datetime | None = None,
    events: EventDispatcher | None = None,
) -> Task:
    """Mark a task done, logging the interaction that did it, in one transaction.

    With ``interaction`` (the call made, the email sent), the interaction is
    stored (an ``external_id`` already ingested is not stored twice: the
    stored one is used) and the task keeps its id (``interaction_id``). The
    task is completed ``at`` (an aware datetime), by default when the
    interaction happened, else now. ``InteractionLogged`` (for a new
    interaction) and ``TaskCompleted`` are published before the commit: a
    subscriber that raises undoes both writes.

    Completing again with the same interaction (a retry after a lost reply)
    returns the task and writes nothing.

    Raises:
        NotFound: no such task.
        InvalidTransition: the task is cancelled, or already done (by
            another interaction, or with none).
        ValidationError: a bad ``task_id``, ``interaction`` or ``at``.
    """
    check_work_store(store)
    if not is_task_id(task_id):
        raise ValidationError("task_id", "must be a task id")
    if interaction is not None and not isinstance(interaction, Interaction):
        raise ValidationError("interaction", "must be an Interaction")
    when = None if at is None else ensure_utc(at, "at")
    with audited(store, AuditAction.UPDATE, operation="complete_task"):
        task = store.tasks.get(TaskId(task_id))
        if (
            interaction is not None
            and task.status is TaskStatus.DONE
            and task.interaction_id is not None
            and task.interaction_id == _already_logged(store, interaction)
        ):
            return task
        found: list[DomainEvent] = []
        logged: Interaction | None = None
        if interaction is not None:
            logged = store.interactions.add(interaction)
            if logged.id == interaction.id:
                found.append(
                    InteractionLogged(interaction_id=logged.id, record_ids=logged.record_ids)
                )
        if when is None and logged is not None:
            when = logged.occurred_at
        done = store.tasks.update(
            task.complete(at=when, interaction_id=None if logged is None else logged.id)
        )
        found.append(TaskCompleted(task_id=done.id, interaction_id=done.interaction_id))
        publish(events, found)
    return done


def _already_logged(store: WorkStore, interaction: Interaction) -> str | None:
    """The id under which ``interaction`` is stored already, if it is."""
    if interaction.external_id is not None:
        existing = store.interactions.find_by_external_id(interaction.external_id)
        if existing is not None:
            return existing.id
    return interaction.id


def _open_tasks(assignee: object, *filters: Filter) -> list[Filter]:
    from crmcore.storage import where

    conditions = [where("status").eq(TaskStatus.OPEN), *filters]
    who = optional_key(assignee, "assignee")
    if who is not None:
        conditions.append(where("assignee").eq(who))
    return conditions


def _by_due_time(tasks: list[Task]) -> list[Task]:
    # Filtered on due_at, so none is None; the key says so to the type checker.
    return sorted(tasks, key=lambda t: (t.due_at or datetime.min, t.id))


def overdue(
    store: WorkStore, *, assignee: str | None = None, at: datetime | None = None
) -> list[Task]:
    """The open tasks due before ``at`` (default: now), earliest due first.

    Args:
        store: the store (:class:`~crmcore.storage.WorkStore`).
        assignee: only this assignee's tasks (everyone's when ``None``).
        at: the moment that counts as now (an aware datetime).

    Raises:
        ValidationError: a bad ``assignee`` or ``at``, or a store without tasks.
    """
    from crmcore.storage import where

    check_work_store(store)
    now = utcnow() if at is None else ensure_utc(at, "at")
    filters = _open_tasks(assignee, where("due_at").range(None, now))
    return _by_due_time([t for t in iter_matching(store.tasks, *filters) if t.is_overdue(now)])


def _zone(tz: object) -> tzinfo:
    if isinstance(tz, tzinfo):
        return tz
    if not isinstance(tz, str) or not 0 < len(tz) <= _MAX_ZONE_NAME:
        raise ValidationError("tz", "must be a tzinfo or an IANA time zone name")
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValidationError("tz", "is not a known IANA time zone name") from None


def _day_bounds(now: datetime, tz: tzinfo) -> tuple[datetime | None, datetime | None]:
    """The UTC start (inclusive) and end (exclusive) of ``now``'s local date in ``tz``.

    A local midnight that does not exist (a zone springing forward at 00:00,
    or skipping a whole day) resolves, with ``fold=0``, to the moment of the
    change itself, which is when that local day begins. ``None`` is a bound
    beyond the range of datetimes (the first and last days of the calendar).
    """
    try:
        local = now.astimezone(tz).date()
    except OverflowError:
        raise ValidationError("at", "is outside the range of datetimes in this time zone") from None

    def midnight(day: date) -> datetime | None:
        try:
            return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
        except OverflowError:
            return None

    start = midnight(local)
    end = None if local == date.max else midnight(local + timedelta(days=1))
    return start, end


def due_today(
    store: WorkStore,
    *,
    assignee: str | None,
    tz: tzinfo | str,
    at: datetime | None = None,
) -> list[Task]:
    """The open tasks due on the current day in time zone ``tz``, earliest first.

    "Today" is the local date of ``at`` (default: now) in ``tz``; a task is
    due today when its ``due_at`` falls on that date there. Tasks due earlier
    today are included (they are overdue too).

    Args:
        store: the store (:class:`~crmcore.storage.WorkStore`).
        assignee: whose tasks (``None``: everyone's).
        tz: the assignee's time zone, a ``tzinfo`` or an IANA name (``"Europe/Paris"``).
        at: the moment that counts as now (an aware datetime).

    Raises:
        ValidationError: an unknown ``tz``, a bad ``assignee`` or ``at``, or
            a store without tasks.
    """
    from crmcore.storage import where

    check_work_store(store)
    zone = _zone(tz)
    now = utcnow() if at is None else ensure_utc(at, "at")
    start, end = _day_bounds(now, zone)
    filters = _open_tasks(assignee, where("due_at").range(start, end))
    return _by_due_time(list(iter_matching(store.tasks, *filters)))
