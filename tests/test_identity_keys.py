"""Integration API keys and the gateway's identity voucher: what settings accept, what a signature proves."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from connectors.rest import integration_of, presented_key
from core.identity import InvalidVoucher, Voucher, hash_api_key, sign_voucher, verify_voucher
from core.settings import LOCAL_REST_API_KEY, LOCAL_REST_INTEGRATION, Settings, SettingsError, parse_api_keys

SECRET = "a-signing-secret-of-at-least-thirty-two-bytes"
IVAN = Voucher(conversation_id="conv-1", channel="webchat", customer_id="demo-ivan", method="customer_token")


def test_settings_hold_only_hashes_of_integration_keys() -> None:
    digest = hash_api_key("partner-key")

    assert parse_api_keys(f"partner-crm:{digest}, tests:{hash_api_key('x')}") == {
        "partner-crm": digest,
        "tests": hash_api_key("x"),
    }
    assert "partner-key" not in str(parse_api_keys(f"partner-crm:{digest}"))


@pytest.mark.parametrize(
    "entry", ["partner-crm:partner-key", "Partner CRM:" + "0" * 64, "partner-crm", ":" + "0" * 64, "x:" + "g" * 64]
)
def test_a_malformed_key_entry_stops_the_start_and_says_how_to_make_one(entry: str) -> None:
    with pytest.raises(SettingsError, match=r"name:sha256hex.*connectors\.rest_keys"):
        parse_api_keys(entry)


def test_local_runs_have_the_documented_integration_and_production_has_none_until_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("REST_API_KEYS", raising=False)
    monkeypatch.setenv("CC_ENV", "local")
    assert Settings.from_env().rest_api_keys == {LOCAL_REST_INTEGRATION: hash_api_key(LOCAL_REST_API_KEY)}

    for name in ("RASA_TOKEN", "CUSTOMER_TOKEN_SECRET", "ACTION_SERVER_TOKEN", "IDENTITY_SIGNING_SECRET"):
        monkeypatch.setenv(name, "x" * 40)
    monkeypatch.setenv("CC_ENV", "staging")
    assert Settings.from_env().rest_api_keys == {}


def test_only_a_configured_key_names_an_integration() -> None:
    keys = {"partner-crm": hash_api_key("partner-key"), "tests": hash_api_key("tests-key")}

    assert integration_of(presented_key({"X-Api-Key": "partner-key"}), keys) == "partner-crm"
    assert integration_of(presented_key({"Authorization": "Bearer tests-key"}), keys) == "tests"
    assert integration_of(presented_key({"X-Api-Key": "partner-key "}), keys) == "partner-crm"
    for headers in ({}, {"X-Api-Key": ""}, {"X-Api-Key": "nope"}, {"Authorization": "tests-key"}):
        assert integration_of(presented_key(headers), keys) is None


def test_a_voucher_proves_who_writes_in_which_conversation() -> None:
    token = sign_voucher(IVAN, SECRET)

    assert verify_voucher(token, SECRET, "conv-1") == IVAN
    guest = Voucher(conversation_id="conv-1", channel="telegram", customer_id=None, method=None)
    assert verify_voucher(sign_voucher(guest, SECRET), SECRET, "conv-1") == guest


# Vouchers live minutes: each is signed when its case runs, not when pytest collects the cases (the suite
# takes longer than a voucher's lifetime, and a voucher signed at collection had expired by then).
UNPROVEN: dict[str, tuple[Callable[[], object], str, str]] = {
    "missing": (lambda: None, "conv-1", "no identity signature"),
    "garbage": (lambda: "not-a-jwt", "conv-1", "rejected"),
    "other-secret": (lambda: sign_voucher(IVAN, "another-secret-that-is-long-enough-too-1234"), "conv-1", "rejected"),
    "other-conversation": (lambda: sign_voucher(IVAN, SECRET), "conv-2", "another conversation"),
    "expired": (lambda: sign_voucher(IVAN, SECRET, now=int(time.time()) - 3600), "conv-1", "expired"),
}


@pytest.mark.parametrize("case", list(UNPROVEN))
def test_a_voucher_that_does_not_prove_it_is_refused(case: str) -> None:
    token, conversation_id, reason = UNPROVEN[case]
    with pytest.raises(InvalidVoucher, match=reason):
        verify_voucher(token(), SECRET, conversation_id)
