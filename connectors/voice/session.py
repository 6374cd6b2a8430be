"""The gateway-neutral voice session: caller turns in (speech or keys), prompts and the next step out."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum

from connectors.voice.calls import CallState
from connectors.voice.intents import SENSITIVE_INTENTS, IntentParser, intent_of_request
from connectors.voice.language_choice import SPEECH_HINTS, language_named, remember_language, remembered_language
from connectors.voice.menus import speak_reply
from connectors.voice.prompts import (
    KEY_MENU_PAYLOADS,
    LANGUAGE_KEY,
    Prompt,
    Spoken,
    greeting,
    other_language,
    say,
)
from core.banking import BankingBackend, BankingError, insert_audit_record
from core.db import Database
from core.identity import CustomerIdentity
from core.language import Language, conversation_language, parse_language
from core.masking import mask_sensitive
from core.messages import InboundMessage, Reply
from handoff import conversations, surveys, verify_limits
from handoff.router import DTMF_OPERATOR, VOICE_CHANNEL, InvalidMessage, Router
from handoff.surveys import CUSTOM_KEY as SURVEY_QUESTION
from outbound.messages import answer_payload
from outbound.models import Kind

logger = logging.getLogger(__name__)

# Two reprompts, each more directive, before the next fallback (keys, then an operator).
REPROMPTS = 2
# Wrong card digits this often and the caller goes to an operator instead.
VERIFY_ATTEMPTS = 3
# Below this recognizer confidence the words are treated as not understood (Twilio's Confidence is 0..1).
MIN_SPEECH_CONFIDENCE = 0.35
# How often a survey call still being recorded is looked for (VoiceSession.start).
_SURVEY_POLL_SECONDS = 0.2
CARD_DIGITS = 4
_WITH_OPERATORS = frozenset({"queued", "assigned"})
# A payment-reminder call holds the reminder's own "how much and by when?" until the caller is verified:
# outbound/replies.py then says the amount and date, with the reminder's answers as a keypad menu.
REMINDER_HELD = answer_payload("how_much")
# A bot reply with this custom key set closes the conversation (the call hangs up after it).
CLOSES_CONVERSATION = "closes_conversation"
# The knowledge base answered this article (actions/knowledge.py, VOTE_BY_KEYS): the caller may press 1 / 2.
VOTE_BY_KEYS = "kb_vote_by_keys"
_VOTE_KEYS = {"1": "helpful", "2": "not_helpful"}


class NextStep(StrEnum):
    """What the gateway does after speaking the prompts."""

    GATHER = "gather"  # listen for speech and keys
    TRANSFER = "transfer"  # to the operator queue, carrying the conversation id
    HANGUP = "hangup"


@dataclass(frozen=True)
class Heard:
    """One caller turn as a gateway reports it; nothing at all is "no input"."""

    speech: str | None = None
    confidence: float | None = None
    digits: str | None = None


@dataclass(frozen=True)
class VoiceOutcome:
    """Prompts rendered for the ear and the next step."""

    prompts: tuple[Spoken, ...]
    step: NextStep
    language: Language = "ru"  # the recognizer's language for the next turn
    conversation_id: str | None = None
    # Keys to collect: 1 for a menu, 4 for card digits, None for free input ending with "#".
    max_digits: int | None = None
    dtmf_only: bool = False
    # Words the recognizer should expect (the other language's name while the caller may choose it).
    speech_hints: str | None = None


def _utcnow() -> datetime:
    return datetime.now(UTC)


class VoiceSession:
    """Turns of a phone call, independent of the telephony gateway that carries it.

    The session never touches the wire: adapters (TwiML webhooks, FastAGI) turn
    their requests into `Heard` and `VoiceOutcome` into their own dialect.
    """

    def __init__(
        self,
        router: Router,
        backend: BankingBackend,
        intents: IntentParser,
        db: Database,
        *,
        max_call_seconds: float,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._router = router
        self._backend = backend
        self._intents = intents
        self._db = db
        self._max_call_seconds = max_call_seconds
        self._clock = clock

    async def start(
        self, call_id: str, caller: str | None, language: str, *, survey_wait_seconds: float = 0.0
    ) -> tuple[CallState, VoiceOutcome]:
        """A new call: find who the number belongs to and greet in the language it chose last time.

        A survey call the bank placed may be answered before the outbound worker has recorded it
        (Asterisk starts the session the moment the person answers): `survey_wait_seconds` bounds the
        wait for its survey before the ordinary greeting.
        """
        candidate = None
        if caller:
            try:
                customer = await self._backend.find_customer_by_phone(caller)
            except BankingError:
                logger.exception("Caller lookup failed for call %s", call_id)
                customer = None
            candidate = customer.customer_id if customer else None
        remembered = await remembered_language(self._db, caller)
        state = CallState(
            call_id=call_id,
            caller=caller,
            language=remembered or parse_language(language) or "ru",
            started_at=self._clock(),
            candidate_customer_id=candidate,
        )
        asking = await self._placed_call(state)
        deadline = time.monotonic() + survey_wait_seconds
        while asking is None and time.monotonic() < deadline:
            await asyncio.sleep(_SURVEY_POLL_SECONDS)
            asking = await self._placed_call(state)
        return state, asking or self._gather(state, greeting(self._lang(state)))

    async def _placed_call(self, state: CallState) -> VoiceOutcome | None:
        """A call the bank placed (outbound/delivery.py recorded it in this call's conversation), else None."""
        conversation = await conversations.find_open(self._db, VOICE_CHANNEL, state.call_id)
        if conversation is None:
            return None
        return await self._survey_call(state, conversation) or await self._reminder_call(state, conversation)

    async def _reminder_call(self, state: CallState, conversation: conversations.Conversation) -> VoiceOutcome | None:
        """A payment reminder by phone: why we call, in neutral words, then the inbound line's card-ending check.

        Whoever answered must prove they are the customer the reminder is for (the lockout across calls and
        channels applies); only then is the held "how much?" routed and the amount and date said.
        """
        if conversation.customer_id is None or not await _reminds(self._db, conversation.id):
            return None
        state.conversation_id = conversation.id
        state.language = parse_language(conversation.language) or state.language
        state.language_open = False
        state.candidate_customer_id = conversation.customer_id
        state.verified = False
        subject = verify_limits.CUSTOMER_PREFIX + conversation.customer_id
        if (await verify_limits.standing(self._db, subject, self._clock())).locked:
            return await self._locked(state)
        state.held_text = REMINDER_HELD
        state.menu = []
        ask = say(Prompt.OUTBOUND_REMINDER, self._lang(state))
        return self._gather(state, [ask], max_digits=CARD_DIGITS, dtmf_only=True)

    async def _survey_call(self, state: CallState, conversation: conversations.Conversation) -> VoiceOutcome | None:
        """A call the bank placed to ask a survey (outbound/delivery.py): the first question instead of a greeting."""
        waiting = await surveys.pending(self._db, conversation.id, conversation.awaiting)
        if waiting is None:
            return None
        state.conversation_id = conversation.id
        state.language = parse_language(conversation.language) or state.language
        state.language_open = False
        state.survey_question = waiting.question.type.value
        lang = self._lang(state)
        question = surveys.question_reply(waiting.survey, waiting.index, language=lang, channel=VOICE_CHANNEL)
        return self._gather(state, _spoken([question], lang))

    async def turn(self, state: CallState, heard: Heard) -> VoiceOutcome:
        """One caller turn; `state` is updated in place for the adapter to keep."""
        if state.ended_at is not None:
            return self._outcome(state, (), NextStep.HANGUP)
        # The "helpful?" keys count only as the very next thing the caller does: silence or a new question
        # lets the vote go (the caller is never held for it).
        vote_for, state.vote_article = state.vote_article, None
        if (self._clock() - state.started_at).total_seconds() > self._max_call_seconds:
            self.end(state, "max_duration")
            return self._outcome(state, (say(Prompt.MAX_DURATION, self._lang(state)),), NextStep.HANGUP)
        digits = (heard.digits or "").strip().rstrip("#")
        speech = (heard.speech or "").strip()
        if state.survey_question is not None and (digits or "#" in (heard.digits or "")):
            # A survey score keyed in ("0" too, on the 0-10 scale), or "#" to skip a comment.
            return await self._route(state, digits or "#")
        if digits in _VOTE_KEYS and vote_for is not None and not state.menu and state.held_text is None:
            return await self._vote(state, vote_for, _VOTE_KEYS[digits])
        if digits:
            return await self._keys(state, digits)
        if not speech:
            return await self._missed(state, no_input=True)
        if heard.confidence is not None and heard.confidence < MIN_SPEECH_CONFIDENCE:
            return await self._missed(state, no_input=False)
        if state.survey_question is not None:
            # A score said aloud, or a comment: not a request for the bot, so no verification step.
            return await self._route(state, speech)
        named = language_named(speech) if state.language_open else None
        if named is not None:
            return await self._choose_language(state, named)
        heard_in = conversation_language(speech, self._lang(state))
        if heard_in is not None and heard_in != self._lang(state):
            # The caller plainly speaks the other language (several words in its script, as the chat decides):
            # replies, prompts, the recognizer and the number's remembered choice follow (issue 20).
            state.language = heard_in
            await remember_language(self._db, state.caller, heard_in, self._clock())
        return await self._request(state, speech)

    def end(self, state: CallState, reason: str) -> None:
        """The call ended (hang-up, status callback, time limit, goodbye)."""
        if state.ended_at is None:
            state.ended_at = self._clock()
            state.end_reason = reason

    @staticmethod
    def _lang(state: CallState) -> Language:
        return parse_language(state.language) or "ru"

    def _outcome(self, state: CallState, prompts: Sequence[Spoken], step: NextStep) -> VoiceOutcome:
        return VoiceOutcome(
            prompts=tuple(prompts), step=step, language=self._lang(state), conversation_id=state.conversation_id
        )

    def _gather(
        self, state: CallState, prompts: Sequence[Spoken], *, max_digits: int | None = None, dtmf_only: bool = False
    ) -> VoiceOutcome:
        state.last_prompts = [{"text": p.text, "language": p.language} for p in prompts]
        if max_digits is None and state.menu:
            max_digits = 1 if dtmf_only else None
        language = self._lang(state)
        return VoiceOutcome(
            prompts=tuple(prompts),
            step=NextStep.GATHER,
            language=language,
            conversation_id=state.conversation_id,
            max_digits=max_digits,
            dtmf_only=dtmf_only,
            speech_hints=SPEECH_HINTS[other_language(language)] if state.language_open and not dtmf_only else None,
        )

    def _said_last(self, state: CallState) -> list[Spoken]:
        return [
            Spoken(p.get("text", ""), parse_language(p.get("language")) or self._lang(state))
            for p in state.last_prompts
        ]

    async def _choose_language(self, state: CallState, language: Language) -> VoiceOutcome:
        """Key 9 or the language's name: the recognizer, the prompts and the bot switch; the number remembers."""
        state.language = language
        state.no_input = state.no_match = 0
        await remember_language(self._db, state.caller, language, self._clock())
        return self._gather(state, greeting(language))

    async def _vote(self, state: CallState, article_id: str, vote: str) -> VoiceOutcome:
        """Key 1 / 2 after an answer: the vote goes to the bot as the chat's button would send it, stored alike."""
        payload = "/faq" + json.dumps({"kb_article": article_id, "kb_vote": vote})
        return await self._route(state, payload)

    async def _keys(self, state: CallState, digits: str) -> VoiceOutcome:
        if state.held_text is not None and digits != DTMF_OPERATOR:
            return await self._verify(state, digits)
        if digits == DTMF_OPERATOR:
            state.held_text = None
            return await self._route(state, DTMF_OPERATOR)
        if state.language_open and digits == LANGUAGE_KEY and not state.menu:
            return await self._choose_language(state, other_language(self._lang(state)))
        if state.menu and len(digits) == 1 and 1 <= int(digits) <= len(state.menu):
            return await self._request(state, state.menu[int(digits) - 1])
        if state.dtmf_only:
            return await self._missed(state, no_input=False)
        # Free digits answer the bot's question, e.g. the card's last four digits.
        return await self._request(state, digits)

    async def _request(self, state: CallState, text: str) -> VoiceOutcome:
        """A caller request; sensitive ones wait until a caller known by number types their card digits.

        The request's intent is asked of the NLU beside the bot's turn (before it only when the caller
        still has to prove who they are): it tells whether the caller is saying goodbye.
        """
        if state.candidate_customer_id and not state.verified:
            intent = await intent_of_request(text, self._intents)
            if intent in SENSITIVE_INTENTS:
                subject = verify_limits.CUSTOMER_PREFIX + state.candidate_customer_id
                if (await verify_limits.standing(self._db, subject, self._clock())).locked:
                    return await self._locked(state)
                state.held_text = mask_sensitive(text).text  # the call's state is stored
                state.menu = []
                ask = say(Prompt.ASK_CARD_DIGITS, self._lang(state))
                return self._gather(state, [ask], max_digits=CARD_DIGITS, dtmf_only=True)
            return await self._route(state, text, intent=intent)
        parsing = asyncio.create_task(intent_of_request(text, self._intents))
        try:
            return await self._route(state, text, intent=parsing)
        finally:
            parsing.cancel()

    async def _verify(self, state: CallState, digits: str) -> VoiceOutcome:
        """The caller's keyed ending, counted against the customer across calls and channels."""
        language = self._lang(state)
        customer_id = state.candidate_customer_id
        assert customer_id is not None  # noqa: S101 -- held_text is only set with a candidate
        subject = verify_limits.CUSTOMER_PREFIX + customer_id
        now = self._clock()

        async def matches() -> bool:
            try:
                cards = await self._backend.list_cards(customer_id)
            except BankingError:
                logger.exception("Card lookup for caller verification failed in call %s", state.call_id)
                cards = []
            return len(digits) == CARD_DIGITS and any(card.last4 == digits for card in cards)

        fields = {
            "actor": f"caller:{state.call_id}",
            "channel": VOICE_CHANNEL,
            "conversation_id": state.conversation_id,
        }
        outcome = await verify_limits.guarded_check(self._db, [subject], matches, now=now, fields=fields)
        if isinstance(outcome, verify_limits.Refused):
            await self._audit_check(state, "refused_locked", now)
            return await self._locked(state)
        if outcome.verified:
            await self._audit_check(state, "verified", now)
            state.verified = True
            held, state.held_text = state.held_text, None
            state.verify_attempts = 0
            outcome_after = await self._route(state, held or "")
            prompts = (say(Prompt.VERIFIED, language), *outcome_after.prompts)
            if outcome_after.step is NextStep.GATHER:
                state.last_prompts = [{"text": p.text, "language": p.language} for p in prompts]
            return VoiceOutcome(
                prompts=prompts,
                step=outcome_after.step,
                language=outcome_after.language,
                conversation_id=outcome_after.conversation_id,
                max_digits=outcome_after.max_digits,
                dtmf_only=outcome_after.dtmf_only,
            )
        await self._audit_check(state, "mismatch", now)
        for locked in outcome.newly_locked:
            await verify_limits.raise_alert(self._db, self._router.events, locked, now=now, fields=fields)
        if outcome.locked is not None:
            return await self._locked(state)
        state.verify_attempts += 1
        if state.verify_attempts >= VERIFY_ATTEMPTS:
            state.held_text = None
            return await self._route(state, DTMF_OPERATOR)
        return self._gather(state, [say(Prompt.DIGITS_WRONG, language)], max_digits=CARD_DIGITS, dtmf_only=True)

    async def _locked(self, state: CallState) -> VoiceOutcome:
        """Checks for this customer are locked: say so and how to get help, then an operator."""
        state.held_text = None
        outcome = await self._route(state, DTMF_OPERATOR)
        return replace(outcome, prompts=(say(Prompt.VERIFY_LOCKED, self._lang(state)), *outcome.prompts))

    async def _audit_check(self, state: CallState, result: str, now: datetime) -> None:
        """Every phone check goes to the bank's audit log, as the console's do (the digits are never stored)."""
        await insert_audit_record(
            self._db.audit_log,
            {
                "action": "identity.verify",
                "actor": f"caller:{state.call_id}",
                "at": now,
                "channel": VOICE_CHANNEL,
                "conversation_id": state.conversation_id,
                "customer_id": state.candidate_customer_id,
                "result": result,
                "method": "caller_id_card_digits",
            },
        )

    async def _missed(self, state: CallState, *, no_input: bool) -> VoiceOutcome:
        """Reprompt, more directive each time; then keys (for words not understood); then an operator.

        Silence after an answered request is the caller being done: one reprompt, then goodbye.
        """
        language = self._lang(state)
        if no_input:
            state.no_input += 1
            if state.settled:
                if state.no_input == 1:
                    return self._gather(state, [say(Prompt.STILL_THERE, language)])
                return self._goodbye(state, [say(Prompt.CALL_AGAIN, language)], "silence_after_answer")
            if state.no_input == 1:
                return self._gather(state, [say(Prompt.NO_INPUT_1, language), *self._said_last(state)])
            if state.no_input == REPROMPTS:
                return self._gather(state, [say(Prompt.NO_INPUT_2, language)])
            return await self._route(state, DTMF_OPERATOR)
        state.no_match += 1
        if state.no_match == 1:
            return self._gather(state, [say(Prompt.NO_MATCH_1, language)])
        if state.no_match == REPROMPTS and state.conversation_id is None:
            # Twice not understood before any request got through: perhaps the caller speaks the other
            # language, which a recognizer listening in this one cannot hear. Offer the choice again, in both.
            state.language_open = True
            other = other_language(language)
            return self._gather(state, [say(Prompt.NO_MATCH_1, language), say(Prompt.LANGUAGE_OFFER, other)])
        if state.no_match == REPROMPTS:
            return self._gather(state, [say(Prompt.NO_MATCH_2, language)])
        if not state.dtmf_only:
            state.dtmf_only = True
            state.menu = list(KEY_MENU_PAYLOADS)
            return self._gather(state, [say(Prompt.KEY_MENU, language)], max_digits=1, dtmf_only=True)
        return await self._route(state, DTMF_OPERATOR)

    def _goodbye(self, state: CallState, spoken: list[Spoken], reason: str) -> VoiceOutcome:
        """Thank the caller, say goodbye and hang up."""
        self.end(state, reason)
        state.menu = []
        return self._outcome(state, [*spoken, say(Prompt.GOODBYE, self._lang(state))], NextStep.HANGUP)

    async def _route(
        self, state: CallState, text: str, *, intent: str | asyncio.Task[str | None] | None = None
    ) -> VoiceOutcome:
        """Send the caller's words (or key) through the router and speak what comes back.

        `intent` is the NLU's name for the caller's words (or the task finding it), to tell a goodbye.
        """
        language = self._lang(state)
        identity = (
            CustomerIdentity(customer_id=state.candidate_customer_id, method="caller_id")
            if state.verified and state.candidate_customer_id
            else None
        )
        message = InboundMessage(
            channel=VOICE_CHANNEL, channel_user_id=state.call_id, text=text, identity=identity, language_hint=language
        )
        was_settled, was_asking = state.settled, bool(state.menu)
        try:
            turn = await self._router.handle(message)
        except InvalidMessage:
            return await self._missed(state, no_input=False)
        state.conversation_id = turn.conversation_id
        state.survey_question = _survey_question(turn.replies)
        state.no_input = state.no_match = 0
        state.dtmf_only = False
        state.language_open = False
        state.settled = False
        if turn.state in _WITH_OPERATORS:
            # The phone queue has its own music and position announcements; the chat notices are not read out.
            spoken = _spoken(turn.replies, language, without_system=True)
            state.menu = []
            return VoiceOutcome(
                prompts=(*spoken, say(Prompt.TRANSFER, language)),
                step=NextStep.TRANSFER,
                language=language,
                conversation_id=turn.conversation_id,
            )
        caller_intent = await intent if isinstance(intent, asyncio.Task) else intent
        closing = _closing(turn.replies, caller_intent, text, after_answer=was_settled, while_asked=was_asking)
        if closing is not None:
            # "No" to the line's own "anything else?" reached a bot that did not ask it: its answer is not read.
            said = [] if closing is Closing.NOTHING_ELSE else _spoken(turn.replies, language)
            return self._goodbye(state, said, "goodbye")
        spoken = _spoken(turn.replies, language)
        with_buttons = [r for r in turn.replies if r.buttons]
        state.menu = [b.payload for b in with_buttons[-1].buttons] if with_buttons else []
        voted_on = _vote_offer(turn.replies) if not state.menu else None
        if voted_on is not None:
            # An answer from the knowledge base: whether it helped is one optional key away.
            state.vote_article = voted_on
            spoken.append(say(Prompt.WAS_IT_HELPFUL, language))
        if not state.menu and not any("?" in s.text for s in spoken):
            # The bot answered and asks nothing: the line asks what else, as a person would.
            spoken.append(say(Prompt.ANYTHING_ELSE, language))
        # Only "anything else?" settles the call: a "no" then ends it. Any other question the bot asked
        # ("Соединить вас с оператором?") is still open, whatever the caller answers to it.
        state.settled = not state.menu and bool(spoken) and _asks_anything_else(spoken[-1].text)
        # One key is the whole vote: the gateway stops listening at the first key.
        return self._gather(
            state, spoken or [say(Prompt.ANYTHING_ELSE, language)], max_digits=1 if voted_on is not None else None
        )


async def _reminds(db: Database, conversation_id: str) -> bool:
    """The conversation holds a payment reminder the bank placed (the worker's turn, outbound/delivery.py)."""
    found = await db.messages.find_one(
        {"conversation_id": conversation_id, "outbound.kind": Kind.PAYMENT_REMINDER.value}, {"_id": 1}
    )
    return found is not None


def _vote_offer(replies: Sequence[Reply]) -> str | None:
    """The article a knowledge-base answer in this turn may be voted on, if any."""
    for reply in replies:
        article = reply.custom.get(VOTE_BY_KEYS)
        if isinstance(article, str) and article:
            return article
    return None


def _survey_question(replies: Sequence[Reply]) -> str | None:
    """The type of the survey question the turn ends with, if it asks one."""
    for reply in reversed(replies):
        asked = reply.custom.get(SURVEY_QUESTION)
        if isinstance(asked, dict):
            return str(asked.get("type"))
    return None


def _spoken(replies: Sequence[Reply], language: Language, *, without_system: bool = False) -> list[Spoken]:
    texts = [speak_reply(r, language) for r in replies if not (without_system and r.author == "system")]
    return [Spoken(t, language) for t in texts if t]


class Closing(StrEnum):
    """Why a turn ends the call."""

    BOT = "bot"  # the bot's reply closed the conversation
    CALLER = "caller"  # the caller said goodbye or thanks
    NOTHING_ELSE = "nothing_else"  # "no" to "anything else?"


# "нет, спасибо, это всё" is a no; a sentence describing a problem is not, whatever the NLU's best guess.
_MAX_WORDS_OF_A_NO = 4
# The line's "anything else?" and the bot's own ("Могу ли я ещё чем-нибудь помочь?").
_ANYTHING_ELSE_RE = re.compile(r"(ещ[её]\b.*\?\s*$|anything else.*\?\s*$)", re.IGNORECASE)


def _asks_anything_else(text: str) -> bool:
    return bool(_ANYTHING_ELSE_RE.search(text))


def _closing(
    replies: Sequence[Reply], caller_intent: str | None, text: str, *, after_answer: bool, while_asked: bool
) -> Closing | None:
    """Whether (and why) this turn ends the call; thanks while a menu question is pending is politeness.

    A no ends the call only as the answer to "anything else?", and only when it is short: a longer
    sentence the NLU happens to read as a deny is the caller going on, not saying goodbye.
    """
    if any(r.custom.get(CLOSES_CONVERSATION) for r in replies):
        return Closing.BOT
    if caller_intent == "goodbye" or (caller_intent == "thank" and not while_asked):
        return Closing.CALLER
    if after_answer and caller_intent == "deny" and len(text.split()) <= _MAX_WORDS_OF_A_NO:
        return Closing.NOTHING_ELSE
    return None
