"""Send rates shared by every worker and gateway process, in Redis.

Even spacing per key (the generic cell rate algorithm on Redis's own clock): with Telegram's limit of
about 30 messages a second in total, 25/s is one message every 40 ms across all workers, and 1 a
second per chat. No bursts: a burst allowed here would reach the provider bunched with the next one
whenever a loaded machine delays some requests, and exceed the limit there. Also at most N
outbound calls at once.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from redis.asyncio import Redis

# Reserve the next slot of every key, or say how many microseconds until all of them are free.
_RESERVE = """
local now = redis.call('TIME')
local t = tonumber(now[1]) * 1000000 + tonumber(now[2])
local wait = 0
for i, key in ipairs(KEYS) do
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat > t and tat - t > wait then wait = tat - t end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  redis.call('SET', key, t + tonumber(ARGV[i]), 'PX', math.ceil(tonumber(ARGV[i]) / 1000) + 1000)
end
return 0
"""

_ACQUIRE_SLOT = """
local now = redis.call('TIME')
local t = tonumber(now[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', t - tonumber(ARGV[3]))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], t, ARGV[2])
return 1
"""


@dataclass
class SharedRateLimit:
    """`per_second` sends in total and `per_key_per_second` per chat, evenly spaced, across every process."""

    redis: Redis
    name: str
    per_second: int
    per_key_per_second: int = 1

    async def acquire(self, key: str | None = None, patience: float = 60.0) -> None:
        """Wait for a slot (global, and the key's own); raises TimeoutError after `patience` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + patience
        keys = [f"rate:{self.name}"]
        spacing = [round(1_000_000 / self.per_second)]
        if key is not None:
            keys.append(f"rate:{self.name}:{key}")
            spacing.append(round(1_000_000 / self.per_key_per_second))
        while True:
            wait_us = int(await self.redis.eval(_RESERVE, len(keys), *keys, *spacing))
            if wait_us <= 0:
                return
            if loop.time() + wait_us / 1e6 > deadline:
                raise TimeoutError(f"no {self.name} send slot within {patience} s")
            await asyncio.sleep(wait_us / 1e6)


@dataclass
class SharedSlots:
    """At most `limit` things at once (outbound calls), held until released or `ttl` seconds pass."""

    redis: Redis
    name: str
    limit: int
    ttl: int = 1800

    async def try_acquire(self, holder: str) -> bool:
        """Take a slot for `holder` if one is free."""
        key = f"slots:{self.name}"
        return bool(await self.redis.eval(_ACQUIRE_SLOT, 1, key, self.limit, holder, self.ttl))

    async def release(self, holder: str) -> None:
        """Give the holder's slot back (a call ended)."""
        await self.redis.zrem(f"slots:{self.name}", holder)


@dataclass
class LocalRateLimit:
    """The same even spacing inside one process, for a single worker without Redis."""

    name: str
    per_second: int
    per_key_per_second: int = 1

    def __post_init__(self) -> None:
        self._next: dict[str | None, float] = {}
        self._lock = asyncio.Lock()

    async def acquire(self, key: str | None = None, patience: float = 60.0) -> None:
        """Wait for a slot (global, and the key's own)."""
        loop = asyncio.get_running_loop()
        async with self._lock:
            now = loop.time()
            buckets = [(None, 1 / self.per_second)] + ([(key, 1 / self.per_key_per_second)] if key else [])
            start = max([now, *(self._next.get(k, now) for k, _ in buckets)])
            if start - now > patience:
                raise TimeoutError(f"no {self.name} send slot within {patience} s")
            for k, spacing in buckets:
                self._next[k] = start + spacing
            if len(self._next) > 10_000:
                self._next = {k: v for k, v in self._next.items() if v > now}
        if start > now:
            await asyncio.sleep(start - now)
