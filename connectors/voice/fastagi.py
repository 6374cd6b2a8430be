"""An asyncio FastAGI server for Asterisk: `AGI(agi://gateway:4573/bank)` in the dialplan.

One TCP connection is one call. Asterisk sends the `agi_*` variables, then
answers each command with `200 result=...`; `HANGUP` or `511` (dead channel)
may come at any point. `CC_LANGUAGE` tells the dialplan the call's language
(the caller may switch it), and the recognized words are read from that
language's variable. At the end the server sets `CC_NEXT` and either hangs up
after the goodbye ("hangup") or sets `CC_CONVERSATION_ID` and returns to the
dialplan, which puts the call into the operators' queue ("transfer"; README, "Phone line").
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import parse_qs

from aiohttp import web

from connectors.voice.audio import PromptFiles
from connectors.voice.calls import CallState, save_call
from connectors.voice.intents import RasaIntentParser
from connectors.voice.prompts import Prompt, Spoken, say
from connectors.voice.session import Heard, NextStep, VoiceOutcome, VoiceSession
from core.banking import create_banking_backend
from core.db import Database
from core.keys import DB_KEY, HTTP_SESSION_KEY, ROUTER_KEY, SETTINGS_KEY
from core.language import Language, parse_language

logger = logging.getLogger(__name__)

CALL_ID_PREFIX = "agi:"
_RESPONSE_RE = re.compile(r"^(?P<code>\d{3})(?: result=(?P<result>\S*))?(?: \((?P<data>.*)\))?")
_ESCAPE_DIGITS = "0123456789*#"
# GET DATA waits this long (ms) after the prompt for the first key.
_KEY_TIMEOUT_MS = 5000
# Free input (no menu, no card digits): up to this many keys, ended by "#".
_FREE_DIGITS = 16
# A silent Asterisk (network trouble) must not hold a call's task forever.
_READ_TIMEOUT_SECONDS = 120.0


# A survey or reminder call is answered while the outbound worker may still be recording it: wait this long for it.
OUTBOUND_SURVEY_WAIT_SECONDS = 5.0


@dataclass(frozen=True)
class OutboundCall:
    """A call the bank placed (connectors/asterisk_outbound.py), as the dialplan's AGI URL describes it.

    `agi_network_script` is "outbound?attempt=att_1&lang=ru&kind=survey&amd=MACHINE": the attempt and
    language from the Originate, AMDSTATUS from the dialplan's AMD().
    """

    attempt_id: str
    language: str
    kind: str
    amd_status: str

    @classmethod
    def of(cls, script: str) -> OutboundCall | None:
        """The outbound call a script name describes; None for an inbound call."""
        _, _, query = script.partition("?")
        fields = {k: v[0] for k, v in parse_qs(query).items()}
        if not fields.get("attempt"):
            return None
        return cls(fields["attempt"], fields.get("lang", ""), fields.get("kind", ""), fields.get("amd", "").upper())

    @property
    def machine(self) -> bool:
        """AMD() heard an answering machine; NOTSURE and HUMAN are treated as a person."""
        return self.amd_status == "MACHINE"

    @property
    def survey(self) -> bool:
        """A survey call: the session asks the survey's first question instead of the greeting."""
        return self.kind == "survey"

    @property
    def own_session(self) -> bool:
        """A survey or payment-reminder call: its session starts from what the worker recorded, not the greeting."""
        return self.kind in ("survey", "payment_reminder")


class AgiHangup(Exception):
    """The caller hung up (HANGUP, 511 on a dead channel, or the connection closed)."""


@dataclass(frozen=True)
class AgiResponse:
    """`200 result=49 endpos=1234` or `200 result=5678 (timeout)` split into parts."""

    code: int
    result: str
    data: str | None


@dataclass(frozen=True)
class AgiConfig:
    """How the FastAGI server listens and reads speech."""

    host: str
    port: int
    language: str
    # Per call language: the channel variable the dialplan's speech engine fills with the recognized words.
    speech_variable: dict[Language, str]
    # Per call language: a dialplan application that runs the recognizer before the variable is read ("" = none).
    speech_app: dict[Language, str]
    max_call_seconds: float


class AgiConnection:
    """One FastAGI conversation with Asterisk over a TCP stream."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def _line(self) -> str:
        raw = await asyncio.wait_for(self._reader.readline(), _READ_TIMEOUT_SECONDS)
        if not raw:
            raise AgiHangup("connection closed")
        return raw.decode("utf-8", errors="replace").rstrip("\r\n")

    async def environment(self) -> dict[str, str]:
        """The `agi_name: value` block that ends with an empty line."""
        variables: dict[str, str] = {}
        while line := await self._line():
            name, _, value = line.partition(":")
            variables[name.strip()] = value.strip()
        return variables

    async def command(self, text: str) -> AgiResponse:
        """Send one command and read its answer.

        Raises:
            AgiHangup: on HANGUP, 511 or a closed connection.
        """
        self._writer.write(text.encode() + b"\n")
        await self._writer.drain()
        while True:
            line = await self._line()
            if line == "HANGUP":
                raise AgiHangup("HANGUP")
            match = _RESPONSE_RE.match(line)
            if match:
                break
            logger.debug("Ignoring AGI line %r", line)
        response = AgiResponse(int(match.group("code")), match.group("result") or "", match.group("data"))
        if response.code == 511:
            raise AgiHangup("511 dead channel")
        if response.code != 200:
            logger.warning("AGI command %r answered %s", text.split(" ", 1)[0], line)
        return response

    async def set_variable(self, name: str, value: str) -> None:
        """`SET VARIABLE name "value"`."""
        await self.command(f'SET VARIABLE {name} "{_quote(value)}"')

    def close(self) -> None:
        """Return the call to the dialplan."""
        self._writer.close()


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def _hung_up(response: AgiResponse) -> bool:
    return response.result == "-1"


class FastAgiServer:
    """The FastAGI listener; calls share the gateway's router and storage."""

    def __init__(self, config: AgiConfig, prompts: PromptFiles) -> None:
        self._config = config
        self._prompts = prompts
        self._connections: set[asyncio.Task[None]] = set()
        self._session: VoiceSession | None = None
        self._db: Database | None = None
        self.port = config.port

    def register(self, app: web.Application, path: str) -> None:
        """Start the listener with the app (after the router exists) and stop it at cleanup.

        `path` is the AGI script name the dialplan uses (agi://host:port/<path>); any name is accepted.
        """
        self._script = path.strip("/")
        app.cleanup_ctx.append(self._serve)

    async def close(self) -> None:
        """Cancel calls in progress."""
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)

    async def _serve(self, app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS_KEY]
        self._db = app[DB_KEY]
        self._session = VoiceSession(
            app[ROUTER_KEY],
            create_banking_backend(settings, app[DB_KEY]),
            RasaIntentParser(app[HTTP_SESSION_KEY], settings.rasa_url, settings.rasa_token),
            app[DB_KEY],
            max_call_seconds=self._config.max_call_seconds,
        )
        server = await asyncio.start_server(self._accept, self._config.host, self._config.port)
        self.port = server.sockets[0].getsockname()[1]
        logger.info("FastAGI listening on %s:%s", self._config.host, self.port)
        yield
        server.close()
        await self.close()
        await server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
            task.add_done_callback(self._connections.discard)
        agi = AgiConnection(reader, writer)
        try:
            await self.call(agi)
        except Exception:
            logger.exception("FastAGI call failed")
        finally:
            agi.close()

    async def call(self, agi: AgiConnection) -> None:
        """Serve one call from the agi_ header to the return to the dialplan."""
        assert self._session is not None and self._db is not None  # noqa: S101 -- set in _serve before listening
        try:
            env = await agi.environment()
        except AgiHangup:
            return
        caller = env.get("agi_callerid", "")
        call_id = CALL_ID_PREFIX + env.get("agi_uniqueid", "unknown")
        # The dialplan may set the channel's language per number; otherwise the line's.
        line_language = parse_language(env.get("agi_language")) or parse_language(self._config.language) or "ru"
        placed = OutboundCall.of(env.get("agi_network_script", ""))
        if placed is not None:
            line_language = parse_language(placed.language) or line_language
            if placed.machine:
                # An answering machine hears nothing about the customer's business (deploy/asterisk/).
                await self._say_and_hang_up(agi, say(Prompt.OUTBOUND_MACHINE, line_language))
                return
            try:
                await self._play(agi, say(Prompt.OUTBOUND_OPENING, line_language))
            except AgiHangup:
                return
        state, outcome = await self._session.start(
            call_id,
            caller if caller and caller != "unknown" else None,
            line_language,
            survey_wait_seconds=OUTBOUND_SURVEY_WAIT_SECONDS if placed is not None and placed.own_session else 0.0,
        )
        told: Language | None = None
        try:
            while True:
                if outcome.language != told:
                    await agi.set_variable("CC_LANGUAGE", outcome.language)
                    told = outcome.language
                heard = await self._perform(agi, state, outcome)
                if heard is None:
                    break
                outcome = await self._session.turn(state, heard)
                await save_call(self._db, state)
        except AgiHangup as err:
            logger.info("Caller hung up in call %s (%s)", call_id, err)
            self._session.end(state, "caller_hangup")
        finally:
            await save_call(self._db, state)

    async def _perform(self, agi: AgiConnection, state: CallState, outcome: VoiceOutcome) -> Heard | None:
        """Play the prompts and collect the answer; None when the call goes back to the dialplan."""
        if outcome.step is not NextStep.GATHER:
            for prompt in outcome.prompts:
                await agi.command(f'STREAM FILE {await self._prompts.sound_for(prompt.text, prompt.language)} ""')
            self._session_end(state, outcome)
            if outcome.step is NextStep.TRANSFER and outcome.conversation_id:
                await agi.set_variable("CC_CONVERSATION_ID", outcome.conversation_id)
                await agi.set_variable("CC_NEXT", "transfer")
            else:
                await agi.set_variable("CC_NEXT", "hangup")
                # The goodbye was said: the call ends here rather than in whatever the dialplan does next.
                await agi.command("HANGUP")
            return None
        # A language without a recognizer variable is served by keys alone.
        speech_variable = self._config.speech_variable.get(outcome.language, "")
        keys_only = outcome.dtmf_only or not speech_variable
        max_digits = outcome.max_digits or _FREE_DIGITS
        if not keys_only:
            await agi.set_variable(speech_variable, "")
        first_key = ""
        # Barge-in: a key during any prompt stops the prompts.
        for prompt in outcome.prompts[:-1]:
            played = await agi.command(
                f'STREAM FILE {await self._prompts.sound_for(prompt.text, prompt.language)} "{_ESCAPE_DIGITS}"'
            )
            if _hung_up(played):
                raise AgiHangup("STREAM FILE result=-1")
            if played.result not in ("", "0"):
                first_key = chr(int(played.result))
                break
        if first_key and max_digits == 1:
            return Heard(digits=first_key)
        last = outcome.prompts[-1] if outcome.prompts and not first_key else None
        sound = await self._prompts.sound_for(last.text, last.language) if last else "silence/1"
        keys = await agi.command(f"GET DATA {sound} {_KEY_TIMEOUT_MS} {max_digits - len(first_key)}")
        if _hung_up(keys):
            raise AgiHangup("GET DATA result=-1")
        digits = first_key + keys.result
        if digits or keys_only:
            return Heard(digits=digits or None)
        speech_app = self._config.speech_app.get(outcome.language, "")
        if speech_app:
            await agi.command(f"EXEC {speech_app}")
        spoken = await agi.command(f"GET VARIABLE {speech_variable}")
        return Heard(speech=spoken.data if spoken.result == "1" else None)

    async def _play(self, agi: AgiConnection, prompt: Spoken) -> None:
        played = await agi.command(f'STREAM FILE {await self._prompts.sound_for(prompt.text, prompt.language)} ""')
        if _hung_up(played):
            raise AgiHangup("STREAM FILE result=-1")

    async def _say_and_hang_up(self, agi: AgiConnection, prompt: Spoken) -> None:
        try:
            await self._play(agi, prompt)
            await agi.set_variable("CC_NEXT", "hangup")
            await agi.command("HANGUP")
        except AgiHangup:
            return

    def _session_end(self, state: CallState, outcome: VoiceOutcome) -> None:
        assert self._session is not None  # noqa: S101 -- set in _serve
        self._session.end(state, "transfer" if outcome.step is NextStep.TRANSFER else "bot_hangup")
