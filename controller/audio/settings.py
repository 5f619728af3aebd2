"""From the `audio:` config section to the `audio` package's settings and TTS engine.

The config loader has already checked each value's range; what is left are the
combinations only the encoder knows (Opus at 44.1 kHz, MP3 at 7 kbps), which
are reported here as config errors naming `audio.format`.
"""

from __future__ import annotations

import functools

from audio.chime import ChimeSettings
from audio.content_store import ContentStore
from audio.encode import EncodeFormat
from audio.prepare import PrepareSettings
from audio.tts.engine import TtsEngine
from audio.tts.espeak import EspeakEngine
from audio.tts.http_engine import HttpTtsEngine
from controller.audio.library import AudioLibrary
from controller.config import Config
from controller.store import Store
from loa.errors import ConfigError


def prepare_settings(config: Config) -> PrepareSettings:
    """The prepare step's settings from `config.audio`."""
    audio = config.audio
    try:
        encode = EncodeFormat(
            codec=audio.format.codec,
            bitrate_kbps=audio.format.bitrate_kbps,
            sample_rate=audio.format.sample_rate,
        )
    except ValueError as exc:
        raise _error(config, "audio.format", str(exc)) from exc
    try:
        chime = ChimeSettings(
            before=audio.chime.before,
            after=audio.chime.after,
            tones_hz=audio.chime.tones_hz,
            tone_s=audio.chime.tone_s,
            gap_s=audio.chime.gap_s,
        )
    except ValueError as exc:
        raise _error(config, "audio.chime", str(exc)) from exc
    return PrepareSettings(
        target_lufs=audio.target_lufs,
        true_peak_dbtp=audio.true_peak_dbtp,
        trim_silence=audio.trim_silence,
        silence_threshold_db=audio.silence_threshold_db,
        silence_keep_s=audio.silence_keep_s,
        format=encode,
        chime=chime,
        max_duration_s=audio.max_duration_s,
    )


def tts_engine(config: Config) -> TtsEngine:
    """The text-to-speech engine `config.audio.tts` names."""
    tts = config.audio.tts
    if tts.engine == "espeak-ng":
        return EspeakEngine(tts.espeak_binary, voices=tts.voices or None, speed_wpm=tts.speed_wpm)
    if tts.http.url is None:
        raise _error(
            config,
            "audio.tts.http.url",
            "audio.tts.engine is 'http' but no URL is set; set audio.tts.http.url "
            "(or LOA_TTS_URL) to the TTS service, or use the engine 'espeak-ng'",
        )
    headers = {"Authorization": tts.http.authorization} if tts.http.authorization else None
    return HttpTtsEngine(tts.http.url, timeout_s=tts.http.timeout, headers=headers)


def _error(config: Config, key: str, problem: str) -> ConfigError:
    source = str(config.source) if config.source is not None else "the defaults"
    return ConfigError(problem, source=source, key=key)


def build_library(config: Config, store: Store) -> AudioLibrary:
    """The audio library of this controller: files in `<data_dir>/audio`, rows in `store`."""
    files = ContentStore(config.data_dir / "audio", chunk_size=config.audio.chunk_size)
    return AudioLibrary(
        store,
        files,
        prepare_settings(config),
        tts=functools.cache(lambda: tts_engine(config)),
        tts_pause_s=config.audio.tts.pause_s,
    )
