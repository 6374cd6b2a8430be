"""Stand-ins for the outside world of the Telegram and phone channels.

A local Bot API server that records calls and answers as api.telegram.org does,
a scripted Rasa speaking the REST channel's reply format and `/model/parse`,
the Twilio signing helper, and a scripted Asterisk peer speaking FastAGI over TCP.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from typing import Any
from uuid import uuid4

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from twilio.request_validator import RequestValidator

from core.settings import Settings

BOT_TOKEN = "123456:TEST-token-for-the-local-bot-api"
BOT_USER = {"id": 123456, "is_bot": True, "first_name": "Demo-Bank", "username": "demo_bank_bot"}
TELEGRAM_SECRET = "webhook-secret-for-tests"
TWIML_TOKEN = "twiml-auth-token-for-tests"


@dataclass
class ApiCall:
    """One Bot API request as Telegram receives it."""

    method: str
    params: dict[str, Any]


class FakeBotApi:
    """A local Bot API server: records every call, answers like the real one, can answer 429 on demand."""

    def __init__(self) -> None:
        self.calls: list[ApiCall] = []
        self.flood_answers = 0  # this many sendMessage calls get 429 first
        self.retry_after = 1
        self._message_ids = itertools.count(1000)
        self._changed = asyncio.Event()
        self.server: TestServer | None = None
        # Updates waiting for a long-polling getUpdates, as Telegram keeps them for a bot without a webhook.
        self.pending_updates: list[dict[str, Any]] = []
        self._new_update = asyncio.Event()

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self.handle)
        self.server = TestServer(app)
        await self.server.start_server()
        return str(self.server.make_url("")).rstrip("/")

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()

    async def handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != BOT_TOKEN:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        method = request.match_info["method"].lower()
        form = await request.post()
        params: dict[str, Any] = {}
        for key, value in form.items():
            text = str(value)
            try:
                params[key] = json.loads(text) if text[:1] in "[{" else text
            except ValueError:
                params[key] = text
        if method == "sendmessage" and self.flood_answers > 0:
            self.flood_answers -= 1
            self.calls.append(ApiCall("sendMessage:429", params))
            return web.json_response(
                {
                    "ok": False,
                    "error_code": 429,
                    "description": f"Too Many Requests: retry after {self.retry_after}",
                    "parameters": {"retry_after": self.retry_after},
                },
                status=429,
            )
        self.calls.append(ApiCall(request.match_info["method"], params))
        self._changed.set()
        if method == "getupdates":
            return web.json_response({"ok": True, "result": await self._get_updates(params)})
        return web.json_response({"ok": True, "result": self._result(method, params)})

    def queue_update(self, update: dict[str, Any]) -> None:
        """An update Telegram holds until the bot's next getUpdates."""
        self.pending_updates.append(update)
        self._new_update.set()

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Long polling: updates from `offset` on (confirming earlier ones), waiting briefly for new ones."""
        offset = int(params.get("offset") or 0)
        self.pending_updates = [u for u in self.pending_updates if u["update_id"] >= offset]
        if not self.pending_updates:
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), timeout=min(float(params.get("timeout") or 0), 1.0))
        return list(self.pending_updates)

    def _result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getme":
            return BOT_USER
        if method == "sendmessage":
            chat_id = int(params["chat_id"])
            message: dict[str, Any] = {
                "message_id": next(self._message_ids),
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private"},
                "from": BOT_USER,
                "text": params.get("text", ""),
            }
            markup = params.get("reply_markup")
            if isinstance(markup, dict) and "inline_keyboard" in markup:
                message["reply_markup"] = markup
            return message
        return True

    def sent(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """sendMessage calls (to one chat)."""
        return [
            c.params
            for c in self.calls
            if c.method == "sendMessage" and (chat_id is None or int(c.params["chat_id"]) == chat_id)
        ]

    def texts(self, chat_id: int) -> list[str]:
        return [str(p["text"]) for p in self.sent(chat_id)]

    def methods(self) -> list[str]:
        return [c.method for c in self.calls]

    async def wait_for(self, predicate: Callable[[], bool], within: float = 10.0) -> None:
        deadline = asyncio.get_running_loop().time() + within
        while not predicate():
            remaining = deadline - asyncio.get_running_loop().time()
            assert remaining > 0, f"Bot API calls so far: {self.calls}"
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.2))
            except TimeoutError:
                pass


@dataclass
class Updates:
    """Telegram updates in the Bot API's documented shapes, with increasing update_ids."""

    next_id: int = 500_000
    next_message_id: int = 1

    def _ids(self) -> tuple[int, int]:
        self.next_id += 1
        self.next_message_id += 1
        return self.next_id, self.next_message_id

    @staticmethod
    def user(user_id: int, language: str = "ru") -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": "Иван", "language_code": language}

    @staticmethod
    def private(chat_id: int) -> dict[str, Any]:
        return {"id": chat_id, "type": "private", "first_name": "Иван"}

    def message(self, chat_id: int, text: str | None = None, **content: Any) -> dict[str, Any]:
        update_id, message_id = self._ids()
        message: dict[str, Any] = {
            "message_id": message_id,
            "from": self.user(chat_id),
            "chat": self.private(chat_id),
            "date": int(time.time()),
            **content,
        }
        if text is not None:
            message["text"] = text
            if text.startswith("/"):
                message["entities"] = [{"offset": 0, "length": len(text.split()[0]), "type": "bot_command"}]
        return {"update_id": update_id, "message": message}

    def contact(self, chat_id: int, phone: str, contact_user_id: int | None) -> dict[str, Any]:
        contact: dict[str, Any] = {"phone_number": phone, "first_name": "Иван"}
        if contact_user_id is not None:
            contact["user_id"] = contact_user_id
        return self.message(chat_id, contact=contact)

    def photo(self, chat_id: int, caption: str | None = None) -> dict[str, Any]:
        sizes = [
            {"file_id": "AgACAgIAAxkBAAIB", "file_unique_id": "AQADAgAT", "width": 90, "height": 67, "file_size": 1300},
            {"file_id": "AgACAgIAAxkBAAIC", "file_unique_id": "AQADAgAU", "width": 800, "height": 600},
        ]
        content: dict[str, Any] = {"photo": sizes}
        if caption:
            content["caption"] = caption
        return self.message(chat_id, **content)

    def callback(self, chat_id: int, data: str, message_id: int = 1000) -> dict[str, Any]:
        update_id, _ = self._ids()
        return {
            "update_id": update_id,
            "callback_query": {
                "id": f"cb-{update_id}",
                "from": self.user(chat_id),
                "chat_instance": "-123456789",
                "data": data,
                "message": {
                    "message_id": message_id,
                    "from": BOT_USER,
                    "chat": self.private(chat_id),
                    "date": int(time.time()),
                    "text": "…",
                },
            },
        }


class ScriptedRasa:
    """Answers like Rasa's REST channel and `/model/parse`, with a few of our bot's replies."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.server: TestServer | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/webhooks/gateway/webhook", self.webhook)
        app.router.add_post("/model/parse", self.parse)
        self.server = TestServer(app)
        await self.server.start_server()
        return str(self.server.make_url("")).rstrip("/")

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()

    @staticmethod
    def intent(text: str) -> str:
        lowered = text.lower()
        if lowered.startswith("/"):
            return lowered[1:].split("{")[0]
        if "баланс" in lowered or "balance" in lowered:
            return "check_balance"
        if "заблок" in lowered:
            return "block_card"
        if "оператор" in lowered:
            return "request_operator"
        if "тариф" in lowered:
            return "long"
        if "привет" in lowered:
            return "greet"
        if lowered.isdigit() and len(lowered) == 4:
            return "inform"
        return "nlu_fallback"

    async def parse(self, request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response(
            {"text": body["text"], "intent": {"name": self.intent(body["text"]), "confidence": 0.97}}
        )

    async def webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.received.append(body)
        sender, text, metadata = body["sender"], body["message"], body["metadata"]
        verified = metadata.get("customer_id") is not None
        intent = self.intent(text)

        def say(reply_text: str, buttons: list[dict[str, str]] | None = None) -> dict[str, Any]:
            reply: dict[str, Any] = {"recipient_id": sender, "text": reply_text}
            if buttons:
                reply["buttons"] = buttons
            return reply

        if intent == "greet":
            replies = [say("Здравствуйте! Я виртуальный помощник Демо-банка.")]
        elif intent == "check_balance":
            replies = [
                say("Баланс по картам:\n• Мир •••• 5678: 48\u00a0250,35\u00a0₽")
                if verified
                else say("Чтобы узнать баланс, войдите в интернет-банк.")
            ]
        elif intent == "block_card":
            replies = [
                say(
                    "Какую карту заблокировать? Назовите последние 4 цифры.",
                    [
                        {"title": "Мир •••• 5678", "payload": '/inform{"card_last4":"5678"}'},
                        {"title": "Mastercard •••• 9012", "payload": '/inform{"card_last4":"9012"}'},
                    ],
                )
            ]
        elif intent == "inform":
            replies = [
                say(
                    "Заблокировать карту •••• 5678?",
                    [{"title": "Да", "payload": "/affirm"}, {"title": "Нет", "payload": "/deny"}],
                )
            ]
        elif intent == "affirm":
            replies = [say("Карта Мир •••• 5678 заблокирована.")]
        elif intent == "long":
            replies = [say(" ".join(f"Предложение номер {n} о тарифах банка." for n in range(300)))]
        elif intent == "request_operator":
            replies = [
                say("Соединяю с оператором."),
                {"recipient_id": sender, "custom": {"handoff": {"reason": "customer_request"}}},
            ]
        else:
            replies = [
                say("Извините, я не понял.", [{"title": "Позвать оператора", "payload": "/request_operator"}]),
                {"recipient_id": sender, "custom": {"fallback": True}},
            ]
        return web.json_response(replies)


def twilio_signature(token: str, url: str, form: dict[str, str]) -> str:
    """X-Twilio-Signature exactly as the gateway computes it."""
    return str(RequestValidator(token).compute_signature(url, form))


@dataclass
class AsteriskScript:
    """What the scripted Asterisk answers: a queue of responses per AGI command word."""

    answers: dict[str, list[str]] = field(default_factory=dict)
    default: dict[str, str] = field(
        default_factory=lambda: {
            "STREAM": "200 result=0 endpos=16000",
            "GET DATA": "200 result= (timeout)",
            "SET": "200 result=1",
            "GET VARIABLE": "200 result=0",
            "EXEC": "200 result=0",
            "HANGUP": "200 result=1",
        }
    )

    def answer(self, command: str) -> str:
        for word in ("GET DATA", "GET VARIABLE", "STREAM", "SET", "EXEC", "HANGUP"):
            if command.startswith(word):
                queued = self.answers.get(word)
                return queued.pop(0) if queued else self.default[word]
        return "510 Invalid or unknown command"


async def asterisk_call(
    port: int,
    script: AsteriskScript,
    *,
    caller: str,
    uniqueid: str,
    hang_up_after: int | None = None,
    agi_script: str = "bank",
    context: str = "from-trunk",
) -> list[str]:
    """Dial the FastAGI server as Asterisk does and answer its commands; returns the commands received.

    `agi_script` is what follows the host in the dialplan's AGI URL, query included: Asterisk sends it
    as `agi_network_script` ("outbound?attempt=att_1&lang=ru&kind=survey&amd=HUMAN" for a placed call).
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    header = {
        "agi_network": "yes",
        "agi_network_script": agi_script,
        "agi_request": f"agi://127.0.0.1:{port}/{agi_script}",
        "agi_channel": "PJSIP/trunk-00000001",
        "agi_language": "ru",
        "agi_type": "PJSIP",
        "agi_uniqueid": uniqueid,
        "agi_version": "20.5.0",
        "agi_callerid": caller,
        "agi_calleridname": "Ivan",
        "agi_dnid": "88000000000",
        "agi_context": context,
        "agi_extension": "s",
        "agi_priority": "2",
        "agi_enhanced": "0.0",
        "agi_accountcode": "",
        "agi_threadid": "140234",
    }
    writer.write("".join(f"{k}: {v}\n" for k, v in header.items()).encode() + b"\n")
    await writer.drain()
    commands: list[str] = []
    try:
        while True:
            line = await asyncio.wait_for(reader.readline(), 15)
            if not line:
                break
            command = line.decode().strip()
            commands.append(command)
            if hang_up_after is not None and len(commands) > hang_up_after:
                writer.write(b"HANGUP\n")
                await writer.drain()
                # Asterisk then answers every further command on the dead channel with 511.
                while line := await asyncio.wait_for(reader.readline(), 15):
                    commands.append(line.decode().strip())
                    writer.write(b"511 Command Not Permitted on a dead channel or intercept routine\n")
                    await writer.drain()
                break
            writer.write(script.answer(command).encode() + b"\n")
            await writer.drain()
    finally:
        writer.close()
        await writer.wait_closed()
    return commands


def channel_settings(mongodb_uri: str, rasa_url: str, **overrides: Any) -> Settings:
    """Gateway settings on a fresh database for one story (a 4 s bot timeout unless overridden)."""
    on_the_test_servers = replace(
        Settings(),
        mongodb_uri=mongodb_uri,
        mongodb_db=f"channels_{uuid4().hex[:8]}",
        rasa_url=rasa_url,
        bot_timeout_seconds=4.0,
    )
    return replace(on_the_test_servers, **overrides)


@pytest.fixture
async def scripted_rasa() -> AsyncIterator[tuple[ScriptedRasa, str]]:
    """The stand-in Rasa on a free port, for channel tests of rendering and protocol details."""
    rasa = ScriptedRasa()
    url = await rasa.start()
    yield rasa, url
    await rasa.close()
