"""The gateway-neutral voice session: caller turns in (speech or keys), prompts and the next step out."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from connectors.voice.calls import CallState
from connectors.voice.intents import IntentParser, is_sensitive
from connectors.voice.prompts import KEY_MENU_PAYLOADS, Prompt, prompt_text
from connectors.voice.speech import speak_reply
from core.banking import BankingBackend, BankingError
from core.identity import CustomerIdentity
from core.language import Language, parse_language
from core.messages import InboundMessage
from handoff.router import DTMF_OPERATOR, VOICE_CHANNEL, InvalidMessage, Router

logger = logging.getLogger(__name__)

# Two reprompts, each more directive, before the next fallback (keys, then an operator).
REPROMPTS = 2
# Wrong card digits this often and the caller goes to an operator instead.
VERIFY_ATTEMPTS = 3
# Below this recognizer confidence the words are treated as not understood (Twilio's Confidence is 0..1).
MIN_SPEECH_CONFIDENCE = 0.35
CARD_DIGITS = 4
_WITH_OPERATORS = frozenset({"queued", "assigned"})


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

    prompts: tuple[str, ...]
    step: NextStep
    conversation_id: str | None = None
    # Keys to collect: 1 for a menu, 4 for card digits, None for free input ending with "#".
    max_digits: int | None = None
    dtmf_only: bool = False


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
        *,
        max_call_seconds: float,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._router = router
        self._backend = backend
        self._intents = intents
        self._max_call_seconds = max_call_seconds
        self._clock = clock

    async def start(self, call_id: str, caller: str | None, language: str) -> tuple[CallState, VoiceOutcome]:
        """A new call: find who the number belongs to and greet."""
        candidate = None
        if caller:
            try:
                customer = await self._backend.find_customer_by_phone(caller)
            except BankingError:
                logger.exception("Caller lookup failed for call %s", call_id)
                customer = None
            candidate = customer.customer_id if customer else None
        state = CallState(
            call_id=call_id,
            caller=caller,
            language=parse_language(language) or "ru",
            started_at=self._clock(),
            candidate_customer_id=candidate,
        )
        return state, self._gather(state, [prompt_text(Prompt.GREETING, self._lang(state))])

    async def turn(self, state: CallState, heard: Heard) -> VoiceOutcome:
        """One caller turn; `state` is updated in place for the adapter to keep."""
        if state.ended_at is not None:
            return VoiceOutcome(prompts=(), step=NextStep.HANGUP, conversation_id=state.conversation_id)
        if (self._clock() - state.started_at).total_seconds() > self._max_call_seconds:
            self.end(state, "max_duration")
            return VoiceOutcome(
                prompts=(prompt_text(Prompt.MAX_DURATION, self._lang(state)),),
                step=NextStep.HANGUP,
                conversation_id=state.conversation_id,
            )
        digits = (heard.digits or "").strip().rstrip("#")
        if digits:
            return await self._keys(state, digits)
        speech = (heard.speech or "").strip()
        if not speech:
            return await self._missed(state, no_input=True)
        if heard.confidence is not None and heard.confidence < MIN_SPEECH_CONFIDENCE:
            return await self._missed(state, no_input=False)
        return await self._request(state, speech)

    def end(self, state: CallState, reason: str) -> None:
        """The call ended (hang-up, status callback, time limit)."""
        if state.ended_at is None:
            state.ended_at = self._clock()
            state.end_reason = reason

    @staticmethod
    def _lang(state: CallState) -> Language:
        return parse_language(state.language) or "ru"

    def _gather(
        self, state: CallState, prompts: list[str], *, max_digits: int | None = None, dtmf_only: bool = False
    ) -> VoiceOutcome:
        state.last_prompt = " ".join(prompts)
        if max_digits is None and state.menu:
            max_digits = 1 if dtmf_only else None
        return VoiceOutcome(
            prompts=tuple(prompts),
            step=NextStep.GATHER,
            conversation_id=state.conversation_id,
            max_digits=max_digits,
            dtmf_only=dtmf_only,
        )

    async def _keys(self, state: CallState, digits: str) -> VoiceOutcome:
        if state.held_text is not None and digits != DTMF_OPERATOR:
            return await self._verify(state, digits)
        if digits == DTMF_OPERATOR:
            state.held_text = None
            return await self._route(state, DTMF_OPERATOR)
        if state.menu and len(digits) == 1 and 1 <= int(digits) <= len(state.menu):
            return await self._request(state, state.menu[int(digits) - 1])
        if state.dtmf_only:
            return await self._missed(state, no_input=False)
        # Free digits answer the bot's question, e.g. the card's last four digits.
        return await self._request(state, digits)

    async def _request(self, state: CallState, text: str) -> VoiceOutcome:
        """A caller request; sensitive ones wait until a caller known by number types their card digits."""
        if state.candidate_customer_id and not state.verified and await is_sensitive(text, self._intents):
            state.held_text = text
            state.menu = []
            ask = prompt_text(Prompt.ASK_CARD_DIGITS, self._lang(state))
            return self._gather(state, [ask], max_digits=CARD_DIGITS, dtmf_only=True)
        return await self._route(state, text)

    async def _verify(self, state: CallState, digits: str) -> VoiceOutcome:
        language = self._lang(state)
        assert state.candidate_customer_id is not None  # noqa: S101 -- held_text is only set with a candidate
        try:
            cards = await self._backend.list_cards(state.candidate_customer_id)
        except BankingError:
            logger.exception("Card lookup for caller verification failed in call %s", state.call_id)
            cards = []
        if len(digits) == CARD_DIGITS and any(card.last4 == digits for card in cards):
            state.verified = True
            held, state.held_text = state.held_text, None
            state.verify_attempts = 0
            outcome = await self._route(state, held or "")
            return VoiceOutcome(
                prompts=(prompt_text(Prompt.VERIFIED, language), *outcome.prompts),
                step=outcome.step,
                conversation_id=outcome.conversation_id,
                max_digits=outcome.max_digits,
                dtmf_only=outcome.dtmf_only,
            )
        state.verify_attempts += 1
        if state.verify_attempts >= VERIFY_ATTEMPTS:
            state.held_text = None
            return await self._route(state, DTMF_OPERATOR)
        return self._gather(state, [prompt_text(Prompt.DIGITS_WRONG, language)], max_digits=CARD_DIGITS, dtmf_only=True)

    async def _missed(self, state: CallState, *, no_input: bool) -> VoiceOutcome:
        """Reprompt, more directive each time; then keys (for words not understood); then an operator."""
        language = self._lang(state)
        if no_input:
            state.no_input += 1
            if state.no_input == 1:
                return self._gather(state, [prompt_text(Prompt.NO_INPUT_1, language), state.last_prompt])
            if state.no_input == REPROMPTS:
                return self._gather(state, [prompt_text(Prompt.NO_INPUT_2, language)])
            return await self._route(state, DTMF_OPERATOR)
        state.no_match += 1
        if state.no_match == 1:
            return self._gather(state, [prompt_text(Prompt.NO_MATCH_1, language)])
        if state.no_match == REPROMPTS:
            return self._gather(state, [prompt_text(Prompt.NO_MATCH_2, language)])
        if not state.dtmf_only:
            state.dtmf_only = True
            state.menu = list(KEY_MENU_PAYLOADS)
            return self._gather(state, [prompt_text(Prompt.KEY_MENU, language)], max_digits=1, dtmf_only=True)
        return await self._route(state, DTMF_OPERATOR)

    async def _route(self, state: CallState, text: str) -> VoiceOutcome:
        """Send the caller's words (or key) through the router and speak what comes back."""
        language = self._lang(state)
        identity = (
            CustomerIdentity(customer_id=state.candidate_customer_id, method="caller_id")
            if state.verified and state.candidate_customer_id
            else None
        )
        message = InboundMessage(
            channel=VOICE_CHANNEL, channel_user_id=state.call_id, text=text, identity=identity, language_hint=language
        )
        try:
            turn = await self._router.handle(message)
        except InvalidMessage:
            return await self._missed(state, no_input=False)
        state.conversation_id = turn.conversation_id
        state.no_input = state.no_match = 0
        state.dtmf_only = False
        if turn.state in _WITH_OPERATORS:
            # The phone queue has its own music and position announcements; the chat notices are not read out.
            spoken = [speak_reply(r, language) for r in turn.replies if r.author != "system"]
            state.menu = []
            return VoiceOutcome(
                prompts=(*[s for s in spoken if s], prompt_text(Prompt.TRANSFER, language)),
                step=NextStep.TRANSFER,
                conversation_id=turn.conversation_id,
            )
        spoken = [speak_reply(r, language) for r in turn.replies]
        with_buttons = [r for r in turn.replies if r.buttons]
        state.menu = [b.payload for b in with_buttons[-1].buttons] if with_buttons else []
        return self._gather(state, [s for s in spoken if s] or [prompt_text(Prompt.ANYTHING_ELSE, language)])
