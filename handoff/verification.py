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

from core.banking import BankingBackend, BlockResult, BlockStatus, insert_audit_record, normalize_phone
from core.db import Database
from core.messages import Button, Reply
from handoff import events, outbox
from handoff.bus import EventBus
from handoff.conversations import Conversation
from handoff.events import Event
from handoff.notices import Notice, notice_text

SIGN_IN_PAYLOAD = "/sign_in"
WEB_CHAT = "webchat"
_LAST4_RE = re.compile(r"^\d{4}$")
OPERATOR_VERIFIED = "operator_card_digits"

_SIGN_IN_TEXT = {
    "ru": "Чтобы я мог помочь с вашими картами, войдите, пожалуйста, в интернет-банк — кнопка ниже. "
    "После входа просто напишите сюда.",
    "en": "So that I can help with your cards, please sign in to online banking with the button below, "
    "then write here again.",
}
_SIGN_IN_BUTTON = {"ru": "Войти", "en": "Sign in"}


class VerificationError(Exception):
    """Verification or a bank action was refused; `code` names the reason for the console's texts."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


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

        Raises:
            VerificationError: bad digits or phone, no such customer, or no card with those digits.
        """
        number = normalize_phone(phone)
        if number is None or not _LAST4_RE.match(last4):
            raise VerificationError("bad_digits", "Give the phone number and exactly four digits of a card.")
        customer = await self.backend.find_customer_by_phone(number)
        cards = await self.backend.list_cards(customer.customer_id) if customer else []
        if customer is None or not any(card.last4 == last4 for card in cards):
            await self._audit(conversation, operator_id, "identity.verify", "mismatch", now, card_last4=last4)
            raise VerificationError("wrong_digits", "The phone number and digits match no customer's card.")
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
