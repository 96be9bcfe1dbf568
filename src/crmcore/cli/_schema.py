"""``crmcore schema``: print or write the JSON Schema of crmcore's models."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from crmcore.cli._common import add_command
from crmcore.cli._errors import EXIT_INPUT, EXIT_USAGE, CliError

__all__ = ["register"]

_HELP = "print the JSON Schema of crmcore's models"

_DESCRIPTION = """\
Print the JSON Schema (Draft 2020-12) of a crmcore model's payload, as crmcore.to_dict
writes it and crmcore.from_dict reads it: one model's schema, or every model's as one
JSON object keyed by name. With --output, write one file per model into a folder
(MODEL.schema.json). With --openapi, print the schemas for an OpenAPI 3.1 document's
components.schemas instead (references point at #/components/schemas/)."""

_EXAMPLES = """\
examples:
  crmcore schema Customer
  crmcore schema --output schemas/
  crmcore schema --openapi > components.json

exit status: 0 on success, 1 when the output folder cannot be written, 2 for a bad option."""


def register(commands: Any) -> None:
    """Add ``crmcore schema`` to the sub-commands."""
    parser = add_command(commands, "schema", help=_HELP, description=_DESCRIPTION, epilog=_EXAMPLES)
    parser.add_argument(
        "model",
        nargs="?",
        metavar="MODEL",
        help="a model's name (Customer, Lead, Interaction, MergeRecord, PhoneNumber, ...); "
        "every model when left out",
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--output", type=Path, metavar="DIR", help="write MODEL.schema.json files into DIR"
    )
    group.add_argument(
        "--openapi", action="store_true", help="the schemas for OpenAPI components.schemas"
    )
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace, err: TextIO) -> int:
    # Imported here: the converter and the models' schemas are not needed for --help.
    from crmcore.schema import json_schemas, openapi_components

    schemas = openapi_components() if args.openapi else json_schemas()
    if args.model is not None and args.model not in schemas:
        names = ", ".join(sorted(schemas))
        raise CliError(f"unknown model {args.model!r}; one of: {names}", EXIT_USAGE)
    chosen: dict[str, Any] = {args.model: schemas[args.model]} if args.model else schemas
    if args.output is None:
        document = chosen[args.model] if args.model else chosen
        json.dump(document, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return 0
    try:
        args.output.mkdir(parents=True, exist_ok=True)
        for name, schema in chosen.items():
            text = json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
            (args.output / f"{name}.schema.json").write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot write to {args.output}: {exc.strerror}", EXIT_INPUT) from None
    print(f"crmcore: wrote {len(chosen)} schemas to {args.output}", file=err)
    return 0
