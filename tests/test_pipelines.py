"""Pipelines and stages: data, not enums; checked by name; a JSON configuration round trip."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given

from crmcore import DealStatus, Pipeline, Stage, ValidationError
from crmcore.testing.strategies import pipelines

B2B: list[dict[str, Any]] = [
    {"id": "qualify", "name": "Qualify", "probability": "0.1"},
    {"id": "propose", "name": "Propose", "probability": "0.50"},
    {"id": "won", "name": "Won", "probability": 1, "status": "won"},
    {"id": "lost", "name": "Lost", "probability": 0, "status": "lost"},
]


def test_create_from_mappings() -> None:
    pipeline = Pipeline.create("b2b", "B2B", B2B)
    assert [stage.id for stage in pipeline.stages] == ["qualify", "propose", "won", "lost"]
    assert pipeline.first.id == "qualify"
    assert pipeline.stage("propose").probability == Decimal("0.5")
    # The canonical form: 0.50 and 0.5 are one probability, with one text.
    assert str(pipeline.stage("propose").probability) == "0.5"
    assert pipeline.stage("won").status is DealStatus.WON
    assert pipeline.index("won") == 2
    assert "lost" in pipeline
    assert "nope" not in pipeline


def test_first_is_the_first_open_stage() -> None:
    pipeline = Pipeline.create(
        "p",
        "P",
        [
            Stage(id="done", name="Done", probability=Decimal(1), status=DealStatus.WON),
            Stage(id="start", name="Start", probability=Decimal("0.3")),
        ],
    )
    assert pipeline.first.id == "start"


def test_unknown_stage_names_the_stage() -> None:
    pipeline = Pipeline.create("b2b", "B2B", B2B)
    for call in (pipeline.stage, pipeline.index):
        with pytest.raises(ValidationError) as info:
            call("nope")
        assert info.value.paths == ("stage",)


@pytest.mark.parametrize(
    ("stages", "path"),
    [
        ([{"id": "a", "name": "A", "probability": "1.5"}], "stages[0].probability"),
        ([{"id": "a", "name": "A", "probability": "-0.1"}], "stages[0].probability"),
        ([{"id": "a", "name": "A", "probability": "0.12345"}], "stages[0].probability"),
        ([{"id": "a", "name": "A", "probability": "NaN"}], "stages[0].probability"),
        ([{"id": "a", "name": "A", "probability": True}], "stages[0].probability"),
        ([{"id": "A b", "name": "A", "probability": "0.1"}], "stages[0].id"),
        ([{"id": "a", "name": " ", "probability": "0.1"}], "stages[0].name"),
        ([{"id": "a", "name": "A", "probability": "0.1", "status": "maybe"}], "stages[0].status"),
        (
            [{"id": "w", "name": "W", "probability": "0.9", "status": "won"}],
            "stages[0].probability",
        ),
        (
            [{"id": "l", "name": "L", "probability": "0.1", "status": "lost"}],
            "stages[0].probability",
        ),
        ([{"id": "a", "name": "A"}], "stages[0].probability"),
        ([{"id": "a", "name": "A", "probability": "0.1", "colour": "red"}], "stages[0]"),
        (["qualify"], "stages[0]"),
    ],
)
def test_bad_stages_are_named(stages: list[Any], path: str) -> None:
    with pytest.raises(ValidationError) as info:
        Pipeline.create(
            "p", "P", [*stages, {"id": "z", "name": "Z", "probability": 1, "status": "won"}]
        )
    assert path in info.value.paths


def test_a_pipeline_needs_an_open_and_a_won_stage_and_unique_ids() -> None:
    won = {"id": "won", "name": "Won", "probability": 1, "status": "won"}
    with pytest.raises(ValidationError, match="open stage") as info:
        Pipeline.create("p", "P", [won])
    assert info.value.paths == ("stages",)
    with pytest.raises(ValidationError, match="won stage"):
        Pipeline.create("p", "P", [{"id": "a", "name": "A", "probability": "0.2"}])
    with pytest.raises(ValidationError) as info:
        Pipeline.create("p", "P", [won, {"id": "won", "name": "Again", "probability": "0.2"}])
    assert info.value.paths == ("stages[1].id",)
    with pytest.raises(ValidationError) as info:
        Pipeline.create("Not A Slug", "P", B2B)
    assert info.value.paths == ("id",)
    with pytest.raises(ValidationError) as info:
        Pipeline.create("p", "P", "qualify")  # type: ignore[arg-type]
    assert info.value.paths == ("stages",)


def test_a_float_probability_is_read_as_written() -> None:
    # What json.loads gives for a hand-written configuration's 0.2.
    stage = Stage.create("a", "A", 0.2)
    assert stage.probability == Decimal("0.2")


def test_the_constructor_is_strict() -> None:
    with pytest.raises(ValidationError) as info:
        Stage("a", "A", 0.5)  # type: ignore[arg-type]
    assert info.value.paths == ("probability",)
    with pytest.raises(ValidationError) as info:
        Stage("a", "A", Decimal("0.5"), "open")  # type: ignore[arg-type]
    assert info.value.paths == ("status",)


def test_dict_round_trip_through_json() -> None:
    pipeline = Pipeline.create("b2b", "B2B", B2B)
    text = json.dumps(pipeline.to_dict())
    assert Pipeline.from_dict(json.loads(text)) == pipeline


@given(pipelines())
def test_every_drawn_pipeline_round_trips(pipeline: Pipeline) -> None:
    assert Pipeline.from_dict(json.loads(json.dumps(pipeline.to_dict()))) == pipeline
    assert pipeline.first.status is DealStatus.OPEN
    assert {s.status for s in pipeline.stages} >= {DealStatus.OPEN, DealStatus.WON}
    for i, stage in enumerate(pipeline.stages):
        assert pipeline.index(stage.id) == i


def test_from_dict_names_what_is_wrong() -> None:
    with pytest.raises(ValidationError) as info:
        Pipeline.from_dict({"id": "p", "stages": []})
    assert info.value.paths == ("name",)
    with pytest.raises(ValidationError) as info:
        Pipeline.from_dict({"id": "p", "name": "P", "stages": "x"})
    assert info.value.paths == ("stages",)
    with pytest.raises(ValidationError) as info:
        Pipeline.from_dict({"id": "p", "name": "P", "stages": B2B, "extra": 1})
    assert info.value.paths == ("",)
    with pytest.raises(ValidationError):
        Pipeline.from_dict([])


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ValidationError) as info:
        Pipeline.create("Not A Slug", " ", [{"id": "a", "name": "A", "probability": "2"}])
    assert set(info.value.paths) == {"id", "name", "stages[0].probability"}
