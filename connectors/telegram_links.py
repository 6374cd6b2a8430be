"""Telegram chats linked to bank customers, and long button payloads, in MongoDB."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.db import Database, replace_by_id


@dataclass(frozen=True)
class ChatLink:
    """A Telegram chat whose user shared their own phone number, which belongs to a bank customer."""

    chat_id: int
    user_id: int
    customer_id: str
    linked_at: datetime


async def link_chat(db: Database, *, chat_id: int, user_id: int, customer_id: str, now: datetime) -> ChatLink:
    """Store (or replace) the chat's link; the phone number itself is not kept."""
    await replace_by_id(
        db.telegram_links, {"_id": chat_id, "user_id": user_id, "customer_id": customer_id, "linked_at": now}
    )
    return ChatLink(chat_id=chat_id, user_id=user_id, customer_id=customer_id, linked_at=now)


async def find_link(db: Database, chat_id: int) -> ChatLink | None:
    """The chat's link, or None when the customer has not shared their contact."""
    doc = await db.telegram_links.find_one({"_id": chat_id})
    if doc is None:
        return None
    return ChatLink(
        chat_id=doc["_id"], user_id=doc["user_id"], customer_id=doc["customer_id"], linked_at=doc["linked_at"]
    )


async def remember_payload(db: Database, key: str, payload: str) -> None:
    """Keep a button payload that does not fit into callback_data, under its digest."""
    await replace_by_id(db.telegram_payloads, {"_id": key, "payload": payload})


async def find_payload(db: Database, key: str) -> str | None:
    """The payload stored under a digest."""
    doc = await db.telegram_payloads.find_one({"_id": key})
    return None if doc is None else str(doc["payload"])
