"""The platform's Prometheus metrics, named once here; the gateway serves them at /metrics (core/metrics_http.py).

With several gateway processes, `PROMETHEUS_MULTIPROC_DIR` (set by scripts/run) puts prometheus-client in its
multiprocess mode before this module is imported: every process writes its samples to files there, and any
process's /metrics sums them. Queue lengths and operators online are read from the database at scrape time,
so they are the same whichever process answers.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

MESSAGES = Counter("cc_messages", "Customer messages the gateway stored, by channel.", ["channel"])
BOT_TURN_SECONDS = Histogram(
    "cc_bot_turn_seconds",
    "A bot turn as the gateway waits for it: queueing for a Rasa slot, NLU, policies, actions.",
    buckets=(0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 10.0, 30.0, 60.0),
)
HANDOFFS = Counter("cc_handoffs", "Conversations handed from the bot to the operators' queue, by reason.", ["reason"])
QUEUE_WAIT_SECONDS = Histogram(
    "cc_queue_wait_seconds",
    "How long a conversation waited in the queue before an operator got it.",
    buckets=(1, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600),
)
KB_DECISIONS = Counter(
    "cc_kb_decisions",
    "Knowledge-base searches by decision (the action server's are the bot's; the gateway's the staff pages').",
    ["decision", "language"],
)
EMBEDDING_CACHE = Counter(
    "cc_embedding_cache_lookups",
    "Sentence embeddings looked up in the cache shared with Rasa (core/embedding_cache.py), by outcome.",
    ["outcome"],
)
ACTIONS = Counter("cc_actions", "Custom actions the action server ran for Rasa, by name.", ["action"])
ERRORS = Counter("cc_errors", "Failures: unhandled HTTP errors (http_500) and bot turns that failed.", ["kind"])
HTTP_REQUESTS = Counter("cc_http_requests", "HTTP requests by route name and status.", ["route", "status"])
HTTP_SECONDS = Histogram(
    "cc_http_request_seconds",
    "HTTP request duration by route name (websockets excluded).",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
