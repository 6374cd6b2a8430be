"""Bank actions run only for an identity the gateway signed; the action server answers only Rasa.

A probe once posted a hand-made tracker to the action server (slots saying
`customer_id: demo-anna, customer_verified: true`) and got Anna's balance, then
blocked her card. Here an attacker tries the same, over HTTP against the real
action server (`python -m actions.server`) and against the actions directly,
with every way of faking identity: slots, plain metadata, a signature made with
another secret, a signature for another conversation, an expired one.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pymongo import AsyncMongoClient
from rasa_sdk.executor import CollectingDispatcher

from actions.balance import ActionCheckBalance
from actions.block_card import ActionBlockCard
from actions.dependencies import FixedBackend
from core.banking import MongoBankingBackend, find_audit_records
from core.db import Database
from core.demo_data import seed_demo_bank
from core.identity import Voucher, sign_voucher
from core.settings import LOCAL_ACTION_SERVER_TOKEN, Settings
from core.stack import ROOT, free_port
from tests.actions.trackers import DOMAIN, SENDER_ID, metadata, texts, tracker
from tests.bank_support import NOW, ferretdb_uri, mongo_client

__all__ = ["ferretdb_uri", "mongo_client"]

ATTACKER_SECRET = "an-attacker-who-guessed-a-secret-of-32-bytes-or-more"
# What the attacker wants to read: Anna's Мир card balance (23 780,90 ₽).
ANNA_BALANCE_DIGITS = "780,90"
# "войдите" / "как только вы войдёте": any form of the verb to sign in.
SIGN_IN_HINT = "войд"


def forged_slots() -> dict[str, Any]:
    """What the probe put into the tracker: Anna, verified, her card, block confirmed."""
    return {
        "customer_id": "demo-anna",
        "customer_verified": True,
        "language": "ru",
        "card_last4": "4821",
        "block_confirmed": True,
    }


def plain_metadata() -> dict[str, Any]:
    """The metadata fields the gateway sends in clear, claiming Anna, without any signature."""
    meta = metadata("demo-anna")
    del meta["identity"]
    return meta


def expired_metadata() -> dict[str, Any]:
    meta = metadata("demo-anna")
    voucher = Voucher(conversation_id=SENDER_ID, channel="webchat", customer_id="demo-anna", method="customer_token")
    meta["identity"] = sign_voucher(voucher, Settings.from_env().identity_signing_secret, now=int(time.time()) - 3600)
    return meta


FORGERIES = {
    "slots only": lambda: metadata(None),
    "plain metadata": plain_metadata,
    "signed with another secret": lambda: metadata("demo-anna", secret=ATTACKER_SECRET),
    "signed for another conversation": lambda: metadata("demo-anna", conversation_id="someone-elses-conversation"),
    "expired signature": expired_metadata,
}


@pytest.fixture
async def bank(mongo_client: AsyncMongoClient[dict[str, Any]]) -> AsyncIterator[Database]:
    name = f"identity_{uuid.uuid4().hex[:10]}"
    database = mongo_client[name]
    await seed_demo_bank(database)
    yield database
    await mongo_client.drop_database(name)


async def anna_card_active(db: Database) -> bool:
    backend = MongoBankingBackend(db, clock=lambda: NOW)
    [card] = [c for c in await backend.list_cards("demo-anna") if c.last4 == "4821"]
    return card.is_active


@pytest.mark.parametrize("forgery", list(FORGERIES))
async def test_a_forged_identity_gets_no_balance_and_blocks_nothing(bank: Database, forgery: str) -> None:
    backend = FixedBackend(MongoBankingBackend(bank, clock=lambda: NOW))
    meta = FORGERIES[forgery]()

    balance = CollectingDispatcher()
    await ActionCheckBalance(backend).run(
        balance, tracker("баланс", "check_balance", meta=meta, slots=forged_slots()), DOMAIN
    )
    block = CollectingDispatcher()
    await ActionBlockCard(backend).run(block, tracker("да", "affirm", meta=meta, slots=forged_slots()), DOMAIN)

    [answer] = texts(balance)
    assert SIGN_IN_HINT in answer.lower()
    assert ANNA_BALANCE_DIGITS not in answer
    assert await anna_card_active(bank)
    assert await find_audit_records(bank.audit_log, "demo-anna") == []


async def test_the_gateways_signature_for_this_conversation_is_what_counts(bank: Database) -> None:
    backend = FixedBackend(MongoBankingBackend(bank, clock=lambda: NOW))
    # Slots say nothing about Anna; the signed metadata does.
    honest = tracker("баланс", "check_balance", meta=metadata("demo-anna"), slots={"language": "ru"})

    dispatcher = CollectingDispatcher()
    await ActionCheckBalance(backend).run(dispatcher, honest, DOMAIN)

    [answer] = texts(dispatcher)
    assert "Мир •••• 4821" in answer


# --- the action server over HTTP --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bank_name() -> str:
    return f"identity_http_{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def action_server(ferretdb_uri: str, bank_name: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python -m actions.server` as Procfile runs it, on a free port, over a bank of its own."""
    port = free_port()
    log_path = Path(tmp_path_factory.mktemp("actions")) / "actions.log"
    env = os.environ | {
        "PYTHONPATH": str(ROOT),
        "MONGODB_URI": ferretdb_uri,
        "MONGODB_DB": bank_name,
        "ACTION_SERVER_TOKEN": LOCAL_ACTION_SERVER_TOKEN,
        "SANIC_HOST": "127.0.0.1",
    }
    env.pop("IDENTITY_SIGNING_SECRET", None)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "actions.server", "--actions", "actions", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while _status(f"{url}/health") != 200:
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, f"action server not ready; see {log_path}"
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _status(url: str) -> int | None:
    """GET with the standard library (the fixture runs outside the event loop); None while nobody listens."""
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 -- loopback URL we built
            return int(resp.status)
    except OSError:
        return None


@pytest.fixture
async def http_bank(
    mongo_client: AsyncMongoClient[dict[str, Any]], bank_name: str, action_server: str
) -> AsyncIterator[Database]:
    database = mongo_client[bank_name]
    await seed_demo_bank(database)
    yield database


def webhook_call(action: str, meta: dict[str, Any]) -> dict[str, Any]:
    """The body Rasa posts to the action server, with the probe's tracker."""
    message = tracker("да", "affirm", meta=meta, slots=forged_slots())
    return {
        "next_action": action,
        "sender_id": SENDER_ID,
        "version": "3.6.21",
        "domain": DOMAIN,
        "tracker": {
            "sender_id": SENDER_ID,
            "slots": message.slots,
            "latest_message": message.latest_message,
            "events": message.events,
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        },
    }


def response_texts(body: dict[str, Any]) -> list[str]:
    return [r["text"] for r in body.get("responses", []) if r.get("text")]


@pytest.mark.parametrize("token", [None, "", "wrong-token", LOCAL_ACTION_SERVER_TOKEN + "x"])
async def test_the_action_server_refuses_callers_without_its_token(
    action_server: str, http_bank: Database, http: aiohttp.ClientSession, token: str | None
) -> None:
    params = {} if token is None else {"token": token}
    for action in ("action_check_balance", "action_block_card"):
        body = webhook_call(action, metadata("demo-anna"))
        async with http.post(f"{action_server}/webhook", params=params, json=body) as resp:
            assert resp.status == 401
            assert "token" in (await resp.json())["error"]
    async with http.get(f"{action_server}/actions", params=params) as resp:
        assert resp.status == 401
    assert await anna_card_active(http_bank)


@pytest.mark.parametrize("forgery", list(FORGERIES))
async def test_a_forged_tracker_with_the_token_still_gets_nothing(
    action_server: str, http_bank: Database, http: aiohttp.ClientSession, forgery: str
) -> None:
    params = {"token": LOCAL_ACTION_SERVER_TOKEN}
    meta = FORGERIES[forgery]()

    async with http.post(
        f"{action_server}/webhook", params=params, json=webhook_call("action_check_balance", meta)
    ) as r:
        assert r.status == 200
        [answer] = response_texts(await r.json())
    async with http.post(f"{action_server}/webhook", params=params, json=webhook_call("action_block_card", meta)) as r:
        assert r.status == 200
        blocked = response_texts(await r.json())

    assert SIGN_IN_HINT in answer.lower()
    assert ANNA_BALANCE_DIGITS not in answer
    assert not any("заблокирована" in text for text in blocked)
    assert await anna_card_active(http_bank)
    assert await find_audit_records(http_bank.audit_log, "demo-anna") == []


async def test_errors_do_not_echo_the_tracker(action_server: str, http: aiohttp.ClientSession) -> None:
    body = {"next_action": "action_check_balance", "version": "3.6.21", "domain": DOMAIN, "tracker": "4276 1234"}
    async with http.post(f"{action_server}/webhook", params={"token": LOCAL_ACTION_SERVER_TOKEN}, json=body) as resp:
        assert resp.status == 500
        assert "4276" not in await resp.text()
