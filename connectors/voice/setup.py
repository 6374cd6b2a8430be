"""Wiring of the phone line into the gateway: the TwiML webhook always, FastAGI when a port is set."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from connectors.voice.audio import PromptFiles
from connectors.voice.fastagi import AgiConfig, FastAgiServer
from connectors.voice.twiml import TwimlChannel, TwimlConfig
from core.keys import SETTINGS_KEY
from core.language import SUPPORTED_LANGUAGES, Language, parse_language
from core.settings import Settings

# The script name in the dialplan: AGI(agi://gateway:4573/bank).
AGI_SCRIPT = "bank"


def twiml_config(settings: Settings) -> TwimlConfig:
    """The TwiML adapter's settings."""
    return TwimlConfig(
        auth_token=settings.twiml_auth_token,
        public_url=settings.twiml_public_url,
        language=settings.voice_language,
        transfer=settings.voice_transfer,
        queue_name=settings.voice_queue_name,
        sip_uri=settings.voice_sip_uri,
        workflow_sid=settings.voice_workflow_sid,
        max_call_seconds=settings.voice_max_call_seconds,
    )


def per_language(value: str) -> dict[Language, str]:
    """'RECOGNIZED_TEXT' (both languages) or 'ru=TEXT_RU,en=TEXT_EN' (each its own) as a value per language."""
    if "=" not in value:
        return dict.fromkeys(SUPPORTED_LANGUAGES, value.strip())
    values: dict[Language, str] = dict.fromkeys(SUPPORTED_LANGUAGES, "")
    for pair in value.split(","):
        code, _, item = pair.partition("=")
        language = parse_language(code)
        if language is None or code.strip().lower() != language:
            raise ValueError(f"{pair!r}: expected ru=<value> or en=<value>")
        values[language] = item.strip()
    return values


def fastagi_server(settings: Settings) -> FastAgiServer:
    """The FastAGI server for settings.fastagi_port (0 picks a free port, for tests)."""
    recordings = dict(pair.split("=", 1) for pair in settings.fastagi_recordings.split(",") if "=" in pair)
    config = AgiConfig(
        host=settings.fastagi_host,
        port=settings.fastagi_port or 0,
        language=settings.voice_language,
        speech_variable=per_language(settings.fastagi_speech_variable),
        speech_app=per_language(settings.fastagi_speech_app),
        max_call_seconds=settings.voice_max_call_seconds,
    )
    return FastAgiServer(config, PromptFiles(Path(settings.fastagi_sounds_dir).resolve(), recordings))


def setup_voice(app: web.Application, path: str) -> None:
    """Register the TwiML webhook under `path` and, when configured, the FastAGI listener."""
    settings = app[SETTINGS_KEY]
    TwimlChannel(twiml_config(settings)).register(app, path)
    if settings.fastagi_port is not None:
        fastagi_server(settings).register(app, AGI_SCRIPT)
