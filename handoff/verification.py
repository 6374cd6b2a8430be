"""What an operator does for a customer the bot could not verify: verify them, then act for them.

Two ways to verify, each written to the bank's audit log with the operator as the actor:
- web chat: send a sign-in button; the customer signs in on the bank's page and their next message
  carries the signed token, which the router stores as the conversation's customer (no operator judgement);
- phone (or a customer who gives their number): the operator asks for the phone number on the account and
  the last four digits of one of its cards; both must match the bank's records.

Bank actions (blocking a card) need a verified customer on the conversation and go through the bank
backend, which records each attempt in the audit log itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from core.banking import BankingBackend, BlockResult, BlockStatus, insert_audit_record, normalize_phone
from core.db import Database
from core.messages import Button, Reply
from handoff import claims, conversations, events, outbox, verify_limits
from handoff.bus import EventBus
from handoff.conversations import Conversation
from handoff.events import Event
from handoff.notices import Notice, notice_text

SIGN_IN_PAYLOAD = "/sign_in"
WEB_CHAT = "webchat"
_LAST4_RE = re.compile(r"^\d{4}$")
OPERATOR_VERIFIED = conversations.OPERATOR_VERIFIED
_MOSCOW = ZoneInfo("Europe/Moscow")

_SIGN_IN_TEXT = {
    "ru": "Чтобы я мог помочь с вашими картами, войдите, пожалуйста, в интернет-банк — кнопка ниже. "
    "После входа просто напишите сюда.",
    "en": "So that I can help with your cards, please sign in to online banking with the button below, "
    "then write here again.",
}
_SIGN_IN_BUTTON = {"ru": "Войти", "en": "Sign in"}


class VerificationError(Exception):
    """Verification or a bank action was refused; `code` names the reason for the console's texts.

    `details` (attempts left, the lock's end) go into the answer for the operator.
    """

    def __init__(self, code: str, message: str, **details: object) -> None:
        super().__init__(message)
        self.code = code
        self.details = details


def _locked_error(locked: verify_limits.Standing) -> VerificationError:
    until = locked.locked_until.isoformat() if locked.locked_until else None
    if locked.subject.startswith(verify_limits.OPERATOR_PREFIX):
        return VerificationError(
            "verification_stopped",
            "Your checks of card digits are stopped after too many failures; a supervisor can resume them.",
            locked_until=until,
            until=moscow_time(locked.locked_until) if locked.locked_until else None,
            attempts_left=0,
        )
    return VerificationError(
        "verification_locked",
        "Checks for this customer are locked after too many wrong digits; they resume by themselves "
        "or when a supervisor lifts the lock. The customer has been told how to get help.",
        locked_until=until,
        until=moscow_time(locked.locked_until) if locked.locked_until else None,
        attempts_left=0,
    )


def moscow_time(at: datetime) -> str:
    """The lock's end as customers read it (the bank's clock, Moscow time)."""
    return at.astimezone(_MOSCOW).strftime("%d.%m %H:%M")


@dataclass
class Verification:
    """Verification and bank actions on behalf of a customer in an operator's conversation."""

    db: Database
    bus: EventBus
    backend: BankingBackend

    async def _audit(
        self, conversation: Conversation, operator_id: str, action: str, result: str, now: datetime, **fields: str
    ) -> None:
        await insert_audit_record(
            self.db.audit_log,
            {
                "action": action,
                "actor": f"operator:{operator_id}",
                "at": now,
                "channel": conversation.channel,
                "conversation_id": conversation.id,
                "customer_id": conversation.customer_id,
                "result": result,
                **fields,
            },
        )

    async def send_sign_in_link(self, conversation: Conversation, operator_id: str, now: datetime) -> None:
        """Offer the web-chat customer the bank's sign-in (a button the chat opens as its sign-in)."""
        if conversation.channel != WEB_CHAT:
            raise VerificationError("channel_cannot", "Only the web chat can offer a sign-in.")
        language = conversation.language if conversation.language in _SIGN_IN_TEXT else "ru"
        reply = Reply(
            text=_SIGN_IN_TEXT[language],
            buttons=(Button(title=_SIGN_IN_BUTTON[language], payload=SIGN_IN_PAYLOAD),),
            author="system",
        )
        await outbox.send_to_customer(self.db, self.bus, conversation, reply, actor=f"operator:{operator_id}", now=now)
        await self._audit(conversation, operator_id, "identity.sign_in_offered", "sent", now)

    async def verify_by_card_digits(
        self, conversation: Conversation, operator_id: str, *, phone: str, last4: str, now: datetime
    ) -> str:
        """Verify by the account's phone number and a card's last four digits; returns the customer id.

        Each check counts against the customer and the operator (handoff/verify_limits.py): a locked
        customer or a stopped operator is refused before the bank's records are read.

        Raises:
            VerificationError: bad digits or phone, no such customer or card (with the attempts left),
                a locked customer or a stopped operator (with the lock's end).
        """
        number = normalize_phone(phone)
        if number is None or not _LAST4_RE.match(last4):
            raise VerificationError("bad_digits", "Give the phone number and exactly four digits of a card.")
        customer = await self.backend.find_customer_by_phone(number)
        subjects = [f"{verify_limits.OPERATOR_PREFIX}{operator_id}"]
        if customer is not None:
            subjects.append(f"{verify_limits.CUSTOMER_PREFIX}{customer.customer_id}")
        target = replace(conversation, customer_id=customer.customer_id if customer else conversation.customer_id)

        async def matches() -> bool:
            cards = await self.backend.list_cards(customer.customer_id) if customer else []
            return any(card.last4 == last4 for card in cards)

        fields = {
            "actor": f"operator:{operator_id}",
            "channel": conversation.channel,
            "conversation_id": conversation.id,
        }
        outcome = await verify_limits.guarded_check(self.db, subjects, matches, now=now, fields=fields)
        if isinstance(outcome, verify_limits.Refused):
            await self._audit(target, operator_id, "identity.verify", "refused_locked", now, card_last4=last4)
            await self._tell_locked(conversation, outcome.standing, now)
            raise _locked_error(outcome.standing)
        for locked in outcome.newly_locked:
            await verify_limits.raise_alert(self.db, self.bus, locked, now=now, fields=fields)
        if not outcome.verified:
            await self._audit(target, operator_id, "identity.verify", "mismatch", now, card_last4=last4)
            locked_now = outcome.locked
            if locked_now is not None:
                await self._tell_locked(conversation, locked_now, now)
                raise _locked_error(locked_now)
            raise VerificationError(
                "wrong_digits",
                "The phone number and digits match no customer's card.",
                attempts_left=outcome.attempts_left,
            )
        assert customer is not None  # noqa: S101 -- a match needs the customer's cards
        if conversation.customer_id != customer.customer_id and not await conversations.pin_customer(
            self.db, conversation.id, customer.customer_id, now=now
        ):
            # Another verified customer's token already holds this conversation.
            raise VerificationError("conversation_taken", "This conversation belongs to another verified customer.")
        await self.db.conversations.update_one(
            {"_id": conversation.id},
            {
                "$set": {
                    "customer_id": customer.customer_id,
                    "verified": {"method": OPERATOR_VERIFIED, "by": operator_id, "at": now},
                    "updated_at": now,
                }
            },
        )
        verified = replace(conversation, customer_id=customer.customer_id)
        await self._audit(verified, operator_id, "identity.verify", "verified", now, card_last4=last4)
        # The timeline's entry, and the signal that makes every open console re-read the customer panel.
        await self.bus.emit(
            Event(
                events.CUSTOMER_VERIFIED,
                conversation.id,
                f"operator:{operator_id}",
                now,
                {"method": OPERATOR_VERIFIED, "operator_id": operator_id, "customer_id": customer.customer_id},
            )
        )
        return customer.customer_id

    async def _tell_locked(self, conversation: Conversation, locked: verify_limits.Standing, now: datetime) -> None:
        """Tell the customer (once per lock and conversation) why checks stopped and how to get help."""
        if not locked.subject.startswith(verify_limits.CUSTOMER_PREFIX) or locked.locked_until is None:
            return
        told = f"{conversation.id}:{locked.subject}:{locked.locked_until.isoformat()}"
        if not await claims.claim(self.db.verification_notices, told, {"at": now}):
            return
        text = notice_text(Notice.VERIFICATION_LOCKED, conversation.language, until=moscow_time(locked.locked_until))
        reply = Reply(text=text, author="system")
        await outbox.send_to_customer(self.db, self.bus, conversation, reply, actor="gateway", now=now)

    async def block_card(
        self, conversation: Conversation, operator_id: str, last4: str, *, now: datetime | None = None
    ) -> BlockResult:
        """Block one of the verified customer's cards (the backend writes the audit record).

        A card blocked now is confirmed to the customer in the conversation's language and noted in the
        timeline; a card that was blocked already changes nothing and says nothing.
        """
        if conversation.customer_id is None:
            raise VerificationError("not_verified", "Verify the customer before acting on their cards.")
        if not _LAST4_RE.match(last4):
            raise VerificationError("card_not_found", "A card is named by its last four digits.")
        result = await self.backend.block_card(
            conversation.customer_id,
            last4,
            actor=f"operator:{operator_id}",
            channel=conversation.channel,
            conversation_id=conversation.id,
        )
        if result.card is None:
            raise VerificationError("card_not_found", "The customer has no card with those digits.")
        if result.status is BlockStatus.BLOCKED:
            at = now or datetime.now(UTC)
            card = f"•••• {last4}"
            said = notice_text(Notice.CARD_BLOCKED, conversation.language, card=card)
            confirmation = Reply(text=said, author="system")
            await outbox.send_to_customer(
                self.db, self.bus, conversation, confirmation, actor=f"operator:{operator_id}", now=at
            )
            await self.bus.emit(
                Event(
                    events.CARD_BLOCKED,
                    conversation.id,
                    f"operator:{operator_id}",
                    at,
                    {"card": result.card.display_name, "last4": last4, "operator_id": operator_id},
                )
            )
        return result
