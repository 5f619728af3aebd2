"""The controller's audio library: recordings and typed text made into stored contents.

`AudioLibrary` ties the `audio` package (prepare, text-to-speech, content files) to
the store's `audio_contents` table; `settings` turns the `audio:` config section
into the `audio` package's settings and engine.
"""

from controller.audio.library import Added, AudioLibrary, GcReport, UnknownContent
from controller.audio.settings import build_library, prepare_settings, tts_engine

__all__ = [
    "Added",
    "AudioLibrary",
    "GcReport",
    "UnknownContent",
    "build_library",
    "prepare_settings",
    "tts_engine",
]
