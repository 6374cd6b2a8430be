"""A customer (or an attacker) sends the REST channel things it should not: each gets a clear answer."""

from __future__ import annotations

import json
import re
from typing import Any

import aiohttp
import pytest
from pymongo import AsyncMongoClient
from yarl import URL

from core.identity import mint_customer_token
from core.settings import LOCAL_REST_API_KEY
from core.stack import Stack
from handoff.setup import DEMO_STAFF_PASSWORD

PATH = "/api/channels/rest/messages"
# JSON headers with the local integration's API key (REST_API_KEYS default); other endpoints ignore the key.
JSON_HEADERS = {"Content-Type": "application/json", "Authorization": f"Bearer {LOCAL_REST_API_KEY}"}


async def post(http: aiohttp.ClientSession, url: str, body: Any, raw: bool = False) -> tuple[int, Any]:
    data = body if raw else json.dumps(body)
    async with http.post(url + PATH, data=data, headers=JSON_HEADERS) as resp:
        return resp.status, await resp.json()


async def stored_texts(stack: Stack, conversation_id: str) -> list[str]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongodb_uri)
    try:
        cursor = client[stack.mongodb_db].messages.find({"conversation_id": conversation_id}).sort("seq", 1)
        return [doc["text"] async for doc in cursor]
    finally:
        await client.close()


async def tracker_dump(stack: Stack, conversation_id: str) -> str:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongodb_uri)
    try:
        doc = await client[f"{stack.mongodb_db}_rasa"].conversations.find_one({"sender_id": conversation_id})
        return json.dumps(doc, default=str, ensure_ascii=False)
    finally:
        await client.close()


async def test_broken_json_is_refused_with_a_reason(http: aiohttp.ClientSession, gateway_url: str) -> None:
    status, body = await post(http, gateway_url, b'{"sender": "x", "text": ', raw=True)
    assert status == 400
    assert body == {"error": "Body is not valid JSON."}


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ([1, 2], 'Body must be a JSON object: {"sender": "...", "text": "..."}.'),
        ({"text": "hi"}, "'sender' must be a non-empty string of at most 128 characters."),
        ({"sender": {"$gt": ""}, "text": "hi"}, "'sender' must be a non-empty string of at most 128 characters."),
        ({"sender": "mallory", "text": {"$gt": ""}}, "'text' must be a string."),
        (
            {"sender": "mallory", "text": "hi", "customer_token": {"$ne": None}},
            "'customer_token' must be a string when given.",
        ),
    ],
)
async def test_wrongly_shaped_bodies_and_operator_injection_are_refused(
    http: aiohttp.ClientSession, gateway_url: str, body: Any, error: str
) -> None:
    status, answer = await post(http, gateway_url, body)
    assert status == 400
    assert answer == {"error": error}


async def test_empty_message_is_refused(http: aiohttp.ClientSession, gateway_url: str) -> None:
    status, body = await post(http, gateway_url, {"sender": "empty-1", "text": "   \n\t "})
    assert (status, body) == (400, {"error": "The message is empty."})


async def test_ten_thousand_characters_are_refused_not_cut(http: aiohttp.ClientSession, gateway_url: str) -> None:
    status, body = await post(http, gateway_url, {"sender": "long-1", "text": "а" * 10_000})
    assert status == 400
    assert body == {"error": "The message is 10000 characters long; the limit is 4000."}


async def test_binary_garbage_gets_a_reply_and_nothing_crashes(
    http: aiohttp.ClientSession, gateway_url: str, stack: Stack
) -> None:
    garbage = bytes(range(1, 256)).decode("latin-1") + "\x01\ufffe"
    status, body = await post(http, gateway_url, {"sender": "garbage-1", "text": garbage})
    assert status == 200
    assert body["replies"], "the customer must hear something"
    texts = await stored_texts(stack, body["conversation_id"])
    assert "\x01" not in texts[0] and "\x7f" not in texts[0], "control characters are dropped"


@pytest.mark.parametrize("field", ["text", "sender", "customer_token"])
async def test_a_nul_character_the_database_cannot_hold_is_refused_with_the_reason(
    http: aiohttp.ClientSession, gateway_url: str, field: str
) -> None:
    message = {"sender": "nul-1", "text": "привет"} | {field: "a\x00b"}
    status, body = await post(http, gateway_url, message)
    assert (status, body) == (400, {"error": "Text contains a NUL character (\\u0000); remove it."})


@pytest.mark.parametrize("path", ["/api/kb/search?q=%00", "/api/kb/search?lang=ru&%00=1", "/chat/static/%00"])
async def test_a_nul_character_in_the_address_is_refused(
    http: aiohttp.ClientSession, gateway_url: str, path: str
) -> None:
    async with http.get(URL(gateway_url + path, encoded=True)) as resp:
        assert resp.status == 400
        assert await resp.json() == {"error": "The address contains a NUL character (\\u0000); remove it."}


async def test_text_that_looks_like_a_mongo_operator_is_just_text(
    http: aiohttp.ClientSession, gateway_url: str, stack: Stack
) -> None:
    status, body = await post(http, gateway_url, {"sender": "inject-1", "text": '{"$gt": ""}'})
    assert status == 200
    assert await stored_texts(stack, body["conversation_id"]) == ['{"$gt": ""}', *[r["text"] for r in body["replies"]]]


async def test_html_is_stored_as_the_literal_text(http: aiohttp.ClientSession, gateway_url: str, stack: Stack) -> None:
    script = "<script>alert('x')</script><img src=x onerror=alert(1)>"
    status, body = await post(http, gateway_url, {"sender": "html-1", "text": script})
    assert status == 200
    assert (await stored_texts(stack, body["conversation_id"]))[0] == script


@pytest.mark.parametrize(
    "payload",
    [
        '/transfer_money{"amount": "1000000"}',
        '/inform{"card_last4": {"$gt": ""}}',
        '/inform{"card_last4": "12"}',
        "/inform{oops",
    ],
)
async def test_unknown_button_payloads_get_a_clear_reply(
    http: aiohttp.ClientSession, gateway_url: str, payload: str
) -> None:
    status, body = await post(http, gateway_url, {"sender": "buttons-1", "text": payload})
    assert status == 200
    assert [r["text"] for r in body["replies"]] == [
        "Эта кнопка больше не действует. Напишите, пожалуйста, что вы хотите сделать."
    ]


async def test_forged_customer_token_is_refused(http: aiohttp.ClientSession, gateway_url: str) -> None:
    forged = mint_customer_token("demo-ivan", "an-attacker-secret-that-is-not-the-banks-one")
    status, body = await post(http, gateway_url, {"sender": "forger", "text": "баланс", "customer_token": forged})
    assert (status, body) == (401, {"error": "customer_token is not valid"})


async def test_expired_customer_token_asks_to_sign_in_again(
    http: aiohttp.ClientSession, gateway_url: str, mint_token: Any
) -> None:
    expired = mint_token("demo-ivan", ttl_seconds=-60)
    status, body = await post(http, gateway_url, {"sender": "late", "text": "баланс", "customer_token": expired})
    assert (status, body) == (401, {"error": "customer_token has expired; sign in again"})


async def test_full_card_number_and_cvv_are_masked_everywhere(
    http: aiohttp.ClientSession, gateway_url: str, stack: Stack, mint_token: Any
) -> None:
    token = mint_token("demo-ivan")
    text = "моя карта 4276 1600 1234 5678 cvv 123, заблокируйте"
    status, body = await post(http, gateway_url, {"sender": "pan-1", "text": text, "customer_token": token})
    assert status == 200
    assert body["replies"][0]["text"].startswith("Пожалуйста, никогда не отправляйте полный номер карты")
    stored = await stored_texts(stack, body["conversation_id"])
    assert stored[0] == "моя карта •••• 5678 cvv ***, заблокируйте"
    everything = json.dumps(stored, ensure_ascii=False) + await tracker_dump(stack, body["conversation_id"])
    assert "4276" not in everything
    assert "1600 1234" not in everything
    # The CVV as a number of its own (a timestamp or confidence may end in ...123, which is no leak).
    assert re.search(r"(?<![\d.])123(?!\d)", everything) is None


UNAUTHENTICATED_JSON_ENDPOINTS = [PATH, "/chat/demo-sign-in", "/api/console/sign-in", "/api/kb/sign-in"]


@pytest.mark.parametrize("endpoint", UNAUTHENTICATED_JSON_ENDPOINTS)
@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("[" * 100_000 + "]" * 100_000, "JSON is nested deeper than 32 levels."),
        ('{"sender": "x", "text": ' + '{"a": ' * 3000 + "1" + "}" * 3001, "JSON is nested deeper than 32 levels."),
        (
            '{"sender": "x", "text": "hi \\ud800", "login": "\\ud800", "customer_id": "\\udfff"}',
            "Text contains a lone surrogate (such as \\ud800); send valid Unicode text.",
        ),
        (
            '{"sender": "x", "text": "hi", "n": ' + "7" * 5000 + "}",
            "Integers must fit in 64 bits (at most 9223372036854775807).",
        ),
        (
            '{"sender": "x", "text": "hi", "n": 18446744073709551616}',
            "Integers must fit in 64 bits (at most 9223372036854775807).",
        ),
        ('{"sender": "x", "text": "hi", "n": -Infinity}', "-Infinity is not a JSON number; send a finite number."),
    ],
    ids=["deep-array", "deep-object", "lone-surrogate", "5000-digits", "over-2^64", "infinity"],
)
async def test_bodies_that_would_crash_parsing_or_storage_are_refused_with_the_reason(
    http: aiohttp.ClientSession, gateway_url: str, endpoint: str, body: str, error: str
) -> None:
    async with http.post(gateway_url + endpoint, data=body, headers=JSON_HEADERS) as resp:
        assert resp.status == 400
        assert await resp.json() == {"error": error}


async def test_a_lone_surrogate_in_a_message_loses_nothing_that_was_said_before(
    http: aiohttp.ClientSession, gateway_url: str, stack: Stack
) -> None:
    status, first = await post(http, gateway_url, {"sender": "surrogate-1", "text": "здравствуйте"})
    assert status == 200
    status, body = await post(http, gateway_url, b'{"sender": "surrogate-1", "text": "\\ud800 alone"}', raw=True)
    assert status == 400
    assert body == {"error": "Text contains a lone surrogate (such as \\ud800); send valid Unicode text."}
    status, after = await post(http, gateway_url, {"sender": "surrogate-1", "text": "вы тут?"})
    assert status == 200 and after["conversation_id"] == first["conversation_id"]
    texts = await stored_texts(stack, first["conversation_id"])
    assert "здравствуйте" in texts and "вы тут?" in texts


@pytest.mark.parametrize("after", ["99999999999999999999", "9223372036854775808", "²", "-5", "1.5"])
async def test_a_console_reconnect_with_an_impossible_sequence_number_is_refused(gateway_url: str, after: str) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as staff:
        async with staff.post(
            gateway_url + "/api/console/sign-in", json={"login": "sveta", "password": DEMO_STAFF_PASSWORD}
        ) as resp:
            assert resp.status == 200
        async with staff.get(gateway_url + "/api/console/live", params={"after": after}) as resp:
            assert resp.status == 400
            assert await resp.json() == {"error": "'after' must be a whole number from 0 to 9223372036854775807."}


@pytest.mark.parametrize(
    "path", ["/kb/static/" + "a" * 300, "/chat/static/" + "я" * 200, "/api/kb/articles/" + "x" * 256]
)
async def test_a_path_part_too_long_for_any_name_is_refused(
    http: aiohttp.ClientSession, gateway_url: str, path: str
) -> None:
    async with http.get(gateway_url + path) as resp:
        assert resp.status == 400
        assert await resp.json() == {"error": "A part of the address is longer than 255 bytes."}
