"""The host app's email-validator settings must not change what crmcore accepts."""

from __future__ import annotations

import email_validator
import pytest
from email_validator import deliverability
from hypothesis import given

from crmcore import EmailAddress, ValidationError
from crmcore.testing.strategies import email_addresses

CORPUS = (
    "ada@example.com",
    "  Ada.Lovelace@EXAMPLE.com ",
    "jörg@bücher.de",
    "user+tag@sub.example.co.uk",
    '"quoted local"@example.com',
    "Ada Lovelace <ada@example.com>",
    "ada@[192.0.2.1]",
    "@example.com",
    "ada@example",
    "ada@localhost",
    "ada@example.test",
    "ada@example.invalid",
    "ada@mail.local",
    "a" * 70 + "@example.com",
    "ada@gmail.com",
)

# Every module-level default email-validator reads when an option is not passed,
# set to the opposite of its shipped value.
HOSTILE_SETTINGS = {
    "ALLOW_SMTPUTF8": False,
    "ALLOW_EMPTY_LOCAL": True,
    "ALLOW_QUOTED_LOCAL": True,
    "ALLOW_DOMAIN_LITERAL": True,
    "ALLOW_DISPLAY_NAME": True,
    "STRICT": True,
    "GLOBALLY_DELIVERABLE": False,
    "CHECK_DELIVERABILITY": True,
    "TEST_ENVIRONMENT": True,
    "DEFAULT_TIMEOUT": 1,
}


def _outcome(text: str) -> tuple[str, str] | str:
    try:
        email = EmailAddress.parse(text)
    except ValidationError as exc:
        return str(exc)
    return email.normalized, email.match_key


@pytest.fixture(scope="module")
def baseline() -> dict[str, tuple[str, str] | str]:
    return {text: _outcome(text) for text in CORPUS}


@pytest.mark.parametrize("setting", sorted(HOSTILE_SETTINGS))
def test_one_global_setting_changes_nothing(
    setting: str, baseline: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert hasattr(email_validator, setting)
    monkeypatch.setattr(email_validator, setting, HOSTILE_SETTINGS[setting])
    assert {text: _outcome(text) for text in CORPUS} == baseline


def test_all_global_settings_together_change_nothing(
    baseline: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    for setting, value in HOSTILE_SETTINGS.items():
        monkeypatch.setattr(email_validator, setting, value)
    assert {text: _outcome(text) for text in CORPUS} == baseline


def test_special_use_domains_edited_by_the_host_app_change_nothing(
    baseline: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    # email-validator's README suggests removing "test" from this list to allow
    # test addresses; crmcore keeps refusing special-use domains regardless.
    edited = [d for d in email_validator.SPECIAL_USE_DOMAIN_NAMES if d not in {"test", "local"}]
    monkeypatch.setattr(email_validator, "SPECIAL_USE_DOMAIN_NAMES", edited)
    assert {text: _outcome(text) for text in CORPUS} == baseline


def _no_dns(*args: object, **kwargs: object) -> dict[str, str]:
    raise AssertionError("crmcore asked email-validator to check deliverability")


@given(email_addresses())
def test_deliverability_is_never_checked(email: EmailAddress) -> None:
    # email-validator swallows resolver errors, so the suite's network guard
    # alone would not notice a lookup: fail loudly if one is even attempted.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(email_validator, "CHECK_DELIVERABILITY", True)
        patch.setattr(deliverability, "validate_email_deliverability", _no_dns)
        assert EmailAddress.parse(str(email)) == email


def test_the_deliverability_probe_works(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deliverability, "validate_email_deliverability", _no_dns)
    with pytest.raises(AssertionError, match="deliverability"):
        email_validator.validate_email("ada@example.com", check_deliverability=True)
