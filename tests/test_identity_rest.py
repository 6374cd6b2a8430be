"""The REST channel is for integrations: an API key each, conversations keyed by integration + sender, and a
verified customer's conversation kept for that customer.

A probe once opened a conversation with Ivan's token; after an operator
answered, a request with the same `sender` and no token received the operator's
"ваш баланс 48 250 руб…", and the real customer got nothing; Anna's token on
Ivan's sender joined his conversation. Here the same attempts meet the real
gateway (built by the app factory on the real platform) and are refused.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from core.app import create_app
from core.identity import hash_api_key, mint_customer_token
from core.keys import BUS_KEY, DB_KEY
from core.settings import LOCAL_REST_API_KEY, LOCAL_REST_INTEGRATION
from core.stack import Stack

from .handoff_support import REST, Operator, _close_operator_sessions, gateway_settings

__all__ = ["_close_operator_sessions"]

PARTNER_KEY = "partner-crm-key-for-tests-0123456789"
LOCAL = {"X-Api-Key": LOCAL_REST_API_KEY}
PARTNER = {"Authorization": f"Bearer {PARTNER_KEY}"}
OPERATOR_SECRET_REPLY = "Иван, ваш баланс 48 250 руб."

Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def gateway(stack: Stack, aiohttp_client: Any) -> Client:
    """The gateway with two integrations: the local demo one and a partner's."""
    settings = gateway_settings(stack, "rest_identity")
    keys = dict(settings.rest_api_keys) | {"partner-crm": hash_api_key(PARTNER_KEY)}
    client: Client = await aiohttp_client(create_app(replace(settings, rest_api_keys=keys)))
    return client


async def send(
    gateway: Client, sender: str, text: str, headers: dict[str, str], token: str | None = None
) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {"sender": sender, "text": text}
    if token is not None:
        body["customer_token"] = token
    resp = await gateway.post(REST, json=body, headers=headers)
    return resp.status, await resp.json()


def said(turn: dict[str, Any]) -> str:
    return " ".join(reply["text"] for reply in turn.get("replies", []))


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Api-Key": "guessed"}, {"Authorization": "Bearer guessed"}, {"Authorization": LOCAL_REST_API_KEY}],
    ids=["no-key", "wrong-key", "wrong-bearer", "key-without-bearer"],
)
async def test_a_request_without_an_integrations_key_is_refused_and_nothing_is_stored(
    gateway: Client, headers: dict[str, str]
) -> None:
    status, body = await send(gateway, "keyless", "здравствуйте", headers)

    assert status == 401
    assert "X-Api-Key" in body["error"]
    assert await gateway.app[DB_KEY].messages.count_documents({}) == 0


async def test_two_integrations_with_the_same_sender_have_separate_conversations(gateway: Client) -> None:
    status_local, local = await send(gateway, "client-7", "здравствуйте", LOCAL)
    status_partner, partner = await send(gateway, "client-7", "здравствуйте", PARTNER)

    assert status_local == status_partner == 200
    assert local["conversation_id"] != partner["conversation_id"]
    users = {
        doc["channel_user_id"]
        async for doc in gateway.app[DB_KEY].conversations.find({"channel": "rest"}, {"channel_user_id": 1})
    }
    assert users == {f"{LOCAL_REST_INTEGRATION}:client-7", "partner-crm:client-7"}


async def test_ivans_conversation_and_his_operators_reply_stay_his(gateway: Client, stack: Stack) -> None:
    ivan_token = mint_customer_token("demo-ivan", stack.customer_token_secret)
    anna_token = mint_customer_token("demo-anna", stack.customer_token_secret)
    status, turn = await send(gateway, "ivan-1", "позовите оператора", LOCAL, ivan_token)
    assert status == 200 and turn["state"] == "queued", turn
    conversation_id = turn["conversation_id"]
    olga = Operator(gateway, "olga")
    await olga.signs_in()
    await olga.goes_online()
    await gateway.app[BUS_KEY].drain()
    await olga.conversation(conversation_id, "accept")
    await olga.conversation(conversation_id, "reply", {"text": OPERATOR_SECRET_REPLY})
    await gateway.app[BUS_KEY].drain()

    # Someone who only knows the sender: refused, and hears nothing of the operator's reply.
    status, stranger = await send(gateway, "ivan-1", "hi", LOCAL)
    assert status == 403 and stranger["code"] == "conversation_locked"
    assert "48 250" not in str(stranger)
    # Anna's own valid token on Ivan's sender: refused too.
    status, anna = await send(gateway, "ivan-1", "привет", LOCAL, anna_token)
    assert status == 403 and anna["code"] == "conversation_locked"
    assert "48 250" not in str(anna)
    # The same sender at another integration is another conversation altogether.
    status, elsewhere = await send(gateway, "ivan-1", "привет", PARTNER)
    assert status == 200 and elsewhere["conversation_id"] != conversation_id

    # Ivan, with his token, gets the reply that waited for him, and nobody's refused text reached the transcript.
    status, ivan = await send(gateway, "ivan-1", "жду", LOCAL, ivan_token)
    assert status == 200 and ivan["conversation_id"] == conversation_id
    assert OPERATOR_SECRET_REPLY in said(ivan)
    customer_texts = [
        doc["text"]
        async for doc in gateway.app[DB_KEY].messages.find({"conversation_id": conversation_id, "author": "customer"})
    ]
    assert customer_texts == ["позовите оператора", "жду"]


async def test_two_customers_tokens_racing_for_a_new_sender_give_it_to_one_of_them(
    gateway: Client, stack: Stack
) -> None:
    tokens = {c: mint_customer_token(c, stack.customer_token_secret) for c in ("demo-ivan", "demo-anna")}

    results = await asyncio.gather(
        *(send(gateway, "contested", "здравствуйте", LOCAL, token) for token in tokens.values())
    )

    statuses = sorted(status for status, _ in results)
    assert statuses == [200, 403], results
    [winner] = [body for status, body in results if status == 200]
    doc = await gateway.app[DB_KEY].conversations.find_one({"_id": winner["conversation_id"]})
    assert doc is not None and doc["customer_id"] in tokens
    stored = await gateway.app[DB_KEY].messages.count_documents(
        {"conversation_id": winner["conversation_id"], "author": "customer"}
    )
    assert stored == 1
