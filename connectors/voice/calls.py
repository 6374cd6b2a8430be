"""Call state of the phone channel in MongoDB: webhook gateways are stateless between a call's requests."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any

from core.db import Database, Document, replace_by_id


@dataclass
class CallState:
    """Everything the voice session remembers between two turns of one call."""

    call_id: str  # "<gateway>:<its call id>", e.g. "twiml:CA123...", "agi:1700000000.42"
    caller: str | None  # the caller's number as the gateway reported it
    language: str
    started_at: datetime
    conversation_id: str | None = None
    # Missed turns in a row; each reprompt is more directive than the last.
    no_input: int = 0
    no_match: int = 0
    # After two misses the call switches to keys only.
    dtmf_only: bool = False
    # Payloads of the buttons just read out: key 1 sends the first.
    menu: list[str] = field(default_factory=list)
    # What was said last, as {"text", "language"} (FerretDB stores no nested arrays): heard again after silence.
    last_prompts: list[dict[str, str]] = field(default_factory=list)
    # Until the first request the caller may switch the language (key 9 or its name).
    language_open: bool = True
    # The last request was answered and nothing is pending: silence now means the caller is done.
    settled: bool = False
    # Customer the caller number belongs to, and whether the caller proved it with the last four card digits.
    candidate_customer_id: str | None = None
    verified: bool = False
    # The sensitive request held while the caller enters the digits.
    held_text: str | None = None
    verify_attempts: int = 0
    # The survey question just asked (handoff.surveys type): keys and words go to it as they are.
    survey_question: str | None = None
    # The knowledge-base article just answered, while key 1 / 2 may say whether it helped (issue 20).
    vote_article: str | None = None
    ended_at: datetime | None = None
    end_reason: str | None = None

    def to_document(self) -> Document:
        """The stored form."""
        doc = asdict(self)
        doc["_id"] = doc.pop("call_id")
        return doc

    @classmethod
    def from_document(cls, doc: Document) -> CallState:
        """Build from the stored form."""
        known = {f.name for f in fields(cls)} - {"call_id"}
        # A call stored by an older gateway keeps working: fields it lacks take their defaults.
        values: dict[str, Any] = {k: v for k, v in doc.items() if k in known}
        return cls(call_id=doc["_id"], **values)


async def load_call(db: Database, call_id: str) -> CallState | None:
    """The call's state, or None for a call the gateway never saw."""
    doc = await db.voice_calls.find_one({"_id": call_id})
    return None if doc is None else CallState.from_document(doc)


async def save_call(db: Database, state: CallState) -> None:
    """Store the state after a turn (the whole document: one call has one turn at a time)."""
    await replace_by_id(db.voice_calls, state.to_document())
