"""``crmcore schema`` through the real command: the schemas it prints are crmcore's own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from jsonschema import Draft202012Validator

from crmcore import Customer, to_dict
from crmcore.schema import json_schema, json_schemas, openapi_components


def crmcore(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "crmcore", "schema", *args]
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)


def test_one_model_prints_its_schema() -> None:
    done = crmcore("Customer")
    assert done.returncode == 0, done.stderr
    schema = json.loads(done.stdout)
    assert schema == json_schema(Customer)
    Draft202012Validator(schema).validate(to_dict(Customer.create(name="Åsa Lindqvist")))


def test_without_a_model_every_schema_is_printed_by_name() -> None:
    done = crmcore()
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == json_schemas()


def test_openapi_prints_the_components() -> None:
    done = crmcore("--openapi")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == openapi_components()
    one = crmcore("--openapi", "CustomerEmbedded")
    assert json.loads(one.stdout) == openapi_components()["CustomerEmbedded"]


def test_output_writes_one_file_per_model(tmp_path: Path) -> None:
    folder = tmp_path / "schemas"
    done = crmcore("--output", str(folder))
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    written = {p.name.removesuffix(".schema.json"): p for p in folder.iterdir()}
    assert set(written) == set(json_schemas())
    assert json.loads(written["Lead"].read_text(encoding="utf-8")) == json_schemas()["Lead"]
    assert str(len(written)) in done.stderr


def test_mistakes_are_one_line_with_an_exit_code(tmp_path: Path) -> None:
    unknown = crmcore("Kund")
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("crmcore: error: unknown model")
    assert "Customer" in unknown.stderr
    assert len(unknown.stderr.splitlines()) == 1
    blocked = tmp_path / "file"
    blocked.write_text("not a folder", encoding="utf-8")
    unwritable = crmcore("--output", str(blocked))
    assert unwritable.returncode == 1
    assert unwritable.stderr.startswith(f"crmcore: error: cannot write to {blocked}")
    both = crmcore("--output", str(tmp_path), "--openapi")
    assert both.returncode == 2
