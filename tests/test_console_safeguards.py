"""What the console and the supervisor page do not let staff do, and what they record, on the real platform.

The gateway is the real app built in-process on the stack's FerretDB (a database of its own per test),
talking to the stack's Rasa; customers write through the REST channel and the web chat's socket,
operators and the supervisor use the console's JSON API as their pages do.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from core.app import create_app
from core.identity import mint_customer_token
from core.keys import BUS_KEY, DB_KEY, SETTINGS_KEY
from core.stack import Stack
from core.teams import configured_teams

from .handoff_support import Operator, _close_operator_sessions, gateway_settings
from .rest_support import REST_HEADERS, REST_PATH, Customer, buttons, said
from .test_webchat_ws import WS_PATH, Page

__all__ = ["_close_operator_sessions"]

ASK_FOR_OPERATOR = "позовите оператора"
ANNA_PHONE = "+79160000002"
Gateway = TestClient[web.Request, web.Application]


@pytest.fixture
async def gateway(stack: Stack, aiohttp_client: Any) -> Gateway:
    client: Gateway = await aiohttp_client(create_app(gateway_settings(stack, "safeguards")))
    return client


def url_of(gateway: Gateway) -> str:
    return str(gateway.make_url("")).rstrip("/")


async def with_kate(gateway: Gateway, customer: Customer) -> Operator:
    """Kate is online; the customer asks for a person and Kate takes the conversation."""
    kate = Operator(gateway, "kate")
    await kate.signs_in()
    await kate.goes_online()
    await customer.says(ASK_FOR_OPERATOR)
    await gateway.app[BUS_KEY].drain()
    conversation = await kate.conversation(customer.conversation_id)
    if conversation["conversation"]["state"] == "queued":
        await kate.conversation(customer.conversation_id, "take")
    else:
        await kate.conversation(customer.conversation_id, "accept")
    return kate


async def audit_actions(gateway: Gateway, conversation_id: str) -> list[tuple[str, str, str]]:
    records = await gateway.app[DB_KEY].audit_log.find({"conversation_id": conversation_id}).sort("at", 1).to_list()
    return [(r["action"], r.get("actor", ""), str(r.get("result", ""))) for r in records]


async def test_an_operator_guessing_anna_s_card_ending_is_locked_out_and_the_supervisor_lifts_it(
    gateway: Gateway, http: aiohttp.ClientSession
) -> None:
    guest = Customer(http, url_of(gateway), prefix="anna-guest")
    await guest.says("здравствуйте")
    kate = await with_kate(gateway, guest)

    async def verify(last4: str, expect: int) -> Any:
        body = {"phone": ANNA_PHONE, "last4": last4}
        return await kate.conversation(guest.conversation_id, "verify-digits", body, expect)

    assert (await verify("0000", 400))["attempts_left"] == 2, "the operator sees the attempts left"
    assert (await verify("0001", 400))["attempts_left"] == 1
    locked = await verify("0002", 429)
    assert locked["code"] == "verification_locked" and locked["locked_until"]
    assert (await verify("4821", 429))["code"] == "verification_locked", "the right ending is not even checked"
    # Anna reads why, and how to get help, in her chat.
    assert "обратитесь в любое отделение с паспортом" in said(await guest.says("алло?"))

    sveta = Operator(gateway, "sveta")
    await sveta.signs_in()
    locks = (await sveta.get("/api/supervisor/verification-locks"))["locks"]
    assert [(lock["subject"], lock["conversation_id"]) for lock in locks] == [
        ("customer:demo-anna", guest.conversation_id)
    ]
    assert (await sveta.get("/api/supervisor/live"))["verification_locks"] == locks
    lifted = await sveta.post("/api/supervisor/verification-locks/lift", {"subject": "customer:demo-anna"})
    assert lifted == {"subject": "customer:demo-anna", "locked": False, "attempts_left": 3}
    assert (await sveta.get("/api/supervisor/verification-locks"))["locks"] == []

    assert (await verify("4821", 200))["customer_id"] == "demo-anna"
    # The guest who started the chat keeps writing in it: it is Anna's conversation now (issue 19, finding 10).
    await guest.says("спасибо, а какой у меня лимит?")
    stranger = await http.post(
        url_of(gateway) + REST_PATH,
        json={"sender": guest.sender, "text": "я Иван", "customer_token": ivan_token(gateway)},
        headers=REST_HEADERS,
    )
    assert stranger.status == 403 and (await stranger.json())["code"] == "conversation_locked"

    # Kate opens Anna's bank data: that view is audited like every check and the lock and its lifting.
    context = await kate.conversation(guest.conversation_id)
    assert context["profile"]["customer"]["id"] == "demo-anna"
    actions = await audit_actions(gateway, guest.conversation_id)
    verify_results = [result for action, _, result in actions if action == "identity.verify"]
    assert verify_results == ["mismatch", "mismatch", "mismatch", "refused_locked", "verified"]
    assert any(action == "identity.locked" and actor == "operator:kate" for action, actor, _ in actions)
    assert ("bank_data.viewed", "operator:kate", "shown") in actions
    lifts = await gateway.app[DB_KEY].audit_log.find({"action": "identity.lock_lifted"}).to_list()
    assert [(r["actor"], r["customer_id"]) for r in lifts] == [("supervisor:sveta", "demo-anna")]

    # Back with the bot, the guest is Anna for the bot too: her balance, no sign-in asked.
    await kate.conversation(guest.conversation_id, "return-to-bot")
    balance = said(await guest.says("какой у меня баланс?"))
    assert "4821" in balance and "войдите" not in balance.lower()


def ivan_token(gateway: Gateway) -> str:
    """Ivan signed in on the bank's site."""
    return mint_customer_token("demo-ivan", gateway.app[SETTINGS_KEY].customer_token_secret, 600)


async def test_a_web_chat_guest_verified_by_the_operator_reloads_the_page_and_keeps_writing(
    gateway: Gateway, http: aiohttp.ClientSession
) -> None:
    socket = await http.ws_connect(url_of(gateway) + WS_PATH)
    page = Page(socket, "visitor-anna")
    await page.hello()
    await page.say("здравствуйте")
    kate = Operator(gateway, "kate")
    await kate.signs_in()
    await kate.goes_online()
    await page.say(ASK_FOR_OPERATOR)
    await gateway.app[BUS_KEY].drain()
    assert page.conversation_id
    state = (await kate.conversation(page.conversation_id))["conversation"]["state"]
    await kate.conversation(page.conversation_id, "take" if state == "queued" else "accept")
    await kate.conversation(page.conversation_id, "verify-digits", {"phone": ANNA_PHONE, "last4": "7755"})
    await socket.close()

    # A reload: the same visitor, no token. Before issue 19 this was refused as "conversation_locked".
    again = Page(await http.ws_connect(url_of(gateway) + WS_PATH), "visitor-anna")
    ready, history, errors = await again.hello(conversation_id=page.conversation_id)
    assert errors == [] and ready["conversation_id"] == page.conversation_id
    assert any(m["text"] == ASK_FOR_OPERATOR for m in history)
    frames = await again.say("я ещё здесь")
    assert [f for f in frames if f["type"] == "error"] == []
    await again.socket.close()


async def test_transfers_go_only_to_configured_teams(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    guest = Customer(http, url_of(gateway), prefix="transfer")
    await guest.says("здравствуйте")
    kate = await with_kate(gateway, guest)

    teams = (await kate.get("/api/console/teams"))["teams"]
    assert [team["name"] for team in teams] == list(configured_teams().names)
    assert teams[0]["titles"] == {"ru": "Общая линия", "en": "General"}

    for team in ("astrology", "x" * 100_000):
        refused = await kate.conversation(guest.conversation_id, "transfer", {"to_team": team}, expect=400)
        assert refused["code"] == "unknown_team" and "general, cards" in refused["error"]
    still = (await kate.conversation(guest.conversation_id))["conversation"]
    assert (still["state"], still["assignee_id"]) == ("assigned", "kate"), "a refused transfer moves nothing"

    moved = await kate.conversation(guest.conversation_id, "transfer", {"to_team": "cards", "note": "карта"})
    assert (moved["state"], moved["team"]) == ("queued", "cards")


async def test_a_supervisor_writes_only_after_joining_and_every_intervention_is_audited(
    gateway: Gateway, http: aiohttp.ClientSession
) -> None:
    guest = Customer(http, url_of(gateway), prefix="supervised")
    await guest.says("здравствуйте")
    await with_kate(gateway, guest)
    sveta = Operator(gateway, "sveta")
    await sveta.signs_in()
    base = f"/api/supervisor/conversations/{guest.conversation_id}"

    refused = await sveta.post(base + "/say", {"text": "Добрый день"}, expect=409)
    assert refused["code"] == "not_joined"
    assert "Добрый день" not in said(await guest.says("есть кто?"))

    await sveta.post(base + "/join")
    await sveta.post(base + "/say", {"text": "Добрый день, я помогу коллеге."})
    await sveta.post(base + "/take-over")
    actions = [(a, actor) for a, actor, _ in await audit_actions(gateway, guest.conversation_id)]
    assert actions == [
        ("supervisor.join", "supervisor:sveta"),
        ("supervisor.say", "supervisor:sveta"),
        ("supervisor.take_over", "supervisor:sveta"),
    ]


async def test_guests_booking_callbacks_to_one_number_get_one_and_are_told_so(
    gateway: Gateway, http: aiohttp.ClientSession
) -> None:
    answers = []
    for n in range(3):
        guest = Customer(http, url_of(gateway), prefix=f"callback-{n}")
        await guest.says("здравствуйте")
        offer = await guest.says(ASK_FOR_OPERATOR)  # nobody is online: message or callback
        callback = next(b for b in buttons(offer) if b["payload"] == "/request_callback")
        await guest.says(callback["payload"])
        answers.append(said(await guest.says("+7 916 123-45-67")))
    assert "Оператор перезвонит вам по номеру +79161234567" in answers[0]
    already = "Обратный звонок на этот номер уже заказан — оператор перезвонит, повторять заявку не нужно."
    assert answers[1:] == [already, already]
    assert await gateway.app[DB_KEY].callback_tasks.count_documents({"phone": "+79161234567"}) == 1


async def customer_messages_after(gateway: Gateway, conversation_id: str, seq: int) -> list[tuple[str, str]]:
    """What reached the customer (bot, operator and system messages) after message `seq`."""
    found = (
        await gateway.app[DB_KEY]
        .messages.find({"conversation_id": conversation_id, "seq": {"$gt": seq}, "author": {"$ne": "customer"}})
        .sort("seq", 1)
        .to_list()
    )
    return [(m["author"], m["text"]) for m in found]


async def last_seq(gateway: Gateway, conversation_id: str) -> int:
    found = await gateway.app[DB_KEY].messages.find({"conversation_id": conversation_id}).sort("seq", -1).to_list(1)
    return int(found[0]["seq"]) if found else 0


async def test_a_supervisor_s_take_over_is_one_message_to_the_customer_and_the_notes_read_in_one_language(
    gateway: Gateway, http: aiohttp.ClientSession
) -> None:
    # A Russian guest served by Kate: the supervisor joins, then takes over.
    guest = Customer(http, url_of(gateway), prefix="taken-over")
    await guest.says("здравствуйте")
    kate = await with_kate(gateway, guest)
    sveta = Operator(gateway, "sveta")
    await sveta.signs_in()
    base = f"/api/supervisor/conversations/{guest.conversation_id}"
    await sveta.post(base + "/join")
    await gateway.app[BUS_KEY].drain()
    before = await last_seq(gateway, guest.conversation_id)
    await sveta.post(base + "/take-over")
    await gateway.app[BUS_KEY].drain()
    told = await customer_messages_after(gateway, guest.conversation_id, before)
    assert told == [
        ("system", "Вашим вопросом теперь занимается руководитель смены Светлана. Повторять ничего не нужно.")
    ]
    # Kate's note about the supervisor is one kind, shown by each console in its own language, not a bilingual text.
    notes = (await kate.conversation(guest.conversation_id))["notes"]
    assert [(n["kind"], n["text"]) for n in notes] == [
        ("supervisor_joined", "Руководитель смены Светлана — в разговоре")
    ]
    transferred = await gateway.app[DB_KEY].events.find_one(
        {"conversation_id": guest.conversation_id, "name": "conversation.transferred"}
    )
    assert transferred is not None and transferred["data"]["takeover"] is True and transferred["data"]["note"] == ""

    # An English customer still talking to the bot: taken over straight away, one message in English.
    john = Customer(http, url_of(gateway), prefix="taken-from-bot")
    await john.says("hello, what is the interest rate on deposits?")
    before = await last_seq(gateway, john.conversation_id)
    await sveta.post(f"/api/supervisor/conversations/{john.conversation_id}/take-over")
    await gateway.app[BUS_KEY].drain()
    told = await customer_messages_after(gateway, john.conversation_id, before)
    assert told == [
        ("system", "Светлана, a team lead, is now taking care of your question. There is no need to repeat anything.")
    ]
