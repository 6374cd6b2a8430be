"""The router: stores each customer message and sends it to the bot or to the operator side."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

import pymongo
from pymongo.errors import PyMongoError

from core import metrics
from core.db import Database
from core.identity import CustomerIdentity
from core.language import DEFAULT_LANGUAGE, conversation_language, parse_language, requested_language
from core.log import bind_conversation
from core.masking import MaskResult, mask_sensitive
from core.messages import Button, InboundMessage, Reply, Turn
from core.teams import configured_teams
from handoff import (
    callback_time,
    callbacks,
    claims,
    conversations,
    events,
    operators,
    outbox,
    queue,
    surveys,
    transcript,
)
from handoff.bot import BotMetadata, BotUnavailable
from handoff.bot_pool import BotPool
from handoff.bus import EventBus
from handoff.conversations import WITH_OPERATOR, Conversation, ConversationState, HandoffReason
from handoff.delivery import DeliveryRegistry
from handoff.events import Event
from handoff.hours import HoursError, WorkingHours
from handoff.notices import (
    Availability,
    NoOperatorOnline,
    Notice,
    OperatorsOnline,
    OutOfHours,
    handoff_notice,
    notice_text,
)
from handoff.payloads import is_known_payload, is_payload
from handoff.transcript import StoredMessage
from handoff.turn_memory import TurnMemory

logger = logging.getLogger(__name__)

# Control characters other than tab and newline come from binary garbage; they are dropped.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ufffe\uffff]")

# The phone line sends the key pressed; 0 is "operator" as on every bank's hotline.
VOICE_CHANNEL = "voice"
DTMF_OPERATOR = "0"
# The bot marks "did not understand" replies (utter_default, a KB miss) with this custom key.
FALLBACK_MARKER = "fallback"
# Two misunderstandings in a row and the customer gets a person instead of a third one.
FALLBACKS_BEFORE_OPERATOR = 2
_GATEWAY_MARKERS = frozenset({"handoff", FALLBACK_MARKER})
# Custom key of replies whose buttons stay valid until pressed (channels that disable old buttons keep these).
STANDING_OFFER = "standing_offer"
_BUTTON_TITLES = {
    "ru": ("Оставить сообщение", "Заказать обратный звонок"),
    "en": ("Leave a message", "Request a callback"),
}

# What the customer reads when no new callback task is made (handoff/callbacks.py).
_REFUSED_CALLBACK = {"already_arranged": Notice.CALLBACK_ALREADY_ARRANGED, "hourly_limit": Notice.CALLBACK_LIMIT}


@dataclass(frozen=True)
class HookedTurn:
    """A reply the outbound side answered itself (to a reminder, an alert, a survey), perhaps for an operator."""

    replies: list[Reply]
    escalate: tuple[HandoffReason, str | None, dict[str, object]] | None = None


class ReplyHook(Protocol):
    """Answers a customer's reply to a bank-initiated contact, or None to let the bot answer (outbound/replies.py)."""

    async def __call__(
        self, conversation: Conversation, text: str, language: str, identity: CustomerIdentity | None, now: datetime
    ) -> HookedTurn | None:
        """The hooked turn, or None."""
        ...


class InvalidMessage(ValueError):
    """The message cannot be accepted; the text says why, for the customer's client."""


class DuplicateMessage(Exception):
    """The channel delivered a message that was already handled (a retry)."""


class MessageInProgress(Exception):
    """A retry of a message whose first attempt may still be storing it: the client should retry shortly."""


class ConversationLocked(InvalidMessage):
    """The channel user's conversation is pinned to another verified customer."""


# Storing an inbound message (finding its conversation, writing it) must finish within this, well inside
# transcript.INBOUND_LEASE_SECONDS; otherwise it fails and gives the claim back for the client's retry.
INTAKE_WRITE_SECONDS = 10.0
# Added to the longest turn for the inbound claim's lease (Router.turn_lease_seconds).
_TURN_LEASE_MARGIN_SECONDS = 15.0


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Router:
    """Channel -> router -> bot or operator -> channel.

    Every message is stored (masked) before anything else happens, so a failing
    bot never loses what the customer wrote. While a conversation is queued or
    with an operator, customer messages are stored and published to the
    operator side, never sent to Rasa.
    """

    db: Database
    bot: BotPool
    max_message_chars: int
    clock: Callable[[], datetime] = _utcnow
    bus: EventBus | None = None
    # Channels that can push (web chat, Telegram); the others get pending messages on their next turn.
    delivery: DeliveryRegistry = field(default_factory=DeliveryRegistry)
    hours: WorkingHours | None = None
    # A signed-in customer's registered phone number, so a callback request need not ask for it.
    phones: callbacks.PhoneBook | None = None
    # Replies to outbound contacts (reminders, fraud alerts, surveys) with the contact in context.
    outbound_replies: ReplyHook | None = None
    # Open conversations of channel users and the last transcript numbers this process wrote (issue 22).
    memory: TurnMemory = field(default_factory=TurnMemory)

    @property
    def events(self) -> EventBus:
        """The bus; a router without one publishes nowhere but still stores events."""
        if self.bus is None:
            self.bus = EventBus(self.db)
        return self.bus

    async def handle(
        self,
        message: InboundMessage,
        *,
        on_stored: Callable[[], None] | None = None,
        conversation: Conversation | None = None,
    ) -> Turn:
        """Route one inbound message and return the replies for the customer's channel.

        `on_stored` is called once the message is in storage, before the bot or an operator sees it: a
        channel acknowledges the message to its platform (Telegram's "typing") only then, so a
        failing platform call never loses what the customer wrote. `conversation` is the channel
        user's conversation as the channel just read it (`find_open`), so the turn reads it once.
        """
        text = clean_text(message.text, self.max_message_chars)
        now = self.clock()
        lease: claims.Lease | None = None
        if message.channel_message_id is not None:
            # The claim covers the whole turn, not only the storing: a gateway that dies after storing the
            # message leaves it pending, and the client's retry, once the lease is over, finishes the turn.
            claimed = await transcript.claim_inbound(
                self.db, message.channel, message.channel_message_id, now, lease_seconds=self.turn_lease_seconds
            )
            if isinstance(claimed, claims.Held):
                if claimed.done:
                    raise DuplicateMessage(message.channel_message_id)
                raise MessageInProgress(message.channel_message_id)
            lease = claimed
        try:
            # Bounded well inside the claim's lease: an attempt that outlives it could store a second copy.
            with pymongo.timeout(INTAKE_WRITE_SECONDS):
                intake = await self._store_inbound(message, text, now, lease, conversation)
        except BaseException:
            if lease is not None:
                await claims.release(lease)
            raise
        if intake is None:
            # An earlier attempt stored it and died before saying so, maybe before its turn was answered.
            return await self._abandoned_turn(message, now, lease)
        if on_stored is not None:
            on_stored()
        conversation, language, masked, stored = intake
        metrics.MESSAGES.labels(message.channel).inc()
        bind_conversation(conversation.id)  # this task's later log lines name the conversation

        replies: list[Reply] = []
        if masked.changed:
            replies.append(Reply(text=notice_text(Notice.SENSITIVE_DATA, language), author="system"))

        state = conversation.state
        if state is ConversationState.CLOSED:
            replies.extend(await self._after_closing(conversation, masked.text, language, now))
        elif state is not ConversationState.BOT:
            await self.events.emit(
                Event(events.MESSAGE_CREATED, conversation.id, "customer", now, outbox.message_event_data(stored))
            )
            replies.extend(await self._while_with_operators(conversation, masked.text, language, now))
        elif taken := await self._survey_answer(conversation, masked.text, language, now):
            replies.extend(taken.replies)
        elif message.channel == VOICE_CHANNEL and masked.text == DTMF_OPERATOR:
            replies.extend(
                await self._escalate(conversation, HandoffReason.CUSTOMER_REQUEST, "customer", language, now)
            )
            state = ConversationState.QUEUED
        elif (hooked := await self._outbound_reply(conversation, masked.text, language, message, now)) is not None:
            replies.extend(hooked.replies)
            if hooked.escalate is not None:
                reason, team, context = hooked.escalate
                replies.extend(
                    await self._escalate(conversation, reason, "bot", language, now, team=team, context=context)
                )
                state = ConversationState.QUEUED
                await self.events.emit(
                    Event(events.MESSAGE_CREATED, conversation.id, "customer", now, outbox.message_event_data(stored))
                )
        elif is_payload(masked.text) and not is_known_payload(masked.text):
            replies.append(Reply(text=notice_text(Notice.UNKNOWN_BUTTON, language), author="system"))
        else:
            # A guest an operator verified is that customer for the bot too (verification upgraded the conversation).
            identity = message.identity or (
                CustomerIdentity(conversation.customer_id, conversation.verified_method or "operator")
                if conversation.verified_by_operator and conversation.customer_id
                else None
            )
            metadata: BotMetadata = {
                "channel": message.channel,
                "language": language,
                "customer_id": identity.customer_id if identity else None,
                "identity_method": identity.method if identity else None,
                "redacted": sorted(masked.found),
            }
            bot_replies, state = await self._ask_bot(conversation, masked.text, metadata, now)
            replies.extend(bot_replies)
            if state is ConversationState.QUEUED:
                # The escalating message itself belongs to the operator's view.
                await self.events.emit(
                    Event(events.MESSAGE_CREATED, conversation.id, "customer", now, outbox.message_event_data(stored))
                )

        written = await transcript.append_replies(self.db, conversation.id, replies, self.clock(), after=stored.seq)
        pending: list[Reply] = []
        if not self.delivery.can_reach(conversation) and not self._nothing_waiting(conversation, stored, written):
            pending = await outbox.collect_pending(self.db, conversation.id)
        last = written[-1].seq if written else stored.seq
        self.memory.saw_seq(conversation.id, last)
        if not self.delivery.pushes(conversation.channel):
            self.memory.settled.put(conversation.id, last)  # ours, or looked at for waiting messages just now
        try:
            # The head, a hint for other processes' appends, moves once per turn (the customer's message did not).
            await transcript.advance_head(self.db, conversation.id, last)
        except PyMongoError:
            # Stored and answered: the customer gets the answer; a head left behind only costs a later append a try.
            logger.warning("Transcript head of %s not moved to %d", conversation.id, last, exc_info=True)
        if lease is not None:
            # Only now: a gateway that dies mid-turn leaves the claim pending (see turn_lease_seconds).
            await claims.complete(lease)
        return Turn(conversation_id=conversation.id, replies=(*pending, *replies), state=state.value)

    def _nothing_waiting(self, conversation: Conversation, stored: StoredMessage, written: list[StoredMessage]) -> bool:
        """Whether nothing can wait for this customer, without looking (channels that never push: REST, the phone).

        Transcript numbers are dense: every append takes the first free number from a hint no higher than
        the last taken + 1 (handoff/transcript.py). So when the customer's message took the number right
        after the last one this process settled (wrote itself, or looked at for waiting messages), and the
        replies the numbers right after it, nobody else wrote in the conversation meanwhile. A channel that
        pushes is always looked at: a failed push turns an old message back to pending without a new number.
        """
        if self.delivery.pushes(conversation.channel):
            return False
        settled = self.memory.settled.get(conversation.id)
        return settled == stored.seq - 1 and all(m.seq == stored.seq + 1 + i for i, m in enumerate(written))

    @property
    def turn_lease_seconds(self) -> float:
        """Longest a turn can take (storing, the wait for a bot slot, the bot call), with a margin.

        An inbound claim still pending after this belongs to an attempt that died (its gateway host went
        down); every gateway of a deployment computes the same from the same settings.
        """
        bound = INTAKE_WRITE_SECONDS + self.bot.queue_timeout_seconds + self.bot.down_after_seconds
        return max(transcript.INBOUND_LEASE_SECONDS, bound + _TURN_LEASE_MARGIN_SECONDS)

    async def _abandoned_turn(self, message: InboundMessage, now: datetime, lease: claims.Lease | None) -> Turn:
        """A retry of a message whose attempt died after storing it: answered already, or handed to an operator.

        The bot may have seen it (the attempt died waiting for the answer), so it is not asked again: a
        second copy in Rasa's tracker, or an action run twice, would be worse than an operator's answer.

        Raises:
            DuplicateMessage: the turn was answered, or the conversation is with operators already.
        """
        try:
            return await self._hand_off_abandoned(message, now)
        finally:
            if lease is not None:
                await claims.complete(lease)

    async def _hand_off_abandoned(self, message: InboundMessage, now: datetime) -> Turn:
        key = transcript.inbound_key(message.channel, str(message.channel_message_id))
        conversation = await conversations.find_open(self.db, message.channel, message.channel_user_id)
        stored = (
            await self.db.messages.find_one({"conversation_id": conversation.id, "inbound_id": key})
            if conversation is not None
            else None
        )
        if conversation is None or stored is None or conversation.state is not ConversationState.BOT:
            raise DuplicateMessage(str(message.channel_message_id))
        answered = await self.db.messages.find_one(
            {"conversation_id": conversation.id, "seq": {"$gt": stored["seq"]}, "author": {"$ne": "customer"}},
            {"_id": 1},
        )
        if answered is not None:
            raise DuplicateMessage(str(message.channel_message_id))
        logger.warning("Turn of conversation %s was abandoned by a gateway that died; handing off", conversation.id)
        language = stored.get("language") or conversation.language or DEFAULT_LANGUAGE
        queued = await conversations.hand_off(
            self.db, self.events, conversation.id, reason=HandoffReason.BOT_UNAVAILABLE, actor="gateway", now=now
        )
        state: ConversationState = conversation.state
        if queued is None:
            reply = Reply(text=notice_text(Notice.BOT_UNAVAILABLE, language), author="system")
        else:
            reply = await self._handoff_reply(queued, language, now, opening=Notice.BOT_UNAVAILABLE)
            state = ConversationState.QUEUED
        written = await transcript.append_replies(self.db, conversation.id, [reply], self.clock(), after=None)
        await transcript.advance_head(self.db, conversation.id, written[-1].seq)
        return Turn(conversation_id=conversation.id, replies=(reply,), state=state.value)

    async def _outbound_reply(
        self, conversation: Conversation, text: str, language: str, message: InboundMessage, now: datetime
    ) -> HookedTurn | None:
        if self.outbound_replies is None:
            return None
        try:
            return await self.outbound_replies(conversation, text, language, message.identity, now)
        except Exception:  # the bot still answers when the outbound side's database is down
            logger.exception("The reply to an outbound contact could not be handled in %s", conversation.id)
            return None

    async def find_open(self, channel: str, channel_user_id: str) -> Conversation | None:
        """The channel user's conversation without creating one; one read when this process knows it is open."""
        found = await self._remembered(channel, channel_user_id)
        if found is None:
            found = await conversations.find_open(self.db, channel, channel_user_id)
            self._remember(channel, channel_user_id, found)
        return found

    async def _open(self, channel: str, channel_user_id: str, now: datetime) -> Conversation:
        """The channel user's conversation, created when there is none (see `find_open`)."""
        found = await self._remembered(channel, channel_user_id)
        if found is None:
            found = await conversations.open_conversation(self.db, channel, channel_user_id, now, self.events)
            self._remember(channel, channel_user_id, found)
        return found

    async def _remembered(self, channel: str, channel_user_id: str) -> Conversation | None:
        """The conversation this process remembers for the channel user, while it is open (handoff/turn_memory.py)."""
        key = TurnMemory.pointer_key(channel, channel_user_id)
        remembered = self.memory.pointers.get(key)
        if remembered is None:
            return None
        found = await conversations.get_conversation(self.db, remembered)
        if found is not None and found.state is not ConversationState.CLOSED:
            return found
        # Closed (its pointer may be released, by any process) or gone: the stored pointer decides.
        self.memory.pointers.forget(key)
        return None

    def _remember(self, channel: str, channel_user_id: str, found: Conversation | None) -> None:
        if found is not None and found.state is not ConversationState.CLOSED:
            self.memory.pointers.put(TurnMemory.pointer_key(channel, channel_user_id), found.id)

    async def _store_inbound(
        self,
        message: InboundMessage,
        text: str,
        now: datetime,
        lease: claims.Lease | None,
        known: Conversation | None = None,
    ) -> tuple[Conversation, str, MaskResult, StoredMessage] | None:
        """Find the conversation and store the customer's message: the step its inbound claim guards.

        Returns:
            The conversation, the message's language, its masked text and the stored entry; None when
            the claim was taken over from an attempt that had stored the message already.
        """
        conversation = known or await self._open(message.channel, message.channel_user_id, now)
        if conversation.state is ConversationState.CLOSED and not await self._answers_survey(conversation, text):
            # A new question after a closed conversation starts a new one.
            await conversations.release_pointer(self.db, conversation)
            self.memory.pointers.forget(TurnMemory.pointer_key(message.channel, message.channel_user_id))
            conversation = await self._open(message.channel, message.channel_user_id, now)
        key = (
            transcript.inbound_key(message.channel, message.channel_message_id)
            if message.channel_message_id is not None
            else None
        )
        if (
            lease is not None
            and lease.took_over
            and key
            and await transcript.stored_inbound(self.db, conversation.id, key)
        ):
            return None
        # A channel's explicit choice first, then a language the customer asks for by name ("in russian
        # please"); otherwise the conversation keeps its language until the customer clearly writes in
        # the other one (core.language).
        language = (
            parse_language(message.language_hint)
            or requested_language(text)
            or conversation_language(text, parse_language(conversation.language))
            or DEFAULT_LANGUAGE
        )
        customer_id = message.identity.customer_id if message.identity else None
        if customer_id and customer_id != conversation.customer_id:
            # One verified customer per conversation, decided once: another customer's token never joins it.
            pinned_to_another = conversation.customer_id is not None
            if pinned_to_another or not await conversations.pin_customer(
                self.db, conversation.id, customer_id, now=now
            ):
                raise ConversationLocked("This conversation belongs to another customer; start a new one.")
        if language != conversation.language or (customer_id and customer_id != conversation.customer_id):
            # Written only on change: fewer writes racing the operator side's transitions.
            await conversations.remember_customer(
                self.db, conversation.id, language=language, customer_id=customer_id, now=now
            )
            if customer_id and customer_id != conversation.customer_id and message.identity is not None:
                # The timeline's entry; open consoles re-read the customer panel on it.
                await self.events.emit(
                    Event(
                        events.CUSTOMER_VERIFIED,
                        conversation.id,
                        "customer",
                        now,
                        {"method": message.identity.method, "customer_id": customer_id},
                    )
                )
        masked = mask_sensitive(text)
        extra: dict[str, object] = {"channel": message.channel, "language": language, "redacted": sorted(masked.found)}
        if key is not None:
            extra["inbound_id"] = key
        try:
            stored = await transcript.append(
                self.db,
                conversation.id,
                author="customer",
                text=masked.text,
                now=now,
                extra=extra,
                after=self.memory.seqs.get(conversation.id),
                move_head=False,  # once for the whole turn, after the replies
            )
        except claims.AlreadyInserted as already:
            # An earlier attempt's insert timed out for it but was applied: that copy is the message, and
            # since that attempt failed before the bot saw it, this one carries the turn on.
            stored = StoredMessage.from_document(already.existing)
        self.memory.saw_seq(conversation.id, stored.seq)
        return conversation, language, masked, stored

    async def customer_typing(self, channel: str, channel_user_id: str) -> None:
        """Tell the operator side the customer is typing (channels with a typing signal call this).

        Only conversations with operators publish it; the event is ephemeral, never stored.
        """
        conversation = await self.find_open(channel, channel_user_id)
        if conversation is not None and conversation.state in WITH_OPERATOR:
            await self.events.emit(Event(events.CUSTOMER_TYPED, conversation.id, "customer", self.clock()))

    async def _ask_bot(
        self, conversation: Conversation, text: str, metadata: BotMetadata, now: datetime
    ) -> tuple[list[Reply], ConversationState]:
        language = metadata["language"]
        try:
            on_busy = self._busy_notice(conversation, language)
            started = time.perf_counter()
            replies = await self.bot.send(conversation.id, text, metadata, on_busy=on_busy)
            metrics.BOT_TURN_SECONDS.observe(time.perf_counter() - started)
        except BotUnavailable as err:
            metrics.ERRORS.labels("bot_unavailable").inc()
            logger.error("Bot unavailable for conversation %s: %s", conversation.id, err)
            queued = await conversations.hand_off(
                self.db, self.events, conversation.id, reason=HandoffReason.BOT_UNAVAILABLE, actor="gateway", now=now
            )
            if queued is None:
                return [Reply(text=notice_text(Notice.BOT_UNAVAILABLE, language), author="system")], conversation.state
            notice = await self._handoff_reply(queued, language, now, opening=Notice.BOT_UNAVAILABLE)
            return [notice], ConversationState.QUEUED

        state = ConversationState.BOT
        escalation: tuple[HandoffReason, str | None, dict[str, object]] | None = None
        fallback: HandoffReason | None = None
        announcement: int | None = None
        for index, reply in enumerate(replies):
            handoff = reply.custom.get("handoff")
            if isinstance(handoff, dict):
                announcement = index - 1 if index and _text_only(replies[index - 1]) else None
                team = handoff.get("team")
                escalation = (
                    HandoffReason.parse(handoff.get("reason")),
                    team if isinstance(team, str) and team in configured_teams() else None,
                    dict(handoff),
                )
            marker = reply.custom.get(FALLBACK_MARKER)
            if marker:
                # `true` or the reason the turn failed: "nlu_fallback", or "kb_no_answer" from the KB.
                fallback = HandoffReason.NLU_FALLBACK if marker is True else HandoffReason.parse(marker)
        # A custom payload with only our markers is for us, not for the customer.
        replies = _sign_in_where_offered(_joined(replies), conversation.channel)
        visible = [r for r in replies if r.text or r.buttons or set(r.custom) - _GATEWAY_MARKERS]
        if escalation is None:
            in_row = await conversations.count_fallback(self.db, conversation, fallback=fallback is not None)
            if fallback is not None and in_row >= FALLBACKS_BEFORE_OPERATOR:
                escalation = (fallback, None, {"fallbacks_in_row": in_row})
        if escalation is not None:
            if announcement is not None:
                # action_handoff says "connecting you" before its payload; the gateway's notice replaces it,
                # since only the gateway knows whether anyone is online to connect to.
                visible.remove(replies[announcement])
            reason, team, context = escalation
            visible.extend(await self._escalate(conversation, reason, "bot", language, now, team=team, context=context))
            state = ConversationState.QUEUED
        return visible, state

    def _busy_notice(self, conversation: Conversation, language: str) -> Callable[[], Awaitable[None]] | None:
        """Push "the assistant is busy, one moment" while the message waits for the bot (push channels only)."""
        if not self.delivery.can_reach(conversation):
            return None

        async def tell() -> None:
            reply = Reply(text=notice_text(Notice.BOT_BUSY, language), author="system")
            await outbox.send_to_customer(self.db, self.events, conversation, reply, actor="gateway", now=self.clock())

        return tell

    async def _escalate(
        self,
        conversation: Conversation,
        reason: HandoffReason,
        actor: str,
        language: str,
        now: datetime,
        *,
        team: str | None = None,
        context: dict[str, object] | None = None,
    ) -> list[Reply]:
        """Queue the conversation and tell the customer their position, or offer a message or callback."""
        queued = await conversations.hand_off(
            self.db, self.events, conversation.id, reason=reason, actor=actor, now=now, team=team, context=context
        )
        if queued is None:
            return []
        return [await self._handoff_reply(queued, language, now)]

    async def _handoff_reply(
        self, conversation: Conversation, language: str, now: datetime, *, opening: Notice | None = None
    ) -> Reply:
        """One coherent notice: the queue position, or (nobody online, out of hours) a message or callback offer."""
        availability: Availability
        team_hours = _team_hours(conversation.team, self.hours)
        if self.hours is not None and not self.hours.is_open(now):
            availability = OutOfHours(*self.hours.describe())
        elif team_hours is not None and not team_hours.is_open(now):
            # A team with its own hours (sales, core/teams.yml): outside them, a message or a callback.
            availability = OutOfHours(*team_hours.describe())
        elif await operators.count_available(self.db, language=conversation.language, team=conversation.team) == 0:
            availability = NoOperatorOnline()
        else:
            availability = OperatorsOnline(await queue.position(self.db, conversation))
        text = handoff_notice(availability, language, opening=opening)
        if isinstance(availability, OperatorsOnline):
            return Reply(text=text, custom={"queue": {"position": availability.position}}, author="system")
        titles = _BUTTON_TITLES.get(language, _BUTTON_TITLES["ru"])
        buttons = (
            Button(title=titles[0], payload=callbacks.LEAVE_MESSAGE_PAYLOAD),
            Button(title=titles[1], payload=callbacks.REQUEST_CALLBACK_PAYLOAD),
        )
        # A standing offer: its buttons stay usable after the customer writes something else meanwhile.
        return Reply(text=text, buttons=buttons, custom={STANDING_OFFER: True}, author="system")

    async def _while_with_operators(
        self, conversation: Conversation, text: str, language: str, now: datetime
    ) -> list[Reply]:
        """Queued or assigned: the message is for the operator; the gateway handles message/callback requests."""
        if text == callbacks.REQUEST_CALLBACK_PAYLOAD:
            known = await self.phones(conversation.customer_id) if self.phones and conversation.customer_id else None
            if known:
                try:
                    await callbacks.create_task(
                        self.db, self.events, conversation, kind="callback", phone=known, now=now
                    )
                except callbacks.CallbackRefused as refused:
                    return [Reply(text=notice_text(_REFUSED_CALLBACK[refused.reason], language), author="system")]
                ending = callbacks.phone_ending(known)
                return [
                    Reply(text=notice_text(Notice.CALLBACK_TO_KNOWN_PHONE, language, ending=ending), author="system")
                ]
            await conversations.set_awaiting(self.db, conversation.id, "callback_phone")
            return [Reply(text=notice_text(Notice.ASK_CALLBACK_PHONE, language), author="system")]
        if text == callbacks.LEAVE_MESSAGE_PAYLOAD:
            await conversations.set_awaiting(self.db, conversation.id, "message")
            return [Reply(text=notice_text(Notice.ASK_LEFT_MESSAGE, language), author="system")]
        if conversation.awaiting == "callback_phone":
            return await self._callback_phone(conversation, text, language, now)
        if conversation.awaiting == "message":
            await callbacks.create_task(self.db, self.events, conversation, kind="message", text=text, now=now)
            await conversations.set_awaiting(self.db, conversation.id, None)
            return [Reply(text=notice_text(Notice.MESSAGE_LEFT, language), author="system")]
        wish = callback_time.parse_wish(text, now, self._zone)
        if wish is not None:
            # "after 6pm please" after a callback was booked: the task gets the time, the customer hears it.
            when = wish.label(language, now, self._zone)
            if await callbacks.set_preferred_time(self.db, conversation.id, wish.at, when):
                return [Reply(text=notice_text(Notice.CALLBACK_TIME_NOTED, language, when=when), author="system")]
        if conversation.state is ConversationState.QUEUED:
            return [Reply(text=notice_text(Notice.WITH_OPERATOR, language), author="system")]
        return []

    @property
    def _zone(self) -> ZoneInfo:
        return self.hours.zone if self.hours is not None else callback_time.DEFAULT_ZONE

    async def _callback_phone(self, conversation: Conversation, text: str, language: str, now: datetime) -> list[Reply]:
        """The customer answers "which number?": a number (with a time, perhaps), a time alone, or a way out."""
        if callbacks.is_way_out(text):
            await conversations.set_awaiting(self.db, conversation.id, None)
            return [Reply(text=notice_text(Notice.CALLBACK_CANCELLED, language), author="system")]
        wish = callback_time.parse_wish(text, now, self._zone)
        phone = callbacks.find_phone(text, skip=wish.span if wish else None)
        doc = await conversations.get_document(self.db, conversation.id) or {}
        if phone is None:
            if wish is not None:
                await self.db.conversations.update_one(
                    {"_id": conversation.id}, {"$set": {"callback_wish": {"at": wish.at, "relation": wish.relation}}}
                )
                said = wish.label(language, now, self._zone)
                asked = notice_text(Notice.ASK_CALLBACK_PHONE_FOR_TIME, language, when=said)
                return [Reply(text=asked, author="system")]
            return [Reply(text=notice_text(Notice.BAD_PHONE, language), author="system")]
        remembered = doc.get("callback_wish") or {}
        if wish is None and isinstance(remembered.get("at"), datetime):
            relation = str(remembered.get("relation") or "after")
            wish = callback_time.CallbackWish(at=remembered["at"], relation=relation, span=(0, 0))
        when = wish.label(language, now, self._zone) if wish is not None else None
        try:
            await callbacks.create_task(
                self.db,
                self.events,
                conversation,
                kind="callback",
                phone=phone,
                now=now,
                preferred_at=wish.at if wish else None,
                preferred_label=when,
            )
        except callbacks.CallbackRefused as refused:
            await conversations.set_awaiting(self.db, conversation.id, None)
            return [Reply(text=notice_text(_REFUSED_CALLBACK[refused.reason], language), author="system")]
        await conversations.set_awaiting(self.db, conversation.id, None)
        if when is None:
            return [Reply(text=notice_text(Notice.CALLBACK_CREATED, language, phone=phone), author="system")]
        return [Reply(text=notice_text(Notice.CALLBACK_CREATED_AT, language, phone=phone, when=when), author="system")]

    async def _answers_survey(self, conversation: Conversation, text: str) -> bool:
        """Whether the message answers the survey question the conversation waits on."""
        waiting = await surveys.pending(self.db, conversation.id, conversation.awaiting)
        return waiting is not None and surveys.interpret(waiting.question.type, text) is not None

    async def _survey_answer(
        self, conversation: Conversation, text: str, language: str, now: datetime
    ) -> surveys.Taken | None:
        """A survey answer (a score, a comment) instead of a request for the bot; None when it is not one."""
        waiting = await surveys.pending(self.db, conversation.id, conversation.awaiting)
        if waiting is None:
            return None
        asked = surveys.Asked(
            conversation_id=conversation.id,
            channel=conversation.channel,
            language=language,
            customer_id=conversation.customer_id,
            operator_id=conversation.assignee_id,
        )
        return await surveys.take_answer(self.db, self.events, waiting, text, asked, now=now)

    async def _after_closing(self, conversation: Conversation, text: str, language: str, now: datetime) -> list[Reply]:
        """The customer answers the survey of a closed conversation (the rating, then maybe a comment)."""
        taken = await self._survey_answer(conversation, text, language, now)
        if taken is None or taken.finished:
            # The survey is over: the customer's next message starts a new conversation.
            await conversations.release_pointer(self.db, conversation)
            self.memory.pointers.forget(TurnMemory.pointer_key(conversation.channel, conversation.channel_user_id))
        return taken.replies if taken else []


# The bot's sign-in button: the web chat (and a host page's own chat over REST) opens its sign-in; Telegram and the
# phone have none, so there the button is left out and the text's other ways (the app, an operator) remain.
_SIGN_IN_PAYLOAD = "/sign_in"
_WITHOUT_SIGN_IN = frozenset({"telegram", "voice"})


# Custom keys that describe the reply before them: Rasa sends an utterance's text and its custom payload as
# two messages. The phone's "was it helpful? press 1 / 2" marks the answer it follows (issue 20).
_JOINS_PREVIOUS = frozenset({"kb_vote_by_keys"})


def _joined(replies: list[Reply]) -> list[Reply]:
    """Replies with such a marker-only payload folded into the reply before it (no empty message is stored)."""
    joined: list[Reply] = []
    for reply in replies:
        if joined and not reply.text and not reply.buttons and reply.custom and set(reply.custom) <= _JOINS_PREVIOUS:
            joined[-1] = replace(joined[-1], custom={**joined[-1].custom, **reply.custom})
        else:
            joined.append(reply)
    return joined


def _sign_in_where_offered(replies: list[Reply], channel: str) -> list[Reply]:
    if channel not in _WITHOUT_SIGN_IN:
        return replies
    return [
        replace(r, buttons=tuple(b for b in r.buttons if b.payload != _SIGN_IN_PAYLOAD))
        if any(b.payload == _SIGN_IN_PAYLOAD for b in r.buttons)
        else r
        for r in replies
    ]


def _team_hours(team_name: str | None, general: WorkingHours | None) -> WorkingHours | None:
    """The configured team's own hours (in the operators' time zone), if it has any."""
    team = configured_teams().get(team_name) if team_name else None
    if team is None or not team.hours:
        return None
    zone = general.zone.key if general is not None else "Europe/Moscow"
    try:
        return WorkingHours.parse(team.hours, zone)
    except HoursError:
        logger.warning("Team %s has malformed hours %r; treated as the general hours", team.name, team.hours)
        return None


def _text_only(reply: Reply) -> bool:
    return bool(reply.text) and not reply.buttons and not reply.custom


def clean_text(text: str, max_chars: int) -> str:
    """Drop control characters and refuse empty or oversize messages.

    Raises:
        InvalidMessage: with a reason the client can show.
    """
    cleaned = _CONTROL_RE.sub("", text).strip()
    if not cleaned:
        raise InvalidMessage("The message is empty.")
    if len(cleaned) > max_chars:
        raise InvalidMessage(f"The message is {len(cleaned)} characters long; the limit is {max_chars}.")
    return cleaned
