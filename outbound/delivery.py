"""Deliver one contact attempt: rules again, claim once, send, record; and find the attempts workers lost.

The order is what makes "at most once, never lost" hold with providers that take no idempotency key:
1. the rules are checked again under the customer's lock (time passed, opt-outs arrived, other
   campaigns used the caps), and the attempt is claimed queued -> sending in the same transaction;
2. the channel is called once;
3. the outcome is recorded (sent / queued again for a temporary failure / failed).
A worker killed between 1 and 3 leaves the attempt `sending`; `reap` turns it `unknown` after a
lease, for a person to review. It is never sent again.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from core.banking import BankingBackend, ContactProfile, find_many_by
from core.db import Database
from core.messages import Button
from handoff import conversations, surveys, transcript
from outbound import store
from outbound.messages import Facts, buttons_for, render, survey_questions, template_for
from outbound.models import Attempt, AttemptState, CampaignState, Channel, Kind, Reason, Recipient
from outbound.rules import Calendar, Rules, RussianCalendar, Send, Suppress, Wait, decide
from outbound.senders import FinalFailure, OutboundMessage, Sender, Sent, TemporaryFailure, Unknown

logger = logging.getLogger(__name__)

MAX_TRIES = 5
_BACKOFF_SECONDS = 30.0
_MAX_BACKOFF_SECONDS = 3600.0
# A claimed attempt not recorded within this long lost its worker between send and record.
SENDING_LEASE = timedelta(minutes=5)
# The conversation's channel name per outbound channel (SMS has no inbound conversation here).
CONVERSATION_CHANNELS = {Channel.TELEGRAM: "telegram"}
# The conversation channel of an answered survey call: the phone line's voice session.
VOICE_CONVERSATIONS = "voice"
# The kinds whose answered call continues in its own voice conversation (the others get the ordinary line).
VOICE_SESSION_KINDS = frozenset({Kind.SURVEY, Kind.PAYMENT_REMINDER})

Defer = Callable[[str, datetime], Awaitable[None]]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def worker_name() -> str:
    """host:pid, recorded on each claim."""
    return f"{socket.gethostname()}:{os.getpid()}"


def recipient_of(profile: ContactProfile) -> Recipient:
    """The rules' view of a customer."""
    return Recipient(
        customer_id=profile.customer_id,
        timezone=profile.timezone,
        opted_out=profile.opted_out,
        do_not_contact=profile.do_not_contact,
        marketing_consent=profile.marketing_consent,
    )


def backoff(tries: int, retry_after: float | None) -> timedelta:
    """30 s, 1 min, 2 min... (at most an hour), or what the provider asked for."""
    seconds = retry_after if retry_after is not None else _BACKOFF_SECONDS * 2 ** max(0, tries - 1)
    return timedelta(seconds=min(seconds, _MAX_BACKOFF_SECONDS))


def facts_of(attempt: Attempt, profile: ContactProfile) -> Facts:
    """What the message may mention, from what the planner or the notice stored on the attempt."""
    data = attempt.data
    amount = Decimal(str(data["amount"])) if data.get("amount") not in (None, "") else None
    due = date.fromisoformat(data["due_date"]) if data.get("due_date") else None
    extra = {k: str(v) for k, v in data.items() if k in ("merchant", "text")}
    return Facts(
        name=profile.full_name,
        product=str(data.get("product", "")),
        amount=amount,
        due_date=due,
        card_last4=str(data.get("card_last4", "")),
        extra=extra,
    )


async def ensure_indexes(db: Database) -> None:
    """The lookups outbound makes in the platform's database (FerretDB gets GIN twins from core/pg_indexes.py)."""
    await db.telegram_links.create_index([("customer_id", 1)])


@dataclass
class Addresses:
    """Where a customer can be reached on each channel."""

    db: Database

    async def telegram_chats(self, customer_ids: list[str]) -> dict[str, str]:
        """Linked Telegram chats (the customer shared their own phone number in the chat).

        Read as core.banking.find_many_by reads: by equality (indexed), or in one pass for many.
        """
        docs = await find_many_by(self.db.telegram_links, "customer_id", customer_ids)
        found = {doc["customer_id"]: str(doc["_id"]) for doc in docs}
        return found

    async def address(self, channel: Channel, profile: ContactProfile) -> str | None:
        """The customer's address on one channel, or None."""
        if channel is Channel.TELEGRAM:
            return (await self.telegram_chats([profile.customer_id])).get(profile.customer_id)
        return profile.phone


@dataclass
class Deliverer:
    """Everything one delivery needs; one per worker process."""

    pool: store.Pool
    db: Database
    bank: BankingBackend
    senders: Mapping[Channel, Sender]
    defer: Defer
    calendar: Calendar = field(default_factory=RussianCalendar)
    rules: Rules = field(default_factory=Rules)
    clock: Callable[[], datetime] = _utcnow
    worker: str = field(default_factory=worker_name)
    # Campaign templates by id: they cannot change once the campaign has left its draft.
    _templates: dict[str, dict[str, str]] = field(default_factory=dict)

    async def deliver(self, attempt_id: str) -> AttemptState | None:
        """Take one attempt as far as it can go now; returns its state, None when there was nothing to do."""
        attempt = await store.get_attempt(self.pool, attempt_id)
        if attempt is None or attempt.state is not AttemptState.QUEUED:
            return None  # sent, suppressed or claimed by another worker already: never twice
        if attempt.campaign_id is not None:
            stopped = await self._campaign_stopped(attempt)
            if stopped is not None:
                return stopped
        profile = (await self.bank.contact_profiles([attempt.customer_id])).get(attempt.customer_id)
        if profile is None:
            return await self._suppress(attempt, Reason.UNKNOWN_CUSTOMER)
        if attempt.kind is Kind.PAYMENT_REMINDER and await self._paid(attempt):
            return await self._suppress(attempt, Reason.PAID)
        address = await Addresses(self.db).address(attempt.channel, profile)
        if address is None or attempt.channel not in self.senders:
            return await self._suppress(attempt, Reason.NO_CHANNEL)
        try:
            await self.senders[attempt.channel].reserve(address)
        except TimeoutError:
            await self.defer(attempt.id, self.clock() + timedelta(seconds=5))
            return AttemptState.QUEUED
        now = self.clock()
        async with store.customer_lock(self.pool, attempt.customer_id) as conn:
            history = await store.contact_history(conn, attempt.customer_id, now)
            decision = decide(attempt.planned(), recipient_of(profile), history, now, self.calendar, self.rules)
            if isinstance(decision, Suppress):
                await store.set_attempt(
                    conn,
                    attempt.id,
                    to=AttemptState.SUPPRESSED,
                    from_states=[AttemptState.QUEUED],
                    reason=decision.reason.value,
                    outcome_at=now,
                )
                return AttemptState.SUPPRESSED
            if isinstance(decision, Wait):
                await store.set_attempt(
                    conn,
                    attempt.id,
                    to=AttemptState.QUEUED,
                    from_states=[AttemptState.QUEUED],
                    earliest_at=decision.until,
                )
                waited_until = decision.until
            else:
                assert isinstance(decision, Send)  # noqa: S101 -- the three decisions
                if not await store.claim(conn, attempt.id, self.worker, now):
                    return None
                waited_until = None
        if waited_until is not None:
            await self.defer(attempt.id, waited_until)
            return AttemptState.QUEUED
        return await self._send(attempt, profile, address, now)

    async def _campaign_stopped(self, attempt: Attempt) -> AttemptState | None:
        async with self.pool.connection() as conn:
            state = await store.campaign_state(conn, str(attempt.campaign_id))
        if state in (CampaignState.CANCELLED, CampaignState.FINISHED, None):
            await store.set_attempt(
                self.pool,
                attempt.id,
                to=AttemptState.CANCELLED,
                from_states=[AttemptState.QUEUED],
                outcome_at=self.clock(),
            )
            return AttemptState.CANCELLED
        if state is CampaignState.PAUSED:
            return AttemptState.QUEUED  # resume defers its queued attempts again
        return None

    async def _paid(self, attempt: Attempt) -> bool:
        payment_id = attempt.data.get("payment_id")
        if not payment_id:
            return False
        payments = await self.bank.list_payments(attempt.customer_id)
        return any(p.payment_id == payment_id and p.paid_at is not None for p in payments)

    async def _suppress(self, attempt: Attempt, reason: Reason) -> AttemptState:
        await store.set_attempt(
            self.pool,
            attempt.id,
            to=AttemptState.SUPPRESSED,
            from_states=[AttemptState.QUEUED],
            reason=reason.value,
            outcome_at=self.clock(),
        )
        return AttemptState.SUPPRESSED

    async def compose(self, attempt: Attempt, profile: ContactProfile) -> tuple[str, tuple[Button, ...]]:
        """The text and buttons of an attempt for this customer."""
        templates: dict[str, str] = {}
        if attempt.campaign_id is not None:
            if attempt.campaign_id not in self._templates:
                self._templates[attempt.campaign_id] = await store.campaign_templates(self.pool, attempt.campaign_id)
            templates = self._templates[attempt.campaign_id]
        elif attempt.data.get("template"):
            templates = dict(attempt.data["template"])
        language = profile.language
        text = render(
            template_for(templates, attempt.kind, language),
            facts_of(attempt, profile),
            language,
            attempt.channel,
            attempt.kind,
        )
        buttons = (
            buttons_for(attempt.kind, language, attempt.data.get("survey"))
            if attempt.channel is Channel.TELEGRAM
            else ()
        )
        return text, buttons

    async def _send(self, attempt: Attempt, profile: ContactProfile, address: str, now: datetime) -> AttemptState:
        text, buttons = await self.compose(attempt, profile)
        message = OutboundMessage(
            attempt.id, attempt.channel, address, text, profile.language, buttons, extra={"kind": attempt.kind.value}
        )
        result = await self.senders[attempt.channel].send(message)
        finished = self.clock()
        if isinstance(result, Sent):
            # Recorded first, in one PostgreSQL statement: the window in which a dying worker leaves the
            # attempt `unknown` is the provider's request alone, not the transcript's writes too.
            await store.set_attempt(
                self.pool,
                attempt.id,
                to=AttemptState.SENT,
                from_states=[AttemptState.SENDING],
                sent_at=finished,
                outcome_at=finished,
                provider_id=result.provider_id,
            )
            conversation_id = await self._record_turn(
                attempt, profile, address, text, buttons, finished, reply_from=result.channel_user_id
            )
            if conversation_id is not None:
                await store.set_conversation(self.pool, attempt.id, conversation_id)
            return AttemptState.SENT
        if isinstance(result, TemporaryFailure) and attempt.tries + 1 < MAX_TRIES:
            retry_at = finished + backoff(attempt.tries + 1, result.retry_after)
            await store.set_attempt(
                self.pool,
                attempt.id,
                to=AttemptState.QUEUED,
                from_states=[AttemptState.SENDING],
                contacted_at=None,
                earliest_at=retry_at,
                error=result.error,
            )
            await self.defer(attempt.id, retry_at)
            return AttemptState.QUEUED
        if isinstance(result, Unknown):
            await store.set_attempt(
                self.pool,
                attempt.id,
                to=AttemptState.UNKNOWN,
                from_states=[AttemptState.SENDING],
                outcome_at=finished,
                error=result.error,
            )
            return AttemptState.UNKNOWN
        assert isinstance(result, FinalFailure | TemporaryFailure)  # noqa: S101 -- the remaining outcomes
        await store.set_attempt(
            self.pool,
            attempt.id,
            to=AttemptState.FAILED,
            from_states=[AttemptState.SENDING],
            contacted_at=None,
            outcome_at=finished,
            error=result.error,
        )
        await self._fall_back(attempt, finished)
        return AttemptState.FAILED

    async def _fall_back(self, attempt: Attempt, now: datetime) -> None:
        """A channel that failed for good (the customer blocked the bot): the next channel, as a new attempt."""
        remaining = [c for c in attempt.data.get("fallback", []) if c in {ch.value for ch in Channel}]
        if not remaining:
            return
        follow_up = attempt.follow_up(
            store.new_id("att"),
            channel=Channel(remaining[0]),
            earliest_at=now,
            not_after=attempt.not_after,
            data=attempt.data | {"fallback": remaining[1:], "fallback_of": attempt.id},
        )
        await store.insert_attempts(self.pool, [follow_up])
        await self.defer(follow_up.id, now)

    async def _record_turn(
        self,
        attempt: Attempt,
        profile: ContactProfile,
        address: str,
        text: str,
        buttons: tuple[Button, ...],
        now: datetime,
        *,
        reply_from: str | None = None,
    ) -> str | None:
        """The contact as a turn of the customer's conversation: the reply then finds the campaign.

        A survey or payment-reminder call's conversation is the voice session's of that call (`reply_from`,
        the call's id there): answered by a person, the call asks the survey's questions, or asks who is
        speaking before the reminder's amount and date are said (connectors/voice/session.py).
        """
        channel, user = CONVERSATION_CHANNELS.get(attempt.channel), address
        if attempt.kind in VOICE_SESSION_KINDS and attempt.channel is Channel.CALL and reply_from:
            channel, user = VOICE_CONVERSATIONS, reply_from
        if channel is None:
            return None
        conversation = await conversations.open_conversation(self.db, channel, user, now)
        if conversation.customer_id is None:
            await conversations.remember_customer(
                self.db, conversation.id, language=profile.language, customer_id=profile.customer_id, now=now
            )
        context: dict[str, Any] = {
            "direction": "outbound",
            "delivery": "delivered",
            "outbound": {"attempt_id": attempt.id, "campaign_id": attempt.campaign_id, "kind": attempt.kind.value},
        }
        await transcript.append(
            self.db, conversation.id, author="bot", text=text, now=now, buttons=buttons, extra=context
        )
        if attempt.kind is Kind.SURVEY:
            # The message asked the first question: the conversation now waits for the answers
            # (handoff/surveys.py takes them before the bot sees them).
            survey = surveys.Survey(
                key=f"campaign:{attempt.campaign_id}" if attempt.campaign_id else f"notice:{attempt.id}",
                questions=survey_questions(attempt.data.get("survey")),
                run=attempt.id,
                campaign_id=attempt.campaign_id,
                attempt_id=attempt.id,
            )
            await surveys.start(self.db, conversation.id, survey, language=profile.language, channel=channel)
        return conversation.id


async def reap(pool: store.Pool, now: datetime, defer: Defer) -> tuple[int, int]:
    """Attempts whose worker died mid-send become `unknown`; queued attempts whose job was lost are deferred again.

    Campaigns move on too: scheduled -> running at their start, running -> finished with nothing left to send.

    Returns:
        (attempts marked unknown, attempts deferred again).
    """
    unknown = 0
    for attempt_id in await store.stale_sending(pool, now - SENDING_LEASE):
        unknown += await store.set_attempt(
            pool,
            attempt_id,
            to=AttemptState.UNKNOWN,
            from_states=[AttemptState.SENDING],
            outcome_at=now,
            error="the worker stopped between sending and recording the outcome",
        )
    again = await store.due_queued(pool, now - SENDING_LEASE)
    for attempt_id in again:
        await defer(attempt_id, now)
    await store.advance_campaigns(pool, now)
    return unknown, len(again)


# Twilio's final call statuses that mean nobody took the call: tried again later, like a temporary failure.
UNANSWERED_CALL_STATUSES = frozenset({"busy", "no-answer", "failed", "canceled"})


async def call_ended(
    pool: store.Pool, attempt_id: str, status: str, answered_by: str, now: datetime, defer: Defer
) -> AttemptState | None:
    """Record a placed call's end (Twilio's status callback): answered, or retried with backoff."""
    attempt = await store.get_attempt(pool, attempt_id)
    if attempt is None or attempt.state is not AttemptState.SENT:
        return None
    if status == "completed":
        await store.merge_data(pool, attempt_id, {"answered_by": answered_by or "unknown"})
        await store.set_attempt(
            pool, attempt_id, to=AttemptState.DELIVERED, from_states=[AttemptState.SENT], outcome_at=now
        )
        return AttemptState.DELIVERED
    if status not in UNANSWERED_CALL_STATUSES:
        return None
    if attempt.tries < MAX_TRIES:
        retry_at = now + backoff(attempt.tries, None)
        # Nobody answered: not an interaction, so it does not count against the caps.
        await store.set_attempt(
            pool,
            attempt_id,
            to=AttemptState.QUEUED,
            from_states=[AttemptState.SENT],
            contacted_at=None,
            sent_at=None,
            earliest_at=retry_at,
            error=f"call {status}",
        )
        await defer(attempt_id, retry_at)
        return AttemptState.QUEUED
    await store.set_attempt(
        pool,
        attempt_id,
        to=AttemptState.FAILED,
        from_states=[AttemptState.SENT],
        outcome_at=now,
        error=f"call {status}",
    )
    return AttemptState.FAILED
