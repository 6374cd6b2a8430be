"""A customer's message is stored exactly once, whatever fails while it is being stored.

A probe once lost a web chat message: the inbound id was claimed before the
message was written, the write failed, the page got `server_error` with
`id: null`, resent the same id after reconnecting, heard `duplicate: true`, and
the message was never stored. Here the database really stops (a FerretDB of the
test's own, on its own PostgreSQL) while a customer writes in the web chat and
through REST; and the states a crash leaves (a claim never given back, a
message stored by an attempt that died before saying so) are set up in the
database exactly as a dying process leaves them.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pymongo
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from core.app import create_app
from core.keys import BUS_KEY, DB_KEY, ROUTER_KEY
from core.messages import InboundMessage
from core.middlewares import STAFF_ACTION_SECONDS
from core.settings import LOCAL_REST_API_KEY, LOCAL_REST_INTEGRATION
from core.stack import Stack
from handoff import claims, conversations
from handoff.conversations import TRANSITION_LEASE_SECONDS, HandoffReason
from handoff.router import DuplicateMessage, MessageInProgress
from handoff.transcript import inbound_key

from .handoff_support import REST, Clock, Operator, _close_operator_sessions, gateway_settings

__all__ = ["_close_operator_sessions"]

Client = TestClient[web.Request, web.Application]
REST_HEADERS = {"X-Api-Key": LOCAL_REST_API_KEY}
# Long enough for the gateway to notice the database is gone (server selection, 5 s) and answer.
_ANSWER_SECONDS = 30.0


@pytest.fixture
async def own_database(tmp_path: Path) -> AsyncIterator[Stack]:
    """A FerretDB (and PostgreSQL) of this test's own, so stopping it disturbs nobody else."""
    own = Stack(data_dir=tmp_path)
    await asyncio.to_thread(own.start_ferretdb)
    yield own
    await asyncio.to_thread(own.stop)


@pytest.fixture
async def gateway(stack: Stack, own_database: Stack, aiohttp_client: Any) -> Client:
    """The real gateway on that database, talking to the platform's Rasa."""
    settings = gateway_settings(stack, "intake", mongodb_uri=own_database.mongodb_uri)
    client: Client = await aiohttp_client(create_app(settings))
    return client


async def database_down(own: Stack) -> None:
    await asyncio.to_thread(own.stop, "ferretdb")


async def database_back(own: Stack) -> None:
    await asyncio.to_thread(own.start_ferretdb)


async def customer_messages(gateway: Client, key: str) -> int:
    return await gateway.app[DB_KEY].messages.count_documents({"inbound_id": key})


async def next_frame(socket: aiohttp.ClientWebSocketResponse, *types: str) -> dict[str, Any]:
    """The next frame of one of these types (messages, typing and notices in between are skipped)."""
    while True:
        msg = await socket.receive(timeout=_ANSWER_SECONDS)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        frame: dict[str, Any] = json.loads(msg.data)
        if frame["type"] in types:
            return frame


async def test_a_web_chat_message_sent_while_the_database_is_down_is_stored_once_when_resent(
    gateway: Client, own_database: Stack
) -> None:
    socket = await gateway.ws_connect("/chat/ws")
    await socket.send_json({"type": "hello", "visitor_id": "intake-visitor-1", "language": "ru"})
    await next_frame(socket, "history")

    await database_down(own_database)
    await socket.send_json({"type": "message", "id": "m-1", "text": "здравствуйте, у меня вопрос"})
    error = await next_frame(socket, "error", "ack")
    # The page learns which message failed and may resend it as it is.
    assert error["type"] == "error" and error["code"] == "server_error" and error["id"] == "m-1", error

    await database_back(own_database)
    await socket.send_json({"type": "message", "id": "m-1", "text": "здравствуйте, у меня вопрос"})
    ack = await next_frame(socket, "ack", "error")
    assert ack == {"type": "ack", "id": "m-1"}
    await socket.send_json({"type": "message", "id": "m-1", "text": "здравствуйте, у меня вопрос"})
    again = await next_frame(socket, "ack", "error")
    assert again == {"type": "ack", "id": "m-1", "duplicate": True}
    await socket.close()

    assert await customer_messages(gateway, inbound_key("webchat", "intake-visitor-1:m-1")) == 1


async def test_a_rest_message_with_an_id_is_stored_once_across_an_outage_and_retries(
    gateway: Client, own_database: Stack
) -> None:
    body = {"sender": "intake-rest", "text": "здравствуйте", "message_id": "r-1"}

    await database_down(own_database)
    failed = await gateway.post(REST, json=body, headers=REST_HEADERS)
    assert failed.status == 503
    assert await failed.json() == {
        "error": "The message could not be stored; send it again with the same message_id.",
        "retryable": True,
        "message_id": "r-1",
    }

    await database_back(own_database)
    stored = await gateway.post(REST, json=body, headers=REST_HEADERS)
    assert stored.status == 200, await stored.text()
    assert (await stored.json())["message_id"] == "r-1"
    retried = await gateway.post(REST, json=body, headers=REST_HEADERS)
    assert retried.status == 200
    assert (await retried.json())["duplicate"] is True

    key = inbound_key("rest", f"{LOCAL_REST_INTEGRATION}:intake-rest:r-1")
    assert await customer_messages(gateway, key) == 1


async def queued_visitor(gateway: Client, clock: Clock, visitor: str) -> str:
    """A web chat visitor already waiting for an operator (so the router does not call the bot)."""
    db, bus = gateway.app[DB_KEY], gateway.app[BUS_KEY]
    conversation = await conversations.open_conversation(db, "webchat", visitor, clock(), bus)
    queued = await conversations.hand_off(
        db, bus, conversation.id, reason=HandoffReason.CUSTOMER_REQUEST, actor="customer", now=clock()
    )
    assert queued is not None
    return conversation.id


def message(visitor: str, message_id: str) -> InboundMessage:
    return InboundMessage(
        channel="webchat", channel_user_id=visitor, text="вы тут?", channel_message_id=f"{visitor}:{message_id}"
    )


async def test_a_claim_left_by_an_attempt_that_died_is_retried_after_its_lease(gateway: Client) -> None:
    clock = Clock()
    router = gateway.app[ROUTER_KEY]
    router.clock = clock
    await queued_visitor(gateway, clock, "intake-visitor-2")
    key = inbound_key("webchat", "intake-visitor-2:m-2")
    # An attempt claimed the message, then its store and its release both failed (the database went away).
    await gateway.app[DB_KEY].inbound_seen.insert_one({"_id": key, "key": key, "state": "pending", "at": clock()})

    # Within the lease the first attempt may still be storing: the client is asked to retry, not told "duplicate".
    with pytest.raises(MessageInProgress):
        await router.handle(message("intake-visitor-2", "m-2"))
    clock.advance(router.turn_lease_seconds + 1)
    await router.handle(message("intake-visitor-2", "m-2"))
    with pytest.raises(DuplicateMessage):
        await router.handle(message("intake-visitor-2", "m-2"))

    assert await customer_messages(gateway, key) == 1


async def test_a_message_stored_by_an_attempt_that_died_before_saying_so_is_not_stored_again(
    gateway: Client,
) -> None:
    clock = Clock()
    router = gateway.app[ROUTER_KEY]
    router.clock = clock
    conversation_id = await queued_visitor(gateway, clock, "intake-visitor-3")
    key = inbound_key("webchat", "intake-visitor-3:m-3")
    await gateway.app[DB_KEY].inbound_seen.insert_one({"_id": key, "key": key, "state": "pending", "at": clock()})
    await gateway.app[DB_KEY].messages.insert_one(
        {"conversation_id": conversation_id, "seq": 1, "author": "customer", "text": "вы тут?", "inbound_id": key}
    )
    clock.advance(router.turn_lease_seconds + 1)

    with pytest.raises(DuplicateMessage):
        await router.handle(message("intake-visitor-3", "m-3"))
    with pytest.raises(DuplicateMessage):
        await router.handle(message("intake-visitor-3", "m-3"))

    assert await customer_messages(gateway, key) == 1


async def test_a_turn_whose_gateway_died_after_storing_the_message_is_handed_to_an_operator_on_retry(
    gateway: Client,
) -> None:
    """A gateway host died between storing a message and the bot's answer (tests/test_hosts.py's kill run).

    Its claim stays pending; the client's retry after the turn's lease finds the message stored and
    unanswered, and the conversation goes to an operator instead of waiting for an answer that never comes.
    """
    clock = Clock()
    router = gateway.app[ROUTER_KEY]
    router.clock = clock
    db, bus = gateway.app[DB_KEY], gateway.app[BUS_KEY]
    answered_id = (await conversations.open_conversation(db, "webchat", "intake-visitor-answered", clock(), bus)).id
    abandoned_id = (await conversations.open_conversation(db, "webchat", "intake-visitor-abandoned", clock(), bus)).id
    for conversation_id, visitor in (
        (abandoned_id, "intake-visitor-abandoned"),
        (answered_id, "intake-visitor-answered"),
    ):
        key = inbound_key("webchat", f"{visitor}:m-5")
        await db.inbound_seen.insert_one({"_id": key, "key": key, "state": "pending", "at": clock()})
        await db.messages.insert_one(
            {"conversation_id": conversation_id, "seq": 1, "author": "customer", "text": "вы тут?", "inbound_id": key}
        )
    # The second one's gateway stored the bot's answer and died before completing the claim.
    await db.messages.insert_one({"conversation_id": answered_id, "seq": 2, "author": "bot", "text": "Да"})

    # While the turn may still be running elsewhere, the retry waits.
    with pytest.raises(MessageInProgress):
        await router.handle(message("intake-visitor-abandoned", "m-5"))
    clock.advance(router.turn_lease_seconds + 1)

    turn = await router.handle(message("intake-visitor-abandoned", "m-5"))
    assert turn.conversation_id == abandoned_id and turn.state == "queued"
    assert [reply.author for reply in turn.replies] == ["system"]
    handed = await db.conversations.find_one({"_id": abandoned_id})
    assert handed is not None and handed["handoff"]["reason"] == HandoffReason.BOT_UNAVAILABLE
    with pytest.raises(DuplicateMessage):
        await router.handle(message("intake-visitor-abandoned", "m-5"))
    assert await customer_messages(gateway, inbound_key("webchat", "intake-visitor-abandoned:m-5")) == 1

    with pytest.raises(DuplicateMessage):
        await router.handle(message("intake-visitor-answered", "m-5"))
    kept = await db.conversations.find_one({"_id": answered_id})
    assert kept is not None and kept["state"] == "bot", "an answered turn is not handed off"


async def test_a_retry_after_an_insert_that_timed_out_but_landed_later_is_not_stored_again(gateway: Client) -> None:
    """The probe's case: the write timed out for the gateway, which gave the claim back, and the database
    applied it when it resumed. The message's storage id is its inbound id, so the retry finds it."""
    clock = Clock()
    router = gateway.app[ROUTER_KEY]
    router.clock = clock
    conversation_id = await queued_visitor(gateway, clock, "intake-visitor-4")
    key = inbound_key("webchat", "intake-visitor-4:m-4")
    # What the first attempt's insert left once the database resumed; its claim was given back (no inbound_seen).
    await gateway.app[DB_KEY].messages.insert_one(
        {
            "_id": f"inbound:{key}",
            "conversation_id": conversation_id,
            "seq": 1,
            "author": "customer",
            "text": "вы тут?",
            "at": clock(),
            "inbound_id": key,
        }
    )

    turn = await router.handle(message("intake-visitor-4", "m-4"))
    assert turn.conversation_id == conversation_id, "the retry carries the turn on with the stored message"
    with pytest.raises(DuplicateMessage):
        await router.handle(message("intake-visitor-4", "m-4"))

    assert await customer_messages(gateway, key) == 1


async def test_an_operator_closing_during_a_database_pause_hears_why_at_once_and_can_close_once_it_is_back(
    gateway: Client, own_database: Stack
) -> None:
    """Was: the close request hung for the whole pause, and after the failed attempt the conversation answered
    409 `not_yours` for 30 s (its transition claim could not be given back while the database was away)."""
    olga = Operator(gateway, "olga")
    await olga.signs_in()
    await olga.goes_online()
    conversation_id = await queued_visitor(gateway, Clock(), "intake-visitor-5")
    # Olga is the one operator online: she takes it, unless the automatic assignment gave it to her first.
    async with olga.session.post(
        f"{olga.base}/api/console/conversations/{conversation_id}/take", headers={"X-CSRF-Token": olga.csrf}
    ) as resp:
        assert resp.status in (200, 409), await resp.text()
    conversation = await gateway.app[DB_KEY].conversations.find_one({"_id": conversation_id})
    assert conversation is not None and conversation["assignee"]["id"] == "olga"

    ferretdb = own_database.processes["ferretdb"].popen
    ferretdb.send_signal(signal.SIGSTOP)  # the database stops answering, connections stay open
    try:
        started = time.monotonic()
        failed = await olga.conversation(conversation_id, "close", {"resolution": "resolved"}, expect=503)
        waited = time.monotonic() - started
    finally:
        ferretdb.send_signal(signal.SIGCONT)
    assert failed["code"] == "database_unavailable" and failed["retryable"] is True
    assert waited < STAFF_ACTION_SECONDS + 5, f"answered after {waited:.1f} s, not after the whole pause"

    # Back: the page's retry closes it within seconds, never "not yours".
    statuses = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        async with olga.session.post(
            f"{olga.base}/api/console/conversations/{conversation_id}/close",
            json={"resolution": "resolved"},
            headers={"X-CSRF-Token": olga.csrf},
        ) as resp:
            statuses.append(resp.status)
        if statuses[-1] == 200:
            break
        await asyncio.sleep(1)
    assert statuses[-1] == 200 and 409 not in statuses, statuses


async def test_a_claim_that_could_not_be_given_back_during_a_pause_is_given_back_once_the_database_answers(
    gateway: Client, own_database: Stack
) -> None:
    """The release of a failed transition's claim waits 2 s at most, then goes on in the background, outside
    the staff action's deadline, until the database is back: the conversation is free within seconds, not 30 s."""
    db = gateway.app[DB_KEY]
    lease = await claims.claim_lease(
        db.transition_claims, "conv-paused:7", {}, now=datetime.now(UTC), lease_seconds=TRANSITION_LEASE_SECONDS
    )
    assert isinstance(lease, claims.Lease)
    ferretdb = own_database.processes["ferretdb"].popen
    ferretdb.send_signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pymongo.timeout(3):  # the staff action's deadline, about to run out
            await claims.release(lease)
        assert time.monotonic() - started < 3.5, "the caller is not held for the pause"
        await asyncio.sleep(4)  # the database stays away past the caller's deadline
    finally:
        ferretdb.send_signal(signal.SIGCONT)
    deadline = time.monotonic() + 10
    while await db.transition_claims.find_one({"_id": "conv-paused:7"}) is not None:
        assert time.monotonic() < deadline, "the claim was never given back"
        await asyncio.sleep(0.5)
    again = await claims.claim_lease(
        db.transition_claims, "conv-paused:7", {}, now=datetime.now(UTC), lease_seconds=TRANSITION_LEASE_SECONDS
    )
    assert isinstance(again, claims.Lease) and not again.took_over, "free again at once, not after the lease"
