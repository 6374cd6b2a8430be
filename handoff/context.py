"""What the operator sees on taking a conversation: transcript with intents, slots, reason, profile, history."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from core.db import Database
from core.masking import mask_sensitive
from handoff import conversations, transcript

logger = logging.getLogger(__name__)

# The console asks for KB suggestions for the last question; this many are shown.
_KB_SUGGESTIONS = 3
# Slots that only drive the bot and would confuse the operator.
_HIDDEN_SLOTS = frozenset({"requested_slot", "session_started_metadata"})

ProfileSource = Callable[[str], Awaitable[dict[str, Any] | None]]
KbSearch = Callable[[str, str], Awaitable[list[dict[str, Any]]]]


@dataclass
class TrackerClient:
    """Reads a conversation's tracker from Rasa's HTTP API (intents, confidences, slots)."""

    session: aiohttp.ClientSession
    base_url: str
    token: str
    timeout_seconds: float = 3.0

    async def tracker(self, conversation_id: str) -> dict[str, Any] | None:
        """The tracker, or None when Rasa cannot be reached (the console still shows the rest)."""
        url = f"{self.base_url}/conversations/{conversation_id}/tracker"
        try:
            async with self.session.get(
                url,
                params={"token": self.token, "include_events": "ALL"},
                timeout=aiohttp.ClientTimeout(total=self.timeout_seconds),
            ) as resp:
                if resp.status != 200:
                    logger.warning("Rasa tracker for %s answered HTTP %s", conversation_id, resp.status)
                    return None
                body: Any = await resp.json()
        except (TimeoutError, aiohttp.ClientError, ValueError) as err:
            logger.warning("Rasa tracker for %s failed: %r", conversation_id, err)
            return None
        return body if isinstance(body, dict) else None


def intents_by_text(tracker: dict[str, Any] | None) -> list[tuple[str, str | None, float | None]]:
    """(text, intent, confidence) of every user turn Rasa saw, in order."""
    turns: list[tuple[str, str | None, float | None]] = []
    for event in (tracker or {}).get("events") or []:
        if not isinstance(event, dict) or event.get("event") != "user":
            continue
        intent = (event.get("parse_data") or {}).get("intent") or {}
        confidence = intent.get("confidence")
        turns.append(
            (
                str(event.get("text") or ""),
                intent.get("name"),
                round(float(confidence), 3) if isinstance(confidence, int | float) else None,
            )
        )
    return turns


def visible_slots(tracker: dict[str, Any] | None) -> dict[str, Any]:
    """Slots the bot filled (empty ones and internal ones left out)."""
    slots = (tracker or {}).get("slots") or {}
    return {k: v for k, v in sorted(slots.items()) if v not in (None, [], "") and k not in _HIDDEN_SLOTS}


def mask_profile(profile: dict[str, Any]) -> dict[str, Any]:
    """Defence in depth: mask anything in the profile that looks like a card number."""
    masked: dict[str, Any] = {}
    for key, value in profile.items():
        if isinstance(value, str):
            masked[key] = mask_sensitive(value).text
        elif isinstance(value, list):
            masked[key] = [mask_profile(v) if isinstance(v, dict) else v for v in value]
        elif isinstance(value, dict):
            masked[key] = mask_profile(value)
        else:
            masked[key] = value
    return masked


async def build_context(
    db: Database,
    conversation_id: str,
    *,
    tracker_client: TrackerClient | None,
    profile_source: ProfileSource | None,
    kb_search: KbSearch | None,
) -> dict[str, Any] | None:
    """Everything the console shows for one conversation, or None if it does not exist."""
    doc = await conversations.get_document(db, conversation_id)
    if doc is None:
        return None
    conversation = conversations.Conversation.from_document(doc)
    tracker = await tracker_client.tracker(conversation_id) if tracker_client else None
    intents = intents_by_text(tracker)
    messages: list[dict[str, Any]] = []
    cursor = 0
    for message in await transcript.all_messages(db, conversation_id):
        item = {
            "seq": message["seq"],
            "author": message["author"],
            "text": message["text"],
            "buttons": message.get("buttons") or [],
            "at": message["at"].isoformat(),
            "channel": message.get("channel", conversation.channel),
            "delivery": message.get("delivery", "delivered"),
            "operator_name": message.get("operator_name"),
        }
        if message["author"] == "customer":
            # Rasa saw the customer's turns in order; match each stored turn to the next one with its text.
            for index in range(cursor, len(intents)):
                if intents[index][0] == message["text"]:
                    item["intent"], item["confidence"] = intents[index][1], intents[index][2]
                    cursor = index + 1
                    break
        messages.append(item)
    notes = [
        {"operator_id": n["operator_id"], "text": n["text"], "at": n["at"].isoformat(), "kind": n.get("kind", "note")}
        async for n in db.notes.find({"conversation_id": conversation_id}).sort("at", 1)
    ]
    profile = None
    if conversation.customer_id and profile_source is not None:
        try:
            raw = await profile_source(conversation.customer_id)
        except Exception:
            logger.exception("Customer profile for %s failed", conversation_id)
            raw = None
        profile = mask_profile(raw) if raw else None
    earlier = []
    if conversation.customer_id:
        for other in await conversations.earlier_conversations(
            db, conversation.customer_id, exclude_id=conversation.id
        ):
            earlier.append(
                {
                    "id": other["_id"],
                    "channel": other.get("channel"),
                    "state": other.get("state"),
                    "created_at": other["created_at"].isoformat() if other.get("created_at") else None,
                    "resolution": other.get("resolution"),
                    "reason": (other.get("handoff") or {}).get("reason"),
                }
            )
    last_question = next((m["text"] for m in reversed(messages) if m["author"] == "customer"), "")
    suggestions: list[dict[str, Any]] = []
    if kb_search is not None and last_question:
        try:
            suggestions = (await kb_search(last_question, conversation.language or "ru"))[:_KB_SUGGESTIONS]
        except Exception:
            logger.exception("KB suggestions for %s failed", conversation_id)
    handoff = doc.get("handoff") or {}
    return {
        "conversation": conversation.to_dict(),
        "reason": handoff.get("reason"),
        "handoff_context": handoff.get("context") or {},
        "transitions": [{**t, "at": t["at"].isoformat()} for t in doc.get("transitions", []) if isinstance(t, dict)],
        "messages": messages,
        "notes": notes,
        "slots": visible_slots(tracker),
        "profile": profile,
        "earlier_conversations": earlier,
        "kb_suggestions": suggestions,
    }
