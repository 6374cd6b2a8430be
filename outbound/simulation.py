"""Run a customer's contacts through the rules on a simulated clock, and audit what went out.

The property test (tests/test_outbound_rules.py) and bench/outbound.py feed it generated time
zones, holidays, schedules, histories, late workers and opt-outs arriving midway; `violations`
re-checks every contact made against the rules' definitions, independently of `decide`.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from outbound.models import PastContact, PlannedContact, Recipient, contact_class
from outbound.rules import Calendar, Rules, Send, Wait, decide, in_window, zone_of


@dataclass(frozen=True)
class Case:
    """One customer's story: who, what was already sent, what is planned, and how late workers run."""

    recipient: Recipient
    history: Sequence[PastContact]
    planned: Sequence[PlannedContact]
    # How long after its due moment each check actually runs (a busy worker), cycled over the checks.
    worker_delays: Sequence[timedelta] = (timedelta(0),)
    # The customer opts out at this moment (a reply "стоп" arriving while the campaign runs).
    opted_out_at: datetime | None = None


def simulate(case: Case, calendar: Calendar, rules: Rules) -> list[PastContact]:
    """Every contact the rules let through, in the order made."""
    made: list[PastContact] = []
    queue = [(p.earliest_at, index, p) for index, p in enumerate(case.planned)]
    heapq.heapify(queue)
    checks = 0
    while queue:
        due, index, contact = heapq.heappop(queue)
        now = due + case.worker_delays[checks % len(case.worker_delays)]
        checks += 1
        recipient = case.recipient
        if case.opted_out_at is not None and now >= case.opted_out_at:
            recipient = replace(recipient, opted_out=True)
        decision = decide(contact, recipient, [*case.history, *made], now, calendar, rules)
        if isinstance(decision, Send):
            made.append(PastContact(at=now, channel=contact.channel, kind=contact.kind))
        elif isinstance(decision, Wait):
            if decision.until <= now:
                raise AssertionError(f"decide asked to wait until {decision.until}, not after now {now}")
            heapq.heappush(queue, (decision.until, index, contact))
        # Suppress: the contact is dropped, as the worker records it with its reason.
    return made


def violations(case: Case, made: Sequence[PastContact], calendar: Calendar, rules: Rules) -> list[str]:
    """Each broken rule among the contacts made, described; empty when every rule held."""
    zone = zone_of(case.recipient)
    found: list[str] = []
    counted = [c for c in case.history if rules.policy(c.kind).caps]
    for contact in made:
        policy = rules.policy(contact.kind)
        local = contact.at.astimezone(zone)
        if policy.windows and not in_window(contact.at, zone, rules, calendar):
            found.append(f"{contact.kind} at {local.isoformat()} outside the window")
        opted_out = case.recipient.opted_out or (case.opted_out_at is not None and contact.at >= case.opted_out_at)
        if policy.honours_opt_out and opted_out:
            found.append(f"{contact.kind} at {local.isoformat()} to an opted-out customer")
        if case.recipient.do_not_contact and not policy.transactional:
            found.append(f"{contact.kind} at {local.isoformat()} to a do-not-contact customer")
        if policy.needs_consent and not case.recipient.marketing_consent:
            found.append(f"{contact.kind} at {local.isoformat()} without marketing consent")
        if not policy.caps:
            continue
        counted.append(contact)
        cls = contact_class(contact.channel)
        caps = rules.caps_for(cls)
        same = [c.at.astimezone(zone).date() for c in counted if contact_class(c.channel) is cls]
        day = local.date()
        for name, limit, key in (
            ("day", caps.day, lambda d: d),
            ("week", caps.week, lambda d: d.isocalendar()[:2]),
            ("month", caps.month, lambda d: (d.year, d.month)),
        ):
            if sum(key(d) == key(day) for d in same) > limit:
                found.append(f"{cls} cap of {limit} a {name} exceeded at {local.isoformat()}")
    return found
