"""Issue 11's examples, each as the customer wrote it, through the whole platform (REST channel).

FerretDB, the action server with the knowledge base, Rasa with the trained model and the gateway all
run for real; a reply here is what the customer would read, and the conversation's state and handoff
reason are read from the database the operator console uses. None of these sentences is a training
example (bench/nlu.py checks the held-out set; these are checked below too).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from core.db import Database, Document
from core.stack import Stack
from tests.rest_support import Customer, said

TRAINING_DIR = Path(__file__).resolve().parent.parent / "bot" / "data" / "nlu"


def has_cyrillic(text: str) -> bool:
    return re.search(r"[а-яё]", text, re.IGNORECASE) is not None


NOT_UNDERSTOOD = ("не понял", "didn't understand", "не знаю ответа", "don't know that yet")


def understood(replies: list[dict[str, Any]]) -> bool:
    text = said(replies)
    return not any(marker in text for marker in NOT_UNDERSTOOD)


@pytest.fixture
def customer(http: aiohttp.ClientSession, stack: Stack) -> Callable[..., Customer]:
    def make(token: str | None = None) -> Customer:
        return Customer(http, stack.gateway_url, token, prefix="understanding")

    return make


async def conversation_of(bank: Database, someone: Customer) -> Document:
    conversation = await bank.conversations.find_one({"_id": someone.conversation_id})
    assert conversation is not None
    return conversation


# --- The examples are not training data -----------------------------------------------------------

ISSUE_EXAMPLES = [
    "нет, это всё, спасибо",
    "нет это всё спасибо",
    "found it, hit the daily limit. thanks!",
    "здравствуйте у меня кошелёк украли",
    "Мне нужна помощь оператора, с карты списали деньги, которых я не тратила",
    "Списание 3 499 ₽ Ozon, я не покупала",
    "i dont recognize the 4,990 rub charge from yesterday",
    "yes please connect me",
    "ok where do i see the reason",
    "а сколько в месяц так можно снять",
    "как снять деньги за границей?",
]


def test_the_issue_examples_are_not_training_examples() -> None:
    training = "\n".join(p.read_text(encoding="utf-8").lower() for p in TRAINING_DIR.glob("*.yml"))
    for example in ISSUE_EXAMPLES:
        assert f"- {example.lower()}\n" not in training, example


# --- "Anything else?" is answered, and thanks never lead to an operator ----------------------------


@pytest.mark.parametrize("closing", ["нет, это всё, спасибо", "нет это всё спасибо"])
async def test_a_customer_who_needs_nothing_else_is_seen_off_politely(
    customer: Callable[..., Customer], bank: Database, closing: str
) -> None:
    someone = customer()
    await someone.says("здравствуйте")
    asked = await someone.says("ок")  # an "ok" with no question before it: the bot asks what else
    assert "Могу ли я ещё чем-нибудь помочь?" in said(asked)
    goodbye = await someone.says(closing)  # in chat, and as the phone line transcribes it
    assert understood(goodbye), goodbye
    assert has_cyrillic(said(goodbye))
    assert (await conversation_of(bank, someone))["state"] == "bot"


async def test_thanks_after_a_miss_ends_well_and_never_brings_an_operator(
    customer: Callable[..., Customer], bank: Database
) -> None:
    someone = customer()
    miss = await someone.says("do you store gold bars for customers?")
    assert "don't know" in said(miss)
    thanks = await someone.says("found it, hit the daily limit. thanks!")
    assert understood(thanks), thanks
    assert "welcome" in said(thanks).lower() or "goodbye" in said(thanks).lower(), thanks
    assert (await conversation_of(bank, someone))["state"] == "bot"


# --- Language stays until the customer clearly changes it -----------------------------------------


@pytest.mark.parametrize("latin", ["ok", "Visa", "SMS", "Mastercard"])
async def test_a_single_latin_word_keeps_a_russian_conversation_russian(
    customer: Callable[..., Customer], latin: str
) -> None:
    someone = customer()
    assert "Здравствуйте" in said(await someone.says("добрый день"))
    reply = said(await someone.says(latin))
    assert has_cyrillic(reply), reply


# --- Lost and stolen --------------------------------------------------------------------------------


async def test_a_stolen_wallet_is_a_card_to_block_at_once(customer: Callable[..., Customer], bank: Database) -> None:
    guest = customer()
    replies = await guest.says("здравствуйте у меня кошелёк украли")
    assert "заблокировать карту" in said(replies), replies  # the sign-in notice for blocking, with an operator
    connected = await guest.says("да")
    assert "оператор" in said(connected).lower()
    conversation = await conversation_of(bank, guest)
    assert conversation["state"] == "queued"
    assert conversation["handoff"]["reason"] == "block_card_unverified"


async def test_a_signed_in_customer_with_a_stolen_wallet_is_asked_which_card(
    customer: Callable[..., Customer], mint_token: Callable[..., str]
) -> None:
    ivan = customer(mint_token("demo-ivan"))
    replies = await ivan.says("здравствуйте у меня кошелёк украли")
    assert "Какую карту заблокировать?" in said(replies), replies


# --- Disputed charges -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("Мне нужна помощь оператора, с карты списали деньги, которых я не тратила", "не совершали операцию"),
        ("Списание 3 499 ₽ Ozon, я не покупала", "не совершали операцию"),
        ("i dont recognize the 4,990 rub charge from yesterday", "didn't make the transaction"),
    ],
)
async def test_a_charge_the_customer_did_not_make_gets_the_dispute_answer_and_an_operator(
    customer: Callable[..., Customer], bank: Database, text: str, answer: str
) -> None:
    someone = customer()
    replies = await someone.says(text)
    assert answer in said(replies), replies
    assert "Последние операции" not in said(replies) and "Recent transactions" not in said(replies)
    conversation = await conversation_of(bank, someone)
    assert conversation["state"] == "queued"
    assert conversation["handoff"]["reason"] == "disputed_charge"


# --- An operator offer: yes hands off, no keeps the bot ----------------------------------------------


async def test_yes_please_connect_me_after_the_offer_hands_off(
    customer: Callable[..., Customer], bank: Database
) -> None:
    someone = customer()
    # A question the KB has no article for (a product request, "mortgages for houseboats", now goes to sales).
    offer = await someone.says("do you exchange old coins for banknotes?")
    assert "Shall I connect you to an operator?" in said(offer)
    await someone.says("yes please connect me")
    conversation = await conversation_of(bank, someone)
    assert conversation["state"] == "queued"
    assert conversation["handoff"]["reason"] == "kb_no_answer"


async def test_a_plain_yes_after_the_offer_hands_off_and_a_no_keeps_the_bot(
    customer: Callable[..., Customer], bank: Database
) -> None:
    declines = customer()
    offer = await declines.says("можно ли у вас арендовать банковскую ячейку?")
    assert "Соединить вас с оператором?" in said(offer)
    stays = await declines.says("нет")
    assert "остаёмся в чате" in said(stays), stays
    assert (await conversation_of(bank, declines))["state"] == "bot"

    accepts = customer()
    await accepts.says("можно ли у вас арендовать банковскую ячейку?")
    await accepts.says("да")
    assert (await conversation_of(bank, accepts))["state"] == "queued"


# --- Follow-ups keep the thread ----------------------------------------------------------------------


async def test_where_to_see_the_reason_after_the_declined_card_answer(customer: Callable[..., Customer]) -> None:
    someone = customer()
    first = await someone.says("my card got declined at the shop, why?")
    assert "declin" in said(first).lower() or "reason" in said(first).lower(), first
    follow_up = await someone.says("ok where do i see the reason")
    assert understood(follow_up), follow_up
    assert "History" in said(follow_up), follow_up


async def test_how_much_a_month_after_the_atm_fee_answer(customer: Callable[..., Customer]) -> None:
    someone = customer()
    first = await someone.says("сколько стоит снять наличные в чужом банкомате?")
    assert "комиссия" in said(first).lower(), first
    follow_up = await someone.says("а сколько в месяц так можно снять")
    assert understood(follow_up), follow_up
    assert "в месяц" in said(follow_up), follow_up


# --- KB ranking where one word decides ---------------------------------------------------------------


async def test_cash_abroad_is_the_abroad_article_not_the_domestic_atm_fee(customer: Callable[..., Customer]) -> None:
    replies = await customer().says("как снять деньги за границей?")
    assert "за рубежом" in said(replies) or "За границей" in said(replies), replies


# --- Stretched words, a language asked for, questions off the bank's topic --------------------------


@pytest.mark.parametrize("stretched", ["дааа", "агаа, давайте"])
async def test_a_stretched_yes_after_the_offer_hands_off(
    customer: Callable[..., Customer], bank: Database, stretched: str
) -> None:
    someone = customer()
    offer = await someone.says("можно ли у вас арендовать банковскую ячейку?")
    assert "Соединить вас с оператором?" in said(offer)
    await someone.says(stretched)
    assert (await conversation_of(bank, someone))["state"] == "queued"


async def test_a_customer_who_asks_for_english_gets_english_not_an_operator(
    customer: Callable[..., Customer], bank: Database
) -> None:
    someone = customer()
    await someone.says("привет")
    switched = await someone.says("sorry, could we do this in english?")
    assert "continue in English" in said(switched), switched
    assert (await conversation_of(bank, someone))["state"] == "bot"
    balance = await someone.says("what is my balance")
    assert not has_cyrillic(said(balance)), balance


@pytest.mark.parametrize("question", ["сколько сахара в арбузе", "how do i fix a leaking tap"])
async def test_a_question_off_the_banks_topic_is_declined_not_read_as_a_bank_request(
    customer: Callable[..., Customer], bank: Database, question: str
) -> None:
    replies = await customer().says(question)
    text = said(replies)
    declined = ("только на вопросы о ваших картах", "only handle questions about your Demo-Bank")
    assert any(marker in text for marker in declined + NOT_UNDERSTOOD), replies
    assert "Баланс" not in text and "balance" not in text.split("I can show your balance")[0], replies


@pytest.mark.parametrize("answer", ["да, хочу поговорить с человеком", "yes, get me a real person"])
async def test_a_yes_with_a_request_for_a_person_after_i_am_a_bot_hands_off(
    customer: Callable[..., Customer], bank: Database, answer: str
) -> None:
    someone = customer()
    await someone.says("я разговариваю с ботом?" if answer.startswith("да") else "is this a bot?")
    await someone.says(answer)
    conversation = await conversation_of(bank, someone)
    assert conversation["state"] == "queued", conversation
    assert conversation["handoff"]["reason"] == "customer_request"


async def test_asking_for_russian_in_english_switches_the_conversation_to_russian(
    customer: Callable[..., Customer], bank: Database
) -> None:
    someone = customer()
    await someone.says("hello")
    switched = await someone.says("could you answer in russian?")
    assert "по-русски" in said(switched), switched
    conversation = await conversation_of(bank, someone)
    assert conversation["language"] == "ru" and conversation["state"] == "bot"
