"""The helpers a storage adapter needs to behave like crmcore's own stores.

Both built-in stores are written on these; a new backend calls them too, so
that its argument checks, errors, pages and cursors are the reference ones and
the contract kit (:class:`crmcore.testing.StorageContract`) passes without
re-deriving rules from its code. Everything here is public and documented in
``docs/adapters.md``:

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
- rows and filters: the allow-lists :data:`CUSTOMER_FIELDS` and
  :data:`LEAD_FIELDS`, :func:`compile_filters` (checked :class:`Condition`
  objects), :func:`matches` (their reference semantics), :func:`customer_row`
  and :func:`lead_row` (the filterable columns), :func:`micros` (timestamps
  as integers, from :data:`MIN_MICROS` to :data:`MAX_MICROS`) and
  :func:`stamped` (a record with the store's version and ``updated_at``).
"""

from crmcore.storage._common import (
    CUSTOMER_FIELDS,
    LEAD_FIELDS,
    MAX_LIMIT,
    MAX_MICROS,
    MAX_TEXT,
    MIN_MICROS,
    SORT_FIELDS,
    Condition,
    FieldSpec,
    Kind,
    compile_filters,
    customer_row,
    is_unicode,
    lead_row,
    matches,
    micros,
    stamped,
)
from crmcore.storage._front import (
    MAX_CHAIN,
    TIMELINE_TAG,
    Errors,
    InteractionsFront,
    ListQuery,
    RecordsFront,
    StoreFront,
    Timeline,
    check_batch_size,
    check_expected_version,
    check_external_id,
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
    "CUSTOMER_FIELDS",
    "LEAD_FIELDS",
    "MAX_CHAIN",
    "MAX_LIMIT",
    "MAX_MICROS",
    "MAX_TEXT",
    "MIN_MICROS",
    "SORT_FIELDS",
    "TIMELINE_TAG",
    "Condition",
    "Errors",
    "FieldSpec",
    "InteractionsFront",
    "Kind",
    "ListQuery",
    "RecordsFront",
    "StoreFront",
    "Timeline",
    "check_batch_size",
    "check_expected_version",
    "check_external_id",
    "check_interaction",
    "check_keys",
    "check_limit",
    "check_list_args",
    "check_load",
    "check_order",
    "check_record",
    "check_record_id",
    "check_timeline_args",
    "compile_filters",
    "customer_row",
    "decode_cursor",
    "encode_cursor",
    "external_id_taken",
    "get_many_of",
    "is_unicode",
    "lead_row",
    "matches",
    "micros",
    "order_tag",
    "page_of",
    "resolve_chain",
    "stamped",
]
