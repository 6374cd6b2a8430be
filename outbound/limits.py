"""Send rates shared by every worker and gateway process, in Redis.

A sliding window per key (a sorted set of send times, Redis's own clock): Telegram's ~30
messages a second in total and 1 a second per chat, and at most N outbound calls at once. The
window is a little longer than a second so that network jitter between here and the provider
cannot squeeze more than the limit into any one second at the provider's end.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

from redis.asyncio import Redis

# Microseconds: one second plus a guard for the jitter between reserving a slot and the request arriving.
WINDOW_MICROSECONDS = 1_050_000

_RESERVE = """
local now = redis.call('TIME')
local t = tonumber(now[1]) * 1000000 + tonumber(now[2])
local n = #KEYS
local window = tonumber(ARGV[n + 1])
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', t - window)
  if redis.call('ZCARD', key) >= tonumber(ARGV[i]) then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    return tonumber(oldest[2]) + window - t
  end
end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, t, ARGV[n + 2])
  redis.call('PEXPIRE', key, math.ceil(window / 1000) + 1000)
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
    """`per_second` sends in total and `per_key_per_second` per chat, across every process."""

    redis: Redis
    name: str
    per_second: int
    per_key_per_second: int = 1

    async def acquire(self, key: str | None = None, patience: float = 60.0) -> None:
        """Wait for a slot (global, and the key's own); raises TimeoutError after `patience` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + patience
        keys = [f"rate:{self.name}"]
        limits = [self.per_second]
        if key is not None:
            keys.append(f"rate:{self.name}:{key}")
            limits.append(self.per_key_per_second)
        token = uuid.uuid4().hex
        while True:
            wait_us = int(await self.redis.eval(_RESERVE, len(keys), *keys, *limits, WINDOW_MICROSECONDS, token))
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
    """The same sliding windows inside one process, for a single worker without Redis."""

    name: str
    per_second: int
    per_key_per_second: int = 1

    def __post_init__(self) -> None:
        self._sent: dict[str | None, list[float]] = {}
        self._lock = asyncio.Lock()

    async def acquire(self, key: str | None = None, patience: float = 60.0) -> None:
        """Wait for a slot (global, and the key's own)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + patience
        window = WINDOW_MICROSECONDS / 1e6
        async with self._lock:
            while True:
                now = loop.time()
                waits = []
                for bucket, limit in ((None, self.per_second), (key, self.per_key_per_second)):
                    times = [t for t in self._sent.get(bucket, []) if t > now - window]
                    self._sent[bucket] = times
                    if len(times) >= limit:
                        waits.append(times[0] + window - now)
                    if key is None:
                        break
                if not waits:
                    self._sent[None].append(now)
                    if key is not None:
                        self._sent[key].append(now)
                    if len(self._sent) > 10_000:
                        self._sent = {k: v for k, v in self._sent.items() if v and v[-1] > now - window}
                    return
                if now + max(waits) > deadline:
                    raise TimeoutError(f"no {self.name} send slot within {patience} s")
                await asyncio.sleep(max(waits))
