"""A :class:`RuleSet` as data: JSON-ready dicts, for rule files and review.

Only crmcore's own rules can be written: each is named by its class and
carries every constructor field it has (weights, thresholds, switches). The
nickname table is ``"default"`` or the list of ``[name, variant]`` pairs that
rebuild it. Reading is strict: an unknown rule, field or value type is a
:class:`~crmcore.ValidationError` naming its path (``rules[2].agree``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import attrs

from crmcore.dedup.normalize import NicknameTable
from crmcore.dedup.results import Decision
from crmcore.errors import ValidationError

__all__ = ["FORMAT", "rules_from_dict", "rules_to_dict"]

FORMAT: Final = "crmcore-rules"
_VERSION: Final = 1
_SETTINGS: Final = (
    "match",
    "possible",
    "prior",
    "max_block_size",
    "window",
    "cannot_link",
    "identity_rule",
    "conflict_weight",
    "shared_cap",
)


def _fields(cls: type[Any]) -> dict[str, attrs.Attribute[Any]]:
    return {f.name: f for f in attrs.fields(cls) if f.init}


def _nickname_pairs(table: NicknameTable) -> list[list[str]]:
    pairs = set()
    for name, heads in table.groups.items():
        for head in heads:
            pairs.add((head, name))
    return [list(p) for p in sorted(pairs)]


def _value_to_data(value: Any) -> Any:
    if isinstance(value, NicknameTable):
        return "default" if value == NicknameTable.default() else _nickname_pairs(value)
    if isinstance(value, tuple):
        return [_value_to_data(v) for v in value]
    return value


def rules_to_dict(rules: Any, known: Mapping[str, type[Any]]) -> dict[str, Any]:
    """``rules`` (a RuleSet) as JSON-ready data; ``known``: the rule classes by name.

    See :meth:`crmcore.dedup.RuleSet.to_dict`. The classes are passed in by
    ``rules.py``, which this module does not import.
    """
    out: dict[str, Any] = {"format": FORMAT, "version": _VERSION}
    for name in _SETTINGS:
        out[name] = getattr(rules, name)
    written = []
    for i, rule in enumerate(rules.rules):
        cls = type(rule)
        if known.get(cls.__name__) is not cls:
            raise ValidationError(f"rules[{i}]", "is not a crmcore rule, so it cannot be data")
        entry = {"type": cls.__name__}
        entry.update({n: _value_to_data(getattr(rule, n)) for n in _fields(cls)})
        written.append(entry)
    out["rules"] = written
    out["clauses"] = [
        {
            "name": c.name,
            "at_least": dict(c.at_least),
            "below": dict(c.below),
            "decision": c.decision.value,
        }
        for c in rules.clauses
    ]
    return out


def _number(value: object, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(path, "must be a number")
    return value


def _field_value(cls: type[Any], field: attrs.Attribute[Any], value: object, path: str) -> Any:
    default: Any = field.default
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        default = default.factory()
    if isinstance(default, NicknameTable):
        if value == "default":
            return NicknameTable.default()
        if not isinstance(value, list) or not all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(s, str) for s in p)
            for p in value
        ):
            raise ValidationError(path, 'must be "default" or a list of [name, variant] pairs')
        return NicknameTable.from_pairs((p[0], p[1]) for p in value)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValidationError(path, "must be true or false")
        return value
    if isinstance(default, int | float):
        return _number(value, path)
    if isinstance(default, str) or default is None:
        if not isinstance(value, str):
            raise ValidationError(path, "must be text")
        return value
    if isinstance(default, tuple):
        return _table(value, default, path)
    raise ValidationError(path, "cannot be read from data")  # pragma: no cover - new field kinds


def _table(value: object, default: tuple[Any, ...], path: str) -> tuple[Any, ...]:
    # Weight tables: a list of numbers, or a list of rows of numbers, shaped like the default.
    if not isinstance(value, list) or len(value) != len(default):
        raise ValidationError(path, f"must be a list of {len(default)}")
    if default and isinstance(default[0], tuple):
        return tuple(_table(row, default[0], f"{path}[{i}]") for i, row in enumerate(value))
    return tuple(_number(v, f"{path}[{i}]") for i, v in enumerate(value))


def _mapping(data: object, path: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping) or not all(isinstance(k, str) for k in data):
        raise ValidationError(path, "must be an object")
    return data


def _extra(data: Mapping[str, Any], allowed: set[str], path: str) -> None:
    for key in data:
        if key not in allowed:
            raise ValidationError(f"{path}.{key}" if path else key, "is not a known field")


def _rule(data: object, path: str, known: Mapping[str, type[Any]]) -> Any:
    entry = _mapping(data, path)
    kind = entry.get("type")
    cls = known.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValidationError(f"{path}.type", "must name a crmcore rule (such as EmailRule)")
    fields = _fields(cls)
    _extra(entry, {"type", *fields}, path)
    kwargs = {
        name: _field_value(cls, fields[name], value, f"{path}.{name}")
        for name, value in entry.items()
        if name != "type"
    }
    try:
        return cls(**kwargs)
    except ValidationError as exc:
        raise exc.prefixed(path) from None


def _clause(data: object, path: str, clause: type[Any]) -> Any:
    entry = _mapping(data, path)
    _extra(entry, {"name", "at_least", "below", "decision"}, path)
    decision = entry.get("decision", Decision.MATCH.value)
    try:
        chosen = Decision(decision)
    except ValueError:
        raise ValidationError(f"{path}.decision", "must be match, possible or non_match") from None
    scores = {}
    for side in ("at_least", "below"):
        given = _mapping(entry.get(side, {}), f"{path}.{side}")
        scores[side] = {k: _number(v, f"{path}.{side}.{k}") for k, v in given.items()}
    name = entry.get("name")
    if not isinstance(name, str):
        raise ValidationError(f"{path}.name", "must be text")
    return clause(name, scores["at_least"], scores["below"], chosen)


def rules_from_dict(
    data: object, known: Mapping[str, type[Any]], rule_set: type[Any], clause: type[Any]
) -> Any:
    """A ``rule_set`` from :func:`rules_to_dict`'s data (see :meth:`RuleSet.from_dict`)."""
    root = _mapping(data, "rules")
    if root.get("format") != FORMAT:
        raise ValidationError("format", f'must be "{FORMAT}"')
    if root.get("version") != _VERSION:
        raise ValidationError("version", f"must be {_VERSION}")
    _extra(root, {"format", "version", "rules", "clauses", *_SETTINGS}, "")
    rules_data = root.get("rules")
    if not isinstance(rules_data, list) or not rules_data:
        raise ValidationError("rules", "must be a non-empty list of rules")
    clauses_data = root.get("clauses", [])
    if not isinstance(clauses_data, list):
        raise ValidationError("clauses", "must be a list")
    settings: dict[str, Any] = {}
    defaults = {f.name: f.default for f in attrs.fields(rule_set)}
    for name in _SETTINGS:
        if name not in root:
            continue
        value = root[name]
        if name == "identity_rule":
            if value is not None and not isinstance(value, str):
                raise ValidationError(name, "must be a rule name or null")
            settings[name] = value
        elif isinstance(defaults[name], int) and not isinstance(defaults[name], bool):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValidationError(name, "must be a whole number")
            settings[name] = value
        else:
            settings[name] = _number(value, name)
    return rule_set(
        rules=tuple(_rule(r, f"rules[{i}]", known) for i, r in enumerate(rules_data)),
        clauses=tuple(_clause(c, f"clauses[{i}]", clause) for i, c in enumerate(clauses_data)),
        **settings,
    )
