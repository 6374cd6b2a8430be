"""Replies rendered for Telegram: HTML escaping, 4096-character parts split at sentences, inline keyboards."""

from __future__ import annotations

import hashlib
import html
import re

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton, ReplyKeyboardMarkup

from core.messages import Button

# Bot API limits: message text after entity parsing, and callback_data in bytes.
MESSAGE_MAX_CHARS = 4096
CALLBACK_DATA_MAX_BYTES = 64
PARSE_MODE = "HTML"
# Callback data of payloads too long for Telegram: this prefix and a digest of the payload.
LONG_PAYLOAD_PREFIX = "cc:"
_SENTENCE_RE = re.compile(r"(?<=[.!?…])\s+|\n+")
_SPACE_RE = re.compile(r"\s+")


def escape(text: str) -> str:
    """Escape for parse_mode HTML: the bot's text is plain text, never markup."""
    return html.escape(text, quote=False)


def _fits(text: str, limit: int) -> bool:
    # Telegram counts the text after parsing entities, but escaping must not push a raw part over it either.
    return len(escape(text)) <= limit


def split_message(text: str, limit: int = MESSAGE_MAX_CHARS) -> list[str]:
    """Split a long text into parts of at most `limit` characters (escaped), at sentence boundaries.

    A sentence longer than a whole part is cut between words, a word longer than a part mid-word.
    """
    if _fits(text, limit):
        return [text]
    sentences = [s for s in _SENTENCE_RE.split(text) if s.strip()]
    parts: list[str] = []
    current = ""
    for sentence in sentences:
        pieces = [sentence] if _fits(sentence, limit) else _split_words(sentence, limit)
        for piece in pieces:
            candidate = f"{current} {piece}" if current else piece
            if _fits(candidate, limit):
                current = candidate
            else:
                parts.append(current)
                current = piece
    if current:
        parts.append(current)
    return parts


def _split_words(sentence: str, limit: int) -> list[str]:
    pieces: list[str] = []
    current = ""
    for word in _SPACE_RE.split(sentence.strip()):
        while not _fits(word, limit):
            cut = limit
            while not _fits(word[:cut], limit):
                cut -= 1
            if current:
                pieces.append(current)
                current = ""
            pieces.append(word[:cut])
            word = word[cut:]
        candidate = f"{current} {word}" if current else word
        if _fits(candidate, limit):
            current = candidate
        else:
            pieces.append(current)
            current = word
    if current:
        pieces.append(current)
    return pieces


def callback_data_for(payload: str) -> str:
    """The payload itself when it fits Telegram's 64 bytes, else a digest the channel stores the payload under."""
    if len(payload.encode()) <= CALLBACK_DATA_MAX_BYTES and not payload.startswith(LONG_PAYLOAD_PREFIX):
        return payload
    return LONG_PAYLOAD_PREFIX + hashlib.sha256(payload.encode()).hexdigest()[:40]


def inline_keyboard(buttons: tuple[Button, ...]) -> InlineKeyboardMarkup:
    """One button per row: titles such as 'Visa •••• 1234' stay readable on a phone."""
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=b.title, callback_data=callback_data_for(b.payload))] for b in buttons
        ]
    )


def contact_keyboard(title: str) -> ReplyKeyboardMarkup:
    """The reply keyboard with Telegram's own "share my phone number" button."""
    return ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text=title, request_contact=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
        is_persistent=True,
    )
