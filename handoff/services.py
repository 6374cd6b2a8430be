"""The handoff services one gateway process runs, built once at startup and shared by the views."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from handoff.assignment import AssignmentService
from handoff.bus import EventBus
from handoff.context import KbSearch, ProfileSource, TrackerClient
from handoff.desk import Desk
from handoff.hub import ConsoleHub
from handoff.service_levels import ServiceLevels


@dataclass
class HandoffServices:
    """Bus, assignment, operator desk, console hub and the context sources."""

    bus: EventBus
    assignment: AssignmentService
    desk: Desk
    hub: ConsoleHub
    tracker_client: TrackerClient | None
    profile_source: ProfileSource | None
    kb_search: KbSearch | None
    clock: Callable[[], datetime]
    # Response targets and hours (core/teams.yml, OPERATOR_HOURS); None only in tests that build services by hand.
    levels: ServiceLevels | None = None
