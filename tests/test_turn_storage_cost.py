"""A plain bot turn costs the gateway at most five database commands, and remembering costs no correctness (issue 22).

A gateway of its own runs on the session's database and Rasa with every database command of each REST
request counted (bench/counted_gateway.py: a PyMongo CommandListener scoped to the request). A plain bot
turn is a customer's message after the first of a conversation, answered by the bot (no operator, no
outbound). The gateway remembers which conversation a channel user writes in and the last transcript
number it wrote (handoff/turn_memory.py); the session's gateway is a second process that remembers its
own, so turns alternating between the two, and a conversation closed behind one's back, show that what a
process remembers never stores a message twice, loses one, or sends it to a closed conversation.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from bench.counted_gateway import COUNTS_PATH
from bench.gateway_commands import start_counted_gateway
from core.db import Database
from core.messages import Reply
from core.stack import ROOT, Stack
from handoff import conversations, outbox
from handoff.bus import EventBus
from handoff.conversations import Resolution
from tests.rest_support import rest_message

# The target of issue 22: one read of the conversation, the customer's message, the replies, the head, and
# (REST cannot push) the look for operator messages waiting for this customer.
PLAIN_TURN_COMMANDS = 5
# A turn whose remembered transcript number another process took meanwhile reads the head and inserts again.
STALE_TURN_COMMANDS = PLAIN_TURN_COMMANDS + 2


@pytest.fixture(scope="module")
def counted_gateway(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second gateway on the session's database and Rasa, its database commands counted per REST request."""
    own = Stack(data_dir=tmp_path_factory.mktemp("counted"), mongodb_db=stack.mongodb_db)
    own.ports.update({key: stack.ports[key] for key in ("postgres", "ferretdb", "actions", "rasa")})
    try:
        _, url = start_counted_gateway(own, "counted-gateway", ROOT)
        yield url
    finally:
        own.stop()


async def commands_of_last_request(http: aiohttp.ClientSession, url: str) -> int:
    async with http.get(url + COUNTS_PATH) as resp:
        tally: dict[str, Any] = await resp.json()
    per_request: list[int] = tally["per_request"]
    return per_request[-1]


async def transcript_of(bank: Database, conversation_id: str) -> list[dict[str, Any]]:
    return await bank.messages.find({"conversation_id": conversation_id}).sort("seq", 1).to_list()


async def test_a_plain_bot_turn_costs_the_gateway_at_most_five_database_commands(
    counted_gateway: str, http: aiohttp.ClientSession, mint_token: Any, bank: Database
) -> None:
    chats = {
        "anna": (
            mint_token("demo-anna"),
            ["Здравствуйте", "какой баланс на карте?", "как снять наличные за границей?", "спасибо"],
        ),
        "guest": (None, ["hi, good morning", "как снять наличные за границей?", "thank you, goodbye"]),
    }
    for who, (token, chat) in chats.items():
        sender = f"cost-{who}-{datetime.now(UTC).timestamp()}"
        first = await rest_message(http, counted_gateway, sender, chat[0], token)
        conversation_id = first["conversation_id"]
        for text in chat[1:]:
            turn = await rest_message(http, counted_gateway, sender, text, token)
            assert turn["state"] == "bot" and turn["replies"], (who, text, turn)
            assert turn["conversation_id"] == conversation_id
            commands = await commands_of_last_request(http, counted_gateway)
            assert commands <= PLAIN_TURN_COMMANDS, f"{who}: {text!r} cost {commands} database commands"
        # Fewer commands, the same transcript: every message once, numbered without gaps, in order.
        stored = await transcript_of(bank, conversation_id)
        assert [m["seq"] for m in stored] == list(range(1, len(stored) + 1))
        assert [m["text"] for m in stored if m["author"] == "customer"] == chat


async def test_turns_alternating_between_two_gateways_keep_one_transcript(
    counted_gateway: str, gateway_url: str, http: aiohttp.ClientSession, bank: Database
) -> None:
    sender = f"cost-alternating-{datetime.now(UTC).timestamp()}"
    chat = ["Здравствуйте", "как снять наличные за границей?", "спасибо", "как снять наличные за границей?", "пока"]
    conversation_ids = set()
    with_bot = True
    for i, text in enumerate(chat):
        url = counted_gateway if i % 2 == 0 else gateway_url
        turn = await rest_message(http, url, sender, text)
        conversation_ids.add(turn["conversation_id"])
        # The session's gateway gives up on a slow bot after 4 s (a loaded machine) and queues the customer.
        with_bot = with_bot and turn["state"] == "bot"
        if url == counted_gateway and i > 0 and with_bot:
            # The other gateway wrote since this one last did: its remembered number is taken.
            commands = await commands_of_last_request(http, counted_gateway)
            assert commands <= STALE_TURN_COMMANDS, f"{text!r} cost {commands} database commands"
    assert len(conversation_ids) == 1
    stored = await transcript_of(bank, conversation_ids.pop())
    assert [m["seq"] for m in stored] == list(range(1, len(stored) + 1))
    assert [m["text"] for m in stored if m["author"] == "customer"] == chat


async def test_a_conversation_closed_by_another_process_is_not_written_to_again(
    counted_gateway: str, http: aiohttp.ClientSession, bank: Database
) -> None:
    sender = f"cost-closed-{datetime.now(UTC).timestamp()}"
    first = await rest_message(http, counted_gateway, sender, "Здравствуйте")
    await rest_message(http, counted_gateway, sender, "как снять наличные за границей?")  # remembered now
    # An operator's console, in another process, closes it; the survey question waits for her.
    closed = await conversations.close(
        bank,
        EventBus(bank),
        first["conversation_id"],
        resolution=Resolution.INFORMATION_GIVEN,
        operator_id=None,
        actor="test",
        now=datetime.now(UTC),
    )
    assert closed is not None
    # A new question (not a rating) starts a new conversation, whatever the gateway remembered.
    after = await rest_message(http, counted_gateway, sender, "какой курс доллара?")
    assert after["conversation_id"] != first["conversation_id"]
    old = await transcript_of(bank, first["conversation_id"])
    assert "какой курс доллара?" not in [m["text"] for m in old]
    again = await rest_message(http, counted_gateway, sender, "спасибо")
    assert again["conversation_id"] == after["conversation_id"]


async def test_a_message_stored_for_the_customer_by_another_process_comes_with_the_next_answer(
    counted_gateway: str, http: aiohttp.ClientSession, bank: Database
) -> None:
    """REST cannot push: a message waiting for the customer travels with the next reply, even in plain turns."""
    sender = f"cost-waiting-{datetime.now(UTC).timestamp()}"
    first = await rest_message(http, counted_gateway, sender, "Здравствуйте")
    await rest_message(http, counted_gateway, sender, "как снять наличные за границей?")  # a quiet, plain turn
    conversation = await conversations.get_conversation(bank, first["conversation_id"])
    assert conversation is not None
    # Another process (a supervisor's page, a notice) stores a message for her, waiting for her next turn.
    await outbox.send_to_customer(
        bank,
        EventBus(bank),
        conversation,
        Reply(text="Ответ из другого окна", author="system"),
        actor="test",
        now=datetime.now(UTC),
    )
    turn = await rest_message(http, counted_gateway, sender, "спасибо")
    assert "Ответ из другого окна" in [r["text"] for r in turn["replies"]]
    again = await rest_message(http, counted_gateway, sender, "как снять наличные за границей?")
    assert "Ответ из другого окна" not in [r["text"] for r in again["replies"]]
    assert await commands_of_last_request(http, counted_gateway) <= PLAIN_TURN_COMMANDS
