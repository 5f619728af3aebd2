"""Text-to-speech: bulletin text made ready to read aloud, engines, and text to one WAV.

`synthesise_text(text, language, engine, out_dir)` is the entry point; `EspeakEngine`
is the default engine and `HttpTtsEngine` plugs in a service (see their modules).
"""

from audio.tts.engine import TtsEngine, Voice, language_tags
from audio.tts.errors import TtsError, TtsFailed, TtsUnavailable, VoiceNotFound
from audio.tts.espeak import EspeakEngine
from audio.tts.http_engine import HttpTtsEngine
from audio.tts.numbers_vi import read_number
from audio.tts.synthesise import Speech, speakable_sentences, synthesise_text
from audio.tts.vietnamese import TextError, normalise, sentences

__all__ = [
    "EspeakEngine",
    "HttpTtsEngine",
    "Speech",
    "TextError",
    "TtsEngine",
    "TtsError",
    "TtsFailed",
    "TtsUnavailable",
    "Voice",
    "VoiceNotFound",
    "language_tags",
    "normalise",
    "read_number",
    "sentences",
    "speakable_sentences",
    "synthesise_text",
]
