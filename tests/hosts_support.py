"""Conversations through HAProxy while hosts die, and the count of what was stored and answered (issue 22).

Customers write to the REST channel through the load balancer, each message with
an id of its own, and retry a message (same id) whenever the answer does not come:
a connection cut, a 502 from HAProxy when the gateway died mid-request, a 503
"still being stored". Then the database is read back per conversation: every sent
message must be stored exactly once, and each must be answered (a bot or system
message follows it) or be with an operator (the conversation was handed off at or
before it). tests/test_hosts.py asserts on the counts; bench/hosts.py prints them
with the CPU each host kind spent per turn.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from pymongo import AsyncMongoClient

from core.db import Document
from core.deployment import Deployment, kind_of
from core.identity import mint_customer_token

REST_PATH = "/api/channels/rest/messages"
# Longer than a turn's claim (Router.turn_lease_seconds, 89 s with the default settings): a message whose gateway
# died mid-turn is answered "in progress" until then, and finished (handed to an operator) on the retry after.
RETRY_FOR_SECONDS = 150.0
_RETRY_PAUSE_SECONDS = 0.5
TURNS = (
    "Здравствуйте",
    "какой баланс на карте?",
    "покажи последние операции",
    "как заблокировать карту?",
    "какие у вас часы работы?",
    "спасибо",
)
SIGNED_IN = ("demo-ivan", "demo-anna", "demo-john")


@dataclass
class Sent:
    """One customer message and what its sender finally heard."""

    sender: str
    marker: str
    text: str
    outcome: str = ""  # "answered", "operator", "duplicate" (a retry of a stored message), "failed"
    attempts: int = 0
    sent_at: float = 0.0  # monotonic clock
    conversation_id: str = ""


@dataclass
class Load:
    """Conversations writing through the public address, each sending its next message once answered."""

    url: str
    api_key: str
    customer_token_secret: str
    conversations: int
    run_id: str
    sent: list[Sent] = field(default_factory=list)
    _turn: dict[str, int] = field(default_factory=dict)

    def sender(self, n: int) -> str:
        """The integration's id of conversation n."""
        return f"hosts-{self.run_id}-{n}"

    async def round(self, http: aiohttp.ClientSession, turns: int, *, fresh: bool = False) -> list[Sent]:
        """Every conversation sends `turns` messages, one after the other; all conversations at once.

        `fresh`: as many new conversations instead (numbered after every earlier one).
        """
        done: list[Sent] = []
        first = len(self._turn) if fresh else 0

        async def conversation(n: int) -> None:
            for _ in range(turns):
                done.append(await self._send(http, n))

        await asyncio.gather(*(conversation(n) for n in range(first, first + self.conversations)))
        return done

    async def _send(self, http: aiohttp.ClientSession, n: int) -> Sent:
        sender = self.sender(n)
        k = self._turn.get(sender, 0)
        self._turn[sender] = k + 1
        marker = f"#c{n}m{k}"
        message = Sent(sender=sender, marker=marker, text=f"{TURNS[k % len(TURNS)]} {marker}", sent_at=time.monotonic())
        self.sent.append(message)
        body: dict[str, Any] = {"sender": sender, "text": message.text, "message_id": marker}
        if n % 2 == 0:
            body["customer_token"] = mint_customer_token(SIGNED_IN[n % len(SIGNED_IN)], self.customer_token_secret)
        headers = {"Authorization": f"Bearer {self.api_key}"}
        deadline = time.monotonic() + RETRY_FOR_SECONDS
        while True:
            message.attempts += 1
            try:
                async with http.post(self.url + REST_PATH, json=body, headers=headers) as resp:
                    payload = await resp.json(content_type=None) if resp.status < 500 or resp.status == 503 else {}
                    if resp.status == 200:
                        message.conversation_id = payload.get("conversation_id", "")
                        if payload.get("duplicate"):
                            message.outcome = "duplicate"
                        elif payload.get("state") == "bot":
                            message.outcome = "answered" if payload.get("replies") else "failed"
                        else:
                            message.outcome = "operator"
                        return message
                    if resp.status < 500:
                        message.outcome = "failed"
                        return message
            except (aiohttp.ClientError, TimeoutError, ValueError):
                pass
            if time.monotonic() > deadline:
                message.outcome = "failed"
                return message
            await asyncio.sleep(_RETRY_PAUSE_SECONDS)


@dataclass(frozen=True)
class Tally:
    """What the database holds for the sent messages."""

    sent: int
    stored_once: int
    lost: int  # sent and not stored
    duplicated: int  # stored more than once
    unanswered: int  # stored, with neither a reply after it nor an operator
    answered: int  # a bot's (or operator's) reply follows it
    with_operator: int
    handoffs: int  # conversations handed to operators


async def tally(mongodb_uri: str, database: str, load: Load, integration: str = "load") -> Tally:
    """Read every load conversation back and count each sent message's copies and fate."""
    client: AsyncMongoClient[Document] = AsyncMongoClient(mongodb_uri, tz_aware=True)
    try:
        db = client[database]
        senders = sorted({message.sender for message in load.sent})
        conversations = await db.conversations.find(
            {"channel": "rest", "channel_user_id": {"$in": [f"{integration}:{s}" for s in senders]}}
        ).to_list(None)
        by_id = {doc["_id"]: doc for doc in conversations}
        messages = await db.messages.find({"conversation_id": {"$in": list(by_id)}}).to_list(None)
    finally:
        await client.close()
    messages.sort(key=lambda doc: (doc["conversation_id"], doc["seq"]))
    copies: dict[str, int] = {}
    fate: dict[str, str] = {}
    marker_pattern = re.compile(r"#c\d+m\d+$")
    for index, doc in enumerate(messages):
        found = marker_pattern.search(doc["text"]) if doc["author"] == "customer" else None
        if found is None:
            continue
        conversation = by_id[doc["conversation_id"]]
        marker = f"{conversation['channel_user_id']}:{found.group()}"
        copies[marker] = copies.get(marker, 0) + 1
        replies = []  # what followed it before the customer's next message
        for later in messages[index + 1 :]:
            if later["conversation_id"] != doc["conversation_id"] or later["author"] == "customer":
                break
            replies.append(later["author"])
        queued_at = conversation.get("queued_at")
        if "bot" in replies or "operator" in replies:
            fate[marker] = "answered"
        elif queued_at is not None and (queued_at <= doc["at"] or "system" in replies):
            fate[marker] = "operator"
        else:
            fate[marker] = "unanswered"
    keys = [f"{integration}:{message.sender}:{message.marker}" for message in load.sent]
    return Tally(
        sent=len(keys),
        stored_once=sum(1 for key in keys if copies.get(key) == 1),
        lost=sum(1 for key in keys if key not in copies),
        duplicated=sum(1 for key in keys if copies.get(key, 0) > 1),
        unanswered=sum(1 for key in keys if fate.get(key) == "unanswered"),
        answered=sum(1 for key in keys if fate.get(key) == "answered"),
        with_operator=sum(1 for key in keys if fate.get(key) == "operator"),
        handoffs=sum(1 for doc in conversations if doc.get("queued_at") is not None),
    )


async def warm_up(http: aiohttp.ClientSession, deployment: Deployment) -> None:
    """A first turn on each Rasa directly: its first turns after loading are slow (lazy parts), not its usual cost.

    Without it the first customers of a freshly started bot host wait past the bot timeout and are handed
    to operators, and the figures would measure the operators' path.
    """
    token = deployment.variables["RASA_TOKEN"]
    for host in deployment.network.hosts.values():
        if kind_of(host.name) != "bot":
            continue
        for text in TURNS[:3]:
            url = f"http://{host.address}:5005/webhooks/gateway/webhook"
            body = {
                "sender": f"warm-up-{host.name}",
                "message": text,
                "metadata": {"channel": "rest", "language": "ru"},
            }
            headers = {"Authorization": f"Bearer {token}"}
            async with http.post(url, json=body, headers=headers, timeout=aiohttp.ClientTimeout(total=120)) as resp:
                await resp.read()


async def settle(deployment: Deployment, *, quiet_share: float = 0.1, longest: float = 120.0) -> None:
    """Wait until the hosts are idle (CPU under `quiet_share` of a core over 2 s), so start-up work
    (an action server still embedding the knowledge base for its index) is not counted as turns' cost."""
    deadline = time.monotonic() + longest
    before = deployment.cpu_seconds()
    while time.monotonic() < deadline:
        await asyncio.sleep(2.0)
        now = deployment.cpu_seconds()
        if sum(now.values()) - sum(before.values()) < 2.0 * quiet_share:
            return
        before = now


@dataclass
class HostsRun:
    """The figures of one run: CPU per turn per host kind before the kill, and the tally after it."""

    turns_measured: int
    seconds_measured: float
    cpu_ms_per_turn: dict[str, float]  # per host kind
    cpu_ms_per_turn_by_host: dict[str, float]
    rss_mib_by_host: dict[str, float]
    killed: dict[str, int]  # host -> processes killed
    tally: Tally
    failed_requests: int  # messages whose sender gave up (no answer within the retry time)
    answers_after_kill: int  # messages sent after the kill and answered by the bot
    handed_off_while_measured: int  # messages of the measured phase that went to an operator
    fresh_sent: int  # messages of conversations started after the kill
    fresh_answered: int  # of those, answered by the bot

    def problems(self) -> list[str]:
        """What makes the run a failure: anything lost, stored twice, unanswered or given up; no bot after the kill."""
        t = self.tally
        found = [
            f"{count} {what}"
            for count, what in (
                (t.lost, "lost"),
                (t.duplicated, "stored twice"),
                (t.unanswered, "unanswered"),
                (self.failed_requests, "given up by their senders"),
            )
            if count
        ]
        if self.answers_after_kill + self.fresh_answered == 0:
            found.append("no message answered by the bot after the kill")
        return found


async def run_load(
    deployment: Deployment,
    *,
    conversations: int,
    measured_turns: int,
    turns_after_kill: int,
    kill: tuple[str, ...] = ("bot-1", "gw-1"),
    run_id: str = "r",
) -> HostsRun:
    """Warm up, measure CPU per turn with every host up, then kill `kill` mid-load and count what was kept."""
    load = Load(
        url=deployment.public_url,
        api_key=deployment.variables["REST_API_KEY"],
        customer_token_secret=deployment.variables["CUSTOMER_TOKEN_SECRET"],
        conversations=conversations,
        run_id=run_id,
    )
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        await warm_up(http, deployment)
        await load.round(http, 1)  # every conversation opened, every process warm
        await settle(deployment)
        before, started = deployment.cpu_seconds(), time.monotonic()
        measured = await load.round(http, measured_turns)
        seconds = time.monotonic() - started
        after = deployment.cpu_seconds()
        rss = deployment.rss_mib()
        turns = sum(1 for message in measured if message.outcome == "answered")
        by_host = {name: (after[name] - before[name]) * 1000 / max(turns, 1) for name in after}
        by_kind: dict[str, float] = {}
        for name, value in by_host.items():
            by_kind[kind_of(name)] = by_kind.get(kind_of(name), 0.0) + value

        killed: dict[str, int] = {}
        killed_at = [float("inf")]

        async def kill_soon() -> None:
            await asyncio.sleep(1.5)  # mid-load: requests in flight on every host
            killed_at[0] = time.monotonic()
            for name in kill:
                killed[name] = await asyncio.to_thread(deployment.network.hosts[name].kill)

        killing = asyncio.create_task(kill_soon())
        after_kill = await load.round(http, turns_after_kill)
        await killing
        # New customers after the kill: the surviving bot host and gateway serve all of them.
        fresh = await load.round(http, 2, fresh=True)
    result = await tally(f"mongodb://{deployment.network.address_of('ferretdb')}:27017/", "contact_center", load)
    return HostsRun(
        turns_measured=turns,
        seconds_measured=seconds,
        cpu_ms_per_turn=by_kind,
        cpu_ms_per_turn_by_host=by_host,
        rss_mib_by_host=rss,
        killed=killed,
        tally=result,
        failed_requests=sum(1 for message in load.sent if message.outcome == "failed"),
        answers_after_kill=sum(
            1 for message in after_kill if message.outcome == "answered" and message.sent_at > killed_at[0]
        ),
        handed_off_while_measured=sum(1 for message in measured if message.outcome == "operator"),
        fresh_sent=len(fresh),
        fresh_answered=sum(1 for message in fresh if message.outcome == "answered"),
    )
