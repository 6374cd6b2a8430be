"""Conversations: the closed set of states and the stored transitions between them.

Each change of state is one named transition (`hand_off`, `assign`, `transfer`,
`return_to_bot`, `close`): a single conditional update that stores who, when and
why, followed by its event on the bus. A transition whose precondition no longer
holds (someone else moved the conversation first) changes nothing and returns None.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import pymongo
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from core.db import Database, Document
from core.teams import configured_teams
from handoff import claims, events, surveys, triage
from handoff.bus import EventBus
from handoff.events import Event


class ConversationState(StrEnum):
    """Who is answering the customer now."""

    BOT = "bot"
    QUEUED = "queued"
    ASSIGNED = "assigned"
    CLOSED = "closed"


# The states in which the customer waits for or talks to an operator: few conversations at any time.
WITH_OPERATOR = (ConversationState.QUEUED.value, ConversationState.ASSIGNED.value)


class HandoffReason(StrEnum):
    """Why a conversation left the bot; priorities and reports key on these."""

    CUSTOMER_REQUEST = "customer_request"
    COMPLAINT = "complaint"
    BOT_UNAVAILABLE = "bot_unavailable"
    BLOCK_CARD_UNVERIFIED = "block_card_unverified"
    NLU_FALLBACK = "nlu_fallback"
    KB_NO_ANSWER = "kb_no_answer"
    KB_ESCALATE = "kb_escalate"
    # A charge the customer did not make or does not recognise (intent dispute_charge, issue 11).
    DISPUTED_CHARGE = "disputed_charge"
    # A product the customer wants that the knowledge base does not answer (issue 20): the sales team.
    SALES_REQUEST = "sales_request"
    # Outbound (issue 18): a fraud alert answered "no, it wasn't me"; a reply to a reminder an operator must take.
    FRAUD_ALERT = "fraud_alert"
    OUTBOUND_REPLY = "outbound_reply"
    OTHER = "other"

    @classmethod
    def parse(cls, value: object) -> HandoffReason:
        """Map an untrusted reason (from a bot payload) onto the closed set."""
        try:
            return cls(str(value))
        except ValueError:
            return cls.OTHER


# The `verified.method` of a conversation whose customer an operator verified (handoff/verification.py).
OPERATOR_VERIFIED = "operator_card_digits"
# A transition's write is retried this often when a concurrent write on FerretDB overwrote it.
_WRITE_ATTEMPTS = 5
# A channel user's pointer claimed and released again this often in a row is a fault, not a race.
_POINTER_ATTEMPTS = 5
# A transition's write (all attempts) must finish within this, or it fails and gives its claim back.
_TRANSITION_WRITE_SECONDS = 10.0
# A transition claim neither completed nor given back (the database failed during the release too) is taken
# over after this long: three times the write bound, so its holder has certainly stopped writing.
TRANSITION_LEASE_SECONDS = 30.0
# Queue ranks of the priority levels (handoff/triage.py): a lost card or fraud first, then complaints and
# customers the bot failed (already unhappy), then the rest.
URGENT_PRIORITY = 0
HIGH_PRIORITY = 1
NORMAL_PRIORITY = 2
# Reasons that need a skill; other conversations go to any operator speaking the language.
# Names from the configured team list (core/teams.yml); a list without one routes that reason to anyone.
_REASON_TEAMS: dict[HandoffReason, str] = {
    HandoffReason.BLOCK_CARD_UNVERIFIED: "cards",
    HandoffReason.SALES_REQUEST: "sales",
    HandoffReason.FRAUD_ALERT: "fraud",
}


def priority_of(reason: HandoffReason) -> int:
    """Queue priority of a reason: lower is served first (the mapping is configurable, see handoff/triage.py)."""
    return triage.rank(triage.level_of_reason(reason.value))


def team_of(reason: HandoffReason) -> str | None:
    """The team (operator skill) a reason needs, if any, and only if the configured list has it."""
    team = _REASON_TEAMS.get(reason)
    return team if team in configured_teams() else None


class Resolution(StrEnum):
    """How an operator closed a conversation (reports count these)."""

    RESOLVED = "resolved"
    CARD_BLOCKED = "card_blocked"
    INFORMATION_GIVEN = "information_given"
    COMPLAINT_REGISTERED = "complaint_registered"
    CALLBACK_ARRANGED = "callback_arranged"
    NO_RESPONSE = "no_response"
    OTHER = "other"


@dataclass(frozen=True)
class Conversation:
    """A conversation as the router, the queue and the console need it."""

    id: str
    channel: str
    channel_user_id: str
    state: ConversationState
    language: str | None
    customer_id: str | None
    handoff_reason: str | None
    created_at: datetime | None = None
    queued_at: datetime | None = None
    priority: int = NORMAL_PRIORITY
    team: str | None = None
    assignee_id: str | None = None
    assignee_name: str | None = None
    # What the gateway waits for from the customer: "callback_phone", "message", "survey" (handoff.surveys).
    awaiting: str | None = None
    fallbacks_in_row: int = 0
    resolution: str | None = None
    labels: tuple[str, ...] = ()
    snooze: triage.Snooze | None = None
    # How an operator verified the customer ("operator_card_digits"), when one did.
    verified_method: str | None = None

    @property
    def verified_by_operator(self) -> bool:
        """Whether an operator verified whoever writes here: the conversation is that customer's from now on.

        The session that started it (a guest's sender or visitor id) keeps writing without a token.
        """
        return self.customer_id is not None and self.verified_method == OPERATOR_VERIFIED

    @classmethod
    def from_document(cls, doc: Document) -> Conversation:
        """Build from a stored document."""
        handoff: dict[str, Any] = doc.get("handoff") or {}
        assignee: dict[str, Any] = doc.get("assignee") or {}
        return cls(
            id=doc["_id"],
            channel=doc["channel"],
            channel_user_id=doc["channel_user_id"],
            state=ConversationState(doc["state"]),
            language=doc.get("language"),
            customer_id=doc.get("customer_id"),
            handoff_reason=handoff.get("reason"),
            created_at=doc.get("created_at"),
            queued_at=doc.get("queued_at"),
            priority=int(doc.get("priority", NORMAL_PRIORITY)),
            team=doc.get("team"),
            assignee_id=assignee.get("id"),
            assignee_name=assignee.get("name"),
            awaiting=doc.get("awaiting"),
            fallbacks_in_row=int(doc.get("fallbacks_in_row", 0)),
            resolution=doc.get("resolution"),
            labels=tuple(str(label) for label in doc.get("labels") or ()),
            snooze=triage.Snooze.from_document(doc.get("snooze")),
            verified_method=(doc.get("verified") or {}).get("method"),
        )

    def to_dict(self) -> dict[str, Any]:
        """Serialize for the console."""
        return {
            "id": self.id,
            "channel": self.channel,
            "state": self.state.value,
            "language": self.language,
            "customer_id": self.customer_id,
            "handoff_reason": self.handoff_reason,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "queued_at": self.queued_at.isoformat() if self.queued_at else None,
            "priority": self.priority,
            "priority_level": triage.level(self.priority),
            "labels": list(self.labels),
            "snooze": self.snooze.to_dict() if self.snooze else None,
            "team": self.team,
            "assignee_id": self.assignee_id,
            "assignee_name": self.assignee_name,
            "resolution": self.resolution,
        }


async def ensure_indexes(db: Database) -> None:
    """Create the indexes the routing, queue and history queries rely on."""
    await db.conversations.create_index([("state", 1), ("updated_at", 1)])
    await db.conversations.create_index([("customer_id", 1), ("created_at", -1)])
    await db.conversations.create_index([("state", 1), ("priority", 1), ("queued_at", 1)])
    await db.conversations.create_index([("assignee.id", 1), ("state", 1)])
    await db.channel_users.create_index([("conversation_id", 1)])


async def open_conversation(
    db: Database, channel: str, channel_user_id: str, now: datetime, bus: EventBus | None = None
) -> Conversation:
    """Return the customer's open conversation on this channel, creating it if there is none.

    Two reads when it exists (the pointer, then the conversation). Creating claims the
    pointer and then the conversation with unique inserts, so concurrent first messages
    from one customer still share one conversation, and exactly one of them creates it.
    """
    pointer_id = f"{channel}:{channel_user_id}"
    pointer = await db.channel_users.find_one({"_id": pointer_id})
    if pointer is not None:
        found = await get_conversation(db, pointer["conversation_id"])
        if found is not None:
            return found
    else:
        pointer = await _claim_pointer(db, pointer_id, now)
    fresh: Document = {
        "_id": pointer["conversation_id"],
        "channel": channel,
        "channel_user_id": channel_user_id,
        "state": ConversationState.BOT.value,
        "created_at": now,
        "updated_at": now,
        "last_seq": 0,
        "transitions": [],
    }
    try:
        await db.conversations.insert_one(fresh)
    except DuplicateKeyError:  # a simultaneous first message created it
        existing = await get_conversation(db, pointer["conversation_id"])
        if existing is None:
            raise
        return existing
    conversation = Conversation.from_document(fresh)
    if bus is not None:
        await bus.emit(Event(events.CONVERSATION_CREATED, conversation.id, "customer", now, {"channel": channel}))
    return conversation


async def _claim_pointer(db: Database, pointer_id: str, now: datetime) -> Document:
    """The channel user's pointer to a new conversation id, or the one a simultaneous first message claimed."""
    for _ in range(_POINTER_ATTEMPTS):
        pointer: Document = {"_id": pointer_id, "conversation_id": uuid.uuid4().hex, "created_at": now}
        try:
            await db.channel_users.insert_one(pointer)
        except DuplicateKeyError:
            existing = await db.channel_users.find_one({"_id": pointer_id})
            if existing is not None:
                return existing
            continue  # released in between (its conversation closed): claim a new one
        return pointer
    raise RuntimeError(f"Channel user {pointer_id}: no pointer after {_POINTER_ATTEMPTS} attempts")


async def find_open(db: Database, channel: str, channel_user_id: str) -> Conversation | None:
    """The customer's open conversation on a channel, without creating one."""
    pointer = await db.channel_users.find_one({"_id": f"{channel}:{channel_user_id}"})
    return await get_conversation(db, pointer["conversation_id"]) if pointer else None


async def release_pointer(db: Database, conversation: Conversation) -> None:
    """Forget the customer's open conversation so their next message starts a new one.

    On every device that shared it (see `share_pointer`), not only the one that opened it.
    """
    await db.channel_users.delete_one(
        {"_id": f"{conversation.channel}:{conversation.channel_user_id}", "conversation_id": conversation.id}
    )
    await db.channel_users.delete_many({"conversation_id": conversation.id})


async def share_pointer(db: Database, channel: str, channel_user_id: str, conversation_id: str) -> None:
    """Let another channel user (the same signed-in customer's second browser) write into an open conversation."""
    fields = {"conversation_id": conversation_id, "shared": True}
    try:
        await db.channel_users.update_one({"_id": f"{channel}:{channel_user_id}"}, {"$set": fields}, upsert=True)
    except DuplicateKeyError:  # FerretDB: a simultaneous first upsert of the same id; the document exists now
        await db.channel_users.update_one({"_id": f"{channel}:{channel_user_id}"}, {"$set": fields})


async def get_conversation(db: Database, conversation_id: str) -> Conversation | None:
    """Load a conversation by id."""
    doc = await db.conversations.find_one({"_id": conversation_id})
    return Conversation.from_document(doc) if doc else None


async def get_document(db: Database, conversation_id: str) -> Document | None:
    """Load the stored document of a conversation (transitions, slots snapshot) for the console."""
    return await db.conversations.find_one({"_id": conversation_id})


async def remember_customer(
    db: Database, conversation_id: str, *, language: str, customer_id: str | None, now: datetime
) -> None:
    """Store the conversation's language and, once verified, who the customer is."""
    fields: dict[str, Any] = {"language": language, "updated_at": now}
    if customer_id is not None:
        fields["customer_id"] = customer_id
    await db.conversations.update_one({"_id": conversation_id}, {"$set": fields})


async def pin_customer(db: Database, conversation_id: str, customer_id: str, *, now: datetime) -> bool:
    """Tie a conversation to the first verified customer who writes in it; True if it is (now) theirs.

    A unique insert, so two customers' tokens arriving at once on one channel user
    cannot both join: the second is refused, and never sees the first's transcript
    or the operator's replies to them.
    """
    if await claims.claim(db.conversation_customers, conversation_id, {"customer_id": customer_id, "at": now}):
        return True
    pinned = await db.conversation_customers.find_one({"_id": conversation_id})
    return pinned is not None and pinned.get("customer_id") == customer_id


async def set_awaiting(db: Database, conversation_id: str, awaiting: str | None) -> None:
    """Remember what the gateway expects next from the customer (phone number, rating...)."""
    update = {"$set": {"awaiting": awaiting}} if awaiting else {"$unset": {"awaiting": ""}}
    await db.conversations.update_one({"_id": conversation_id}, update)


async def count_fallback(db: Database, conversation: Conversation, *, fallback: bool) -> int:
    """Count bot turns that did not understand, in a row; any understood turn resets the count.

    Returns:
        The number of fallbacks in a row after this turn.
    """
    in_row = conversation.fallbacks_in_row + 1 if fallback else 0
    if in_row != conversation.fallbacks_in_row:
        # Only the customer's own turn writes this field, one turn at a time.
        await db.conversations.update_one({"_id": conversation.id}, {"$set": {"fallbacks_in_row": in_row}})
    return in_row


def _transition_record(
    from_states: tuple[ConversationState, ...], to_state: ConversationState, actor: str, reason: str, now: datetime
) -> dict[str, Any]:
    return {
        "from": "|".join(s.value for s in from_states),
        "to": to_state.value,
        "at": now,
        "actor": actor,
        "reason": reason,
    }


async def _transition(
    db: Database,
    conversation_id: str,
    *,
    extra_filter: dict[str, Any] | None = None,
    from_states: tuple[ConversationState, ...],
    to_state: ConversationState,
    actor: str,
    reason: str,
    now: datetime,
    set_fields: dict[str, Any] | None = None,
    unset_fields: tuple[str, ...] = (),
) -> Conversation | None:
    """Make one transition happen once: check the precondition, claim the version, write, then settle the claim.

    The claim (a unique insert of conversation id + version, see handoff/claims.py)
    is what makes the transition atomic on every MongoDB-compatible server; on
    MongoDB the version filter of the update would suffice on its own. A write
    that fails (the database is down, a value cannot be stored) gives the claim
    back, so the conversation can still be closed, returned or transferred; a
    claim that could not be given back expires after TRANSITION_LEASE_SECONDS.
    """
    # Everything bounded, the read and the claim too: when the database does not answer, the caller hears
    # so after this long (503 from the staff API), not after the whole outage.
    with pymongo.timeout(_TRANSITION_WRITE_SECONDS):
        current = await db.conversations.find_one({"_id": conversation_id, **(extra_filter or {})})
        if current is None or current["state"] not in {s.value for s in from_states}:
            return None
        version = int(current.get("version", 0))
        record = _transition_record(from_states, to_state, actor, reason, now)
        lease = await claims.claim_lease(
            db.transition_claims,
            f"{conversation_id}:{version}",
            record,
            now=now,
            lease_seconds=TRANSITION_LEASE_SECONDS,
        )
    if not isinstance(lease, claims.Lease):
        return None
    try:
        # Bounded well inside the lease, so a slow holder never writes after someone took its claim over.
        with pymongo.timeout(_TRANSITION_WRITE_SECONDS):
            written = await _write_transition(
                db, conversation_id, version, lease.took_over, from_states, to_state, record, set_fields, unset_fields
            )
    except BaseException:
        await claims.release(lease)  # bounded; retried in the background while the database is away
        raise
    if written is None:
        await claims.release(lease)
        return None
    await claims.complete(lease)
    return written


async def _write_transition(
    db: Database,
    conversation_id: str,
    version: int,
    took_over: bool,
    from_states: tuple[ConversationState, ...],
    to_state: ConversationState,
    record: dict[str, Any],
    set_fields: dict[str, Any] | None,
    unset_fields: tuple[str, ...],
) -> Conversation | None:
    """Write the claimed transition; None when an abandoned claim's conversation had moved on after all."""
    if took_over:
        latest = await db.conversations.find_one({"_id": conversation_id})
        if (
            latest is None
            or int(latest.get("version", 0)) != version
            or latest["state"] not in {s.value for s in from_states}
        ):
            return None
    update: dict[str, Any] = {
        "$set": {"state": to_state.value, "updated_at": record["at"], "version": version + 1, **(set_fields or {})},
        "$push": {"transitions": record},
    }
    if unset_fields:
        update["$unset"] = dict.fromkeys(unset_fields, "")
    for _ in range(_WRITE_ATTEMPTS):
        doc = await db.conversations.find_one_and_update(
            {"_id": conversation_id, "version": {"$in": [version, None]} if version == 0 else version},
            update,
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            doc = await db.conversations.find_one({"_id": conversation_id})
        # A concurrent write to another field can overwrite ours on FerretDB; write again until it sticks.
        if doc is not None and doc.get("version") == version + 1 and doc["state"] == to_state.value:
            return Conversation.from_document(doc)
    raise RuntimeError(f"Conversation {conversation_id}: transition to {to_state} did not persist")


async def hand_off(
    db: Database,
    bus: EventBus,
    conversation_id: str,
    *,
    reason: HandoffReason,
    actor: str,
    now: datetime,
    team: str | None = None,
    context: dict[str, Any] | None = None,
) -> Conversation | None:
    """Move a conversation from the bot to the operator queue (`conversation.bot_handoff`).

    Args:
        db: The platform database.
        bus: Where the event goes.
        conversation_id: The conversation.
        reason: Why it leaves the bot; sets its priority.
        actor: Who decided: "bot", "gateway" or "customer".
        now: Transition time.
        team: The skill needed, when the reason or the bot asks for one.
        context: A snapshot the operator sees (the bot's payload beside the reason).

    Returns:
        The queued conversation, or None if it had already left the bot.
    """
    team = team or team_of(reason)
    conversation = await _transition(
        db,
        conversation_id,
        from_states=(ConversationState.BOT,),
        to_state=ConversationState.QUEUED,
        actor=actor,
        reason=reason.value,
        now=now,
        set_fields={
            "handoff": {"reason": reason.value, "at": now, "actor": actor, "context": context or {}},
            "queued_at": now,
            "priority": priority_of(reason),
            "team": team,
            "fallbacks_in_row": 0,
        },
    )
    if conversation is not None:
        await bus.emit(
            Event(
                events.CONVERSATION_BOT_HANDOFF,
                conversation_id,
                actor,
                now,
                {
                    "reason": reason.value,
                    "priority": conversation.priority,
                    "language": conversation.language,
                    "team": team,
                    "channel": conversation.channel,
                },
            )
        )
    return conversation


async def assign(
    db: Database,
    bus: EventBus,
    conversation_id: str,
    *,
    operator_id: str,
    operator_name: str,
    actor: str,
    how: str,
    now: datetime,
) -> Conversation | None:
    """Give a queued conversation to one operator (`conversation.assigned`).

    This is the one atomic update that decides ownership: of any number of
    concurrent callers, exactly one finds the conversation still queued.

    Returns:
        The assigned conversation, or None if it was no longer queued.
    """
    conversation = await _transition(
        db,
        conversation_id,
        from_states=(ConversationState.QUEUED,),
        to_state=ConversationState.ASSIGNED,
        actor=actor,
        reason=how,
        now=now,
        set_fields={"assignee": {"id": operator_id, "name": operator_name, "at": now}, "assigned_at": now},
    )
    if conversation is not None:
        waited = (now - conversation.queued_at).total_seconds() if conversation.queued_at else 0.0
        await bus.emit(
            Event(
                events.CONVERSATION_ASSIGNED,
                conversation_id,
                actor,
                now,
                {
                    "operator_id": operator_id,
                    "operator_name": operator_name,
                    "how": how,
                    "waited_seconds": waited,
                    "language": conversation.language,
                    "team": conversation.team,
                    **(await alert_facts(db, conversation)),
                },
            )
        )
    return conversation


async def transfer(
    db: Database,
    bus: EventBus,
    conversation_id: str,
    *,
    from_operator_id: str,
    to_operator: tuple[str, str] | None,
    to_team: str | None,
    note: str,
    actor: str,
    now: datetime,
    takeover: bool = False,
) -> Conversation | None:
    """Hand an assigned conversation to another operator or back to a team's queue.

    Args:
        db: The platform database.
        bus: Where `conversation.transferred` goes.
        conversation_id: The conversation.
        from_operator_id: Its current owner; the transfer fails if someone else owns it.
        to_operator: (id, display name) of the new owner, whose capacity the caller reserved.
        to_team: The team whose queue it joins when no operator is named.
        note: The handover note the next operator reads.
        actor: Who transfers.
        now: Transition time.
        takeover: A supervisor takes it over: the customer gets one notice from the acceptance, not two.

    Returns:
        The conversation after the transfer, or None if the caller no longer owned it.
    """
    set_fields: dict[str, Any]
    if to_operator is not None:
        to_state = ConversationState.ASSIGNED
        set_fields = {"assignee": {"id": to_operator[0], "name": to_operator[1], "at": now}, "assigned_at": now}
        unset: tuple[str, ...] = ()
    else:
        to_state = ConversationState.QUEUED
        # Back in the queue it keeps its place: queued_at stays, so it does not wait twice.
        set_fields = {"team": to_team}
        unset = ("assignee",)
    conversation = await _transition(
        db,
        conversation_id,
        extra_filter={"assignee.id": from_operator_id},
        from_states=(ConversationState.ASSIGNED,),
        to_state=to_state,
        actor=actor,
        reason="transfer",
        now=now,
        set_fields=set_fields,
        unset_fields=unset,
    )
    if conversation is not None:
        await bus.emit(
            Event(
                events.CONVERSATION_TRANSFERRED,
                conversation_id,
                actor,
                now,
                {
                    "from_operator_id": from_operator_id,
                    "to_operator_id": to_operator[0] if to_operator else None,
                    "to_operator_name": to_operator[1] if to_operator else None,
                    "to_team": to_team,
                    "note": note,
                    "language": conversation.language,
                    "state": conversation.state.value,
                    **({"takeover": True} if takeover else {}),
                    **(await alert_facts(db, conversation)),
                },
            )
        )
    return conversation


async def alert_facts(db: Database, conversation: Conversation) -> dict[str, Any]:
    """What an operator's alert names: the customer (name when the bank knows them), channel and reason."""
    name = None
    if conversation.customer_id:
        customer = await db.bank_customers.find_one({"_id": conversation.customer_id}, {"full_name": 1})
        name = customer.get("full_name") if customer else None
    return {"customer_name": name, "channel": conversation.channel, "reason": conversation.handoff_reason}


async def return_to_bot(
    db: Database, bus: EventBus, conversation_id: str, *, operator_id: str, actor: str, now: datetime
) -> Conversation | None:
    """Give an assigned conversation back to the bot (`conversation.returned_to_bot`).

    Returns:
        The conversation, now with the bot, or None if the operator no longer owned it.
    """
    conversation = await _transition(
        db,
        conversation_id,
        extra_filter={"assignee.id": operator_id},
        from_states=(ConversationState.ASSIGNED,),
        to_state=ConversationState.BOT,
        actor=actor,
        reason="returned_to_bot",
        now=now,
        set_fields={"fallbacks_in_row": 0, "returned_at": now},
        unset_fields=("assignee", "handoff", "queued_at", "awaiting"),
    )
    if conversation is not None:
        await bus.emit(
            Event(
                events.CONVERSATION_RETURNED_TO_BOT,
                conversation_id,
                actor,
                now,
                {"operator_id": operator_id, "language": conversation.language},
            )
        )
    return conversation


async def close(
    db: Database,
    bus: EventBus,
    conversation_id: str,
    *,
    resolution: Resolution,
    operator_id: str | None,
    actor: str,
    now: datetime,
) -> Conversation | None:
    """Close a conversation with a resolution code and ask the customer for a rating.

    Args:
        db: The platform database.
        bus: Where `conversation.closed` goes.
        conversation_id: The conversation.
        resolution: The resolution code reports count.
        operator_id: The owner closing it; None lets the gateway close a queued one.
        actor: Who closes.
        now: Transition time.

    Returns:
        The closed conversation, or None if it was not open for this caller.
    """
    if operator_id is not None:
        extra: dict[str, Any] = {"assignee.id": operator_id}
        from_states: tuple[ConversationState, ...] = (ConversationState.ASSIGNED,)
    else:
        extra = {}
        from_states = (ConversationState.QUEUED, ConversationState.ASSIGNED, ConversationState.BOT)
    before = await db.conversations.find_one({"_id": conversation_id}, projection={"assigned_at": 1})
    conversation = await _transition(
        db,
        conversation_id,
        extra_filter=extra,
        from_states=from_states,
        to_state=ConversationState.CLOSED,
        actor=actor,
        reason=resolution.value,
        now=now,
        set_fields={
            "resolution": resolution.value,
            "closed_at": now,
            "awaiting": surveys.AWAITING,
            "survey": surveys.after_conversation(conversation_id).to_document(),
        },
    )
    if conversation is not None:
        assigned_at = (before or {}).get("assigned_at")
        handle = (now - assigned_at).total_seconds() if isinstance(assigned_at, datetime) else None
        await bus.emit(
            Event(
                events.CONVERSATION_CLOSED,
                conversation_id,
                actor,
                now,
                {
                    "resolution": resolution.value,
                    "operator_id": operator_id or conversation.assignee_id,
                    "handle_seconds": handle,
                    "language": conversation.language,
                },
            )
        )
    return conversation


async def close_bot_idle(
    db: Database, bus: EventBus, conversation_id: str, *, resolution: str, now: datetime
) -> Conversation | None:
    """Close a conversation the bot alone served and nobody wrote to for long (handoff/bot_idle.py).

    Unlike `close`, no rating is asked: no person served the customer. None when it is no longer with the bot.
    """
    conversation = await _transition(
        db,
        conversation_id,
        from_states=(ConversationState.BOT,),
        to_state=ConversationState.CLOSED,
        actor="system",
        reason=resolution,
        now=now,
        set_fields={"resolution": resolution, "closed_at": now},
    )
    if conversation is not None:
        await bus.emit(
            Event(
                events.CONVERSATION_CLOSED,
                conversation_id,
                "system",
                now,
                {
                    "resolution": resolution,
                    "operator_id": None,
                    "handle_seconds": None,
                    "language": conversation.language,
                },
            )
        )
    return conversation


async def list_by_state(
    db: Database, state: ConversationState, *, assignee_id: str | None = None, limit: int = 200
) -> list[Conversation]:
    """Conversations in one state, oldest first (optionally one operator's)."""
    query: dict[str, Any] = {"state": state.value}
    if assignee_id is not None:
        query["assignee.id"] = assignee_id
    cursor = db.conversations.find(query).sort("created_at", 1).limit(limit)
    return [Conversation.from_document(doc) async for doc in cursor]


async def earlier_conversations(db: Database, customer_id: str, *, exclude_id: str, limit: int = 10) -> list[Document]:
    """The customer's earlier conversations, newest first, for the operator's context."""
    cursor = (
        db.conversations.find(
            {"customer_id": customer_id, "_id": {"$ne": exclude_id}},
            projection={"channel": 1, "state": 1, "created_at": 1, "closed_at": 1, "resolution": 1, "handoff": 1},
        )
        .sort("created_at", -1)
        .limit(limit)
    )
    return [doc async for doc in cursor]
