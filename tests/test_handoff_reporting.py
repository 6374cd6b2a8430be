"""The reporting listener, called directly with constructed events, and the figures computed from its rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.db import Database
from handoff import events, reporting
from handoff.events import Event
from handoff.reporting import ReportingListener

from .handoff_support import db, ferretdb, mongo

__all__ = ["db", "ferretdb", "mongo"]

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


async def test_a_handoff_is_counted_once_even_when_delivered_twice(db: Database) -> None:
    listener = ReportingListener(db)
    handoff = Event(events.CONVERSATION_BOT_HANDOFF, "c1", "bot", at(0), {"reason": "complaint", "language": "ru"})
    await listener.conversation_bot_handoff(handoff)
    await listener.conversation_bot_handoff(handoff)
    assert await db.reporting_events.count_documents({"name": "escalated"}) == 1


async def test_only_the_first_operator_reply_is_the_first_response(db: Database) -> None:
    await db.conversations.insert_one({"_id": "c1", "queued_at": at(0)})
    listener = ReportingListener(db)
    for seconds, seq in ((30, 5), (90, 7)):
        reply = Event(events.MESSAGE_CREATED, "c1", "operator:olga", at(seconds), {"author": "operator", "seq": seq})
        await listener.message_created(reply)
    rows = [row async for row in db.reporting_events.find({"name": "first_response"})]
    assert [row["value"] for row in rows] == [30.0]


async def test_customer_messages_are_not_responses(db: Database) -> None:
    await db.conversations.insert_one({"_id": "c1", "queued_at": at(0)})
    await ReportingListener(db).message_created(
        Event(events.MESSAGE_CREATED, "c1", "customer", at(5), {"author": "customer", "seq": 3})
    )
    assert await db.reporting_events.count_documents({}) == 0


async def test_figures_for_a_period(db: Database) -> None:
    listener = ReportingListener(db)
    for index in range(10):
        cid = f"c{index}"
        await listener.conversation_created(Event(events.CONVERSATION_CREATED, cid, "customer", at(index)))
    for index, reason in ((0, "complaint"), (1, "customer_request"), (2, "customer_request")):
        cid = f"c{index}"
        await db.conversations.insert_one({"_id": cid, "queued_at": at(100)})
        await listener.conversation_bot_handoff(
            Event(events.CONVERSATION_BOT_HANDOFF, cid, "bot", at(100), {"reason": reason})
        )
        await listener.conversation_assigned(
            Event(
                events.CONVERSATION_ASSIGNED,
                cid,
                "system",
                at(100 + 10 * (index + 1)),
                {"waited_seconds": 10.0 * (index + 1), "operator_id": "olga"},
            )
        )
        await listener.message_created(
            Event(events.MESSAGE_CREATED, cid, "operator:olga", at(160), {"author": "operator", "seq": 9})
        )
        await listener.conversation_closed(
            Event(
                events.CONVERSATION_CLOSED,
                cid,
                "operator:olga",
                at(400),
                {"resolution": "resolved" if index else "complaint_registered", "handle_seconds": 200.0},
            )
        )
    await listener.rating_created(Event(events.RATING_CREATED, "c0", "customer", at(500), {"score": 5}))
    await listener.rating_created(Event(events.RATING_CREATED, "c1", "customer", at(500), {"score": 4}))
    # Outside the period: never counted.
    await listener.conversation_created(Event(events.CONVERSATION_CREATED, "old", "customer", at(-7200)))

    figures = await reporting.figures(db, at(-60), at(3600))

    assert figures.conversations == 10
    assert figures.escalated == 3
    assert figures.containment_rate == 0.7
    assert figures.escalation_rate_by_reason == {"complaint": 0.1, "customer_request": 0.2}
    assert figures.wait_avg_seconds == 20.0
    assert figures.wait_p90_seconds == 30.0
    assert figures.first_response_avg_seconds == 60.0
    assert figures.handle_avg_seconds == 200.0
    assert figures.resolutions == {"complaint_registered": 1, "resolved": 2}
    assert figures.rating_avg == 4.5 and figures.ratings == 2
    csv_lines = figures.to_csv().splitlines()
    assert csv_lines[0] == "metric,value"
    assert "containment_rate,0.7" in csv_lines
    assert "escalation_rate_by_reason.complaint,0.1" in csv_lines
