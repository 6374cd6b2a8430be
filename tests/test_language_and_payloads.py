"""The gateway tells Russian from English per message and lets only our own buttons through."""

from __future__ import annotations

import pytest

from core.language import detect_language
from handoff.payloads import is_known_payload, is_payload


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("да", "ru"),
        ("ok", "en"),
        ("Какой баланс на карте Visa?", "ru"),
        ("what's my balance on карта", "en"),
        ("1234", None),
        ("👍", None),
        ("/affirm", None),
    ],
)
def test_language_is_detected_per_message(text: str, language: str | None) -> None:
    assert detect_language(text) == language


@pytest.mark.parametrize(
    "payload",
    [
        "/affirm",
        "/deny",
        "/request_operator",
        '/inform{"card_last4":"1234"}',
        '/check_balance{"product_type":"credit_card"}',
        # "Помогло / Не помогло" under a knowledge-base answer (and keys 1 / 2 on the phone).
        '/faq{"kb_article": "card_abroad", "kb_vote": "helpful"}',
        '/faq{"kb_article": "card_abroad", "kb_vote": "not_helpful"}',
    ],
)
def test_our_buttons_pass(payload: str) -> None:
    assert is_payload(payload)
    assert is_known_payload(payload)


@pytest.mark.parametrize(
    "payload",
    [
        "/transfer_money",
        '/inform{"card_last4":"12345"}',
        '/inform{"card_last4":{"$gt":""}}',
        '/inform{"customer_id":"demo-ivan"}',
        "/inform[1]",
        '/inform{"card_last4":"1234"',
        "/AFFIRM",
        '/faq{"kb_article": "card_abroad", "kb_vote": "very"}',
    ],
)
def test_forged_or_unknown_buttons_are_stopped(payload: str) -> None:
    assert not is_known_payload(payload)
