"""With CC_ENV=production the gateway refuses to start on demo accounts or documented secrets, and says which.

The gateway is started as `scripts/run` starts it (`python -m core`), on the stack's database,
where the local gateway has seeded the demo operators and the editor.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from pymongo import AsyncMongoClient

from core import staff
from core.identity import hash_api_key
from core.settings import (
    LOCAL_CUSTOMER_TOKEN_SECRET,
    LOCAL_RASA_TOKEN,
    LOCAL_REST_API_KEY,
    Settings,
    SettingsError,
    parse_environment,
)
from core.stack import ROOT, Stack, free_port
from handoff.setup import DEMO_STAFF_PASSWORD
from knowledge_base.setup import DEMO_EDITOR_PASSWORD

STRONG = {
    name: secrets.token_urlsafe(32)
    for name in ("RASA_TOKEN", "CUSTOMER_TOKEN_SECRET", "ACTION_SERVER_TOKEN", "IDENTITY_SIGNING_SECRET")
}


def production_env(stack: Stack, **changes: str) -> dict[str, str]:
    """A production environment with strong secrets and demo features off, on the stack's database."""
    env = stack.env() | STRONG | {"CC_ENV": "production", "DEMO_SIGN_IN": "0", "DEMO_STAFF": "0"}
    # The demo bank on purpose: the tests have no other backend (a production start refuses it otherwise).
    env |= {"ALLOW_DEMO_BANKING": "true"}
    env |= {"GATEWAY_PORT": str(free_port())}
    return env | changes


def post_json(url: str, body: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(  # noqa: S310 -- the test's own gateway on 127.0.0.1
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310 -- as above
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def start_gateway(env: dict[str, str], timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """Run the gateway until it exits (or fail the test when it starts serving instead)."""
    return subprocess.run(
        [sys.executable, "-m", "core"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_documented_secrets_and_demo_switches_are_named() -> None:
    settings = replace(Settings(), env="production")
    problems = settings.production_problems()
    assert any(p.startswith("RASA_TOKEN is the documented local default") for p in problems)
    assert any(p.startswith("CUSTOMER_TOKEN_SECRET is the documented local default") for p in problems)
    assert any(p.startswith("DEMO_SIGN_IN is on") for p in problems)
    assert any(p.startswith("DEMO_STAFF is on") for p in problems)


def test_local_runs_keep_their_documented_defaults() -> None:
    assert Settings().production_problems() == []


def clean_production_settings() -> Settings:
    """Production settings with nothing to object to."""
    return replace(
        Settings(),
        env="production",
        demo_sign_in=False,
        demo_staff=False,
        rasa_token=STRONG["RASA_TOKEN"],
        customer_token_secret=STRONG["CUSTOMER_TOKEN_SECRET"],
        action_server_token=STRONG["ACTION_SERVER_TOKEN"],
        identity_signing_secret=STRONG["IDENTITY_SIGNING_SECRET"],
        rest_api_keys={"partner-crm": hash_api_key(secrets.token_urlsafe(32))},
        allow_demo_banking=True,
    )


def test_short_secrets_are_refused_in_production() -> None:
    settings = clean_production_settings()
    assert settings.production_problems() == []
    assert replace(settings, rasa_token="short").production_problems() == ["RASA_TOKEN is shorter than 32 characters."]
    assert replace(settings, rasa_token="ab" * 20).production_problems() == [
        "RASA_TOKEN has fewer than 10 different characters."
    ]


@pytest.mark.parametrize("spelling", ["Production", "PRODUCTION", " production ", "production\n"])
def test_any_spelling_of_production_is_production(spelling: str) -> None:
    assert parse_environment(spelling) == "production"


@pytest.mark.parametrize("name", ["prod", "prodution", "Produktion", "live", "", "production-eu", "local2"])
def test_an_unknown_environment_refuses_to_start(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CC_ENV", name)
    with pytest.raises(SettingsError, match="CC_ENV must be one of local, test, staging, production"):
        Settings.from_env()


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"twiml_auth_token": "a"}, "TWIML_AUTH_TOKEN is shorter than 32 characters"),
        ({"twiml_auth_token": "0" * 32}, "TWIML_AUTH_TOKEN has fewer than 10 different characters"),
        ({"telegram_webhook_secret": "secret"}, "TELEGRAM_WEBHOOK_SECRET is shorter than 32 characters"),
        (
            {"rest_api_keys": {"local-demo": hash_api_key(LOCAL_REST_API_KEY)}},
            "REST_API_KEYS: integration 'local-demo' uses the documented local key",
        ),
        ({"allow_demo_banking": False}, "BANKING_BACKEND is 'demo'"),
        ({"redis_url": "redis://redis:6379/0"}, "REDIS_URL reaches Redis at redis without a password"),
        ({"redis_url": "redis://10.0.0.7:6379/0"}, "REDIS_URL reaches Redis at 10.0.0.7 without a password"),
    ],
)
def test_weak_channel_secrets_the_local_rest_key_and_the_demo_bank_are_named(
    change: dict[str, object], problem: str
) -> None:
    problems = replace(clean_production_settings(), **change).production_problems()  # type: ignore[arg-type]
    assert len(problems) == 1 and problems[0].startswith(problem), problems


@pytest.mark.parametrize(
    "url", ["redis://127.0.0.1:6379/0", "redis://localhost:6380/1", "redis://:s3cretpassw0rd@redis:6379/0"]
)
def test_redis_on_loopback_or_with_a_password_passes(url: str) -> None:
    assert replace(clean_production_settings(), redis_url=url).production_problems() == []


def test_a_twilio_token_and_a_random_telegram_secret_pass() -> None:
    settings = replace(
        clean_production_settings(),
        twiml_auth_token=secrets.token_hex(16),  # what Twilio issues: 32 hexadecimal characters
        telegram_webhook_secret=secrets.token_urlsafe(32),
    )
    assert settings.production_problems() == []


def test_the_documented_passwords_are_the_ones_production_refuses() -> None:
    assert {DEMO_STAFF_PASSWORD, DEMO_EDITOR_PASSWORD} <= staff.DOCUMENTED_PASSWORDS
    assert staff.weak_password(DEMO_STAFF_PASSWORD) == "it is a documented demo password"
    assert staff.weak_password("eleven-char") == "it is shorter than 12 characters"
    assert staff.weak_password("a long and private passphrase") is None


@pytest.mark.parametrize("spelling", ["production", "Production"])
def test_the_gateway_refuses_to_start_with_documented_secrets(stack: Stack, spelling: str) -> None:
    env = production_env(stack, RASA_TOKEN=LOCAL_RASA_TOKEN, CUSTOMER_TOKEN_SECRET=LOCAL_CUSTOMER_TOKEN_SECRET)
    env["DEMO_SIGN_IN"] = "1"
    env["CC_ENV"] = spelling
    finished = start_gateway(env)
    assert finished.returncode != 0
    assert "Refusing to start with CC_ENV=production" in finished.stderr
    assert "RASA_TOKEN is the documented local default" in finished.stderr
    assert "CUSTOMER_TOKEN_SECRET is the documented local default" in finished.stderr
    assert "DEMO_SIGN_IN is on" in finished.stderr


def test_the_gateway_refuses_to_start_while_demo_staff_accounts_exist(stack: Stack) -> None:
    finished = start_gateway(production_env(stack))
    assert finished.returncode != 0
    for login in ("olga", "kate", "sveta", "editor"):
        assert f"Demo staff account '{login}' exists" in finished.stderr, finished.stderr[-2000:]
    assert "python -m core.create_staff olga --delete" in finished.stderr


def test_a_misspelt_environment_does_not_start(stack: Stack) -> None:
    finished = start_gateway(production_env(stack, CC_ENV="Prod"))
    assert finished.returncode != 0
    assert "CC_ENV must be one of local, test, staging, production; got 'Prod'" in finished.stderr


async def add_account(stack: Stack, database: str, login: str, password: str, *, flagged: bool | None) -> None:
    """A staff account as `core.create_staff` saves it; `flagged` None: saved before the weak-password flag existed."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongodb_uri)
    try:
        doc: dict[str, Any] = {
            "_id": login,
            "display_name": login,
            "roles": ["operator"],
            "password_hash": PasswordHasher().hash(password),
        }
        if flagged is not None:
            doc["weak_password"] = flagged
        await client[database].staff.insert_one(doc)
    finally:
        await client.close()


async def test_a_staff_account_with_a_documented_or_short_password_stops_the_start(stack: Stack) -> None:
    database = f"production_{uuid.uuid4().hex[:8]}"
    await add_account(stack, database, "anna", DEMO_STAFF_PASSWORD, flagged=None)  # created by hand, long ago
    await add_account(stack, database, "boris", "short-pw", flagged=True)
    await add_account(stack, database, "vera", "a long and private passphrase", flagged=None)
    finished = start_gateway(production_env(stack, MONGODB_DB=database))
    assert finished.returncode != 0
    assert "Staff account 'anna' has a short or documented password" in finished.stderr
    assert "Staff account 'boris' has a short or documented password" in finished.stderr
    assert "'vera'" not in finished.stderr


def test_a_clean_production_database_starts(stack: Stack, tmp_path: Path) -> None:
    database = f"production_{uuid.uuid4().hex[:8]}"
    # A short password set by hand in the database, unflagged: the start cannot see it, the sign-in can.
    asyncio.run(add_account(stack, database, "galina", "tiny-pass", flagged=False))
    env = production_env(stack, MONGODB_DB=database)
    log_path = tmp_path / "gateway.log"
    with log_path.open("w") as log:
        gateway = subprocess.Popen([sys.executable, "-m", "core"], cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        url = f"http://127.0.0.1:{env['GATEWAY_PORT']}/health"
        for _ in range(300):
            assert gateway.poll() is None, log_path.read_text()[-3000:]
            try:
                with urllib.request.urlopen(url, timeout=1) as resp:
                    assert resp.status == 200
                    break
            except OSError:
                time.sleep(0.3)
        else:
            raise AssertionError("the production gateway did not answer /health")
        base = f"http://127.0.0.1:{env['GATEWAY_PORT']}"
        status, answer = post_json(base + "/api/console/sign-in", {"login": "galina", "password": "tiny-pass"})
        assert (status, answer["code"]) == (403, "weak_password"), answer
    finally:
        gateway.terminate()
        gateway.wait(timeout=30)
