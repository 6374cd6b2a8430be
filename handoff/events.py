"""Event names, in dotted noun.past_verb form, shared by emitters and listeners."""

from __future__ import annotations

CONVERSATION_CREATED = "conversation.created"
CONVERSATION_BOT_HANDOFF = "conversation.bot_handoff"
MESSAGE_CREATED = "message.created"
