"""Blocking a card: which card, are you sure, done once, audited; nothing blocked on no."""

from __future__ import annotations

from typing import Any

from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.block_card import (
    ActionAskBlockConfirmed,
    ActionAskCardLast4,
    ActionBlockCard,
    ValidateBlockCardForm,
)
from actions.dependencies import FixedBackend
from core.banking import MongoBankingBackend, find_audit_records
from core.db import Database

from .trackers import DOMAIN, metadata, texts, tracker, verified


async def answer_card_question(
    backend: MongoBankingBackend,
    text: str,
    *,
    entity: Any = None,
    customer_id: str = "demo-ivan",
    language: str = "ru",
) -> tuple[list[Any], CollectingDispatcher]:
    """The customer answers "which card?" inside the form; Rasa filled card_last4 if the NLU found an entity."""
    slots = verified(customer_id, language) | {"requested_slot": "card_last4", "card_last4": entity}
    after = [{"event": "slot", "name": "card_last4", "value": entity}] if entity is not None else []
    conversation = tracker(
        text, "inform", meta=metadata(customer_id, language), slots=slots, after=after, active_loop="block_card_form"
    )
    dispatcher = CollectingDispatcher()
    events = await ValidateBlockCardForm(FixedBackend(backend)).run(dispatcher, conversation, DOMAIN)
    return events, dispatcher


async def test_digits_recognised_by_the_nlu_are_accepted(backend: MongoBankingBackend) -> None:
    events, dispatcher = await answer_card_question(backend, "последние цифры 5678", entity="5678")

    assert events == [SlotSet("card_last4", "5678")]
    assert dispatcher.messages == []


async def test_a_message_of_exactly_four_digits_is_taken_without_an_entity(backend: MongoBankingBackend) -> None:
    events, _ = await answer_card_question(backend, " 5678 ")

    assert events == [SlotSet("card_last4", "5678")]


async def test_a_typed_card_number_arrives_masked_and_its_last_digits_are_used(backend: MongoBankingBackend) -> None:
    # The gateway turned "4276 1600 1234 9012" into "•••• 9012" before Rasa saw it.
    events, _ = await answer_card_question(backend, "вот номер •••• 9012, заблокируйте")

    assert events == [SlotSet("card_last4", "9012")]


async def test_unknown_digits_are_explained_and_asked_again(backend: MongoBankingBackend) -> None:
    events, dispatcher = await answer_card_question(backend, "4444", entity="4444")

    assert events == [SlotSet("card_last4", None)]
    assert texts(dispatcher) == [
        "Я не нашёл у вас карту, номер которой заканчивается на 4444. Проверьте цифры и напишите их ещё раз."
    ]


async def test_someone_elses_card_is_unknown_too(backend: MongoBankingBackend) -> None:
    events, dispatcher = await answer_card_question(backend, "3344", entity="3344", customer_id="demo-anna")

    assert events == [SlotSet("card_last4", None)]
    assert texts(dispatcher)[0].startswith("Я не нашёл у вас карту")


async def test_an_already_blocked_card_ends_the_form(backend: MongoBankingBackend) -> None:
    events, dispatcher = await answer_card_question(backend, "1234", entity="1234")

    assert events == [SlotSet("card_last4", None), SlotSet("requested_slot", None)]
    assert texts(dispatcher) == [
        "Карта Visa •••• 1234 уже заблокирована, расплатиться ею нельзя. Новую карту можно заказать в приложении: "
        "«Карты» → «Перевыпустить карту»."
    ]


async def test_a_payload_smuggling_a_query_is_not_a_card_number(backend: MongoBankingBackend) -> None:
    events, dispatcher = await answer_card_question(backend, '/inform{"card_last4":{"$gt":""}}', entity={"$gt": ""})

    assert events == [SlotSet("card_last4", None)]
    assert texts(dispatcher) == ["Мне нужны только последние четыре цифры номера карты, например 1234."]


async def test_the_answer_to_are_you_sure_is_kept() -> None:
    conversation = tracker(
        "да",
        "affirm",
        meta=metadata("demo-ivan"),
        slots=verified("demo-ivan")
        | {"card_last4": "5678", "requested_slot": "block_confirmed", "block_confirmed": True},
        after=[{"event": "slot", "name": "block_confirmed", "value": True}],
        active_loop="block_card_form",
    )

    events = await ValidateBlockCardForm().run(CollectingDispatcher(), conversation, DOMAIN)

    assert events == [SlotSet("block_confirmed", True)]


async def test_which_card_question_offers_only_active_cards(backend: MongoBankingBackend) -> None:
    dispatcher = CollectingDispatcher()
    conversation = tracker(
        "заблокируйте карту",
        "block_card",
        meta=metadata("demo-ivan"),
        slots=verified("demo-ivan"),
        active_loop="block_card_form",
    )

    assert await ActionAskCardLast4(FixedBackend(backend)).run(dispatcher, conversation, DOMAIN) == []

    [message] = dispatcher.messages
    assert message["text"] == (
        "Какую карту заблокировать? Напишите последние четыре цифры её номера или выберите карту ниже."
    )
    assert message["buttons"] == [
        {"title": "Мир •••• 5678", "payload": '/inform{"card_last4":"5678"}'},
        {"title": "Mastercard •••• 9012", "payload": '/inform{"card_last4":"9012"}'},
    ]


async def test_are_you_sure_names_the_card_with_yes_no_buttons_in_english(backend: MongoBankingBackend) -> None:
    dispatcher = CollectingDispatcher()
    conversation = tracker(
        "3344", "inform", meta=metadata("demo-john", "en"), slots=verified("demo-john", "en") | {"card_last4": "3344"}
    )

    await ActionAskBlockConfirmed(FixedBackend(backend)).run(dispatcher, conversation, DOMAIN)

    [message] = dispatcher.messages
    assert message["text"] == (
        "Shall I block the card Visa •••• 3344? It will stop working for payments, and it can't be unblocked in chat."
    )
    assert message["buttons"] == [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]


def submit_tracker(confirmed: bool | None, last4: str | None = "5678", language: str = "ru") -> Any:
    return tracker(
        "да" if confirmed else "нет",
        "affirm" if confirmed else "deny",
        meta=metadata("demo-ivan", language, channel="telegram", conversation_id="tg-conv-7"),
        slots=verified("demo-ivan", language) | {"card_last4": last4, "block_confirmed": confirmed},
        sender_id="tg-conv-7",
    )


RESET = [SlotSet("card_last4", None), SlotSet("block_confirmed", None)]


async def test_ivan_confirms_and_the_card_is_blocked_once_with_an_audit_record(
    backend: MongoBankingBackend, bank_db: Database
) -> None:
    action = ActionBlockCard(FixedBackend(backend))
    dispatcher = CollectingDispatcher()

    assert await action.run(dispatcher, submit_tracker(True), DOMAIN) == RESET

    assert texts(dispatcher) == [
        "Готово: карта Мир •••• 5678 заблокирована, расплатиться ею больше нельзя. Новую карту можно заказать "
        "в приложении («Карты» → «Перевыпустить карту») или в любом отделении, она будет готова за 5 рабочих дней."
    ]
    [card] = [c for c in await backend.list_cards("demo-ivan") if c.last4 == "5678"]
    assert not card.is_active

    # The same confirmation delivered twice (a retried webhook) blocks nothing more and says so.
    again = CollectingDispatcher()
    assert await action.run(again, submit_tracker(True), DOMAIN) == RESET
    assert texts(again)[0].startswith("Карта Мир •••• 5678 уже заблокирована")

    records = await find_audit_records(bank_db.audit_log, "demo-ivan")
    assert [(r["actor"], r["channel"], r["conversation_id"], r["card_last4"], r["result"]) for r in records] == [
        ("bot", "telegram", "tg-conv-7", "5678", "blocked"),
        ("bot", "telegram", "tg-conv-7", "5678", "already_blocked"),
    ]


async def test_in_english_the_confirmation_tells_how_to_reissue(backend: MongoBankingBackend) -> None:
    dispatcher = CollectingDispatcher()

    await ActionBlockCard(FixedBackend(backend)).run(dispatcher, submit_tracker(True, "9012", "en"), DOMAIN)

    assert texts(dispatcher) == [
        "Done: the card Mastercard •••• 9012 is blocked and can no longer be used for payments. You can order a new "
        "card in the app (Cards → Reissue card) or at any branch; it will be ready within 5 working days."
    ]


async def test_ivan_says_no_and_nothing_is_blocked(backend: MongoBankingBackend, bank_db: Database) -> None:
    dispatcher = CollectingDispatcher()

    assert await ActionBlockCard(FixedBackend(backend)).run(dispatcher, submit_tracker(False), DOMAIN) == RESET

    assert texts(dispatcher) == ["Хорошо, я ничего не блокировал. Карта Мир •••• 5678 продолжает работать."]
    assert all(c.is_active for c in await backend.list_cards("demo-ivan") if c.last4 != "1234")
    assert await find_audit_records(bank_db.audit_log, "demo-ivan") == []


async def test_after_a_form_stopped_early_the_submit_says_nothing(backend: MongoBankingBackend) -> None:
    dispatcher = CollectingDispatcher()

    assert await ActionBlockCard(FixedBackend(backend)).run(dispatcher, submit_tracker(None, None), DOMAIN) == RESET

    assert dispatcher.messages == []
