"""SMS and calls through Twilio's REST API, against a local stand-in of api.twilio.com.

Twilio cannot be reached from here: the stand-in receives the exact requests the `twilio` package
sends (form-encoded, basic auth, /2010-04-01/Accounts/{sid}/Messages.json and Calls.json) and answers
with the documented JSON; the call's webhooks are posted back signed as Twilio signs them.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from connectors.twilio_outbound import ANSWER_PATH, STATUS_PATH, CallSender, SmsSender, TwilioWebhooks, twilio_client
from core.db import Database
from outbound import store
from outbound.delivery import Deliverer, call_ended
from outbound.models import Attempt, AttemptState, Channel, Kind

from .channel_support import twilio_signature
from .outbound_support import NOON, backend, bank_db, outbound_stack, pg

__all__ = ["bank_db", "outbound_stack", "pg"]

SID = "AC" + "0" * 32
TOKEN = "twilio-auth-token-for-tests"
BANK_NUMBER = "+74950000000"
PUBLIC = "https://bank.example"


class TwilioStandIn:
    """api.twilio.com's Messages and Calls resources: records each request, answers 201 with the resource."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.refuse_with: dict[str, Any] | None = None
        self._ids = itertools.count(1)
        self.server: TestServer | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{sid}/{resource}", self.create)
        self.server = TestServer(app)
        await self.server.start_server()
        return str(self.server.make_url("")).rstrip("/")

    async def create(self, request: web.Request) -> web.Response:
        assert request.headers["Authorization"].startswith("Basic ")
        form = {k: v for k, v in (await request.post()).items()}
        resource = request.match_info["resource"]
        self.requests.append((resource, form))
        if self.refuse_with is not None:
            return web.json_response(self.refuse_with, status=int(self.refuse_with["status"]))
        prefix = "SM" if resource == "Messages.json" else "CA"
        sid = f"{prefix}{next(self._ids):032d}"
        return web.json_response(
            {
                "sid": sid,
                "account_sid": request.match_info["sid"],
                "status": "queued",
                "to": form.get("To"),
                "from": form.get("From"),
                "body": form.get("Body"),
                "date_created": "Tue, 01 Dec 2026 09:00:00 +0000",
                "uri": f"/2010-04-01/Accounts/{SID}/{resource.removesuffix('.json')}/{sid}.json",
            },
            status=201,
        )

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()


@pytest.fixture
async def twilio() -> AsyncIterator[tuple[TwilioStandIn, str]]:
    standin = TwilioStandIn()
    url = await standin.start()
    yield standin, url
    await standin.close()


async def notice(pool: store.Pool, channel: Channel, kind: Kind = Kind.FRAUD_ALERT) -> Attempt:
    attempt = Attempt(
        id=store.new_id("att"),
        kind=kind,
        customer_id="demo-anna",
        channel=channel,
        state=AttemptState.QUEUED,
        earliest_at=NOON,
        data={"card_last4": "4821", "amount": "5400.00", "merchant": "OZON"},
    )
    await store.insert_attempts(pool, [attempt])
    return attempt


async def nothing(*_: object) -> None:
    return None


async def test_anna_without_telegram_gets_the_fraud_alert_by_sms_from_the_banks_number(
    pg: tuple[store.Pool, str], bank_db: Database, twilio: tuple[TwilioStandIn, str]
) -> None:
    pool, _ = pg
    standin, url = twilio
    sms = SmsSender(twilio_client(SID, TOKEN, url), BANK_NUMBER)
    attempt = await notice(pool, Channel.SMS)
    deliverer = Deliverer(pool, bank_db, backend(bank_db), {Channel.SMS: sms}, nothing, clock=lambda: NOON)
    assert await deliverer.deliver(attempt.id) is AttemptState.SENT
    await sms.close()
    [(resource, form)] = standin.requests
    assert resource == "Messages.json"
    assert form["To"] == "+79160000002" and form["From"] == BANK_NUMBER
    assert "•••• 4821" in form["Body"] and "OZON" in form["Body"]
    sent = await store.get_attempt(pool, attempt.id)
    assert sent is not None and str(sent.provider_id).startswith("SM")


async def test_a_number_twilio_refuses_is_a_final_failure(
    pg: tuple[store.Pool, str], bank_db: Database, twilio: tuple[TwilioStandIn, str]
) -> None:
    pool, _ = pg
    standin, url = twilio
    standin.refuse_with = {"code": 21211, "message": "The 'To' number is not a valid phone number.", "status": 400}
    sms = SmsSender(twilio_client(SID, TOKEN, url), BANK_NUMBER)
    attempt = await notice(pool, Channel.SMS)
    deliverer = Deliverer(pool, bank_db, backend(bank_db), {Channel.SMS: sms}, nothing, clock=lambda: NOON)
    assert await deliverer.deliver(attempt.id) is AttemptState.FAILED
    await sms.close()
    failed = await store.get_attempt(pool, attempt.id)
    assert failed is not None and "21211" in str(failed.error)


async def test_a_call_detects_the_machine_says_nothing_of_the_debt_and_a_busy_line_is_called_again_later(
    pg: tuple[store.Pool, str], bank_db: Database, twilio: tuple[TwilioStandIn, str], aiohttp_client: Any
) -> None:
    pool, _ = pg
    standin, url = twilio
    calls = CallSender(twilio_client(SID, TOKEN, url), BANK_NUMBER, PUBLIC)
    attempt = await notice(pool, Channel.CALL, Kind.PAYMENT_REMINDER)
    deferred: list[tuple[str, datetime]] = []

    async def defer(attempt_id: str, at: datetime) -> None:
        deferred.append((attempt_id, at))

    deliverer = Deliverer(pool, bank_db, backend(bank_db), {Channel.CALL: calls}, defer, clock=lambda: NOON)
    assert await deliverer.deliver(attempt.id) is AttemptState.SENT
    await calls.close()
    [(resource, form)] = standin.requests
    assert resource == "Calls.json"
    assert form["To"] == "+79160000002" and form["MachineDetection"] == "Enable"
    assert form["Url"] == f"{PUBLIC}{ANSWER_PATH}?attempt={attempt.id}&lang=ru"
    assert form["StatusCallback"] == f"{PUBLIC}{STATUS_PATH}?attempt={attempt.id}&lang=ru"

    async def on_status(attempt_id: str, status: str, answered_by: str, _sid: str) -> None:
        await call_ended(pool, attempt_id, status, answered_by, NOON + timedelta(minutes=1), defer)

    app = web.Application()
    TwilioWebhooks(TOKEN, PUBLIC, on_status).register(app)
    client: TestClient[web.Request, web.Application] = await aiohttp_client(app)

    async def twilio_posts(path: str, fields: dict[str, str]) -> tuple[int, str]:
        query = f"?attempt={attempt.id}&lang=ru"
        signature = twilio_signature(TOKEN, f"{PUBLIC}{path}{query}", fields)
        resp = await client.post(path + query, data=fields, headers={"X-Twilio-Signature": signature})
        return resp.status, await resp.text()

    _, spoken = await twilio_posts(ANSWER_PATH, {"CallSid": "CA1", "AnsweredBy": "machine_end_beep"})
    assert "перезвоните нам" in spoken and "<Hangup" in spoken and "₽" not in spoken
    _, person = await twilio_posts(ANSWER_PATH, {"CallSid": "CA1", "AnsweredBy": "human"})
    assert "<Redirect" in person and "/voice/twiml/incoming" in person
    forged = await client.post(STATUS_PATH + f"?attempt={attempt.id}", data={"CallStatus": "completed"})
    assert forged.status == 403

    status, _ = await twilio_posts(STATUS_PATH, {"CallSid": "CA1", "CallStatus": "busy"})
    assert status == 204
    again = await store.get_attempt(pool, attempt.id)
    assert again is not None and again.state is AttemptState.QUEUED and again.error == "call busy"
    assert deferred == [(attempt.id, again.earliest_at)] and again.earliest_at > NOON
