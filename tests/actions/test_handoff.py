"""Handing over to an operator: a text for the customer, a reason for the gateway."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import ActionHandoff

from .trackers import DOMAIN, metadata, tracker, user_event, verified


async def hand_off(intent: str, **kwargs: Any) -> tuple[list[dict[str, Any]], CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    events = await ActionHandoff().run(dispatcher, tracker("...", intent, **kwargs), DOMAIN)
    return events, dispatcher


@pytest.mark.parametrize(
    ("intent", "slots", "reason"),
    [
        ("request_operator", verified("demo-ivan"), "customer_request"),
        ("complaint", verified("demo-ivan"), "complaint"),
        ("block_card", {}, "block_card_unverified"),
        ("nlu_fallback", {}, "nlu_fallback"),
    ],
)
async def test_the_reason_comes_from_what_the_customer_asked(
    intent: str, slots: dict[str, object], reason: str
) -> None:
    events, dispatcher = await hand_off(intent, slots=slots)

    assert dispatcher.messages[0]["text"] == (
        "Соединяю вас с оператором. Пожалуйста, подождите: первый освободившийся специалист ответит в этом чате."
    )
    assert dispatcher.messages[1]["custom"] == {"handoff": {"reason": reason}}
    assert events == []


async def test_operator_requested_right_after_an_unverified_block_request_goes_to_the_cards_team() -> None:
    earlier = [user_event("украли карту", "block_card", metadata(None))]

    _, dispatcher = await hand_off("request_operator", earlier=earlier)

    assert dispatcher.messages[1]["custom"] == {"handoff": {"reason": "block_card_unverified"}}


async def test_another_reason_from_the_slot_is_passed_on_and_cleared() -> None:
    events, dispatcher = await hand_off("affirm", slots={"handoff_reason": "kb_escalate"})

    assert dispatcher.messages[1]["custom"] == {"handoff": {"reason": "kb_escalate"}}
    assert events == [SlotSet("handoff_reason", None)]


async def test_in_english() -> None:
    _, dispatcher = await hand_off("request_operator", meta=metadata(None, "en"), slots={"language": "en"})

    assert dispatcher.messages[0]["text"] == (
        "I'm connecting you to an operator. Please wait: the first available specialist will answer in this chat."
    )
