"""The helpers a storage adapter needs to behave like crmcore's own stores.

Both built-in stores are written on these; a new backend calls them too, so
that its argument checks, errors, pages and cursors are the reference ones and
the contract kit (:class:`crmcore.testing.StorageContract`) passes without
re-deriving rules from its code. Everything here is public and documented in
``docs/adapters.md``:

- work items (opportunities, tasks, cases): :class:`ItemsFront`, one class
  for the three, parametrised by an :class:`ItemKind` (:data:`OPPORTUNITIES`,
  :data:`TASKS`, :data:`CASES`: the model, its noun, its id check, its
  allow-list and row, its append-only history): every public method of an
  :class:`~crmcore.storage.ItemRepository`, a backend implementing only
  ``_fetch``, ``_insert``, ``_change``, ``_count`` and ``_list``;
  :class:`OpportunitiesFront` adds ``totals`` over a backend's ``_totals``
  (reference semantics :func:`totals_of`, exact sums :func:`exact_sum`,
  the ``by`` check :func:`check_totals_by`, the order :func:`total_order`);
  :class:`WorkItemsFront` (the three repositories as properties of a store);
  :func:`check_history` (the append-only rule);
- base classes: :class:`RecordsFront` (``list()``: a backend implements
  ``_list`` for a checked :class:`ListQuery`) and :class:`InteractionsFront`
  (``list_for`` and ``find_by_external_id``: a backend implements
  ``_timeline`` for a checked :class:`Timeline` and ``_find_external``),
  :class:`StoreFront` (the four repositories as read-only properties, and use
  as a context manager: a backend sets ``_customers``, ``_leads``,
  ``_interactions`` and ``_merges`` and implements ``close``), and
  :func:`get_many_of` (``get_many`` over a backend's fetch of distinct ids);
- argument checks: :func:`check_record`, :func:`check_interaction`,
  :func:`check_limit`, :func:`check_batch_size`, :func:`check_order`,
  :func:`check_expected_version`, :func:`check_keys`,
  :func:`check_external_id`, :func:`check_record_id`, :func:`is_unicode`,
  :func:`check_list_args` (all of ``list()``'s arguments, filters included)
  and :func:`check_timeline_args` (all of ``list_for``'s);
- errors: :class:`Errors` (not found, version conflict, duplicate id, an
  undecodable document, worded with the repository's noun) and
  :func:`external_id_taken`;
- pages: :func:`page_of`, :func:`encode_cursor`, :func:`decode_cursor`,
  :func:`order_tag`, :data:`TIMELINE_TAG`;
- merges: :func:`resolve_chain` (``resolve`` over any ``get``);
- rows and filters: the allow-lists :data:`CUSTOMER_FIELDS`,
  :data:`LEAD_FIELDS`, :data:`OPPORTUNITY_FIELDS`, :data:`TASK_FIELDS` and
  :data:`CASE_FIELDS`, :func:`compile_filters` (checked :class:`Condition`
  objects), :func:`matches` (their reference semantics), :func:`customer_row`,
  :func:`lead_row`, :func:`opportunity_row`, :func:`task_row` and
  :func:`case_row` (the filterable columns), :func:`decimal_text` and
  :func:`group_text` (how totals spell a group), :func:`micros` (timestamps
  as integers, from :data:`MIN_MICROS` to :data:`MAX_MICROS`) and
  :func:`stamped` (a record with the store's version and ``updated_at``).
"""

from crmcore.storage._common import (
    CASE_FIELDS,
    CUSTOMER_FIELDS,
    LEAD_FIELDS,
    MAX_LIMIT,
    MAX_MICROS,
    MAX_TEXT,
    MIN_MICROS,
    OPPORTUNITY_FIELDS,
    SORT_FIELDS,
    TASK_FIELDS,
    Condition,
    FieldSpec,
    Kind,
    case_row,
    check_totals_by,
    compile_filters,
    customer_row,
    decimal_text,
    exact_sum,
    group_text,
    is_unicode,
    lead_row,
    matches,
    micros,
    opportunity_row,
    stamped,
    task_row,
    total_order,
    totals_of,
)
from crmcore.storage._front import (
    CASES,
    MAX_CHAIN,
    OPPORTUNITIES,
    TASKS,
    TIMELINE_TAG,
    Errors,
    InteractionsFront,
    ItemKind,
    ItemsFront,
    ListQuery,
    OpportunitiesFront,
    RecordsFront,
    StoreFront,
    Timeline,
    WorkItemsFront,
    check_batch_size,
    check_expected_version,
    check_external_id,
    check_history,
    check_interaction,
    check_keys,
    check_limit,
    check_list_args,
    check_load,
    check_order,
    check_record,
    check_record_id,
    check_timeline_args,
    decode_cursor,
    encode_cursor,
    external_id_taken,
    get_many_of,
    order_tag,
    page_of,
    resolve_chain,
)

__all__ = [
    "CASES",
    "CASE_FIELDS",
    "CUSTOMER_FIELDS",
    "LEAD_FIELDS",
    "MAX_CHAIN",
    "MAX_LIMIT",
    "MAX_MICROS",
    "MAX_TEXT",
    "MIN_MICROS",
    "OPPORTUNITIES",
    "OPPORTUNITY_FIELDS",
    "SORT_FIELDS",
    "TASKS",
    "TASK_FIELDS",
    "TIMELINE_TAG",
    "Condition",
    "Errors",
    "FieldSpec",
    "InteractionsFront",
    "ItemKind",
    "ItemsFront",
    "Kind",
    "ListQuery",
    "OpportunitiesFront",
    "RecordsFront",
    "StoreFront",
    "Timeline",
    "WorkItemsFront",
    "case_row",
    "check_batch_size",
    "check_expected_version",
    "check_external_id",
    "check_history",
    "check_interaction",
    "check_keys",
    "check_limit",
    "check_list_args",
    "check_load",
    "check_order",
    "check_record",
    "check_record_id",
    "check_timeline_args",
    "check_totals_by",
    "compile_filters",
    "customer_row",
    "decimal_text",
    "decode_cursor",
    "encode_cursor",
    "exact_sum",
    "external_id_taken",
    "get_many_of",
    "group_text",
    "is_unicode",
    "lead_row",
    "matches",
    "micros",
    "opportunity_row",
    "order_tag",
    "page_of",
    "resolve_chain",
    "stamped",
    "task_row",
    "total_order",
    "totals_of",
]
