"""Rows in: tables from CSV, JSON Lines or an app's dicts, turned into crmcore records.

The same code serves the ``crmcore`` command and an app:

>>> from crmcore.io import Table, match_records, plan_columns
>>> table = Table.from_dicts([{"Name": "Ada Lovelace", "Email": "ada@example.com"}])
>>> built = match_records(table, plan_columns(table.header), workers=1)
>>> built.records[0].emails[0].match_key
'ada@example.com'

:func:`plan_columns` decides which column feeds which field (headers such as
``First Name`` or ``e-mail`` are recognised; ``(field, column)`` pairs map the
rest), :func:`match_records` turns a whole table into dedup match records
(:class:`~crmcore.dedup.MatchRecord`; distinct values parsed once, on every
core), and :func:`row_to_customer` / :func:`row_to_lead` build one entity per
row with the model constructors; :func:`import_file` puts a file's rows in a
store (see docs/import.md): customers, leads, interactions, and the work
items (opportunities, tasks, support cases; :data:`WORK_FIELDS`). See docs/io.md.
"""

from crmcore.io import parsing
from crmcore.io._checks import Lookalike, lookalike_columns, phone_region_hint
from crmcore.io._columns import FIELDS, MULTI_VALUED, ColumnPlan, column_index, plan_columns
from crmcore.io._errors import ColumnError, EncodingError, InputError
from crmcore.io._export import (
    CSV_COLUMNS,
    ExportReport,
    RestoreReport,
    export_store,
    is_export,
    restore,
)
from crmcore.io._headers import HEADER_ALIASES, WORK_HEADER_ALIASES, header_key
from crmcore.io._import import (
    IMPORT_FIELDS,
    Flag,
    ImportReport,
    OnDuplicate,
    Reject,
    import_file,
    import_table,
)
from crmcore.io._import_interactions import INTERACTION_FIELDS
from crmcore.io._import_plan import ImportColumns, import_columns
from crmcore.io._import_work import CASE_FIELDS, OPPORTUNITY_FIELDS, TASK_FIELDS, WORK_FIELDS
from crmcore.io._records import (
    CellProblems,
    RecordBuild,
    RowFields,
    match_records,
    row_to_customer,
    row_to_lead,
)
from crmcore.io._regions import country_code
from crmcore.io._stats import DuplicateStats, StoreStats, live_records, store_stats
from crmcore.io._tables import (
    DELIMITERS,
    InputLimits,
    Table,
    read_csv,
    read_jsonl,
    read_rows,
    sniff_delimiter,
)
from crmcore.io._writing import FORMULA_TRIGGERS, safe_cell, write_csv
from crmcore.io.parsing import parse_birth_date, phone_key

__all__ = [
    "CASE_FIELDS",
    "CSV_COLUMNS",
    "DELIMITERS",
    "FIELDS",
    "FORMULA_TRIGGERS",
    "HEADER_ALIASES",
    "IMPORT_FIELDS",
    "INTERACTION_FIELDS",
    "MULTI_VALUED",
    "OPPORTUNITY_FIELDS",
    "TASK_FIELDS",
    "WORK_FIELDS",
    "WORK_HEADER_ALIASES",
    "CellProblems",
    "ColumnError",
    "ColumnPlan",
    "DuplicateStats",
    "EncodingError",
    "ExportReport",
    "Flag",
    "ImportColumns",
    "ImportReport",
    "InputError",
    "InputLimits",
    "Lookalike",
    "OnDuplicate",
    "RecordBuild",
    "Reject",
    "RestoreReport",
    "RowFields",
    "StoreStats",
    "Table",
    "column_index",
    "country_code",
    "export_store",
    "header_key",
    "import_columns",
    "import_file",
    "import_table",
    "is_export",
    "live_records",
    "lookalike_columns",
    "match_records",
    "parse_birth_date",
    "parsing",
    "phone_key",
    "phone_region_hint",
    "plan_columns",
    "read_csv",
    "read_jsonl",
    "read_rows",
    "restore",
    "row_to_customer",
    "row_to_lead",
    "safe_cell",
    "sniff_delimiter",
    "store_stats",
    "write_csv",
]
