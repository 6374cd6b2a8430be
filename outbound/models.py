"""What outbound work is made of: campaigns, contact attempts and the vocabulary both use."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    """Why the bank reaches out; each kind has its own rules (outbound/rules.py)."""

    PAYMENT_REMINDER = "payment_reminder"
    FRAUD_ALERT = "fraud_alert"
    SERVICE_NOTICE = "service_notice"
    SURVEY = "survey"
    OFFER = "offer"


class Channel(StrEnum):
    """How a contact reaches the customer."""

    TELEGRAM = "telegram"
    SMS = "sms"
    CALL = "call"


class ContactClass(StrEnum):
    """Caps count calls and written messages separately."""

    CALL = "call"
    MESSAGE = "message"


def contact_class(channel: Channel) -> ContactClass:
    """A call is a call; Telegram and SMS are messages."""
    return ContactClass.CALL if channel is Channel.CALL else ContactClass.MESSAGE


class CampaignState(StrEnum):
    """draft -> scheduled -> running <-> paused -> finished; cancelled from any state but finished."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"
    CANCELLED = "cancelled"


# Which transitions a supervisor's action may make.
TRANSITIONS: dict[str, dict[CampaignState, CampaignState]] = {
    "schedule": {CampaignState.DRAFT: CampaignState.SCHEDULED},
    "pause": {CampaignState.SCHEDULED: CampaignState.PAUSED, CampaignState.RUNNING: CampaignState.PAUSED},
    "resume": {CampaignState.PAUSED: CampaignState.RUNNING},
    "cancel": {
        CampaignState.DRAFT: CampaignState.CANCELLED,
        CampaignState.SCHEDULED: CampaignState.CANCELLED,
        CampaignState.RUNNING: CampaignState.CANCELLED,
        CampaignState.PAUSED: CampaignState.CANCELLED,
    },
}


class AttemptState(StrEnum):
    """One contact attempt's life; `unknown` is final until a person resolves it."""

    PLANNED = "planned"
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    REPLIED = "replied"
    FAILED = "failed"
    UNKNOWN = "unknown"
    SUPPRESSED = "suppressed"
    CANCELLED = "cancelled"


# States in which the customer was (or may have been) contacted: they count against the caps.
CONTACTED_STATES = frozenset(
    {AttemptState.SENDING, AttemptState.SENT, AttemptState.DELIVERED, AttemptState.REPLIED, AttemptState.UNKNOWN}
)


class Reason(StrEnum):
    """Why a contact was not made; every suppressed attempt carries one."""

    OPTED_OUT = "opted_out"
    DO_NOT_CONTACT = "do_not_contact"
    NO_MARKETING_CONSENT = "no_marketing_consent"
    CAP_DAY = "cap_day"
    CAP_WEEK = "cap_week"
    CAP_MONTH = "cap_month"
    OUTSIDE_WINDOW = "outside_window"
    CAMPAIGN_ENDED = "campaign_ended"
    NO_CHANNEL = "no_channel"
    PAID = "paid"
    UNKNOWN_CUSTOMER = "unknown_customer"


class AudienceType(StrEnum):
    """A supervisor's list, or a rule over the banking backend."""

    CSV = "csv"
    DUE_IN_DAYS = "due_in_days"


@dataclass(frozen=True)
class Recipient:
    """What the rules need to know about a customer (from the banking backend)."""

    customer_id: str
    timezone: str = "Europe/Moscow"
    opted_out: bool = False
    do_not_contact: bool = False
    marketing_consent: bool = False


@dataclass(frozen=True)
class PastContact:
    """One contact already made (or possibly made): the caps count these."""

    at: datetime
    channel: Channel
    kind: Kind


@dataclass(frozen=True)
class PlannedContact:
    """What the rules judge: a contact of a kind over a channel, not before `earliest_at`, not after `not_after`."""

    kind: Kind
    channel: Channel
    earliest_at: datetime
    not_after: datetime | None = None


@dataclass
class Campaign:
    """A campaign as stored."""

    id: str
    name: str
    kind: Kind
    state: CampaignState
    audience: dict[str, Any]
    templates: dict[str, str]
    channels: list[Channel]
    start: datetime
    end: datetime
    survey: dict[str, Any] | None = None
    created_by: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    counts: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The API's Campaign object (docs/outbound-api.md)."""
        audience = dict(self.audience)
        if audience.get("type") == AudienceType.CSV:
            audience = {"type": "csv", "customer_ids": len(audience.get("customer_ids", []))}
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind.value,
            "state": self.state.value,
            "audience": audience,
            "templates": dict(self.templates),
            "channels": [c.value for c in self.channels],
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "survey": self.survey,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
            "counts": {state.value: self.counts.get(state.value, 0) for state in AttemptState},
        }


@dataclass
class Attempt:
    """One contact attempt: its own id, a customer, a channel and the earliest time it may go."""

    id: str
    kind: Kind
    customer_id: str
    channel: Channel
    state: AttemptState
    earliest_at: datetime
    campaign_id: str | None = None
    notice_id: str | None = None
    integration: str | None = None
    not_after: datetime | None = None
    reason: Reason | None = None
    tries: int = 0
    contacted_at: datetime | None = None
    sent_at: datetime | None = None
    outcome_at: datetime | None = None
    provider_id: str | None = None
    error: str | None = None
    answer: str | None = None
    conversation_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def follow_up(
        self, new_id: str, *, channel: Channel, earliest_at: datetime, not_after: datetime | None, data: dict[str, Any]
    ) -> Attempt:
        """A new attempt of the same contact (the next channel, or again later): queued, none of this one's outcome.

        The notice id stays with the first attempt: it is that attempt's unique key for the integration.
        """
        return Attempt(
            id=new_id,
            kind=self.kind,
            customer_id=self.customer_id,
            channel=channel,
            state=AttemptState.QUEUED,
            earliest_at=earliest_at,
            campaign_id=self.campaign_id,
            integration=self.integration,
            not_after=not_after,
            data=data,
        )

    def planned(self) -> PlannedContact:
        """The attempt as the rules see it."""
        return PlannedContact(self.kind, self.channel, self.earliest_at, self.not_after)

    def to_dict(self) -> dict[str, Any]:
        """The API's Attempt object."""

        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "id": self.id,
            "campaign_id": self.campaign_id,
            "notice_id": self.notice_id,
            "kind": self.kind.value,
            "customer_id": self.customer_id,
            "channel": self.channel.value,
            "state": self.state.value,
            "reason": self.reason.value if self.reason else None,
            "earliest_at": iso(self.earliest_at),
            "sent_at": iso(self.sent_at),
            "outcome_at": iso(self.outcome_at),
            "conversation_id": self.conversation_id,
            "error": self.error,
            "answer": self.answer,
            "tries": self.tries,
        }
