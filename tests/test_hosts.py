"""A deployment across hosts (issue 22): the parts that decide whether it survives a dead host.

The whole run, deploy/compose.yaml's services on seven network-namespace hosts with
a bot host and a gateway host killed under load, is `python -m bench.hosts` (it
starts two Rasa processes and two action servers, minutes on this shared machine:
docs/operations.md, "Deployment on several machines"). Here, in the suite's time:
hosts reach each other by the compose file's names and vanish without a trace; the
compose file's settings are the ones production starts with and name every peer;
a conversation whose Rasa died goes on with another Rasa; and a gateway with one
of several Rasa processes down stays ready, so HAProxy keeps sending it customers.
These tests need root (`ip netns`): without it they fail saying so.
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import time
import uuid
from pathlib import Path

import aiohttp
import pytest

from core.deployment import HAPROXY_FILE, LAYOUT, Deployment, compose_services, deployment_variables
from core.hosts import host_network, leftovers
from core.readiness import Check, verdict
from core.settings import LOCAL_IDENTITY_SIGNING_SECRET, Settings
from core.stack import Stack, StackError, free_port
from handoff.bot import BotMetadata, BotUnavailable, RasaBot
from handoff.bot_pool import BotPool
from outbound.config import OutboundSettings

METADATA: BotMetadata = {
    "channel": "rest",
    "language": "ru",
    "customer_id": None,
    "identity_method": None,
    "redacted": [],
}


def test_hosts_find_each_other_by_service_name_and_a_dead_host_leaves_nothing_behind(tmp_path: Path) -> None:
    with host_network({"web": ("gateway-1",), "client": ("rasa-1",)}) as network:
        web, client = network.hosts["web"], network.hosts["client"]
        assert web.address != client.address
        # Port 8080 on the web host; nothing of this machine's own 8080 is touched.
        server = web.spawn("http", ["python3", "-m", "http.server", "8080"], {"PATH": os.environ["PATH"]}, tmp_path)
        fetch = ["python3", "-c", _FETCH, "http://gateway-1:8080/"]
        for _ in range(50):
            if subprocess.run(client.command(fetch), capture_output=True, check=False).returncode == 0:
                break
            assert server.popen.poll() is None, server.log_path.read_text()
            time.sleep(0.2)
        else:
            pytest.fail(f"the client host never reached gateway-1:8080; see {server.log_path}")
        assert web.kill() >= 1
        refused = subprocess.run(client.command(fetch), capture_output=True, text=True, check=False)
        assert refused.returncode != 0, "nothing answers on a dead host"
        tag = network.tag
    assert leftovers(tag) == []


_FETCH = "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)"


def test_the_compose_file_starts_in_production_and_names_every_peer(monkeypatch: pytest.MonkeyPatch) -> None:
    variables = deployment_variables()
    services = compose_services(variables)
    assert set(services) == {service for names in LAYOUT.values() for service in names}
    rasa = sorted(name for name in services if name.startswith("rasa-"))
    gateways = sorted(name for name in services if name.startswith("gateway-"))
    for gateway in gateways:
        env = {k: str(v) for k, v in services[gateway]["environment"].items()}
        monkeypatch.setattr(os, "environ", env)
        settings = Settings.from_env()
        assert settings.production_problems() == [], gateway
        assert settings.rasa_urls == tuple(f"http://{name}:5005" for name in rasa)
        assert settings.gateway_processes > 1, "live events between gateway hosts go over Redis"
        assert settings.host == "0.0.0.0"  # noqa: S104 -- reached from the balancer's host
    for name in rasa:
        env = services[name]["environment"]
        number = name.removeprefix("rasa-")
        assert env["ACTION_ENDPOINT_URL"] == f"http://actions-{number}:5055/webhook", "each Rasa calls its own host"
        assert env["RASA_LOCK_STORE"] == "redis"
        assert env["RASA_TELEMETRY_ENABLED"] == "false"
    workers = sorted(name for name in services if name.startswith("outbound-"))
    assert len(workers) == len(gateways), "an outbound worker beside each gateway"
    for name in [*workers, *gateways]:
        env = {k: str(v) for k, v in services[name]["environment"].items()}
        monkeypatch.setattr(os, "environ", env)
        outbound = OutboundSettings.from_env()
        assert outbound.database_url.endswith("@postgres:5432/outbound"), name
        assert outbound.redis_url.startswith("redis://:") and outbound.redis_url.endswith("@redis:6379/0"), name
        assert Settings.from_env().production_problems() == [], name
    assert "CREATE DATABASE outbound" in (HAPROXY_FILE.parent / "postgres-init.sql").read_text()
    balanced = re.findall(r"^\s*server (\S+) (\S+):8080 check", HAPROXY_FILE.read_text(), re.MULTILINE)
    assert [(name, host) for name, host in balanced] == [(g, g) for g in gateways]
    with pytest.raises(StackError, match=r"POSTGRES_PASSWORD|REDIS_PASSWORD|RASA_TOKEN"):
        compose_services({})


def test_the_cache_host_answers_only_with_the_deployments_redis_password(tmp_path: Path) -> None:
    """Redis is on the network for every bot and gateway host: without the password nobody reads or injects."""
    with host_network({"cache": ("redis",), "gw-1": ("gateway-1",)}) as network:
        deployment = Deployment(network=network, data_dir=tmp_path)
        deployment.start_cache()
        gateway = network.hosts["gw-1"]
        url = deployment.environment("gateway-1")["REDIS_URL"]
        assert url.startswith("redis://:") and "@redis:6379/" in url
        stranger = subprocess.run(
            gateway.command(["redis-cli", "-h", "redis", "-p", "6379", "ping"]), capture_output=True, text=True
        )
        assert "NOAUTH" in stranger.stdout + stranger.stderr
        # The URL as the gateway, the outbound workers and the embedding cache read it (redis-py).
        ping = "import sys, redis; print(redis.Redis.from_url(sys.argv[1]).ping())"
        assert gateway.run([os.environ["APP_VENV"] + "/bin/python", "-c", ping, url]).stdout.strip() == "True"
        for rasa in ("rasa-1", "rasa-2"):  # Rasa's lock store takes the same password from REDIS_PASSWORD
            assert deployment.environment(rasa)["REDIS_PASSWORD"] == deployment.variables["REDIS_PASSWORD"]
        network.destroy()


async def test_a_conversation_whose_rasa_died_goes_on_with_another_rasa(stack: Stack) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    async with aiohttp.ClientSession() as session:
        bots = [
            RasaBot(session, url, stack.rasa_token, 30, LOCAL_IDENTITY_SIGNING_SECRET) for url in (dead, stack.rasa_url)
        ]
        pool = BotPool(bots, concurrency=2, busy_notice_seconds=3, queue_timeout_seconds=60, down_after_seconds=4)
        names = (f"failover-{uuid.uuid4().hex[:8]}-{n}" for n in itertools.count())
        served_by_live = next(name for name in names if pool.slot_for(name) == 1)
        served_by_dead = next(name for name in names if pool.slot_for(name) == 0)

        assert await pool.send(served_by_live, "Здравствуйте", METADATA), "the live Rasa answers its own"
        # The dead process refuses; its conversation goes to the live one, turn after turn.
        assert await pool.send(served_by_dead, "Здравствуйте", METADATA)
        assert await pool.send(served_by_dead, "какие у вас часы работы?", METADATA)

        # With no process that ever answered, nobody to pass over to: the customer is handed off in time.
        alone = BotPool(bots[:1], concurrency=2, busy_notice_seconds=3, queue_timeout_seconds=2, down_after_seconds=1)
        with pytest.raises(BotUnavailable):
            await alone.send(served_by_dead, "Здравствуйте", METADATA)


def test_a_gateway_with_one_of_several_rasa_down_stays_ready_for_the_balancer() -> None:
    up, down = Check("rasa", True), Check("rasa-2", False, "ClientConnectorError")
    database = Check("database", True)
    assert verdict([database, up, Check("rasa-2", True)]) == "ready"
    assert verdict([database, up, down]) == "degraded", "HAProxy keeps it: the pool serves from the live Rasa"
    assert verdict([database, Check("rasa", False), down]) == "not ready"
    assert verdict([Check("database", False), up]) == "not ready"
    assert verdict([database, up, Check("actions", False)]) == "not ready"
