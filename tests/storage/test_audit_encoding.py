"""The compact encoding of audit targets reads back exactly, in order, packed or not."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from crmcore.audit import AUDIT_ENTITIES, AuditAction, AuditEntry, AuditTarget
from crmcore.storage import _audit

targets = st.builds(
    AuditTarget,
    st.sampled_from(AUDIT_ENTITIES),
    st.from_regex(r"[a-z]{3}_[0-9A-Z]{26}", fullmatch=True),
    st.one_of(st.none(), st.integers(0, 2**63 - 1)),
    st.lists(st.from_regex(r"[a-z_][a-z0-9_]{0,10}", fullmatch=True), max_size=3).map(tuple),
)


@given(st.lists(targets, max_size=200))
def test_targets_read_back_in_order(drawn: list[AuditTarget]) -> None:
    assert _audit.decode_targets(_audit.encode_targets(drawn)) == tuple(drawn)
    assert _audit.decode_targets(_audit.pack_targets(drawn)) == tuple(drawn)


@given(st.lists(targets, min_size=1, max_size=50), st.sampled_from(AuditAction))
def test_an_entry_row_reads_back(drawn: list[AuditTarget], action: AuditAction) -> None:
    entry = AuditEntry.create(action, drawn, operation="op", actor="usr_a")
    assert _audit.decode_entry(_audit.entry_row(entry)) == entry


def test_a_long_list_is_compressed() -> None:
    many = [AuditTarget("customer", f"cus_{i:026d}", 1) for i in range(1_000)]
    packed = _audit.pack_targets(many)
    assert isinstance(packed, bytes)
    assert len(packed) < len(_audit.encode_targets(many)) / 5
