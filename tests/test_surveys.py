"""Surveys: one mechanism for the rating after a conversation and the bank's survey campaigns.

Stories on the real platform (REST channel, real Rasa): the bank asks a customer
three questions in their conversation; buttons, typed numbers and numbers in
words answer them; a comment is stored as a comment and never reaches the bot;
a message that is not a score goes to the bot while the question keeps waiting.
Below them, the pieces: what counts as a score, the recommendation score, and
what a survey definition may ask.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from connectors.voice.calls import load_call, save_call
from connectors.voice.twiml import CALL_ID_PREFIX
from core.app import create_app
from core.db import Database
from core.keys import BUS_KEY, DB_KEY
from core.stack import Stack
from handoff import conversations, outbox, surveys
from handoff.bus import EventBus
from handoff.surveys import Question, QuestionType

from .channel_support import TWIML_TOKEN
from .handoff_support import (
    REST,
    REST_HEADERS,
    _close_operator_sessions,
    bot_heard,
    bus,
    db,
    ferretdb,
    gateway_settings,
    mongo,
)
from .test_voice_english_call import PUBLIC, Call, said, spoken

__all__ = ["_close_operator_sessions", "bus", "db", "ferretdb", "mongo"]

THREE_QUESTIONS = (
    Question("rating", QuestionType.RATING),
    Question("nps", QuestionType.RECOMMEND),
    Question("comment", QuestionType.COMMENT),
)


@pytest.fixture
async def gateway(stack: Stack, aiohttp_client: Any) -> TestClient[web.Request, web.Application]:
    client: TestClient[web.Request, web.Application] = await aiohttp_client(
        create_app(gateway_settings(stack, "surveys"))
    )
    return client


async def says(gateway: TestClient[web.Request, web.Application], sender: str, text: str) -> dict[str, Any]:
    resp = await gateway.post(REST, json={"sender": sender, "text": text}, headers=REST_HEADERS)
    assert resp.status == 200, await resp.text()
    turn: dict[str, Any] = await resp.json()
    return turn


def texts(turn: dict[str, Any]) -> list[str]:
    return [reply["text"] for reply in turn["replies"]]


def buttons(turn: dict[str, Any]) -> list[str]:
    return [button["title"] for reply in turn["replies"] for button in reply.get("buttons") or []]


async def bank_asks(
    gateway: TestClient[web.Request, web.Application], conversation_id: str, campaign_id: str
) -> surveys.Survey:
    """The bank's survey campaign sends its first question into the customer's conversation."""
    db = gateway.app[DB_KEY]
    survey = surveys.Survey(key=f"campaign:{campaign_id}", questions=THREE_QUESTIONS, campaign_id=campaign_id)
    conversation = await conversations.get_conversation(db, conversation_id)
    assert conversation is not None
    first = await surveys.start(db, conversation_id, survey, language="ru", channel=conversation.channel)
    await outbox.send_to_customer(db, gateway.app[BUS_KEY], conversation, first, actor="system", now=datetime.now(UTC))
    return survey


async def test_a_customer_answers_three_questions_by_button_in_words_and_with_a_comment(
    gateway: TestClient[web.Request, web.Application], stack: Stack
) -> None:
    opened = await says(gateway, "survey-anna", "привет")
    conversation_id = opened["conversation_id"]
    await bank_asks(gateway, conversation_id, "cmp_story")

    turn = await says(gateway, "survey-anna", "/rate_4")
    assert texts(turn)[0].startswith("Оцените, пожалуйста, нашу работу от 1 до 5"), "the question was delivered"
    assert texts(turn)[-1].startswith("Насколько вероятно, что вы порекомендуете Демо-Банк")
    assert buttons(turn)[-11:] == [str(n) for n in range(11)]

    turn = await says(gateway, "survey-anna", "восемь из десяти")
    assert texts(turn) == ["Хотите что-нибудь добавить? Просто напишите свой комментарий."]
    assert buttons(turn) == ["Пропустить"]

    # Words that would be a request to the bot are the customer's comment here.
    turn = await says(gateway, "survey-anna", "Заблокируйте мне карту, шучу: всё хорошо, но приложение тормозит")
    assert texts(turn) == ["Спасибо за ваши ответы! Они помогают нам стать лучше."]
    heard = await bot_heard(stack, conversation_id)
    assert not any("приложение тормозит" in text for text in heard), "the comment never reached the bot"

    db = gateway.app[DB_KEY]
    stored = {a["question"]: a async for a in db.survey_answers.find({"campaign_id": "cmp_story"})}
    assert stored["rating"]["value"] == 4 and stored["nps"]["value"] == 8
    assert stored["comment"]["comment"].endswith("приложение тормозит")
    assert {a["conversation_id"] for a in stored.values()} == {conversation_id}

    results = await surveys.results(db, campaign_id="cmp_story", zone=ZoneInfo("Europe/Moscow"))
    assert (results.respondents, results.rating_avg, results.nps) == (1, 4.0, 0.0)
    assert [(d.answers, d.rating_avg, d.nps) for d in results.by_day] == [(3, 4.0, 0.0)]
    assert results.comments[0]["comment"].endswith("приложение тормозит")

    # The survey is over: the bot answers again.
    turn = await says(gateway, "survey-anna", "5")
    assert not any("Спасибо за ваши ответы" in text for text in texts(turn))
    assert "5" in await bot_heard(stack, conversation_id)


async def test_a_message_that_is_no_score_goes_to_the_bot_and_the_question_keeps_waiting(
    gateway: TestClient[web.Request, web.Application], stack: Stack
) -> None:
    opened = await says(gateway, "survey-boris", "привет")
    conversation_id = opened["conversation_id"]
    await bank_asks(gateway, conversation_id, "cmp_wait")

    await says(gateway, "survey-boris", "у меня 2 карты, как узнать баланс?")
    assert "у меня 2 карты, как узнать баланс?" in await bot_heard(stack, conversation_id)
    db = gateway.app[DB_KEY]
    assert await db.survey_answers.count_documents({"campaign_id": "cmp_wait"}) == 0

    turn = await says(gateway, "survey-boris", "ставлю 5")
    assert texts(turn)[-1].startswith("Насколько вероятно")
    # Pressing the same button twice (a retry, a double tap) stores the answer once.
    await says(gateway, "survey-boris", "/score_10")
    answers = await db.survey_answers.count_documents({"campaign_id": "cmp_wait"})
    assert answers == 2
    results = await surveys.results(db, campaign_id="cmp_wait")
    assert (results.rating_avg, results.nps) == (5.0, 100.0)


@pytest.fixture
async def phone_gateway(stack: Stack, aiohttp_client: Any) -> TestClient[web.Request, web.Application]:
    settings = gateway_settings(stack, "survey_call", twiml_auth_token=TWIML_TOKEN, twiml_public_url=PUBLIC)
    client: TestClient[web.Request, web.Application] = await aiohttp_client(create_app(settings))
    return client


async def test_on_the_phone_keys_answer_the_scores_and_the_comment_is_said(
    phone_gateway: TestClient[web.Request, web.Application], stack: Stack
) -> None:
    """The call as the outbound dialler leaves it: the survey's first question asked, the call state told so."""
    call = Call(phone_gateway)
    await call.rings()
    await call.says("здравствуйте")
    db = phone_gateway.app[DB_KEY]
    conversation = await db.conversations.find_one({"channel": "voice", "channel_user_id": {"$regex": call.sid}})
    assert conversation is not None
    survey = surveys.Survey(key="campaign:cmp_phone", questions=THREE_QUESTIONS, campaign_id="cmp_phone")
    first = await surveys.start(db, conversation["_id"], survey, language="ru", channel="voice")
    assert first.custom["voice"].endswith(
        "от одного до пяти, где пять — отлично. Нажмите цифру от одного до пяти или назовите оценку."
    )
    assert not first.buttons
    state = await load_call(db, f"{CALL_ID_PREFIX}{call.sid}")
    assert state is not None
    state.survey_question = first.custom[surveys.CUSTOM_KEY]["type"]
    await save_call(db, state)

    nps = await call.presses("5")
    assert spoken(nps).endswith(
        "Оцените от нуля до десяти, где десять — точно порекомендую. "
        "Наберите число от нуля до десяти и нажмите решётку, или назовите его."
    )
    comment = await call.presses("0")  # 0 is a score here, not the operator key
    assert "Скажите ваш комментарий после сигнала" in spoken(comment)
    thanks = await call.says("всё хорошо, но долго ждал ответа")
    assert said(thanks)[0] == ("ru-RU", "Спасибо за ваши ответы! Они помогают нам стать лучше.")

    stored = {a["question"]: a async for a in db.survey_answers.find({"campaign_id": "cmp_phone"})}
    assert (stored["rating"]["value"], stored["nps"]["value"]) == (5, 0)
    assert stored["comment"]["comment"] == "всё хорошо, но долго ждал ответа"
    assert {a["channel"] for a in stored.values()} == {"voice"}
    assert "всё хорошо, но долго ждал ответа" not in await bot_heard(stack, conversation["_id"])


async def test_a_double_tap_sent_at_once_stores_one_answer(db: Database, bus: EventBus) -> None:
    """FerretDB applies concurrent upserts as read-then-write: the answer is a unique insert instead."""
    survey = surveys.Survey(key="campaign:cmp_race", questions=THREE_QUESTIONS, campaign_id="cmp_race")
    await db.conversations.insert_one({"_id": "c-race", "channel": "telegram", "channel_user_id": "1", "state": "bot"})
    await surveys.start(db, "c-race", survey, language="ru", channel="telegram")
    waiting = await surveys.pending(db, "c-race", surveys.AWAITING)
    assert waiting is not None
    asked = surveys.Asked(conversation_id="c-race", channel="telegram", language="ru")
    taps = await asyncio.gather(
        *(surveys.take_answer(db, bus, waiting, "/rate_5", asked, now=datetime.now(UTC)) for _ in range(8))
    )
    assert all(t is not None for t in taps)
    assert await db.survey_answers.count_documents({"campaign_id": "cmp_race"}) == 1
    assert await db.events.count_documents({"name": "survey.answered"}) == 1


@pytest.mark.parametrize(
    ("text", "question", "score"),
    [
        ("/rate_4", QuestionType.RATING, 4),
        ("5", QuestionType.RATING, 5),
        (" 3 ", QuestionType.RATING, 3),
        ("четыре", QuestionType.RATING, 4),
        ("ставлю пять", QuestionType.RATING, 5),
        ("5 звёзд", QuestionType.RATING, 5),
        ("4 из 5", QuestionType.RATING, 4),
        ("Four", QuestionType.RATING, 4),
        ("6", QuestionType.RATING, None),
        ("0", QuestionType.RATING, None),
        ("у меня 2 карты", QuestionType.RATING, None),
        ("2 или 3", QuestionType.RATING, None),
        ("👍", QuestionType.RATING, None),
        ("/score_0", QuestionType.RECOMMEND, 0),
        ("0", QuestionType.RECOMMEND, 0),
        ("10", QuestionType.RECOMMEND, 10),
        ("8/10", QuestionType.RECOMMEND, 8),
        ("восемь из десяти", QuestionType.RECOMMEND, 8),
        ("I give it a nine", QuestionType.RECOMMEND, 9),
        ("11", QuestionType.RECOMMEND, None),
        ("десять тысяч", QuestionType.RECOMMEND, None),
        ("5", QuestionType.COMMENT, None),
    ],
)
def test_what_counts_as_a_score(text: str, question: QuestionType, score: int | None) -> None:
    assert surveys.parse_score(text, question) == score


def test_a_comment_is_any_words_and_the_skip_button_skips_it() -> None:
    assert surveys.interpret(QuestionType.COMMENT, "/request_operator") is None
    assert surveys.interpret(QuestionType.COMMENT, surveys.SKIP_PAYLOAD) == surveys.Answer(skipped=True)
    assert surveys.interpret(QuestionType.COMMENT, "позовите оператора") == surveys.Answer(comment="позовите оператора")
    # "Stop" is the customer's wish to hear no more (the outbound side opts them out), not a comment.
    for stop in ("стоп", "Stop", "не присылайте мне это", "unsubscribe"):
        assert surveys.interpret(QuestionType.COMMENT, stop) is None, stop


def test_the_recommendation_score_is_promoters_minus_detractors() -> None:
    assert surveys.net_promoter_score([10, 9, 8, 7, 6, 0]) == 0.0
    assert surveys.net_promoter_score([10, 10, 9, 3]) == 50.0
    assert surveys.net_promoter_score([]) is None


def test_a_survey_asks_one_to_three_known_questions() -> None:
    assert surveys.parse_questions([{"type": "nps_0_10"}]) == (Question("nps_0_10", QuestionType.RECOMMEND),)
    for bad in ([], [{"type": "comment"}] * 4, [{"type": "stars"}], [{"id": "a", "type": "comment"}] * 2, "x"):
        with pytest.raises(surveys.BadSurvey):
            surveys.parse_questions(bad)


def test_on_the_phone_the_question_names_the_keys_instead_of_buttons() -> None:
    survey = surveys.Survey(key="campaign:x", questions=THREE_QUESTIONS)
    spoken = surveys.question_reply(survey, 1, language="en", channel="voice")
    assert spoken.buttons == ()
    assert spoken.text.endswith("Enter a number from 0 to 10 followed by the hash key, or say it.")
    assert spoken.custom[surveys.CUSTOM_KEY]["type"] == "nps_0_10"


async def test_ratings_stored_before_surveys_existed_join_the_survey_results_once(db: Database, bus: EventBus) -> None:
    """Old `ratings` documents become answers of the after-conversation survey; running again copies nothing."""
    then = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    for cid, operator in (("c-old-1", "olga"), ("c-old-2", "ivan")):
        await db.conversations.insert_one(
            {"_id": cid, "channel": "telegram", "channel_user_id": cid, "state": "closed", "language": "ru",
             "customer_id": "cust-1", "assignee": {"id": operator}}
        )  # fmt: skip
    await db.ratings.insert_many(
        [
            {"_id": "c-old-1", "score": 5, "at": then, "comment": "Быстро помогли", "comment_at": then},
            {"_id": "c-old-2", "score": 2, "at": then},
        ]
    )
    # Two gateways start at once, then one restarts.
    first = await asyncio.gather(*(surveys.migrate_old_ratings(db, now=then) for _ in range(2)))
    again = await surveys.migrate_old_ratings(db, now=then)
    assert sum(first) == 2 and again == 0
    assert await db.survey_answers.count_documents({}) == 3

    results = await surveys.results(db, key=surveys.AFTER_CONVERSATION)
    assert (results.ratings, results.rating_avg, results.respondents) == (2, 3.5, 2)
    assert [c["comment"] for c in results.comments] == ["Быстро помогли"]
    stored = await db.survey_answers.find_one({"_id": "c-old-2:rating"})
    assert stored is not None and stored["operator_id"] == "ivan" and stored["channel"] == "telegram"

    # A customer of an old conversation still waiting for the comment answers now: stored once, beside the copy.
    waiting = await surveys.pending(db, "c-old-2", "comment")
    assert waiting is not None
    asked = surveys.Asked(conversation_id="c-old-2", channel="telegram", language="ru", operator_id="ivan")
    assert await surveys.take_answer(db, bus, waiting, "Долго ждал", asked, now=datetime.now(UTC)) is not None
    assert await surveys.migrate_old_ratings(db, now=then) == 0
    assert await db.survey_answers.count_documents({"run": "c-old-2"}) == 2
