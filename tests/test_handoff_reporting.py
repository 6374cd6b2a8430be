"""The reporting listener, called directly with constructed events, and the figures computed from its rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from core.db import Database
from handoff import events, reporting, surveys
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


async def customer_wrote(db: Database, conversation_id: str, *seconds: float) -> None:
    for index, offset in enumerate(seconds, start=1):
        await db.messages.insert_one(
            {"conversation_id": conversation_id, "seq": index, "author": "customer", "text": "?", "at": at(offset)}
        )


async def test_escalations_tell_the_bot_handled_requests_first_from_at_once(db: Database) -> None:
    listener = ReportingListener(db)
    # c1: three questions answered by the bot, then "позовите оператора"; c2: asked for a person at once.
    await customer_wrote(db, "c1", 0, 30, 60, 90)
    await customer_wrote(db, "c2", 10)
    await customer_wrote(db, "c3", 0, 20)
    for cid, seconds in (("c1", 90), ("c2", 10), ("c3", 20)):
        await listener.conversation_created(Event(events.CONVERSATION_CREATED, cid, "customer", at(0)))
        await listener.conversation_bot_handoff(
            Event(events.CONVERSATION_BOT_HANDOFF, cid, "bot", at(seconds), {"reason": "customer_request"})
        )
    # c1 came back to the bot and escalated again later: its first escalation is what counts.
    await db.messages.insert_one({"conversation_id": "c1", "seq": 5, "author": "customer", "text": "?", "at": at(200)})
    await listener.conversation_bot_handoff(
        Event(events.CONVERSATION_BOT_HANDOFF, "c1", "bot", at(300), {"reason": "complaint"})
    )

    figures = await reporting.figures(db, at(-60), at(3600))

    assert figures.escalated == 3
    assert figures.escalated_at_once == 1
    assert figures.escalated_after_bot == 2
    assert figures.bot_turns_before_escalation_avg == 2.0  # c1 after 3 requests, c3 after 1
    assert "escalated_at_once,1" in figures.to_csv().splitlines()


async def test_figures_per_operator_per_hour_and_rating_comments_with_their_conversation(db: Database) -> None:
    listener = ReportingListener(db)
    await db.staff.insert_one({"_id": "olga", "display_name": "Ольга", "roles": ["operator"]})
    await db.staff.insert_one({"_id": "kate", "display_name": "Kate", "roles": ["operator"]})
    served = {"c0": ("olga", 30.0, 5), "c1": ("olga", 90.0, 3), "c2": ("kate", 15.0, 4)}
    for index, (cid, (operator, waited, score)) in enumerate(served.items()):
        start = index * 3600  # one conversation per hour: 13:00, 14:00, 15:00 in Moscow
        await listener.conversation_created(Event(events.CONVERSATION_CREATED, cid, "customer", at(start)))
        await listener.conversation_bot_handoff(Event(events.CONVERSATION_BOT_HANDOFF, cid, "bot", at(start + 10), {}))
        await listener.conversation_assigned(
            Event(
                events.CONVERSATION_ASSIGNED,
                cid,
                "system",
                at(start + 20),
                {"waited_seconds": waited, "operator_id": operator},
            )
        )
        await listener.conversation_closed(
            Event(
                events.CONVERSATION_CLOSED,
                cid,
                f"operator:{operator}",
                at(start + 600),
                {"resolution": "resolved", "handle_seconds": 300.0, "operator_id": operator},
            )
        )
        await listener.rating_created(Event(events.RATING_CREATED, cid, "customer", at(start + 700), {"score": score}))
    # The post-conversation survey of c1: its rating, then the comment after it.
    survey = surveys.after_conversation("c1")
    asked = surveys.Asked(conversation_id="c1", channel="webchat", language="ru", operator_id="olga")
    rating, comment = survey.questions
    await surveys.store_answer(db, survey, rating, surveys.Answer(value=3), asked, now=at(3600 + 700))
    await surveys.store_answer(
        db, survey, comment, surveys.Answer(comment="Долго ждал, но помогли"), asked, now=at(3600 + 720)
    )
    # A contained conversation in the first hour: the bot alone helped.
    await listener.conversation_created(Event(events.CONVERSATION_CREATED, "c9", "customer", at(100)))

    figures = await reporting.figures(db, at(0), at(3 * 3600), zone=ZoneInfo("Europe/Moscow"))

    by_operator = {o.operator_id: o for o in figures.operators}
    assert by_operator["olga"].name == "Ольга"
    assert (by_operator["olga"].assigned, by_operator["olga"].closed) == (2, 2)
    assert by_operator["olga"].wait_avg_seconds == 60.0
    assert by_operator["olga"].rating_avg == 4.0 and by_operator["olga"].ratings == 2
    assert (by_operator["kate"].assigned, by_operator["kate"].rating_avg) == (1, 4.0)

    assert figures.bucket == "hour"
    assert [b.start for b in figures.series] == [
        "2026-03-02T13:00:00+03:00",
        "2026-03-02T14:00:00+03:00",
        "2026-03-02T15:00:00+03:00",
    ]
    assert [b.conversations for b in figures.series] == [2, 1, 1]
    assert [b.containment_rate for b in figures.series] == [0.5, 0.0, 0.0]
    assert [b.wait_avg_seconds for b in figures.series] == [30.0, 90.0, 15.0]

    assert [(c.conversation_id, c.score, c.comment, c.operator_id) for c in figures.comments] == [
        ("c1", 3, "Долго ждал, но помогли", "olga")
    ]
    csv_text = figures.to_csv(lambda cid: f"http://bank.example/supervisor?conversation={cid}")
    assert ',olga,"Долго ждал, но помогли",http://bank.example/supervisor?conversation=c1' in csv_text
    assert "olga,Ольга,2,2,60.0" in csv_text


async def test_a_week_is_shown_per_day_in_the_supervisor_s_time_zone(db: Database) -> None:
    figures = await reporting.figures(db, at(-7 * 86400), at(0), zone=ZoneInfo("Europe/Moscow"))
    assert figures.bucket == "day"
    assert len(figures.series) == 8  # the partial first day (from 13:00) and seven more, up to 13:00 today
    assert figures.series[0].start == "2026-02-23T00:00:00+03:00"
    assert all(b.conversations == 0 and b.containment_rate is None for b in figures.series)
