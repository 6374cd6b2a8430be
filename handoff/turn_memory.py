"""What a gateway process remembers between a customer's turns, so a plain turn reads less (issue 22).

Only what stays right without asking the database, or what the database corrects when it is wrong:

- Which conversation a channel user writes in. A channel user's pointer (`channel_users`) changes only
  when the conversation it names is closed (`release_pointer`, after the survey) or when the user has
  none (`open_conversation`, `share_pointer`). A remembered pointer is therefore right for as long as its
  conversation is open, which the router sees in the conversation it reads every turn anyway; a closed
  or missing one sends it back to the stored pointer. Another process (a second gateway) changing the
  pointer can only do so after closing that conversation, so no invalidation message is needed.
- The last transcript number this process wrote in a conversation: the next message starts there. A
  number another process took meanwhile makes the unique insert fail, and the append starts again from
  the transcript's head (handoff/transcript.py); the remembered number is a hint, never a decision.
- For channels that cannot push (REST, the phone), the number up to which this process has seen every
  message: the next turn need not look for operator messages waiting for the customer when its own
  messages take the very next numbers (nobody else wrote meanwhile).

Language, the verified customer, the state and everything else are read with the conversation each turn.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Generic, TypeVar

# Conversations remembered per process; the oldest used is forgotten first (a forgotten one costs one read).
DEFAULT_SIZE = 50_000


K = TypeVar("K")
V = TypeVar("V")


class BoundedMap(Generic[K, V]):
    """A dictionary that forgets its least recently used entry beyond `size` entries."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self._size = size
        self._entries: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        """The entry, marked as recently used; None when not remembered."""
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        """Remember `value`, forgetting the least recently used entry when full."""
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def forget(self, key: K) -> None:
        """Drop the entry if there is one."""
        self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)


@dataclass
class TurnMemory:
    """The router's memory: channel user -> open conversation id, conversation id -> last transcript number."""

    pointers: BoundedMap[str, str] = field(default_factory=BoundedMap)
    seqs: BoundedMap[str, int] = field(default_factory=BoundedMap)
    # Channels that never push (REST, the phone): the number up to which every message is this process's own
    # or was looked at for messages waiting for the customer (see Router._nothing_waiting).
    settled: BoundedMap[str, int] = field(default_factory=BoundedMap)

    @staticmethod
    def pointer_key(channel: str, channel_user_id: str) -> str:
        """The key of a channel user, as the stored pointer's `_id`."""
        return f"{channel}:{channel_user_id}"

    def saw_seq(self, conversation_id: str, seq: int) -> None:
        """Remember that `seq` is taken in the conversation (never lowers what is remembered)."""
        known = self.seqs.get(conversation_id)
        if known is None or seq > known:
            self.seqs.put(conversation_id, seq)
