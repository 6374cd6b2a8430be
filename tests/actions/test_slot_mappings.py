"""The gateway's metadata, not the customer's words, decides language and identity."""

from __future__ import annotations

from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.slot_mappings import ValidateSlotMappings

from .trackers import DOMAIN, metadata, tracker


async def test_first_message_of_a_signed_in_english_customer_sets_all_three_slots() -> None:
    conversation = tracker("hi", meta=metadata("demo-john", language="en"))

    events = await ValidateSlotMappings().run(CollectingDispatcher(), conversation, DOMAIN)

    assert events == [
        SlotSet("language", "en"),
        SlotSet("customer_id", "demo-john"),
        SlotSet("customer_verified", True),
    ]


async def test_nothing_changes_so_no_events() -> None:
    conversation = tracker(
        "баланс",
        meta=metadata("demo-ivan"),
        slots={"language": "ru", "customer_id": "demo-ivan", "customer_verified": True},
    )

    assert await ValidateSlotMappings().run(CollectingDispatcher(), conversation, DOMAIN) == []


async def test_customer_switches_to_english_mid_conversation() -> None:
    conversation = tracker(
        "what's my balance",
        meta=metadata("demo-ivan", language="en"),
        slots={"language": "ru", "customer_id": "demo-ivan", "customer_verified": True},
    )

    events = await ValidateSlotMappings().run(CollectingDispatcher(), conversation, DOMAIN)

    assert events == [SlotSet("language", "en")]


async def test_a_message_without_a_verified_id_signs_the_conversation_out() -> None:
    conversation = tracker(
        "баланс", meta=metadata(None), slots={"language": "ru", "customer_id": "demo-ivan", "customer_verified": True}
    )

    events = await ValidateSlotMappings().run(CollectingDispatcher(), conversation, DOMAIN)

    assert events == [SlotSet("customer_id", None), SlotSet("customer_verified", False)]


async def test_missing_or_unknown_language_keeps_russian_default() -> None:
    conversation = tracker("12345", meta={"channel": "rest", "language": "de"})

    events = await ValidateSlotMappings().run(CollectingDispatcher(), conversation, DOMAIN)

    assert events == [SlotSet("language", "ru")]


async def test_slots_filled_by_rasa_itself_are_not_echoed_back() -> None:
    conversation = tracker(
        "баланс карты",
        "check_balance",
        meta=metadata("demo-ivan"),
        slots={"language": "ru", "customer_id": "demo-ivan", "customer_verified": True, "product_type": "card"},
        after=[{"event": "slot", "name": "product_type", "value": "card"}],
    )

    assert await ValidateSlotMappings().run(CollectingDispatcher(), conversation, DOMAIN) == []
