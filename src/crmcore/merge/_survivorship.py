"""Survivorship: which value of a field survives when records are merged.

The rules here are pure functions over :class:`Candidate` values; the default
rule of every field that merges is in ``CUSTOMER_RULES`` and ``LEAD_RULES``; the
planner (:func:`crmcore.merge.plan_merge`) picks a rule per field and applies it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Hashable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeAlias

import attrs

from crmcore.consent import ConsentEvent, merge_consent_events
from crmcore.customers import MAX_NOTES_LENGTH, LifecycleStage
from crmcore.errors import ValidationError
from crmcore.leads import LeadStatus
from crmcore.values import PersonName, PostalAddress

__all__ = [
    "BOOKKEEPING",
    "CUSTOMER_RULES",
    "FOLLOWERS",
    "LEAD_RULES",
    "MERGE_MANAGED",
    "Candidate",
    "MergePolicy",
    "Rule",
    "Survivorship",
]

NOTES_SEPARATOR = "\n\n"


class Survivorship(enum.Enum):
    """The built-in survivorship rules.

    Every rule ignores empty values (``None``, blank text, empty collections)
    unless every candidate is empty. Ties go to the survivor, then to the other
    records in the plan's order.
    """

    PREFER_SURVIVOR = "prefer_survivor"
    """The survivor's value; when it is empty, the first non-empty value of the others."""
    MOST_RECENT = "most_recent"
    """The value of the most recently updated record that has one."""
    MOST_COMPLETE = "most_complete"
    """The fullest value: the most name parts, the longest text, the most items."""
    MOST_FREQUENT = "most_frequent"
    """The value most records agree on."""
    UNION = "union"
    """Every item of every record, once: contact points by match key, maps by key."""
    MAX = "max"
    """The largest value."""
    MIN = "min"
    """The smallest value."""
    CONCATENATE = "concatenate"
    """Every distinct text, survivor's first, separated by a blank line (notes)."""
    MOST_RESTRICTIVE = "most_restrictive"
    """Consent ledgers: every event kept, and a merge never upgrades consent.

    :func:`crmcore.consent.merge_consent_events`: where one record's state of
    a contact point, channel and purpose is not granted, the survivor's is not
    either (a withdrawal with source ``"merge"`` is added).
    """
    FURTHEST = "furthest"
    """Lifecycle stage or lead status: the one furthest along."""


@attrs.frozen
class Candidate:
    """One record's value for a field, as a survivorship rule sees it."""

    record_id: str
    value: Any = attrs.field(repr=False)
    is_survivor: bool
    created_at: datetime = attrs.field(repr=False)
    updated_at: datetime = attrs.field(repr=False)


CustomRule: TypeAlias = Callable[[str, Sequence[Candidate]], Any]
"""A callable ``(field, candidates) -> value``; candidates come survivor first."""

Rule: TypeAlias = Survivorship | CustomRule
"""A built-in :class:`Survivorship` rule or a :data:`CustomRule`."""


CUSTOMER_RULES: Mapping[str, Rule] = {
    "name": Survivorship.PREFER_SURVIVOR,
    "emails": Survivorship.UNION,
    "phones": Survivorship.UNION,
    "addresses": Survivorship.UNION,
    "organization_id": Survivorship.PREFER_SURVIVOR,
    "stage": Survivorship.FURTHEST,
    "stage_reason": Survivorship.PREFER_SURVIVOR,
    "tags": Survivorship.UNION,
    "custom_fields": Survivorship.UNION,
    "owner": Survivorship.PREFER_SURVIVOR,
    "identifiers": Survivorship.UNION,
    "consent_events": Survivorship.MOST_RESTRICTIVE,
    "birth_date": Survivorship.PREFER_SURVIVOR,
    "notes": Survivorship.CONCATENATE,
}
"""The default rule of every customer field that merges."""

LEAD_RULES: Mapping[str, Rule] = {
    "name": Survivorship.PREFER_SURVIVOR,
    "company": Survivorship.PREFER_SURVIVOR,
    "emails": Survivorship.UNION,
    "phones": Survivorship.UNION,
    "source": Survivorship.PREFER_SURVIVOR,
    "status": Survivorship.FURTHEST,
    "status_reason": Survivorship.PREFER_SURVIVOR,
    "score": Survivorship.MAX,
    "estimated_value": Survivorship.PREFER_SURVIVOR,
    "owner": Survivorship.PREFER_SURVIVOR,
    "tags": Survivorship.UNION,
    "custom_fields": Survivorship.UNION,
    "consent_events": Survivorship.MOST_RESTRICTIVE,
    "converted_customer_id": Survivorship.PREFER_SURVIVOR,
}
"""The default rule of every lead field that merges."""

# A reason or a link only makes sense with the status it explains: by default
# it comes from the record whose stage or status won.
FOLLOWERS: Mapping[str, str] = {
    "stage_reason": "stage",
    "status_reason": "status",
    "converted_customer_id": "status",
}

# Bookkeeping fields: never merged, never compared when undoing.
BOOKKEEPING = frozenset({"id", "version", "created_at", "updated_at"})

# Fields no rule decides: the group must agree on ``kind`` (people and
# organisations never merge), the merge itself sets ``merged_into`` on the
# records it retires, and a restricted record never takes part in a merge
# (``plan_merge`` raises RecordRestricted), so every ``restriction`` is None.
# Unlike bookkeeping, undoing restores them (a restriction made after the
# merge is a later edit, and stays).
MERGE_MANAGED = frozenset({"kind", "merged_into", "restriction"})


def rule_name(rule: Rule) -> str:
    """The name a plan reports for ``rule``."""
    if isinstance(rule, Survivorship):
        return rule.value
    return f"custom:{getattr(rule, '__name__', type(rule).__name__)}"


def _empty_policy_rules() -> Mapping[str, Rule]:
    return {}


@attrs.frozen(repr=False)
class MergePolicy:
    """Survivorship rules per field, over the defaults.

    ``rules`` maps a field name (``"owner"``, ``"notes"``...) to a rule;
    fields not named use the defaults documented in ``docs/merging.md``.
    """

    rules: Mapping[str, Rule] = attrs.field(factory=_empty_policy_rules)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.rules, Mapping):
            raise ValidationError("policy", "rules must be a mapping of field names to rules")
        for field, rule in self.rules.items():
            if not isinstance(field, str):
                raise ValidationError("policy", "field names must be text")
            if not (isinstance(rule, Survivorship) or callable(rule)):
                raise ValidationError(f"policy.{field}", "must be a Survivorship or a callable")
        object.__setattr__(self, "rules", dict(self.rules))

    @classmethod
    def of(cls, policy: MergePolicy | Mapping[str, Rule] | None) -> MergePolicy:
        """Accept a policy, a plain mapping of rules, or ``None`` (the defaults)."""
        if policy is None:
            return cls()
        if isinstance(policy, MergePolicy):
            return policy
        return cls(rules=policy)

    def __repr__(self) -> str:
        names = {field: rule_name(rule) for field, rule in sorted(self.rules.items())}
        return f"MergePolicy(rules={names!r})"


# --------------------------------------------------------------------------- helpers


def is_empty(value: object) -> bool:
    """Whether a value counts as missing for survivorship."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, tuple | frozenset | set | list | Mapping):
        return len(value) == 0
    return False


def fullness(value: object) -> tuple[int, int]:
    """How complete a value is, for ``MOST_COMPLETE`` (bigger is fuller)."""
    if is_empty(value):
        return (0, 0)
    if isinstance(value, PersonName):
        parts = [value.given, value.middle, value.family, value.prefix, value.suffix]
        return (sum(p is not None for p in parts), len(value.full))
    if isinstance(value, str):
        return (1, len(value))
    if isinstance(value, tuple | frozenset | Mapping):
        return (len(value), 0)
    return (1, 0)


def address_key(address: PostalAddress) -> tuple[object, ...]:
    """An address's match key: its parts case- and whitespace-folded, label ignored."""

    def fold(text: str | None) -> str:
        return " ".join((text or "").casefold().split())

    return (
        tuple(fold(line) for line in address.lines),
        fold(address.locality),
        fold(address.region),
        fold(address.postal_code).replace(" ", ""),
        address.country or "",
    )


def item_key(field: str, item: Any) -> Hashable:
    """The key by which ``UNION`` de-duplicates items of ``field``."""
    if field == "emails":
        return item.address.match_key  # type: ignore[no-any-return]
    if field == "phones":
        return (item.number.e164, item.number.extension)
    if field == "addresses":
        return address_key(item)
    if isinstance(item, Hashable):
        return item
    return repr(item)


LEAD_STATUS_RANK = {
    LeadStatus.DISQUALIFIED: -1,
    LeadStatus.NEW: 0,
    LeadStatus.CONTACTED: 1,
    LeadStatus.QUALIFIED: 2,
    LeadStatus.CONVERTED: 3,
}


@attrs.frozen
class Outcome:
    """What a rule chose: the value and the records it came from."""

    value: Any
    source_ids: tuple[str, ...]


def _from(candidates: Sequence[Candidate], value: Any) -> Outcome:
    return Outcome(value, tuple(c.record_id for c in candidates if c.value == value))


def _not_applicable(field: str, rule: Survivorship, what: str) -> ValidationError:
    return ValidationError(f"policy.{field}", f"{rule.value} applies only to {what}")


def apply_rule(
    field: str, rule: Rule, candidates: Sequence[Candidate], *, at: datetime | None = None
) -> Outcome:
    """Apply ``rule`` to the candidates of ``field`` (survivor first).

    ``at`` is when the merge takes effect, for ``MOST_RESTRICTIVE`` (the
    withdrawals it adds are effective then); by default the latest
    ``updated_at`` of the candidates, so that the outcome depends on the
    candidates alone.
    """
    filled = [c for c in candidates if not is_empty(c.value)]
    if not isinstance(rule, Survivorship):
        return _from(candidates, rule(field, tuple(candidates)))
    if not filled:
        return Outcome(candidates[0].value, ())
    if rule is Survivorship.PREFER_SURVIVOR:
        return _from(filled, filled[0].value)
    if rule is Survivorship.MOST_RECENT:
        best = max(filled, key=lambda c: c.updated_at)  # max keeps the first of ties
        return _from(filled, best.value)
    if rule is Survivorship.MOST_COMPLETE:
        best = max(filled, key=lambda c: fullness(c.value))
        return _from(filled, best.value)
    if rule is Survivorship.MOST_FREQUENT:
        counts = [sum(1 for other in filled if other.value == c.value) for c in filled]
        return _from(filled, filled[counts.index(max(counts))].value)
    if rule in (Survivorship.MAX, Survivorship.MIN):
        try:
            pick = max if rule is Survivorship.MAX else min
            value = pick((c.value for c in filled), key=_order_key)
        except TypeError:
            raise _not_applicable(field, rule, "comparable values") from None
        return _from(filled, value)
    if rule is Survivorship.UNION:
        return _union(field, filled)
    if rule is Survivorship.CONCATENATE:
        if not all(isinstance(c.value, str) for c in filled):
            raise _not_applicable(field, rule, "text")
        texts: list[str] = []
        for c in filled:
            if c.value.strip() not in texts:
                texts.append(c.value.strip())
        text = NOTES_SEPARATOR.join(texts)
        if field == "notes" and len(text) > MAX_NOTES_LENGTH:
            # The full texts stay in the merge record's snapshots.
            text = text[:MAX_NOTES_LENGTH]
        return Outcome(text, tuple(c.record_id for c in filled))
    if rule is Survivorship.MOST_RESTRICTIVE:
        return _most_restrictive(field, filled, at or max(c.updated_at for c in candidates))
    if rule is Survivorship.FURTHEST:
        return _furthest(field, filled)
    raise AssertionError(rule)  # pragma: no cover


def _order_key(value: Any) -> Any:
    # Money compares by amount only within one currency; refuse to mix them.
    amount = getattr(value, "amount", None)
    currency = getattr(value, "currency", None)
    if amount is not None and currency is not None:
        return (currency, amount)
    return value


def _union(field: str, filled: Sequence[Candidate]) -> Outcome:
    first = filled[0].value
    sources = tuple(c.record_id for c in filled)
    if isinstance(first, frozenset):
        result: frozenset[Any] = frozenset()
        for c in filled:
            result |= c.value
        return Outcome(result, sources)
    if isinstance(first, Mapping):
        merged: dict[str, Any] = {}
        for c in filled:
            for key, value in c.value.items():
                merged.setdefault(key, value)
        rebuild: Any = type(first)
        return Outcome(rebuild(merged), sources)
    if isinstance(first, tuple):
        items: list[Any] = []
        seen: set[Hashable] = set()
        for c in filled:
            for item in c.value:
                key = item_key(field, item)
                if key not in seen:
                    seen.add(key)
                    items.append(item)
        return Outcome(tuple(items), sources)
    raise _not_applicable(field, Survivorship.UNION, "collections")


def _most_restrictive(field: str, filled: Sequence[Candidate], at: datetime) -> Outcome:
    if not all(isinstance(c.value, tuple) for c in filled) or not all(
        isinstance(item, ConsentEvent) for c in filled for item in c.value
    ):
        raise _not_applicable(field, Survivorship.MOST_RESTRICTIVE, "consent ledgers")
    if len(filled) == 1:
        # One ledger alone is kept as it is, in its own order.
        return Outcome(filled[0].value, (filled[0].record_id,))
    # The withdrawals the merge adds are effective at ``at`` (and at every
    # later moment a record's events would otherwise upgrade the union).
    merged = merge_consent_events([c.value for c in filled], at=at)
    return Outcome(merged, tuple(c.record_id for c in filled))


def _furthest(field: str, filled: Sequence[Candidate]) -> Outcome:
    def rank(value: Any) -> int:
        if isinstance(value, LifecycleStage):
            return value.rank
        if isinstance(value, LeadStatus):
            return LEAD_STATUS_RANK[value]
        raise _not_applicable(field, Survivorship.FURTHEST, "lifecycle stages and lead statuses")

    best = max(filled, key=lambda c: rank(c.value))
    return _from(filled, best.value)


def conflicts(field: str, winner: Any, candidates: Sequence[Candidate]) -> tuple[Candidate, ...]:
    """The non-empty values that did not survive into ``winner``."""
    lost: list[Candidate] = []
    for c in candidates:
        if is_empty(c.value):
            continue
        if isinstance(c.value, Mapping) and isinstance(winner, Mapping):
            if any(key in winner and winner[key] != v for key, v in c.value.items()):
                lost.append(c)
        elif isinstance(c.value, frozenset) and isinstance(winner, frozenset):
            if not c.value <= winner:
                lost.append(c)
        elif isinstance(c.value, tuple) and isinstance(winner, tuple):
            kept = {item_key(field, item) for item in winner}
            if any(item_key(field, item) not in kept for item in c.value):
                lost.append(c)
        elif field == "notes" and isinstance(winner, str) and isinstance(c.value, str):
            if c.value.strip() not in winner:
                lost.append(c)
        elif c.value != winner:
            lost.append(c)
    return tuple(lost)
