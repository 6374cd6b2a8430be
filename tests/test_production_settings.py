"""With CC_ENV=production the gateway refuses to start on demo accounts or documented secrets, and says which.

The gateway is started as `scripts/run` starts it (`python -m core`), on the stack's database,
where the local gateway has seeded the demo operators and the editor.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import replace
from pathlib import Path

from core.settings import LOCAL_CUSTOMER_TOKEN_SECRET, LOCAL_RASA_TOKEN, Settings
from core.stack import ROOT, Stack, free_port

STRONG = {
    name: secrets.token_urlsafe(32)
    for name in ("RASA_TOKEN", "CUSTOMER_TOKEN_SECRET", "ACTION_SERVER_TOKEN", "IDENTITY_SIGNING_SECRET")
}


def production_env(stack: Stack, **changes: str) -> dict[str, str]:
    """A production environment with strong secrets and demo features off, on the stack's database."""
    env = stack.env() | STRONG | {"CC_ENV": "production", "DEMO_SIGN_IN": "0", "DEMO_STAFF": "0"}
    env |= {"GATEWAY_PORT": str(free_port())}
    return env | changes


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


def test_short_secrets_are_refused_in_production() -> None:
    settings = replace(
        Settings(),
        env="production",
        demo_sign_in=False,
        demo_staff=False,
        rasa_token=STRONG["RASA_TOKEN"],
        customer_token_secret=STRONG["CUSTOMER_TOKEN_SECRET"],
        action_server_token=STRONG["ACTION_SERVER_TOKEN"],
        identity_signing_secret=STRONG["IDENTITY_SIGNING_SECRET"],
    )
    assert settings.production_problems() == []
    assert replace(settings, rasa_token="short").production_problems() == ["RASA_TOKEN is shorter than 32 characters."]


def test_the_gateway_refuses_to_start_with_documented_secrets(stack: Stack) -> None:
    env = production_env(stack, RASA_TOKEN=LOCAL_RASA_TOKEN, CUSTOMER_TOKEN_SECRET=LOCAL_CUSTOMER_TOKEN_SECRET)
    env["DEMO_SIGN_IN"] = "1"
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


def test_a_clean_production_database_starts(stack: Stack, tmp_path: Path) -> None:
    env = production_env(stack, MONGODB_DB=f"production_{uuid.uuid4().hex[:8]}")
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
    finally:
        gateway.terminate()
        gateway.wait(timeout=30)
