"""What the operator sees on taking a conversation: transcript with intents, slots, reason, profile, history."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from core.db import Database
from core.masking import mask_sensitive
from handoff import conversations, events, transcript

logger = logging.getLogger(__name__)

# KB suggestions shown; the customer's last lines searched, each and together (a greeting or
# "are you there?" as the last line must not hide what the conversation is about).
_KB_SUGGESTIONS = 3
_KB_LINES = 4
_VOICE_CHANNELS = frozenset({"voice", "phone"})
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
    # Notes are signed with the colleague's display name, as replies are.
    authors = sorted({n["operator_id"] for n in notes})
    names = {d["_id"]: d.get("display_name") async for d in db.staff.find({"_id": {"$in": authors}})} if authors else {}
    for n in notes:
        n["operator_name"] = names.get(n["operator_id"]) or n["operator_id"]
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
    label_button_presses(messages)
    suggestions: list[dict[str, Any]] = []
    if kb_search is not None:
        try:
            suggestions = await _suggestions(db, kb_search, messages, conversation)
        except Exception:
            logger.exception("KB suggestions for %s failed", conversation_id)
    handoff = doc.get("handoff") or {}
    slots = visible_slots(tracker)
    if conversation.customer_id:
        # The bot's slot lags behind an operator's check or a sign-in the bot has not seen yet.
        slots["customer_verified"] = True
    return {
        "conversation": conversation.to_dict(),
        "reason": handoff.get("reason"),
        "handoff_context": handoff.get("context") or {},
        "transitions": [{**t, "at": t["at"].isoformat()} for t in doc.get("transitions", []) if isinstance(t, dict)],
        "messages": messages,
        "notes": notes,
        "slots": slots,
        "activity": await activity(db, conversation_id),
        "profile": profile,
        "verified_by": verified_by(doc),
        "earlier_conversations": earlier,
        "kb_suggestions": suggestions,
    }


# What happened to a conversation besides its messages, shown between them in the console's timeline.
ACTIVITY_EVENTS = (
    events.CONVERSATION_BOT_HANDOFF,
    events.CONVERSATION_ASSIGNED,
    events.CONVERSATION_TRANSFERRED,
    events.CONVERSATION_RETURNED_TO_BOT,
    events.CONVERSATION_CLOSED,
    events.CUSTOMER_VERIFIED,
    events.CARD_BLOCKED,
    events.CONVERSATION_PRIORITY_CHANGED,
    events.CONVERSATION_LABELS_CHANGED,
    events.CONVERSATION_SNOOZED,
    events.CONVERSATION_WOKEN,
    events.CALLBACK_REQUESTED,
    events.RATING_CREATED,
    events.SLA_BREACHED,
)
_ACTIVITY_LIMIT = 300


async def activity(db: Database, conversation_id: str) -> list[dict[str, Any]]:
    """The conversation's stored events of ACTIVITY_EVENTS, oldest first, for the timeline."""
    found = (
        db.events.find({"conversation_id": conversation_id, "name": {"$in": list(ACTIVITY_EVENTS)}})
        .sort("seq", 1)
        .limit(_ACTIVITY_LIMIT)
    )
    docs = await found.to_list()
    # Staff are named as the console names them elsewhere (display names), customers and the bot by role.
    actors = [str(d.get("actor", "")) for d in docs]
    logins = sorted({a.removeprefix("operator:") for a in actors if a.startswith("operator:")})
    names = {d["_id"]: d.get("display_name") async for d in db.staff.find({"_id": {"$in": logins}})} if logins else {}
    return [
        {
            "id": doc["_id"],
            "name": doc["name"],
            "actor": doc.get("actor"),
            "actor_name": names.get(str(doc.get("actor", "")).removeprefix("operator:")),
            "at": doc["at"].isoformat(),
            "data": {k: v for k, v in (doc.get("data") or {}).items() if k != "text"},
        }
        for doc in docs
    ]


def label_button_presses(messages: list[dict[str, Any]]) -> None:
    """A customer message that is a button's payload ("/request_operator") gets the button's title as `label`."""
    offered: dict[str, str] = {}
    for message in messages:
        if message["author"] != "customer":
            for button in message.get("buttons") or []:
                offered[str(button.get("payload"))] = str(button.get("title"))
        elif message["text"] in offered:
            message["label"] = offered[message["text"]]


def verified_by(doc: dict[str, Any]) -> str | None:
    """How the customer was verified: by an operator's check, by the channel's sign-in, or not at all."""
    if not doc.get("customer_id"):
        return None
    verified = doc.get("verified") or {}
    if verified.get("method"):
        return str(verified["method"])
    return {"webchat": "sign_in", "telegram": "telegram_contact", "voice": "caller_id"}.get(
        str(doc.get("channel")), "customer_token"
    )


def _customer_lines(messages: list[dict[str, Any]]) -> list[str]:
    """The customer's last typed lines (button presses are not questions)."""
    lines = [m["text"] for m in messages if m["author"] == "customer" and "label" not in m and m["text"].strip()]
    return [line for line in lines if not line.startswith("/")][-_KB_LINES:]


async def _suggestions(
    db: Database, kb_search: KbSearch, messages: list[dict[str, Any]], conversation: conversations.Conversation
) -> list[dict[str, Any]]:
    """Articles for the conversation: each recent line and all of them together, best score per article wins.

    Each suggestion carries the article's answer in the conversation's language (the voice answer for a
    phone conversation), so the console can insert it for the operator to edit.
    """
    lines = _customer_lines(messages)
    if not lines:
        return []
    language = conversation.language or "ru"
    queries = [*reversed(lines), " ".join(lines)] if len(lines) > 1 else lines
    best: dict[str, dict[str, Any]] = {}
    for query in queries:
        for hit in await kb_search(query, language):
            known = best.get(hit["id"])
            if known is None or hit["score"] > known["score"]:
                best[hit["id"]] = {**hit, "matched": query}
    ranked = sorted(best.values(), key=lambda h: h["score"], reverse=True)[:_KB_SUGGESTIONS]
    voice = conversation.channel in _VOICE_CHANNELS
    for hit in ranked:
        article = await db.kb_articles.find_one({"_id": hit["id"]}) or {}
        answers: dict[str, str] = article.get("answer") or {}
        voice_answers: dict[str, str] = article.get("voice_answer") or {}
        chosen = (voice_answers if voice else {}).get(language) or answers.get(language) or ""
        titles: dict[str, str] = article.get("title") or {}
        hit["title"] = titles.get(language) or hit.get("title") or ""
        hit["answer"] = chosen
        hit["voice"] = bool(voice and voice_answers.get(language))
    return ranked
