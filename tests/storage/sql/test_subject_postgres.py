"""The subject tests (find, export, import, suppression, guarded writes and imports,
restricted records in dedup, subject requests) on PostgreSQL, through SQLStore.

The tests of tests/privacy/test_subject.py, test_subject_suppression.py and
test_subject_requests.py are
collected here again with a ``fresh`` fixture whose stores are the shared
cluster's tables, emptied for each store. One test is left out: that two
stores give one address different digests needs two databases, and every
store here is on the same one (memory and SQLite files prove it).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Engine

from crmcore.storage.sql import SQLStore
from tests.privacy._subject_kit import Fresh
from tests.privacy.test_subject import (
    test_a_lead_who_never_converted_can_be_exported,
    test_a_merged_away_id_exports_the_survivor,
    test_a_request_in_capitals_finds_the_lead_typed_with_a_plus_tag,
    test_any_form_of_a_subjects_email_finds_all_their_records_and_nobody_elses,
    test_export_then_import_into_an_empty_store_reproduces_the_subject,
    test_find_follows_merges_and_conversions,
    test_find_gathers_work_items_and_case_threads,
    test_find_refuses_what_it_cannot_read_without_echoing_it,
    test_import_refuses_a_store_that_is_not_empty_and_documents_it_cannot_read,
    test_phone_and_name_criteria,
    test_the_export_document,
    test_the_repr_of_subject_records_shows_counts_only,
)
from tests.privacy.test_subject_requests import (
    test_a_request_is_opened_extended_and_answered,
    test_a_stale_copy_cannot_answer_twice,
    test_due_requests_are_the_open_ones_past_their_deadline_soonest_first,
    test_request_arguments_are_checked_by_name,
    test_the_subjects_audit_trail_is_found_exported_and_imported,
)
from tests.privacy.test_subject_suppression import (
    test_a_checked_write_blocks_or_flags_a_suppressed_address,
    test_a_restricted_record_is_left_out_of_an_import_match,
    test_a_restricted_record_never_appears_in_dedup_results,
    test_an_address_that_is_not_suppressed_is_written,
    test_an_import_rejects_or_flags_suppressed_rows,
    test_check_duplicates_flags_a_suppressed_contact_point,
    test_every_form_of_a_suppressed_address_is_suppressed,
    test_phones_are_suppressed_in_e164,
    test_suppression_refuses_bad_input_by_name_without_echoing_it,
)
from tests.storage.sql.conftest import empty

__all__ = [
    "test_a_checked_write_blocks_or_flags_a_suppressed_address",
    "test_a_lead_who_never_converted_can_be_exported",
    "test_a_merged_away_id_exports_the_survivor",
    "test_a_request_in_capitals_finds_the_lead_typed_with_a_plus_tag",
    "test_a_request_is_opened_extended_and_answered",
    "test_a_restricted_record_is_left_out_of_an_import_match",
    "test_a_restricted_record_never_appears_in_dedup_results",
    "test_a_stale_copy_cannot_answer_twice",
    "test_an_address_that_is_not_suppressed_is_written",
    "test_an_import_rejects_or_flags_suppressed_rows",
    "test_any_form_of_a_subjects_email_finds_all_their_records_and_nobody_elses",
    "test_check_duplicates_flags_a_suppressed_contact_point",
    "test_due_requests_are_the_open_ones_past_their_deadline_soonest_first",
    "test_every_form_of_a_suppressed_address_is_suppressed",
    "test_export_then_import_into_an_empty_store_reproduces_the_subject",
    "test_find_follows_merges_and_conversions",
    "test_find_gathers_work_items_and_case_threads",
    "test_find_refuses_what_it_cannot_read_without_echoing_it",
    "test_import_refuses_a_store_that_is_not_empty_and_documents_it_cannot_read",
    "test_phone_and_name_criteria",
    "test_phones_are_suppressed_in_e164",
    "test_request_arguments_are_checked_by_name",
    "test_suppression_refuses_bad_input_by_name_without_echoing_it",
    "test_the_export_document",
    "test_the_repr_of_subject_records_shows_counts_only",
    "test_the_subjects_audit_trail_is_found_exported_and_imported",
]


@pytest.fixture
def fresh(pg_engine: Engine) -> Fresh:
    """Stores on the cluster's tables, emptied as each store opens."""

    @contextmanager
    def make() -> Iterator[SQLStore]:
        empty(pg_engine)
        with SQLStore(pg_engine) as store:
            yield store

    return make
