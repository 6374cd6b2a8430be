"""Liveness and readiness of the gateway, for the run command, load balancers and the supervisor.

`/healthz` says the process answers. `/readyz` says a customer's message would be
served now: the database answers, a Rasa process has its model loaded, and the
action server answers. Until then the run command does not say "ready", and a
load balancer keeps customers on gateways that are. With several Rasa processes
(bot hosts), one of them down leaves the gateway ready ("degraded", 200, the
failing check listed): the bot pool sends that process's conversations to the
others, and a balancer that took every gateway out because one bot host died
would stop the whole platform (tests/test_hosts.py).
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass

import aiohttp
from aiohttp import web

from core.keys import DB_KEY, HTTP_SESSION_KEY, SETTINGS_KEY

# Each probe is short: a readiness check that hangs is itself a "not ready".
_PROBE_TIMEOUT = aiohttp.ClientTimeout(total=2)


@dataclass(frozen=True)
class Check:
    """One dependency's state."""

    name: str
    ok: bool
    detail: str = ""


async def _database(app: web.Application) -> Check:
    try:
        await asyncio.wait_for(app[DB_KEY].command("ping"), timeout=2)
    except Exception as err:  # any failure means "not ready", said in the detail
        return Check("database", False, type(err).__name__)
    return Check("database", True)


async def _http(session: aiohttp.ClientSession, name: str, url: str, *, needs_model: bool = False) -> Check:
    try:
        async with session.get(url, timeout=_PROBE_TIMEOUT) as resp:
            if resp.status != 200:
                return Check(name, False, f"HTTP {resp.status}")
            if needs_model:
                body = await resp.json()
                if not isinstance(body, dict) or not body.get("model_file"):
                    return Check(name, False, "no model loaded")
    except (aiohttp.ClientError, TimeoutError, ValueError) as err:
        return Check(name, False, type(err).__name__)
    return Check(name, True)


async def checks(app: web.Application) -> list[Check]:
    """Every dependency, probed at once."""
    settings = app[SETTINGS_KEY]
    session = app[HTTP_SESSION_KEY]
    probes = [_database(app)]
    for index, url in enumerate(settings.rasa_urls or (settings.rasa_url,)):
        name = "rasa" if index == 0 else f"rasa-{index + 1}"
        probes.append(_http(session, name, f"{url}/status?token={settings.rasa_token}", needs_model=True))
    if settings.action_server_url:
        probes.append(_http(session, "actions", f"{settings.action_server_url}/health"))
    return list(await asyncio.gather(*probes))


async def healthz(request: web.Request) -> web.Response:
    """Alive: the process answers."""
    return web.json_response({"status": "ok"})


def verdict(results: list[Check]) -> str:
    """Ready (all answer), degraded (some Rasa process down, another answers) or not ready."""
    rasa = [check for check in results if check.name.startswith("rasa")]
    others = [check for check in results if not check.name.startswith("rasa")]
    if not all(check.ok for check in others) or not any(check.ok for check in rasa):
        return "not ready"
    return "ready" if all(check.ok for check in rasa) else "degraded"


async def readyz(request: web.Request) -> web.Response:
    """Ready: 200 when a message would be served (every check, or all but some of several Rasa processes); 503 else."""
    results = await checks(request.app)
    status = verdict(results)
    body = {"status": status, "checks": [asdict(check) for check in results]}
    return web.json_response(body, status=503 if status == "not ready" else 200)
