"""Surveys: one to three questions asked inside a conversation, each answer stored on its own.

One mechanism for every survey the bank asks: the rating after an operator closes a
conversation (rating 1-5, then a free comment) and the survey campaigns of the outbound
package (any of rating 1-5, a 0-10 recommendation score and a free comment). The
conversation remembers which question waits (`awaiting: "survey"` and a `survey`
field); the router hands the customer's next message here before the bot sees it, so
a score button, a typed digit, a number said on the phone ("четыре", "eight") or a key
pressed answers the question, and a comment is stored as a comment, never read as an
intent. Each answer is a unique insert keyed by the survey run and the question, so a
retried or doubled message never stores it twice.
"""

from __future__ import annotations

import math
import re
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from core.db import Database, Document
from core.messages import Button, Reply
from handoff import claims, events
from handoff.bus import EventBus
from handoff.events import Event
from handoff.notices import Notice, notice_text

AWAITING = "survey"
# The survey the gateway asks after an operator closed a conversation; its run id is the conversation's.
AFTER_CONVERSATION = "after_conversation"
MAX_QUESTIONS = 3
MAX_COMMENT_CHARS = 2000
# Button payloads: "/rate_4" (kept from the rating's first buttons), "/score_9", "/survey_skip".
RATE_PAYLOAD_PREFIX = "/rate_"
SCORE_PAYLOAD_PREFIX = "/score_"
SKIP_PAYLOAD = "/survey_skip"
# The custom key of a question reply: channels that cannot show buttons (the phone) read it instead.
CUSTOM_KEY = "survey_question"
_VOICE_CHANNELS = frozenset({"voice"})


class QuestionType(StrEnum):
    """What a question asks for."""

    RATING = "rating_1_5"
    RECOMMEND = "nps_0_10"
    COMMENT = "comment"

    @property
    def scale(self) -> range | None:
        """The scores a scored question accepts; None for a comment."""
        if self is QuestionType.RATING:
            return range(1, 6)
        if self is QuestionType.RECOMMEND:
            return range(0, 11)
        return None


@dataclass(frozen=True)
class Question:
    """One question of a survey; `id` names its answer (unique within the survey)."""

    id: str
    type: QuestionType

    def to_dict(self) -> dict[str, str]:
        """The stored and wire form."""
        return {"id": self.id, "type": self.type.value}


class BadSurvey(ValueError):
    """A survey definition that cannot be asked; the text says why."""


def parse_questions(raw: object) -> tuple[Question, ...]:
    """Questions from untrusted JSON (`[{"id": "rating", "type": "rating_1_5"}, ...]`), 1-3 of them.

    Raises:
        BadSurvey: on a missing or unknown type, a repeated id, or too few or too many questions.
    """
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_QUESTIONS:
        raise BadSurvey(f"A survey asks 1 to {MAX_QUESTIONS} questions.")
    questions: list[Question] = []
    for item in raw:
        if not isinstance(item, dict):
            raise BadSurvey("Each question is an object with 'type' (and optionally 'id').")
        try:
            kind = QuestionType(str(item.get("type")))
        except ValueError as err:
            allowed = ", ".join(t.value for t in QuestionType)
            raise BadSurvey(f"Unknown question type {item.get('type')!r}; use one of {allowed}.") from err
        question_id = str(item.get("id") or kind.value)
        if not re.fullmatch(r"[a-z0-9_]{1,32}", question_id):
            raise BadSurvey("A question id is 1-32 lowercase letters, digits or underscores.")
        if any(q.id == question_id for q in questions):
            raise BadSurvey(f"The question id {question_id!r} is used twice.")
        questions.append(Question(question_id, kind))
    return tuple(questions)


# What each question says when the survey brings no text of its own.
_QUESTION_TEXTS: dict[QuestionType, dict[str, str]] = {
    QuestionType.RATING: {
        "ru": "Оцените, пожалуйста, нашу работу от 1 до 5, где 5 — отлично.",
        "en": "Please rate our service from 1 to 5, where 5 is excellent.",
    },
    QuestionType.RECOMMEND: {
        "ru": "Насколько вероятно, что вы порекомендуете Демо-Банк друзьям или коллегам? "
        "Оцените от 0 до 10, где 10 — точно порекомендую.",
        "en": "How likely are you to recommend Demo-Bank to a friend or colleague? "
        "Answer from 0 to 10, where 10 is very likely.",
    },
    QuestionType.COMMENT: {
        "ru": "Хотите что-нибудь добавить? Просто напишите свой комментарий.",
        "en": "Anything you would like to add? Just type your comment.",
    },
}
_THANKS = {
    "ru": "Спасибо за ваши ответы! Они помогают нам стать лучше.",
    "en": "Thank you for your answers! They help us improve.",
}
# On the phone the keypad replaces the buttons, and a number may be said instead. Numbers are written as
# words in Russian, in the case the sentence needs ("от одного до пяти"), for the speech synthesizer.
_VOICE_HINTS: dict[QuestionType, dict[str, str]] = {
    QuestionType.RATING: {
        "ru": "Нажмите цифру от одного до пяти или назовите оценку.",
        "en": "Press a key from 1 to 5 or say your rating.",
    },
    QuestionType.RECOMMEND: {
        "ru": "Наберите число от нуля до десяти и нажмите решётку, или назовите его.",
        "en": "Enter a number from 0 to 10 followed by the hash key, or say it.",
    },
    QuestionType.COMMENT: {
        "ru": "Скажите ваш комментарий после сигнала или нажмите решётку, чтобы пропустить.",
        "en": "Say your comment after the tone, or press the hash key to skip.",
    },
}
_VOICE_QUESTIONS: dict[QuestionType, dict[str, str]] = {
    QuestionType.RATING: {"ru": "Оцените, пожалуйста, нашу работу от одного до пяти, где пять — отлично."},
    QuestionType.RECOMMEND: {
        "ru": "Насколько вероятно, что вы порекомендуете Демо-Банк друзьям или коллегам? "
        "Оцените от нуля до десяти, где десять — точно порекомендую."
    },
}
_SKIP_TITLE = {"ru": "Пропустить", "en": "Skip"}


@dataclass(frozen=True)
class Survey:
    """A survey to ask in one conversation.

    `key` groups answers for results ("after_conversation", "campaign:<id>"); `run` names this
    asking (one conversation, one customer); `texts` may replace a question's words per language
    (keyed by question id, plus "thanks" for the closing line).
    """

    key: str
    questions: tuple[Question, ...]
    run: str = field(default_factory=lambda: uuid.uuid4().hex)
    campaign_id: str | None = None
    attempt_id: str | None = None
    texts: dict[str, dict[str, str]] = field(default_factory=dict)

    def to_document(self, index: int = 0) -> Document:
        """The pending survey as the conversation stores it."""
        return {
            "key": self.key,
            "run": self.run,
            "questions": [q.to_dict() for q in self.questions],
            "index": index,
            "campaign_id": self.campaign_id,
            "attempt_id": self.attempt_id,
            "texts": self.texts,
        }

    @classmethod
    def from_document(cls, doc: Document) -> Survey:
        """Read a pending survey back."""
        return cls(
            key=str(doc["key"]),
            questions=tuple(Question(str(q["id"]), QuestionType(q["type"])) for q in doc["questions"]),
            run=str(doc["run"]),
            campaign_id=doc.get("campaign_id"),
            attempt_id=doc.get("attempt_id"),
            texts=dict(doc.get("texts") or {}),
        )


def after_conversation(conversation_id: str) -> Survey:
    """The rating after an operator closed a conversation: 1-5, then a free comment."""
    return Survey(
        key=AFTER_CONVERSATION,
        questions=(Question("rating", QuestionType.RATING), Question("comment", QuestionType.COMMENT)),
        run=conversation_id,
        texts={
            "rating": {lang: notice_text(Notice.ASK_RATING, lang) for lang in ("ru", "en")},
            "comment": {lang: notice_text(Notice.ASK_COMMENT, lang) for lang in ("ru", "en")},
            "thanks": {lang: notice_text(Notice.THANKS_FOR_RATING, lang) for lang in ("ru", "en")},
        },
    )


def _text(survey: Survey, key: str, language: str, default: dict[str, str]) -> str:
    own = survey.texts.get(key) or {}
    return own.get(language) or default.get(language) or own.get("ru") or default["ru"]


def question_reply(survey: Survey, index: int, *, language: str, channel: str) -> Reply:
    """Question `index` as a reply: its words and its buttons (keypad words on the phone)."""
    question = survey.questions[index]
    lang = language if language in ("ru", "en") else "ru"
    text = _text(survey, question.id, lang, _QUESTION_TEXTS[question.type])
    custom: dict[str, Any] = {CUSTOM_KEY: {"type": question.type.value, "run": survey.run}}
    if channel in _VOICE_CHANNELS:
        hint = _VOICE_HINTS[question.type][lang]
        # The phone reads `voice` (numbers as words); the transcript keeps the written text.
        spoken = text if question.id in survey.texts else _VOICE_QUESTIONS.get(question.type, {}).get(lang, text)
        custom["voice"] = f"{spoken} {hint}"
        return Reply(text=f"{text} {hint}", custom=custom, author="system")
    if question.type is QuestionType.RATING:
        buttons = tuple(Button(str(n), f"{RATE_PAYLOAD_PREFIX}{n}") for n in range(1, 6))
    elif question.type is QuestionType.RECOMMEND:
        buttons = tuple(Button(str(n), f"{SCORE_PAYLOAD_PREFIX}{n}") for n in range(0, 11))
    else:
        buttons = (Button(_SKIP_TITLE[lang], SKIP_PAYLOAD),)
    return Reply(text=text, buttons=buttons, custom=custom, author="system")


def thanks_reply(survey: Survey, *, language: str) -> Reply:
    """The closing line after the last answer."""
    lang = language if language in ("ru", "en") else "ru"
    return Reply(text=_text(survey, "thanks", lang, _THANKS), author="system")


# Numbers said rather than typed: what a speech recognizer writes for "four" / "четыре".
_NUMBER_WORDS: dict[str, int] = {
    "ноль": 0, "нуль": 0, "zero": 0, "один": 1, "одна": 1, "единица": 1, "единицу": 1, "one": 1,
    "два": 2, "две": 2, "двойка": 2, "двойку": 2, "two": 2, "три": 3, "тройка": 3, "тройку": 3, "three": 3,
    "четыре": 4, "четвёрка": 4, "четверка": 4, "четвёрку": 4, "четверку": 4, "four": 4,
    "пять": 5, "пятёрка": 5, "пятерка": 5, "пятёрку": 5, "пятерку": 5, "five": 5,
    "шесть": 6, "six": 6, "семь": 7, "seven": 7, "восемь": 8, "eight": 8, "девять": 9, "nine": 9,
    "десять": 10, "ten": 10,
    # "из пяти", "из десяти": the scale's top said after the score.
    "пяти": 5, "десяти": 10,
}  # fmt: skip
# Words that may stand around a score without changing it: "ставлю пять", "5 баллов", "a solid 9", "8/10".
_FILLER = frozenset(
    "ставлю ставим оценка оценку моя моё мое я на балл балла баллов из звезды звёзды звезд звёзд "
    "i give it a my score rating is out of points point stars star solid".split()
)
_TOKEN_RE = re.compile(r"[0-9]+|[a-zа-яё]+")


def parse_score(text: str, question: QuestionType) -> int | None:
    """A score for a scored question from a button, a typed number or a number said; None if it is not one.

    Only a message that is a score and nothing more counts ("5", "ставлю 4", "8 из 10", "nine"):
    "у меня 2 карты" is a question for the bot, not a rating of 2.
    """
    scale = question.scale
    if scale is None:
        return None
    raw = text.strip().lower()
    for prefix in (RATE_PAYLOAD_PREFIX, SCORE_PAYLOAD_PREFIX):
        if raw.startswith(prefix):
            raw = raw.removeprefix(prefix)
            break
    tokens = _TOKEN_RE.findall(raw)
    if not tokens or re.search(r"[^\w\s/.,!?-]", raw):
        return None
    numbers: list[int] = []
    for token in tokens:
        if token.isdigit():
            numbers.append(int(token))
        elif token in _NUMBER_WORDS:
            numbers.append(_NUMBER_WORDS[token])
        elif token not in _FILLER:
            return None
    # "8 из 10" / "4 out of 5": the scale's top after the score is not a second answer.
    if len(numbers) == 2 and numbers[1] == scale[-1] and ("из" in tokens or "of" in tokens or "/" in raw):
        numbers = numbers[:1]
    if len(numbers) != 1 or numbers[0] not in scale:
        return None
    return numbers[0]


@dataclass(frozen=True)
class Answer:
    """What the customer's message meant for the waiting question."""

    value: int | None = None
    comment: str | None = None
    skipped: bool = False


# "Stop" to a survey is a wish to hear no more, for the outbound side's opt-out, not a comment.
_STOP_RE = re.compile(
    r"^\s*(стоп|хватит|отпишите|отписаться|stop|unsubscribe)\b|не\s+(присылайте|пишите|беспокойте)", re.IGNORECASE
)


def interpret(question: QuestionType, text: str) -> Answer | None:
    """The message as an answer to `question`, or None when it does not answer it."""
    if question is QuestionType.COMMENT:
        stripped = text.strip()
        if stripped == SKIP_PAYLOAD or stripped == "#":
            return Answer(skipped=True)
        if stripped.startswith("/") or _STOP_RE.search(stripped):
            return None  # another button, or "stop": not a comment
        return Answer(comment=stripped[:MAX_COMMENT_CHARS])
    score = parse_score(text, question)
    return None if score is None else Answer(value=score)


async def ensure_indexes(db: Database) -> None:
    """Results select answers by survey or campaign and time."""
    await db.survey_answers.create_index([("key", 1), ("at", 1)])
    await db.survey_answers.create_index([("campaign_id", 1), ("at", 1)])


async def start(db: Database, conversation_id: str, survey: Survey, *, language: str, channel: str) -> Reply:
    """Make `survey` the conversation's waiting question and return its first question to send."""
    await db.conversations.update_one(
        {"_id": conversation_id}, {"$set": {"awaiting": AWAITING, "survey": survey.to_document()}}
    )
    return question_reply(survey, 0, language=language, channel=channel)


@dataclass(frozen=True)
class Pending:
    """The survey a conversation waits on and the question it is at."""

    survey: Survey
    index: int

    @property
    def question(self) -> Question:
        """The waiting question."""
        return self.survey.questions[self.index]


async def pending(db: Database, conversation_id: str, awaiting: str | None) -> Pending | None:
    """The conversation's waiting survey question, if any (`awaiting` as the conversation knows it).

    A conversation closed before surveys existed waits for "rating" or "comment": the same survey.
    """
    if awaiting in ("rating", "comment"):
        return Pending(after_conversation(conversation_id), 0 if awaiting == "rating" else 1)
    if awaiting != AWAITING:
        return None
    doc = await db.conversations.find_one({"_id": conversation_id}, projection={"survey": 1})
    stored = (doc or {}).get("survey")
    if not isinstance(stored, dict):
        return None
    survey = Survey.from_document(stored)
    index = int(stored.get("index", 0))
    return Pending(survey, index) if 0 <= index < len(survey.questions) else None


@dataclass(frozen=True)
class Asked:
    """Who answers: the conversation and what the answer is filed with."""

    conversation_id: str
    channel: str
    language: str
    customer_id: str | None = None
    operator_id: str | None = None


async def store_answer(
    db: Database, survey: Survey, question: Question, answer: Answer, asked: Asked, *, now: datetime
) -> bool:
    """Store one answer once (keyed by run and question); False when it was already stored."""
    return await claims.claim(
        db.survey_answers,
        f"{survey.run}:{question.id}",
        {
            "key": survey.key,
            "run": survey.run,
            "campaign_id": survey.campaign_id,
            "attempt_id": survey.attempt_id,
            "conversation_id": asked.conversation_id,
            "customer_id": asked.customer_id,
            "operator_id": asked.operator_id,
            "channel": asked.channel,
            "language": asked.language,
            "question": question.id,
            "type": question.type.value,
            "value": answer.value,
            "comment": answer.comment,
            "skipped": answer.skipped,
            "at": now,
        },
    )


async def migrate_old_ratings(db: Database, *, now: datetime) -> int:
    """Copy the ratings stored before surveys existed (collection `ratings`) into survey answers.

    Before this mechanism the rating after a conversation lived in `ratings` ({_id: conversation,
    score, at, comment, comment_at}); results and figures read `survey_answers` only. Each copied
    answer gets the id the survey itself gives it ("<conversation>:rating", "...:comment"), so a
    second run, two gateways starting at once, or a late answer to a conversation still waiting
    for its rating never store one twice; a copied document is marked and not read again.

    Returns:
        How many old ratings were copied by this call.
    """
    survey = after_conversation("")
    rating, comment = survey.questions
    copied = 0
    async for old in db.ratings.find({"migrated_at": {"$exists": False}}):
        conversation_id = str(old["_id"])
        conversation = await db.conversations.find_one({"_id": conversation_id}) or {}
        asked = Asked(
            conversation_id=conversation_id,
            channel=str(conversation.get("channel") or "unknown"),
            language=str(conversation.get("language") or "ru"),
            customer_id=conversation.get("customer_id"),
            operator_id=(conversation.get("assignee") or {}).get("id"),
        )
        run = replace(survey, run=conversation_id)
        at = _datetime_or(old.get("at"), now)
        score = old.get("score")
        if isinstance(score, int) and 1 <= score <= 5:
            copied += await store_answer(db, run, rating, Answer(value=score), asked, now=at)
        text = old.get("comment")
        if isinstance(text, str) and text.strip():
            comment_at = _datetime_or(old.get("comment_at"), at)
            await store_answer(db, run, comment, Answer(comment=text[:MAX_COMMENT_CHARS]), asked, now=comment_at)
        await db.ratings.update_one({"_id": old["_id"]}, {"$set": {"migrated_at": now}})
    return copied


def _datetime_or(value: object, default: datetime) -> datetime:
    return value if isinstance(value, datetime) else default


@dataclass(frozen=True)
class Taken:
    """An answer taken: what to send next (the next question or the thanks) and whether the survey is over."""

    replies: list[Reply]
    finished: bool


async def take_answer(
    db: Database, bus: EventBus, waiting: Pending, text: str, asked: Asked, *, now: datetime
) -> Taken | None:
    """Answer the waiting question with the customer's message.

    None when the message does not answer it (the caller treats it as an ordinary message).
    """
    answer = interpret(waiting.question.type, text)
    if answer is None:
        return None
    survey, question = waiting.survey, waiting.question
    stored = await store_answer(db, survey, question, answer, asked, now=now)
    if stored:
        await bus.emit(
            Event(
                events.SURVEY_ANSWERED,
                asked.conversation_id,
                "customer",
                now,
                {
                    "survey": survey.key,
                    "run": survey.run,
                    "campaign_id": survey.campaign_id,
                    "attempt_id": survey.attempt_id,
                    "question": question.id,
                    "type": question.type.value,
                    "value": answer.value,
                },
            )
        )
        if survey.key == AFTER_CONVERSATION and question.type is QuestionType.RATING and answer.value is not None:
            # The figures' average rating per operator counts these.
            await bus.emit(
                Event(events.RATING_CREATED, asked.conversation_id, "customer", now, {"score": answer.value})
            )
    following = waiting.index + 1
    if following < len(survey.questions):
        await db.conversations.update_one(
            {"_id": asked.conversation_id}, {"$set": {"awaiting": AWAITING, "survey": survey.to_document(following)}}
        )
        return Taken([question_reply(survey, following, language=asked.language, channel=asked.channel)], False)
    await finish(db, asked.conversation_id)
    return Taken([thanks_reply(survey, language=asked.language)], True)


async def finish(db: Database, conversation_id: str) -> None:
    """The conversation waits for no survey answer any more."""
    await db.conversations.update_one({"_id": conversation_id}, {"$unset": {"awaiting": "", "survey": ""}})


@dataclass(frozen=True)
class DayResults:
    """One day's answers of a survey (the day in the reader's time zone)."""

    day: str
    answers: int
    rating_avg: float | None
    nps: float | None


@dataclass(frozen=True)
class Results:
    """A survey's answers summed up: the average rating, the recommendation score (NPS), comments."""

    answers: int
    respondents: int
    rating_avg: float | None
    ratings: int
    nps: float | None
    scores: int
    by_day: list[DayResults]
    comments: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        """The wire form (the shape of the campaign results' `survey`)."""
        return {
            "answers": self.answers,
            "respondents": self.respondents,
            "rating_avg": self.rating_avg,
            "ratings": self.ratings,
            "nps": self.nps,
            "scores": self.scores,
            "by_day": [d.__dict__ for d in self.by_day],
            "comments": self.comments,
        }


def net_promoter_score(scores: Sequence[int]) -> float | None:
    """Promoters (9-10) minus detractors (0-6), in percent of all scores; None without scores."""
    if not scores:
        return None
    promoters = sum(1 for s in scores if s >= 9)
    detractors = sum(1 for s in scores if s <= 6)
    return round(100.0 * (promoters - detractors) / len(scores), 1)


def _avg(values: Sequence[int]) -> float | None:
    return round(math.fsum(values) / len(values), 2) if values else None


# The newest comments a results page lists; the CSV export has them all.
_MAX_COMMENTS = 50


async def results(
    db: Database, *, campaign_id: str | None = None, key: str | None = None, zone: ZoneInfo | None = None
) -> Results:
    """The answers of one campaign's survey (or of every asking of a survey key), per day in `zone`."""
    query: dict[str, Any] = {"campaign_id": campaign_id} if campaign_id is not None else {"key": key}
    tz = zone or ZoneInfo("UTC")
    ratings: list[int] = []
    scores: list[int] = []
    runs: set[str] = set()
    per_day: dict[str, dict[str, list[int]]] = defaultdict(lambda: {"rating": [], "nps": [], "all": []})
    comments: list[dict[str, Any]] = []
    answers = 0
    async for doc in db.survey_answers.find(query).sort("at", 1):
        answers += 1
        runs.add(str(doc.get("run")))
        day = doc["at"].astimezone(tz).date().isoformat()
        per_day[day]["all"].append(1)
        value = doc.get("value")
        if doc.get("type") == QuestionType.RATING.value and isinstance(value, int):
            ratings.append(value)
            per_day[day]["rating"].append(value)
        elif doc.get("type") == QuestionType.RECOMMEND.value and isinstance(value, int):
            scores.append(value)
            per_day[day]["nps"].append(value)
        elif doc.get("type") == QuestionType.COMMENT.value and isinstance(doc.get("comment"), str):
            comments.append(
                {
                    "customer_id": doc.get("customer_id"),
                    "conversation_id": doc.get("conversation_id"),
                    "comment": doc["comment"],
                    "at": doc["at"].isoformat(),
                }
            )
    by_day = [
        DayResults(day=day, answers=len(v["all"]), rating_avg=_avg(v["rating"]), nps=net_promoter_score(v["nps"]))
        for day, v in sorted(per_day.items())
    ]
    return Results(
        answers=answers,
        respondents=len(runs),
        rating_avg=_avg(ratings),
        ratings=len(ratings),
        nps=net_promoter_score(scores),
        scores=len(scores),
        by_day=by_day,
        comments=list(reversed(comments))[:_MAX_COMMENTS],
    )
