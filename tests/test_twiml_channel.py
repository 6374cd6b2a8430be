"""Phone calls through the TwiML webhook, with requests signed exactly as Twilio signs them and the XML parsed back."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from core.app import create_app
from core.keys import DB_KEY

from .channel_support import TWIML_TOKEN, ScriptedRasa, channel_settings, scripted_rasa, twilio_signature
from .handoff_support import ferretdb

__all__ = ["ferretdb", "scripted_rasa"]

PUBLIC = "https://bank.example"
IVAN_PHONE = "+79160000001"
Gateway = TestClient[web.Request, web.Application]
STRANGER_PHONE = "+79990001122"


@pytest.fixture
async def gateway(
    ferretdb: str, scripted_rasa: tuple[ScriptedRasa, str], aiohttp_client: Any
) -> TestClient[web.Request, web.Application]:
    settings = channel_settings(ferretdb, scripted_rasa[1], twiml_auth_token=TWIML_TOKEN, twiml_public_url=PUBLIC)
    client: TestClient[web.Request, web.Application] = await aiohttp_client(create_app(settings))
    return client


class Call:
    """One phone call as the voice gateway drives it: signed form posts, TwiML back."""

    def __init__(self, gateway: TestClient[web.Request, web.Application], caller: str, sid: str) -> None:
        self.gateway, self.caller, self.sid = gateway, caller, sid

    def form(self, **fields: str) -> dict[str, str]:
        base = {
            "AccountSid": "AC" + "0" * 32,
            "ApiVersion": "2010-04-01",
            "CallSid": self.sid,
            "CallStatus": "in-progress",
            "Direction": "inbound",
            "From": self.caller,
            "To": "+78000000000",
            "Caller": self.caller,
            "Called": "+78000000000",
        }
        return base | fields

    async def post(self, path: str, form: dict[str, str], signature: str | None = None) -> Any:
        sign = signature if signature is not None else twilio_signature(TWIML_TOKEN, PUBLIC + path, form)
        return await self.gateway.post(path, data=form, headers={"X-Twilio-Signature": sign})

    async def twiml(self, path: str, **fields: str) -> ET.Element:
        resp = await self.post(path, self.form(**fields))
        assert resp.status == 200, await resp.text()
        assert resp.headers["Content-Type"].startswith("application/xml")
        return ET.fromstring(await resp.text())  # noqa: S314 -- our own gateway's answer

    async def rings(self) -> ET.Element:
        return await self.twiml("/voice/twiml/incoming", CallStatus="ringing")

    async def says(self, words: str, confidence: str = "0.91") -> ET.Element:
        return await self.twiml("/voice/twiml/gather", SpeechResult=words, Confidence=confidence)

    async def presses(self, digits: str) -> ET.Element:
        return await self.twiml("/voice/twiml/gather", Digits=digits)

    async def is_silent(self) -> ET.Element:
        return await self.twiml("/voice/twiml/gather")


def spoken(response: ET.Element) -> str:
    return " ".join((say.text or "") for say in response.iter("Say"))


def gather_of(response: ET.Element) -> dict[str, str]:
    gather = response.find("Gather")
    assert gather is not None, ET.tostring(response, encoding="unicode")
    return dict(gather.attrib)


async def test_the_call_is_greeted_with_a_gather_for_speech_and_keys_in_russian(
    gateway: TestClient[web.Request, web.Application],
) -> None:
    response = await Call(gateway, IVAN_PHONE, "CA" + "1" * 32).rings()

    assert gather_of(response) == {
        "input": "dtmf speech",
        "action": "/voice/twiml/gather",
        "method": "POST",
        "language": "ru-RU",
        "timeout": "5",
        "speechTimeout": "auto",
        "finishOnKey": "#",
        "actionOnEmptyResult": "true",
        "bargeIn": "true",
        "hints": "English",
    }
    assert [(say.attrib["language"], say.text) for say in response.iter("Say")] == [
        ("ru-RU", "Здравствуйте! Вы позвонили в Демо-банк."),
        ("en-US", "For English, press 9, or say: English."),
        ("ru-RU", "Скажите, чем я могу помочь. Чтобы поговорить с оператором, нажмите 0."),
    ]


async def test_balance_by_voice_after_ivan_types_a_card_ending(
    gateway: TestClient[web.Request, web.Application], scripted_rasa: tuple[ScriptedRasa, str]
) -> None:
    call = Call(gateway, IVAN_PHONE, "CA" + "2" * 32)
    await call.rings()

    ask = await call.says("какой у меня баланс")
    assert gather_of(ask)["input"] == "dtmf" and gather_of(ask)["numDigits"] == "4"
    assert "последние четыре цифры любой вашей карты" in spoken(ask)
    assert scripted_rasa[0].received == [], "nothing reaches the bot before the caller proves who they are"

    answer = await call.presses("5678")
    assert spoken(answer) == (
        "Спасибо, личность подтверждена. Баланс по картам: Мир с окончанием пятьдесят шесть семьдесят восемь: "
        "сорок восемь тысяч двести пятьдесят рублей тридцать пять копеек. Чем ещё могу помочь?"
    )
    metadata = scripted_rasa[0].received[-1]["metadata"]
    assert (metadata["channel"], metadata["customer_id"], metadata["identity_method"]) == (
        "voice",
        "demo-ivan",
        "caller_id",
    )
    assert "5678" not in [m["message"] for m in scripted_rasa[0].received], "the proof is not sent to the bot"


async def test_ivan_blocks_his_card_with_the_keypad(gateway: TestClient[web.Request, web.Application]) -> None:
    call = Call(gateway, IVAN_PHONE, "CA" + "3" * 32)
    await call.rings()
    await call.says("заблокируйте карту")
    menu = await call.presses("9012")
    assert spoken(menu).endswith(
        "Карта Мир с окончанием пятьдесят шесть семьдесят восемь — нажмите 1. "
        "Карта Mastercard с окончанием девяносто двенадцать — нажмите 2."
    )
    confirm = await call.presses("1")
    assert (
        spoken(confirm)
        == "Заблокировать карту с окончанием пятьдесят шесть семьдесят восемь? Если да — нажмите 1, если нет — 2."
    )
    done = await call.presses("1")
    assert spoken(done) == "Карта Мир с окончанием пятьдесят шесть семьдесят восемь заблокирована. Чем ещё могу помочь?"


async def test_a_stranger_asking_for_a_balance_is_not_asked_for_digits(
    gateway: TestClient[web.Request, web.Application],
) -> None:
    call = Call(gateway, STRANGER_PHONE, "CA" + "4" * 32)
    await call.rings()
    answer = await call.says("баланс")
    assert spoken(answer) == "Чтобы узнать баланс, войдите в интернет-банк. Чем ещё могу помочь?"


async def test_a_silent_caller_hears_two_reprompts_then_goes_to_the_operator_queue(
    gateway: TestClient[web.Request, web.Application],
) -> None:
    call = Call(gateway, STRANGER_PHONE, "CA" + "5" * 32)
    await call.rings()
    first = await call.is_silent()
    assert spoken(first).startswith("Извините, я вас не слышу. Здравствуйте! Вы позвонили в Демо-банк.")
    second = await call.is_silent()
    assert spoken(second).startswith("Я по-прежнему вас не слышу. Скажите коротко")
    transfer = await call.is_silent()

    assert transfer.find("Gather") is None
    assert spoken(transfer).endswith("Соединяю с оператором. Оставайтесь, пожалуйста, на линии.")
    enqueue = transfer.find("Enqueue")
    assert enqueue is not None and enqueue.text == "bank-operators"
    doc = await gateway.app[DB_KEY].conversations.find_one({"channel": "voice"})
    assert doc is not None and doc["state"] in {"queued", "assigned"}


async def test_words_not_understood_lead_to_the_keypad_menu(gateway: TestClient[web.Request, web.Application]) -> None:
    call = Call(gateway, IVAN_PHONE, "CA" + "6" * 32)
    await call.rings()
    assert spoken(await call.says("ммм", confidence="0.12")) == "Извините, я не расслышал. Повторите, пожалуйста."
    # Two turns not understood at the start of a call: perhaps the wrong language, so the choice is offered again.
    again = spoken(await call.says("ээ", confidence="0.2"))
    assert again.startswith("Извините") and "For English, press 9" in again
    menu = await call.says("ну", confidence="0.1")
    assert gather_of(menu)["input"] == "dtmf" and gather_of(menu)["numDigits"] == "1"
    assert spoken(menu).startswith("Давайте кнопками. Баланс — нажмите 1.")
    ask = await call.presses("1")
    assert "последние четыре цифры" in spoken(ask), "key 1 asked for the balance, which needs the proof"


async def test_the_caller_hangs_up_mid_turn_and_the_call_ends(
    gateway: TestClient[web.Request, web.Application],
) -> None:
    call = Call(gateway, IVAN_PHONE, "CA" + "7" * 32)
    await call.rings()
    resp = await call.post("/voice/twiml/status", call.form(CallStatus="completed", CallDuration="14"))
    assert resp.status == 204
    late = await call.says("баланс")
    assert late.find("Hangup") is not None and spoken(late) == ""
    state = await gateway.app[DB_KEY].voice_calls.find_one({"_id": "twiml:" + call.sid})
    assert state is not None and state["end_reason"] == "status:completed"


async def test_forged_and_tampered_webhooks_are_refused(gateway: TestClient[web.Request, web.Application]) -> None:
    call = Call(gateway, IVAN_PHONE, "CA" + "8" * 32)
    form = call.form(CallStatus="ringing")
    assert (await call.post("/voice/twiml/incoming", form, signature="")).status == 403
    assert (await call.post("/voice/twiml/incoming", form, signature="bm90IGEgc2lnbmF0dXJl")).status == 403
    wrong_key = twilio_signature("someone-elses-token", PUBLIC + "/voice/twiml/incoming", form)
    assert (await call.post("/voice/twiml/incoming", form, signature=wrong_key)).status == 403
    signed = twilio_signature(TWIML_TOKEN, PUBLIC + "/voice/twiml/incoming", form)
    tampered = form | {"From": "+79160000002"}
    assert (await call.post("/voice/twiml/incoming", tampered, signature=signed)).status == 403
    other_url = twilio_signature(TWIML_TOKEN, PUBLIC + "/voice/twiml/status", form)
    assert (await call.post("/voice/twiml/incoming", form, signature=other_url)).status == 403
    assert (await call.post("/voice/twiml/incoming", form, signature=signed)).status == 200


async def test_without_an_auth_token_the_webhook_refuses_every_call(
    ferretdb: str, scripted_rasa: tuple[ScriptedRasa, str], aiohttp_client: Any
) -> None:
    client = await aiohttp_client(create_app(channel_settings(ferretdb, scripted_rasa[1])))
    resp = await client.post("/voice/twiml/incoming", data={"CallSid": "CA1"})
    assert resp.status == 503
    assert "TWIML_AUTH_TOKEN" in await resp.text()


class ClosingRasa(ScriptedRasa):
    """The scripted bot, also answering goodbye, thanks and "no" as our bot's rules do."""

    CLOSING: ClassVar[dict[str, str]] = {"goodbye": "Всего доброго!", "thank": "Пожалуйста! Рад был помочь."}

    @staticmethod
    def intent(text: str) -> str:
        lowered = text.lower()
        if "свидания" in lowered:
            return "goodbye"
        if "спасибо" in lowered:
            return "thank"
        if lowered.startswith("нет"):
            return "deny"
        if "закончим" in lowered:
            return "wrap_up"
        return ScriptedRasa.intent(text)

    async def webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        intent = self.intent(body["message"])
        if intent == "deny":
            # Out of the bot's own "anything else?" a bare "no" is not understood: the fallback.
            self.received.append(body)
            sender = body["sender"]
            return web.json_response(
                [
                    {
                        "recipient_id": sender,
                        "text": "Извините, я не понял.",
                        "buttons": [{"title": "Позвать оператора", "payload": "/request_operator"}],
                    },
                    {"recipient_id": sender, "custom": {"fallback": "nlu_fallback"}},
                ]
            )
        if intent in self.CLOSING:
            self.received.append(body)
            return web.json_response([{"recipient_id": body["sender"], "text": self.CLOSING[intent]}])
        if intent == "wrap_up":
            # A bot reply that closes the conversation on its own, whatever the caller's intent was.
            self.received.append(body)
            reply = {
                "recipient_id": body["sender"],
                "text": "Хорошо, заканчиваем.",
                "custom": {"closes_conversation": True},
            }
            return web.json_response([reply])
        return await super().webhook(request)


@pytest.fixture
async def closing_gateway(ferretdb: str, aiohttp_client: Any) -> AsyncIterator[tuple[Gateway, ClosingRasa]]:
    rasa = ClosingRasa()
    url = await rasa.start()
    settings = channel_settings(ferretdb, url, twiml_auth_token=TWIML_TOKEN, twiml_public_url=PUBLIC)
    client: Gateway = await aiohttp_client(create_app(settings))
    yield client, rasa
    await rasa.close()


async def call_state(gateway: Gateway, call: Call) -> dict[str, Any]:
    state = await gateway.app[DB_KEY].voice_calls.find_one({"_id": "twiml:" + call.sid})
    assert state is not None
    return dict(state)


def hangs_up(response: ET.Element) -> bool:
    return response.find("Gather") is None and response.find("Hangup") is not None


async def test_key_9_switches_the_recognizer_the_prompts_the_bot_and_the_console_to_english(
    gateway: Gateway, scripted_rasa: tuple[ScriptedRasa, str]
) -> None:
    call = Call(gateway, STRANGER_PHONE, "CA" + "a" * 32)
    await call.rings()
    english = await call.presses("9")
    assert gather_of(english)["language"] == "en-US" and gather_of(english)["hints"] == "Russian"
    await call.says("my balance")

    assert scripted_rasa[0].received[-1]["metadata"]["language"] == "en"
    conversation = await gateway.app[DB_KEY].conversations.find_one({"channel": "voice"})
    assert conversation is not None and conversation["language"] == "en"
    chosen = await gateway.app[DB_KEY].voice_callers.find_one({"_id": STRANGER_PHONE})
    assert chosen is not None and chosen["language"] == "en"
    nine_again = await call.presses("9")
    assert "hints" not in gather_of(nine_again), "after the first request 9 is an ordinary key"
    assert gather_of(nine_again)["language"] == "en-US"


async def test_saying_russian_on_an_english_call_switches_back(gateway: Gateway) -> None:
    call = Call(gateway, STRANGER_PHONE, "CA" + "b" * 32)
    await call.rings()
    await call.presses("9")
    russian = await call.says("Russian, please")
    assert gather_of(russian)["language"] == "ru-RU"
    assert spoken(russian).startswith("Здравствуйте! Вы позвонили в Демо-банк. For English, press 9")
    next_call = await Call(gateway, STRANGER_PHONE, "CA" + "c" * 32).rings()
    assert gather_of(next_call)["language"] == "ru-RU", "the last choice is the one remembered"


async def test_goodbye_and_thanks_end_the_call_politely(closing_gateway: tuple[Gateway, ClosingRasa]) -> None:
    gateway, _ = closing_gateway
    call = Call(gateway, STRANGER_PHONE, "CA" + "d" * 32)
    await call.rings()
    bye = await call.says("до свидания")
    assert hangs_up(bye)
    assert spoken(bye) == "Всего доброго! Спасибо за звонок в Демо-банк. До свидания!"
    assert (await call_state(gateway, call))["end_reason"] == "goodbye"

    thanks_call = Call(gateway, STRANGER_PHONE, "CA" + "e" * 32)
    await thanks_call.rings()
    await thanks_call.says("баланс")
    thanks = await thanks_call.says("спасибо")
    assert hangs_up(thanks)
    assert spoken(thanks) == "Пожалуйста! Рад был помочь. Спасибо за звонок в Демо-банк. До свидания!"


async def test_no_to_anything_else_ends_the_call_but_no_to_a_question_does_not(
    closing_gateway: tuple[Gateway, ClosingRasa],
) -> None:
    gateway, _ = closing_gateway
    call = Call(gateway, IVAN_PHONE, "CA" + "f" * 32)
    await call.rings()
    await call.says("заблокируйте карту")
    await call.presses("5678")
    confirm = await call.presses("1")
    assert spoken(confirm).endswith("Если да — нажмите 1, если нет — 2.")
    kept = await call.says("нет")
    assert not hangs_up(kept), "'no' to blocking the card is an answer, not a goodbye"

    answered = Call(gateway, STRANGER_PHONE, "CA" + "0" * 31 + "1")
    await answered.rings()
    assert spoken(await answered.says("баланс")).endswith("Чем ещё могу помочь?")
    done = await answered.says("нет, это всё")
    assert hangs_up(done)
    assert spoken(done) == "Спасибо за звонок в Демо-банк. До свидания!", "the bot's answer to a bare 'no' is not read"


async def test_thanks_while_a_question_is_pending_does_not_end_the_call(
    closing_gateway: tuple[Gateway, ClosingRasa],
) -> None:
    gateway, _ = closing_gateway
    call = Call(gateway, IVAN_PHONE, "CA" + "0" * 31 + "4")
    await call.rings()
    await call.says("заблокируйте карту")
    await call.presses("5678")
    assert spoken(await call.presses("1")).endswith("Если да — нажмите 1, если нет — 2.")
    polite = await call.says("спасибо")
    assert not hangs_up(polite) and spoken(polite) == "Пожалуйста! Рад был помочь. Чем ещё могу помочь?"


async def test_silence_after_an_answer_gets_one_reprompt_then_goodbye(gateway: Gateway) -> None:
    call = Call(gateway, STRANGER_PHONE, "CA" + "0" * 31 + "2")
    await call.rings()
    await call.says("баланс")
    reprompt = await call.is_silent()
    assert spoken(reprompt) == "Вы на линии? Если нужно что-то ещё, просто скажите."
    bye = await call.is_silent()
    assert hangs_up(bye) and spoken(bye).endswith("Спасибо за звонок в Демо-банк. До свидания!")
    assert "позвоните нам снова" in spoken(bye), "the goodbye says how to call back"
    assert (await call_state(gateway, call))["end_reason"] == "silence_after_answer"
    doc = await gateway.app[DB_KEY].conversations.find_one({"channel": "voice"})
    assert doc is not None and doc["state"] not in {"queued", "assigned"}, "a caller who was answered is not queued"


async def test_a_bot_reply_that_closes_the_conversation_hangs_up(closing_gateway: tuple[Gateway, ClosingRasa]) -> None:
    gateway, _ = closing_gateway
    call = Call(gateway, STRANGER_PHONE, "CA" + "0" * 31 + "3")
    await call.rings()
    closed = await call.says("закончим разговор")
    assert hangs_up(closed)
    assert spoken(closed) == "Хорошо, заканчиваем. Спасибо за звонок в Демо-банк. До свидания!"
