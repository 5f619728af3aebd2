"""The text side of text-to-speech: Vietnamese bulletin text made ready to read aloud."""

from audio.tts.numbers_vi import read_number
from audio.tts.vietnamese import TextError, normalise, sentences

__all__ = ["TextError", "normalise", "read_number", "sentences"]
