"""Sales pipelines: ordered stages, each with a default probability and a deal status.

Pipelines and stages are data, not enums: an app configures as many
pipelines as it runs (a B2B pipeline beside a web shop's), each an ordered
tuple of :class:`Stage`. A pipeline is the app's configuration, not a stored
record: an :class:`~crmcore.opportunities.Opportunity` carries its pipeline's
id, its stage's id, status and probability, so queries need no pipeline.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import attrs

from crmcore._validation import Problems, enum_member, items_of
from crmcore._work import check_probability, check_slug, parse_probability
from crmcore.errors import ValidationError
from crmcore.values import clean_text

__all__ = ["DealStatus", "Pipeline", "Stage"]

MAX_STAGES = 100


class DealStatus(enum.Enum):
    """Whether a deal is still being worked, won or lost."""

    OPEN = "open"
    WON = "won"
    LOST = "lost"

    @property
    def is_closed(self) -> bool:
        """Whether a deal in this status is closed (won or lost)."""
        return self is not DealStatus.OPEN


_FIXED_PROBABILITY = {DealStatus.WON: Decimal(1), DealStatus.LOST: Decimal(0)}


@attrs.frozen
class Stage:
    """One step of a pipeline.

    ``probability`` is the default chance of winning a deal at this stage
    (an exact Decimal from 0 to 1, at most four places); a won stage's is 1
    and a lost stage's 0.
    """

    id: str
    name: str
    probability: Decimal
    status: DealStatus = DealStatus.OPEN

    def __attrs_post_init__(self) -> None:
        problems = Problems()
        problems.value(check_slug, self.id, "id")
        problems.set(self, "name", clean_text, self.name, "name", max_length=200)
        problems.set(self, "probability", check_probability, self.probability, "probability")
        if not isinstance(self.status, DealStatus):
            problems.add("status", "must be a DealStatus")
        elif (
            not problems.found
            and self.status in _FIXED_PROBABILITY
            and self.probability != _FIXED_PROBABILITY[self.status]
        ):
            problems.add(
                "probability",
                f"a {self.status.value} stage's probability must be "
                f"{_FIXED_PROBABILITY[self.status]}",
            )
        problems.raise_if_any()

    @classmethod
    def create(
        cls,
        id: str,
        name: str,
        probability: Decimal | int | str | float,
        status: DealStatus | str = DealStatus.OPEN,
    ) -> Stage:
        """Build a stage from raw values (``status`` by its value; see :meth:`Pipeline.create`)."""
        problems = Problems()
        values: dict[str, Any] = {}
        problems.parse_into(values, "probability", parse_probability, probability, "probability")
        problems.parse_into(values, "status", enum_member, DealStatus, status, "status")
        problems.raise_if_any()
        return cls(id, name, **values)

    @property
    def is_closed(self) -> bool:
        """Whether a deal at this stage is closed."""
        return self.status.is_closed

    def to_dict(self) -> dict[str, str]:
        """This stage as JSON-compatible data (the probability as text: it is exact)."""
        return {
            "id": self.id,
            "name": self.name,
            "probability": str(self.probability),
            "status": self.status.value,
        }


_STAGE_KEYS = frozenset({"id", "name", "probability", "status"})


def _stage_of(value: object, field: str) -> Stage:
    if isinstance(value, Stage):
        return value
    if not isinstance(value, Mapping):
        raise ValidationError(field, "must be a Stage or a mapping")
    try:
        if set(value) - _STAGE_KEYS:
            raise ValidationError("", "has an unknown field")
        missing = [key for key in ("id", "name", "probability") if key not in value]
        if missing:
            raise ValidationError([(key, "is required") for key in missing])
        return Stage.create(
            value["id"], value["name"], value["probability"], value.get("status", "open")
        )
    except ValidationError as exc:
        raise exc.prefixed(field) from None


@attrs.frozen
class Pipeline:
    """An ordered set of stages a deal moves through.

    It has at least one open stage and one won stage, and stage ids unique
    within it. Deals may move forwards and backwards; :meth:`first` is where
    a new deal starts by default.

    Example:
        >>> pipeline = Pipeline.create("web", "Web shop", [
        ...     {"id": "cart", "name": "Cart", "probability": "0.2"},
        ...     {"id": "paid", "name": "Paid", "probability": "1", "status": "won"},
        ... ])
        >>> pipeline.first.id
        'cart'
    """

    id: str
    name: str
    stages: tuple[Stage, ...]
    _index: Mapping[str, int] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        problems = Problems()
        problems.value(check_slug, self.id, "id")
        problems.set(self, "name", clean_text, self.name, "name", max_length=200)
        stages: tuple[Stage, ...] = ()
        if type(self.stages) is not tuple:
            try:
                stages = tuple(items_of(self.stages, "stages"))
                object.__setattr__(self, "stages", stages)
            except ValidationError as exc:
                problems.found.extend(exc.problems)
        else:
            stages = self.stages
        index: dict[str, int] = {}
        for i, stage in enumerate(stages):
            if not isinstance(stage, Stage):
                problems.add(f"stages[{i}]", "must be a Stage")
            elif stage.id in index:
                problems.add(f"stages[{i}].id", "is already a stage of this pipeline")
            else:
                index[stage.id] = i
        if len(stages) > MAX_STAGES:
            problems.add("stages", f"must hold at most {MAX_STAGES} stages")
        if not problems.found:
            statuses = {stage.status for stage in stages}
            if DealStatus.OPEN not in statuses:
                problems.add("stages", "a pipeline needs an open stage")
            if DealStatus.WON not in statuses:
                problems.add("stages", "a pipeline needs a won stage")
        problems.raise_if_any()
        object.__setattr__(self, "_index", index)

    @classmethod
    def create(cls, id: str, name: str, stages: Iterable[Stage | Mapping[str, Any]]) -> Pipeline:
        """Build a pipeline from stages or mappings (``{"id", "name", "probability", "status"}``).

        A probability may be a Decimal, an int, decimal text or a float (read
        as written); ``status`` defaults to ``open``.
        """
        problems = Problems()
        built: list[Stage] = []
        try:
            items = items_of(stages, "stages")
        except ValidationError as exc:
            problems.found.extend(exc.problems)
            items = []
        for i, stage in enumerate(items):
            parsed = problems.value(_stage_of, stage, f"stages[{i}]")
            if parsed is not None:
                built.append(parsed)
        if problems.found:
            # Report the pipeline's own fields with its stages' problems, all at once.
            problems.value(check_slug, id, "id")
            problems.value(clean_text, name, "name", max_length=200)
            problems.raise_if_any()
        return cls(id, name, tuple(built))

    def stage(self, stage_id: str) -> Stage:
        """The stage ``stage_id`` of this pipeline.

        Raises:
            ValidationError: naming ``stage`` when this pipeline has no such stage.
        """
        return self.stages[self.index(stage_id)]

    def index(self, stage_id: str) -> int:
        """The position of stage ``stage_id`` (0 is the first), or ValidationError("stage")."""
        position = self._index.get(stage_id) if isinstance(stage_id, str) else None
        if position is None:
            raise ValidationError("stage", "is not a stage of this pipeline")
        return position

    def __contains__(self, stage_id: object) -> bool:
        return isinstance(stage_id, str) and stage_id in self._index

    @property
    def first(self) -> Stage:
        """The first open stage: where a new deal starts by default."""
        return next(stage for stage in self.stages if stage.status is DealStatus.OPEN)

    def to_dict(self) -> dict[str, Any]:
        """This pipeline as JSON-compatible data, for an app's configuration file."""
        return {
            "id": self.id,
            "name": self.name,
            "stages": [stage.to_dict() for stage in self.stages],
        }

    @classmethod
    def from_dict(cls, data: object) -> Pipeline:
        """Read :meth:`to_dict` output (or a hand-written configuration) back.

        Raises:
            ValidationError: naming each bad field (``stages[2].probability``).
        """
        if not isinstance(data, Mapping):
            raise ValidationError("", "a pipeline must be an object")
        problems = Problems()
        if set(data) - {"id", "name", "stages"}:
            problems.add("", "has an unknown field")
        for key in ("id", "name", "stages"):
            if key not in data:
                problems.add(key, "is required")
        problems.raise_if_any()
        stages = data["stages"]
        if not isinstance(stages, list | tuple):
            raise ValidationError("stages", "must be a list")
        return cls.create(data["id"], data["name"], stages)
