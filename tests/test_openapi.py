"""The published API is the real one: an integrator generating a client from /api/openapi.json gets what runs.

In both directions: every route the gateway registers is in the document and every documented route is
registered; and Schemathesis, reading only the document, sends generated requests to the running platform
(as nobody, with the REST channel's key, and as a signed-in supervisor and content editor) and fails on any
server error or any answer the document does not allow. The generated requests go to a gateway from the app
factory on the platform's Rasa, action server and FerretDB, with a database of its own: what they create
(conversations of random senders, drafts, campaigns) stays out of the other tests' way.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import threading
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, Phase, given, settings
from pymongo import AsyncMongoClient
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from core import pgcluster, staff
from core.app import create_app
from core.db import Document
from core.openapi import DOCUMENT, document
from core.settings import LOCAL_REST_API_KEY, Settings
from core.stack import Stack, free_port

from .handoff_support import gateway_settings

HOW_TO_ADD = (
    f"Describe it in {DOCUMENT.relative_to(DOCUMENT.parents[1])}: under `paths` (a route customers, integrations or "
    "staff call) or `webhooks` (a callback a provider such as Telegram or Twilio calls), with its parameters, "
    "request body and every status it answers (reuse components/responses: BadRequest, Unauthorized, Forbidden, "
    "NotFound, Conflict, TooLarge); the template must match the route's, e.g. /api/x/{id}/y."
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Generated requests per operation and identity: enough to walk each operation's statuses, few enough to keep
# the suite fast (about 65 operations, three identities).
EXAMPLES_PER_OPERATION = 8
# Not fuzzed: a sign-in guess counts against the address's lockout, which every other test on the shared
# platform signs in from (tests/test_signin_limits.py covers sign-in); signing out would end the session the
# authenticated run uses.
NOT_FUZZED = {"console_sign_in", "kb_sign_in", "console_sign_out", "kb_sign_out"}
WEB = Path(__file__).resolve().parents[1] / "web"
CONTRACT_LOGIN = "api-contract"
CONTRACT_PASSWORD = "api-contract-password-for-tests"


def _normalized(template: str) -> str:
    """A path template with its parameter names left out: /a/{id}/b and /a/{conversation_id}/b are one route."""
    return re.sub(r"\{[^}]*\}", "{}", template)


def registered_routes() -> set[tuple[str, str]]:
    """(method, template) of every route of the gateway, with every optional channel switched on."""
    app = create_app(
        replace(Settings(), telegram_bot_token="1:test", telegram_mode="webhook", telegram_webhook_secret="secret")
    )
    found: set[tuple[str, str]] = set()
    for route in app.router.routes():
        if route.method == "HEAD" or route.resource is None:
            continue  # aiohttp answers HEAD with the GET handler
        info = route.resource.get_info()
        template = str(info.get("formatter") or info.get("path") or f"{info['prefix']}/{{path}}")
        found.update((route.method, _normalized(each)) for each in _spelled_out(template, info))
    return found


def _spelled_out(template: str, info: Mapping[str, Any]) -> list[str]:
    """A route whose parameter takes a few words ({action:schedule|pause}) is one documented path per word."""
    pattern = info.get("pattern")
    choices = re.findall(r"\(\?P<(\w+)>([\w-]+(?:\|[\w-]+)+)\)", pattern.pattern) if pattern is not None else []
    templates = [template]
    for name, words in choices:
        templates = [each.replace(f"{{{name}}}", word) for each in templates for word in words.split("|")]
    return templates


def documented_routes() -> set[tuple[str, str]]:
    """(method, template) of every operation and webhook in the document."""
    spec = document()
    found = set()
    for section in ("paths", "webhooks"):
        for path, item in spec.get(section, {}).items():
            for method in item:
                if method in {"get", "put", "post", "delete", "patch"}:
                    found.add((method.upper(), _normalized(path)))
    return found


def test_every_route_the_gateway_registers_is_in_the_document() -> None:
    missing = sorted(registered_routes() - documented_routes())
    assert not missing, (
        "Routes the gateway serves but the OpenAPI document does not describe:\n"
        + "\n".join(f"  {method} {path}" for method, path in missing)
        + f"\n{HOW_TO_ADD}"
    )


def test_every_documented_route_is_served() -> None:
    extra = sorted(documented_routes() - registered_routes())
    assert not extra, "Operations in the OpenAPI document that no route serves (remove or fix them):\n" + "\n".join(
        f"  {method} {path}" for method, path in extra
    )


def test_the_document_and_its_reference_page_are_served(gateway_url: str) -> None:
    build_web_pages()
    served = requests.get(f"{gateway_url}/api/openapi.json", timeout=10)
    assert served.status_code == 200
    assert served.json() == document()
    assert served.json()["openapi"].startswith("3.1")
    page = requests.get(f"{gateway_url}/api/docs", timeout=10)
    assert page.status_code == 200, page.text
    assert "text/html" in page.headers["Content-Type"]
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    assert "/ui/apidocs/app.js" in page.text
    script = requests.get(f"{gateway_url}/ui/apidocs/app.js", timeout=10)
    assert script.status_code == 200 and "swagger" in script.text.lower()


def build_web_pages() -> None:
    """The built pages, as scripts/setup leaves them (an unbuilt page answers 503, which would count as a failure)."""
    if not (WEB / "node_modules" / "esbuild").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=WEB, check=True)
    subprocess.run(["node", "build.mjs", "--if-changed"], cwd=WEB, check=True)


async def _create_contract_account(mongodb_uri: str, mongodb_db: str) -> None:
    client: AsyncMongoClient[Document] = AsyncMongoClient(mongodb_uri, tz_aware=True)
    try:
        await staff.save_staff(
            client[mongodb_db],
            CONTRACT_LOGIN,
            CONTRACT_PASSWORD,
            display_name="API contract",
            roles=(staff.Role.SUPERVISOR, staff.Role.CONTENT_EDITOR),
        )
    finally:
        await client.close()


@pytest.fixture(scope="module")
def contract_gateway(stack: Stack) -> Iterator[str]:
    """A gateway of the platform with a database of its own, served from a thread (Schemathesis calls are blocking)."""
    outbound = (
        {"OUTBOUND_DATABASE_URL": pgcluster.outbound_url(stack.ports["postgres"])} if "postgres" in stack.ports else {}
    )
    saved = {name: os.environ.get(name) for name in outbound}
    os.environ.update(outbound)  # read by the outbound package when the app is built
    build_web_pages()
    settings = gateway_settings(stack, "openapi")
    runner = web.AppRunner(create_app(settings))
    port = free_port()
    loop = asyncio.new_event_loop()
    serving = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        loop.run_until_complete(_create_contract_account(settings.mongodb_uri, settings.mongodb_db))
        serving.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, name="contract-gateway", daemon=True)
    thread.start()
    assert serving.wait(180), "the contract gateway did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="module")
def staff_headers(contract_gateway: str) -> dict[str, str]:
    """A supervisor and content editor's session (the one staff member of the contract gateway's database)."""
    signed_in = requests.post(
        f"{contract_gateway}/api/console/sign-in",
        json={"login": CONTRACT_LOGIN, "password": CONTRACT_PASSWORD},
        timeout=30,
    )
    assert signed_in.status_code == 200, signed_in.text
    return {
        "Cookie": f"{staff.SESSION_COOKIE}={signed_in.cookies[staff.SESSION_COOKIE]}",
        staff.CSRF_HEADER: signed_in.json()["csrf"],
    }


def _fuzz(base_url: str, headers: dict[str, str], tag: str | None = None) -> list[str]:
    """Run the documented operations' generated cases (those with `tag`, or all); return what went wrong."""
    schema = schemathesis.openapi.from_dict(document())
    problems: list[str] = []
    session = requests.Session()
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an invalid document fails at .ok()
        raw = operation.definition.raw
        if raw.get("operationId") in NOT_FUZZED or (tag is not None and tag not in raw.get("tags", [])):
            continue

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def send(case: schemathesis.Case[Any]) -> None:
            case.call_and_validate(base_url=base_url, session=session, headers=headers, checks=CHECKS, timeout=30)

        try:
            send()
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as failure:
            problems.append(f"{operation.label}: {failure}")
    return problems


def test_the_platform_answers_anonymous_requests_as_documented(contract_gateway: str) -> None:
    problems = _fuzz(contract_gateway, {})
    assert not problems, "\n\n".join(problems)


def test_the_platform_answers_an_integration_as_documented(contract_gateway: str) -> None:
    problems = _fuzz(contract_gateway, {"X-Api-Key": LOCAL_REST_API_KEY}, tag="integration")
    assert not problems, "\n\n".join(problems)


def test_the_platform_answers_signed_in_staff_as_documented(
    contract_gateway: str, staff_headers: dict[str, str]
) -> None:
    problems = _fuzz(contract_gateway, staff_headers)
    assert not problems, "\n\n".join(problems)
