"""Prompt audio for Asterisk: configured recordings for the line's fixed prompts, espeak-ng for the rest."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import shutil
import struct
import wave
from pathlib import Path

from connectors.voice.prompts import Prompt, prompt_text
from core.language import parse_language

logger = logging.getLogger(__name__)

# Asterisk's "wav" format is 8 kHz, 16-bit, mono; espeak-ng writes 22.05 kHz, so prompts are resampled.
ASTERISK_WAV_RATE = 8000
_ESPEAK_VOICES = {"ru": "ru", "en": "en-us"}


class SynthesisError(RuntimeError):
    """A prompt could not be turned into audio."""


def resample_wav(source: Path, target: Path, rate: int = ASTERISK_WAV_RATE) -> None:
    """Write `source` (16-bit mono WAV) at `rate` Hz by linear interpolation; enough for telephone speech."""
    with wave.open(str(source), "rb") as inp:
        if inp.getsampwidth() != 2 or inp.getnchannels() != 1:
            raise SynthesisError(f"{source} is not 16-bit mono; check the espeak-ng build")
        source_rate = inp.getframerate()
        frames = inp.readframes(inp.getnframes())
    samples = struct.unpack(f"<{len(frames) // 2}h", frames)
    count = int(len(samples) * rate / source_rate)
    step = source_rate / rate
    out = []
    for index in range(count):
        position = index * step
        left = int(position)
        right = min(left + 1, len(samples) - 1)
        fraction = position - left
        out.append(int(samples[left] * (1 - fraction) + samples[right] * fraction))
    with wave.open(str(target), "wb") as result:
        result.setnchannels(1)
        result.setsampwidth(2)
        result.setframerate(rate)
        result.writeframes(struct.pack(f"<{len(out)}h", *out))


class PromptFiles:
    """Sound names for `STREAM FILE` / `GET DATA` (paths without extension, as Asterisk wants them)."""

    def __init__(self, spool_dir: Path, recordings: dict[str, str] | None = None, espeak: str = "espeak-ng") -> None:
        """Prepare the spool.

        Args:
            spool_dir: Where synthesized prompts are written; Asterisk must read the same path.
            recordings: Prompt key (e.g. "greeting", "transfer") -> recorded sound name, used for
                the line's fixed prompts instead of synthesis.
            espeak: The espeak-ng executable.
        """
        self._spool = spool_dir
        self._recordings = recordings or {}
        self._espeak = espeak

    async def sound_for(self, text: str, language: str) -> str:
        """A recording for a fixed prompt if one is configured, else the text synthesized (cached by content).

        Recordings are named per language, "greeting.en"; a bare name ("greeting") is the Russian one.
        """
        lang = parse_language(language) or "ru"
        for prompt in Prompt:
            if prompt_text(prompt, lang) != text:
                continue
            for name in (f"{prompt.value}.{lang}", prompt.value if lang == "ru" else ""):
                if name in self._recordings:
                    return self._recordings[name]
        digest = hashlib.sha256(f"{lang}\n{text}".encode()).hexdigest()[:24]
        target = self._spool / f"cc-{digest}.wav"
        if not target.exists():
            await self._synthesize(text, lang, target)
        return str(target.with_suffix(""))

    async def _synthesize(self, text: str, language: str, target: Path) -> None:
        if shutil.which(self._espeak) is None:
            raise SynthesisError(f"{self._espeak} is not installed; install espeak-ng or configure recorded prompts")
        self._spool.mkdir(parents=True, exist_ok=True)
        raw = target.with_suffix(".raw.wav")
        process = await asyncio.create_subprocess_exec(
            self._espeak,
            "-v",
            _ESPEAK_VOICES.get(language, "ru"),
            "-w",
            str(raw),
            "--",
            text,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await process.communicate()
        if process.returncode != 0:
            raise SynthesisError(f"espeak-ng failed: {stderr.decode(errors='replace').strip()}")
        await asyncio.to_thread(resample_wav, raw, target)
        raw.unlink(missing_ok=True)
