"""The customer's reply to an outbound contact, with the contact in its context.

The router asks this first for a conversation whose last bank-initiated message is recent. A button
of the message answers it, then the plain words of an answer in either language ("нет, это не я",
"yes, it was me", "уже оплатил", "сколько и до какого числа?", "не могу заплатить", "стоп"), matched
by pattern. Other wordings are read by the assistant's own understanding: Rasa's NLU (`/model/parse`,
the model and intents the bot uses) in the contact's context. To "was this payment yours?",
"affirm" ("Всё верно", "Correct") is yes; "deny", "dispute_charge" or "block_card" ("Точно нет",
"Absolutely not", "I don't recognise this purchase") is a probable no, and since blocking a card on a
misread sentence is worse than one more tap, the alert's question is asked again with its two
buttons; an answer that is still unclear brings the fraud team with the alert (asked once, then an
operator). "request_operator" in reply to any contact brings an operator with it. Anything else
goes to the assistant as usual (its fallback asks once, then an operator takes over). "Не
присылайте мне напоминания" opts out from anywhere.

Nothing about a debt is said to anyone but the customer: the amount is named only when the
message comes with the customer's verified identity (a linked Telegram chat, a signed-in web chat).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any, Protocol

from actions.formatting import format_amount
from connectors.voice.intents import ParsedIntent
from core.banking import BankingBackend
from core.identity import CustomerIdentity
from core.masking import mask_sensitive
from core.messages import Reply
from handoff.conversations import Conversation, HandoffReason
from handoff.events import Event
from handoff.router import VOICE_CHANNEL, HookedTurn
from outbound import store
from outbound.delivery import recipient_of
from outbound.messages import ANSWER_INTENT, buttons_for, format_due_date
from outbound.models import Attempt, Kind
from outbound.rules import zone_of

logger = logging.getLogger(__name__)

# A reply this long after the contact is a new matter, not an answer to it.
ANSWER_WINDOW = timedelta(days=7)
# The assistant's intents read in a contact's context. To a fraud alert, "affirm" is yes; the "no" intents
# are asked again with the buttons before a card is blocked. Any other intent is a matter for the bot.
FRAUD_ALERT_YES_INTENTS = frozenset({"affirm"})
FRAUD_ALERT_NO_INTENTS = frozenset({"deny", "dispute_charge", "block_card"})
CONTACT_INTENTS = {"request_operator": "operator"}
# Below this the model is unsure (config.yml's FallbackClassifier uses 0.8 for the bot's own turns).
MIN_INTENT_CONFIDENCE = 0.9
_PAYLOAD_RE = re.compile(rf"^/{ANSWER_INTENT}(\{{.*\}})$", re.DOTALL)

# Words that answer an outbound contact, per answer; both languages, matched on whole words.
_ANSWERS: list[tuple[str, re.Pattern[str]]] = [
    (
        "stop",
        re.compile(
            r"^\s*(стоп|stop|хватит|отписаться|unsubscribe)\b|не\s+(пиши|присыла|звони|беспоко)|отпиш|"
            r"\b(unsubscribe|opt[\s-]?out|stop\s+(sending|messag|remind|texting)|don'?t\s+(send|text|message|call))",
            re.IGNORECASE,
        ),
    ),
    (
        "cannot_pay",
        re.compile(
            r"не\s+(могу|смогу|получается)\s+(за)?плат|нечем\s+плат|нет\s+денег|перенести|отсроч|рассроч|"
            r"\b(can'?t|cannot|unable\s+to)\s+pay|\bpostpone|\breschedul|\bmove\s+the\s+(date|payment)|\bextension\b",
            re.IGNORECASE,
        ),
    ),
    (
        "paid",
        re.compile(
            r"(уже\s+)?(о|за)платил|внес(ла|л)?\b|погасил|\b(already\s+paid|i\s+(have\s+)?paid|i'?ve\s+paid|paid\s+it)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "how_much",
        re.compile(
            r"сколько|как(ая|ую)\s+сумм|до\s+какого|какого\s+числа|когда\s+(нужно\s+|надо\s+)?(платить|оплатить)|"
            r"\b(how\s+much|what\s+amount|the\s+amount|when\s+is\s+it\s+due|due\s+date|by\s+when)\b",
            re.IGNORECASE,
        ),
    ),
    ("remind_tomorrow", re.compile(r"напомн\w*\s+завтра|\bremind\s+me\s+tomorrow\b", re.IGNORECASE)),
    (
        "operator",
        re.compile(r"оператор|специалист|человек|\b(operator|agent|human|a\s+person)\b", re.IGNORECASE),
    ),
]
_NO = re.compile(
    r"^\s*(нет|неа|no|nope)\b|\bне\s+я\b|это\s+не\s+я|не\s+(делал|совершал|покупал|плати)|"
    r"\b(not\s+me|wasn'?t\s+me|it\s+was\s+not\s+me|didn'?t|did\s+not|fraud)\b",
    re.IGNORECASE,
)
_YES = re.compile(
    r"^\s*(да|ага|yes|yep|yeah)\b|это\s+(был(а)?\s+)?я|\b(it\s+was\s+me|that\s+was\s+me|i\s+did)\b", re.IGNORECASE
)
_ANYWHERE_OPT_OUT = re.compile(
    r"не\s+(присылайте|присылай|отправляйте)\s+(мне\s+)?(больше\s+)?(напоминани|рассылк|опрос|предложени)|"
    r"\b(stop|don'?t\s+send)\s+(me\s+)?(any\s+more\s+)?(reminders|offers|surveys)\b",
    re.IGNORECASE,
)

TEXTS: dict[str, dict[str, str]] = {
    "paid": {
        "ru": "Спасибо! Отметили, что вы оплатили. Если платёж ещё не отразился, он появится в течение рабочего дня.",
        "en": "Thank you! We have noted that you paid. A payment not shown yet will be within a working day.",
    },
    "remind_tomorrow": {"ru": "Хорошо, напомню завтра.", "en": "All right, I will remind you tomorrow."},
    "stopped": {
        "ru": "Больше не будем присылать напоминания, опросы и предложения. Уведомления о безопасности карт "
        "продолжат приходить.",
        "en": "We will send no more reminders, surveys or offers. Security alerts about your cards will still come.",
    },
    "amount": {
        "ru": "По продукту «{product}» нужно внести {amount} до {due_date}.",
        "en": "The payment for your {product} is {amount}, due by {due_date}.",
    },
    "verify_first": {
        "ru": "Сумму назову, когда подтвердите, что это вы: поделитесь номером телефона в Telegram (/link) или "
        "войдите в чат на сайте банка. Срок платежа — до {due_date}.",
        "en": "I can tell you the amount once you confirm it is you: share your phone number in Telegram (/link) "
        "or sign in to the chat on the bank's website. The payment is due by {due_date}.",
    },
    "to_operator": {
        "ru": "Передаю разговор специалисту, он увидит ваше напоминание.",
        "en": "I am passing you to a specialist, who will see the reminder.",
    },
    "fraud_yes": {
        "ru": "Спасибо, операция подтверждена. Карта продолжает работать.",
        "en": "Thank you, the payment is confirmed. Your card keeps working.",
    },
    "fraud_no": {
        "ru": "Карта •••• {card_last4} заблокирована, деньги на ней в безопасности. Передаю разговор специалисту "
        "антифрод-службы.",
        "en": "Card •••• {card_last4} is blocked; the money on it is safe. I am passing you to our fraud team.",
    },
    "fraud_ask_again": {
        "ru": "Чтобы не ошибиться, ответьте, пожалуйста, кнопкой: операцию по карте •••• {card_last4} совершали вы?",
        "en": "So that we get it right, please answer with a button: did you make the payment with card "
        "•••• {card_last4}?",
    },
    "fraud_to_team": {
        "ru": "Передаю разговор специалисту антифрод-службы, он увидит уведомление об операции.",
        "en": "I am passing you to our fraud team, who will see the alert.",
    },
    "fraud_block_failed": {
        "ru": "Не удалось заблокировать карту автоматически. Передаю разговор специалисту антифрод-службы, "
        "он заблокирует её вручную.",
        "en": "The card could not be blocked automatically. Our fraud team will block it for you now.",
    },
}


def _text(key: str, language: str, **values: str) -> str:
    return TEXTS[key]["en" if language == "en" else "ru"].format(**values)


def button_answer(text: str) -> str | None:
    """The answer a button of the contact carries, or None for typed words."""
    match = _PAYLOAD_RE.match(text.strip())
    if match is None:
        return None
    try:
        value = json.loads(match.group(1)).get("answer")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def answer_of(text: str) -> str | None:
    """The answer a button carries, or the answer the words give by pattern, or None."""
    if _PAYLOAD_RE.match(text.strip()):
        return button_answer(text)
    for answer, pattern in _ANSWERS:
        if pattern.search(text):
            return answer
    return None


def yes_or_no(text: str) -> str | None:
    """A fraud alert's answer by button or word pattern: "yes", "no" or None."""
    answer = answer_of(text)
    if answer in ("yes", "no"):
        return answer
    if _NO.search(text):
        return "no"
    if _YES.search(text):
        return "yes"
    return None


class Understanding(Protocol):
    """The assistant's NLU: connectors/voice/intents.py's RasaIntentParser (`POST /model/parse`)."""

    async def parse(self, text: str) -> ParsedIntent | None:
        """The intent and its confidence, or None when Rasa cannot answer in time."""
        ...


@dataclass
class OutboundReplies:
    """The router's hook for replies to outbound contacts (HookedTurn, handoff/router.py)."""

    pool_of: Any  # () -> store.Pool | None: the pool opens after the router is built
    bank: BankingBackend
    # The assistant's NLU; None reads words by pattern only.
    understanding: Understanding | None = None

    async def _intent(self, text: str) -> str | None:
        """The intent the assistant's model gives the words, when it is sure; never for a button."""
        if self.understanding is None or _PAYLOAD_RE.match(text.strip()):
            return None
        # Rasa's /model/parse keeps nothing, but may log: it hears what the tracker would (core/masking.py).
        parsed = await self.understanding.parse(mask_sensitive(text).text)
        if parsed is None or parsed["confidence"] < MIN_INTENT_CONFIDENCE:
            return None
        return parsed["name"]

    async def __call__(
        self,
        conversation: Conversation,
        text: str,
        language: str,
        identity: CustomerIdentity | None,
        now: datetime,
    ) -> HookedTurn | None:
        """Handle the reply when it answers a recent outbound contact; None sends it on to the bot."""
        pool: store.Pool | None = self.pool_of()
        if pool is None:
            return None
        attempt = await store.latest_for_conversation(pool, conversation.id)
        if attempt is None or attempt.sent_at is None or now - attempt.sent_at > ANSWER_WINDOW:
            return await self._opt_out_anywhere(conversation, text, language, identity)
        if attempt.kind is Kind.FRAUD_ALERT:
            return await self._fraud(pool, attempt, conversation, text, language, now)
        if attempt.kind is Kind.SURVEY:
            return await self._survey(pool, attempt, text, language, now)
        answer = answer_of(text)
        if answer is None:
            answer = CONTACT_INTENTS.get(await self._intent(text) or "")
        if answer is None:
            return None
        if answer == "stop":
            return await self._stop(pool, attempt, conversation, language, now)
        if attempt.kind is Kind.PAYMENT_REMINDER:
            return await self._reminder(
                pool, attempt, answer, language, identity, now, by_phone=conversation.channel == VOICE_CHANNEL
            )
        if answer == "operator":
            await store.record_answer(pool, attempt.id, answer, now)
            return HookedTurn([], escalate=_escalation(attempt, "sales"))
        return None

    async def _opt_out_anywhere(
        self, conversation: Conversation, text: str, language: str, identity: CustomerIdentity | None
    ) -> HookedTurn | None:
        customer_id = identity.customer_id if identity else conversation.customer_id
        if customer_id is None or not _ANYWHERE_OPT_OUT.search(text):
            return None
        await self.bank.set_opt_out(customer_id, opted_out=True, actor="customer", source=conversation.channel)
        return HookedTurn([Reply(text=_text("stopped", language))])

    async def _stop(
        self, pool: store.Pool, attempt: Attempt, conversation: Conversation, language: str, now: datetime
    ) -> HookedTurn:
        await self.bank.set_opt_out(attempt.customer_id, opted_out=True, actor="customer", source=conversation.channel)
        await store.record_answer(pool, attempt.id, "stop", now)
        return HookedTurn([Reply(text=_text("stopped", language))])

    async def _reminder(
        self,
        pool: store.Pool,
        attempt: Attempt,
        answer: str,
        language: str,
        identity: CustomerIdentity | None,
        now: datetime,
        *,
        by_phone: bool = False,
    ) -> HookedTurn | None:
        data = attempt.data
        due = format_due_date(datetime.fromisoformat(data["due_date"]).date(), language) if data.get("due_date") else ""
        if answer == "paid":
            await store.record_answer(pool, attempt.id, "paid", now)
            return HookedTurn([Reply(text=_text("paid", language))])
        if answer == "how_much":
            if identity is None or identity.customer_id != attempt.customer_id:
                return HookedTurn([Reply(text=_text("verify_first", language, due_date=due))])
            amount = format_amount(Decimal(str(data.get("amount") or "0")), "en" if language == "en" else "ru")
            text = _text("amount", language, product=str(data.get("product", "")), amount=amount, due_date=due)
            # On the phone the reminder's answers follow as a keypad menu (the chat still has the message's buttons).
            buttons = buttons_for(attempt.kind, language) if by_phone else ()
            return HookedTurn([Reply(text=text, buttons=buttons)])
        if answer == "remind_tomorrow":
            await store.record_answer(pool, attempt.id, "remind_tomorrow", now)
            await self._again_tomorrow(pool, attempt, now)
            return HookedTurn([Reply(text=_text("remind_tomorrow", language))])
        if answer in ("cannot_pay", "operator"):
            await store.record_answer(pool, attempt.id, "operator", now)
            return HookedTurn([Reply(text=_text("to_operator", language))], escalate=_escalation(attempt, "loans"))
        return None

    async def _again_tomorrow(self, pool: store.Pool, attempt: Attempt, now: datetime) -> None:
        """A new attempt tomorrow morning in the customer's zone; the rules still decide when exactly."""
        profile = (await self.bank.contact_profiles([attempt.customer_id])).get(attempt.customer_id)
        zone = zone_of(recipient_of(profile)) if profile else None
        local = now.astimezone(zone) if zone else now
        tomorrow = datetime.combine(local.date() + timedelta(days=1), time(10), local.tzinfo)
        again = attempt.follow_up(
            store.new_id("att"),
            channel=attempt.channel,
            earliest_at=tomorrow,
            not_after=None,
            data=attempt.data | {"again_of": attempt.id},
        )
        await store.insert_attempts(pool, [again])
        # The gateway has no worker; the reaper defers queued attempts whose time has come.

    async def _fraud(
        self,
        pool: store.Pool,
        attempt: Attempt,
        conversation: Conversation,
        text: str,
        language: str,
        now: datetime,
    ) -> HookedTurn | None:
        if attempt.answer in ("yes", "no"):
            return None  # answered already: what follows is an ordinary conversation
        answer = button_answer(text)
        if answer not in ("yes", "no"):
            answer = yes_or_no(text)
        last4 = str(attempt.data.get("card_last4", ""))
        if answer is None:
            intent = await self._intent(text)
            if intent in FRAUD_ALERT_YES_INTENTS:
                answer = "yes"
            elif intent in FRAUD_ALERT_NO_INTENTS or not attempt.data.get("asked_again"):
                # A probable no, or no answer yet: the alert's own question again, with its buttons.
                await store.merge_data(pool, attempt.id, {"asked_again": True})
                buttons = buttons_for(Kind.FRAUD_ALERT, language)
                return HookedTurn([Reply(text=_text("fraud_ask_again", language, card_last4=last4), buttons=buttons)])
            else:
                # Still unclear after asking again: the fraud team decides, with the alert in front of them.
                await store.merge_data(pool, attempt.id, {"handed_off": True})
                context = _fraud_context(attempt, last4, blocked=False)
                return HookedTurn(
                    [Reply(text=_text("fraud_to_team", language))],
                    escalate=(HandoffReason.FRAUD_ALERT, "fraud", context),
                )
        if answer == "yes":
            await store.record_answer(pool, attempt.id, "yes", now)
            return HookedTurn([Reply(text=_text("fraud_yes", language))])
        blocked = False
        try:
            # The same audited path the assistant's action_block_card takes (core/banking.py).
            result = await self.bank.block_card(
                attempt.customer_id, last4, actor="bot", channel=conversation.channel, conversation_id=conversation.id
            )
            blocked = result.status.value in ("blocked", "already_blocked")
        except Exception:
            logger.exception("Blocking card %s after a fraud alert failed", last4)
        await store.record_answer(pool, attempt.id, "no", now)
        await store.merge_data(pool, attempt.id, {"card_blocked": blocked, "handed_off": True})
        notice = _text("fraud_no" if blocked else "fraud_block_failed", language, card_last4=last4)
        context = _fraud_context(attempt, last4, blocked=blocked)
        return HookedTurn([Reply(text=notice)], escalate=(HandoffReason.FRAUD_ALERT, "fraud", context))

    async def _survey(
        self, pool: store.Pool, attempt: Attempt, text: str, language: str, now: datetime
    ) -> HookedTurn | None:
        """A survey's answers are taken by handoff/surveys.py before this hook; "stop these" opts out here."""
        if answer_of(text) != "stop":
            return None
        await self.bank.set_opt_out(attempt.customer_id, opted_out=True, actor="customer", source="survey")
        await store.record_answer(pool, attempt.id, "stop", now)
        return HookedTurn([Reply(text=_text("stopped", language))])


@dataclass
class SurveyAnswers:
    """A survey answer (event `survey.answered` from handoff/surveys.py) is the reply to its attempt."""

    pool_of: Any  # () -> store.Pool | None

    async def survey_answered(self, event: Event) -> None:
        """Mark the attempt the survey was sent with as answered (results count it as replied)."""
        attempt_id = event.data.get("attempt_id")
        pool: store.Pool | None = self.pool_of()
        if pool is None or not attempt_id:
            return
        await store.record_answer(pool, str(attempt_id), "answered", event.at)


def _fraud_context(attempt: Attempt, last4: str, *, blocked: bool) -> dict[str, object]:
    """The alert as the fraud team's operator sees it in the console."""
    return {
        "fraud_alert": {
            "attempt_id": attempt.id,
            "notice_id": attempt.notice_id,
            "card_last4": last4,
            "amount": attempt.data.get("amount"),
            "merchant": attempt.data.get("merchant"),
            "at": attempt.data.get("at"),
            "card_blocked": blocked,
        }
    }


def _escalation(attempt: Attempt, team: str) -> tuple[HandoffReason, str | None, dict[str, object]]:
    """Hand-off to a team with the contact shown to the operator."""
    return (
        HandoffReason.OUTBOUND_REPLY,
        team,
        {
            "outbound": {
                "attempt_id": attempt.id,
                "campaign_id": attempt.campaign_id,
                "kind": attempt.kind.value,
                "product": attempt.data.get("product"),
                "due_date": attempt.data.get("due_date"),
            }
        },
    )
