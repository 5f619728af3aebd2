"""Text to one WAV: checked text, sentences spoken and joined with pauses, nothing half-done."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from audio.probe import probe
from audio.tts import (
    EspeakEngine,
    TextError,
    TtsFailed,
    Voice,
    VoiceNotFound,
    speakable_sentences,
    synthesise_text,
)
from audio.tts.synthesise import DEFAULT_MAX_CHARS
from tests.audio.tts.helpers import wav_info, write_tone


@dataclass
class FakeEngine:
    """Speaks each sentence as a tone (`seconds` long), and fails on sentence `fail_at`."""

    seconds: float = 0.5
    rates: tuple[int, ...] = (16000,)  # the rate of each piece in turn (the last repeats)
    channels: int = 1
    fail_at: int | None = None
    write_nothing: bool = False
    calls: list[tuple[str, str, str | None]] = field(default_factory=list)
    name: str = "fake"

    def voices(self) -> list[Voice]:
        return [Voice("vi", "tone")]

    def synthesise(self, text: str, language: str, out: Path, *, voice: str | None = None) -> None:
        self.calls.append((text, language, voice))
        if len(self.calls) == self.fail_at:
            raise TtsFailed(self.name, f"cannot read sentence {self.fail_at}")
        if not self.write_nothing:
            rate = self.rates[min(len(self.calls), len(self.rates)) - 1]
            write_tone(out, self.seconds, rate=rate, channels=self.channels)


THREE_SENTENCES = "Bà con chú ý. Chiều nay có họp. Xin cảm ơn!"


def test_vietnamese_text_becomes_one_wav(espeak: EspeakEngine, tmp_path: Path) -> None:
    text = "Thông báo: họp lúc 06:00 ngày 15/11/2026 tại UBND xã. Bà con đến đúng giờ!"
    speech = synthesise_text(text, "vi", espeak, tmp_path / "out")
    assert speech.sentences == (
        "Thông báo: họp lúc sáu giờ ngày mười lăm tháng mười một năm hai nghìn không trăm "
        "hai mươi sáu tại Ủy ban nhân dân xã.",
        "Bà con đến đúng giờ!",
    )
    assert speech.path.parent == tmp_path / "out"
    assert list((tmp_path / "out").iterdir()) == [speech.path]
    probed = probe(speech.path)
    assert probed.format_name == "wav"
    assert (probed.audio[0].codec, probed.audio[0].channels) == ("pcm_s16le", 1)
    assert probed.duration_s == pytest.approx(speech.duration_s, abs=0.01)
    assert 5 < speech.duration_s < 20
    assert wav_info(speech.path).rms > 1000


def test_pauses_join_the_sentences(espeak: EspeakEngine, tmp_path: Path) -> None:
    tight = synthesise_text(THREE_SENTENCES, "vi", espeak, tmp_path, pause_s=0)
    paused = synthesise_text(THREE_SENTENCES, "vi", espeak, tmp_path, pause_s=1.0)
    assert len(paused.sentences) == 3
    assert paused.duration_s - tight.duration_s == pytest.approx(2.0, abs=0.001)
    assert wav_info(paused.path).duration_s == pytest.approx(paused.duration_s)
    one = synthesise_text("Bà con chú ý.", "vi", espeak, tmp_path, pause_s=1.0)
    assert one.duration_s < tight.duration_s / 2
    assert len(list(tmp_path.iterdir())) == 3  # each call its own file


def test_pieces_of_other_rates_and_channels_are_decoded_to_the_first(tmp_path: Path) -> None:
    engine = FakeEngine(seconds=0.5, rates=(16000, 44100, 8000), channels=2)
    speech = synthesise_text(THREE_SENTENCES, "vi", engine, tmp_path, pause_s=0.25)
    info = wav_info(speech.path)
    assert (info.rate, info.channels, info.sample_width) == (16000, 1, 2)
    assert speech.duration_s == pytest.approx(3 * 0.5 + 2 * 0.25, abs=0.01)
    assert info.rms > 1000


@pytest.mark.parametrize("language", ["vi", "en", "fr"])
@pytest.mark.parametrize("text", ["", "   \n ", "...!?", "🎉👍🏽❤️", "★ — ★ 🇻🇳", "\u200d\ufe0f"])
def test_nothing_to_read_is_a_text_error_before_any_engine_call(
    tmp_path: Path, text: str, language: str
) -> None:
    engine = FakeEngine()
    with pytest.raises(TextError, match=r"nothing to read"):
        synthesise_text(text, language, engine, tmp_path / "out")
    assert engine.calls == []
    assert not (tmp_path / "out").exists()


def test_too_long_text_is_refused_with_a_hint(tmp_path: Path) -> None:
    engine = FakeEngine(seconds=0.01)
    text = "Bà con chú ý. " * 400
    with pytest.raises(TextError, match=r"5,600 characters, more than the 5,000 .*chia thành"):
        synthesise_text(text, "vi", engine, tmp_path)
    assert len(text) > DEFAULT_MAX_CHARS
    assert engine.calls == []
    synthesise_text(text, "vi", engine, tmp_path, max_chars=6000)
    assert engine.calls


def test_emoji_inside_text_are_dropped_in_every_language(tmp_path: Path) -> None:
    engine = FakeEngine()
    synthesise_text("Chào 👋🏽 bà con 🎉!", "vi", engine, tmp_path)
    synthesise_text("Hello 👋🏽 everyone 🎉! Room 12 at 6:30 ❤️.", "en", engine, tmp_path)
    synthesise_text("Café ☕️ à 25°C, 1️⃣ fois.", "fr", engine, tmp_path)
    assert [text for text, _, _ in engine.calls] == [
        "Chào bà con!",
        "Hello everyone!",
        "Room 12 at 6:30.",  # digits are left for the English voice
        "Café à 25°C, 1 fois.",
    ]


def test_only_vietnamese_reads_numbers_in_vietnamese() -> None:
    assert speakable_sentences("Họp lúc 06:00.", "vi-VN") == ["Họp lúc sáu giờ."]
    assert speakable_sentences("Meet at 06:00.", "en") == ["Meet at 06:00."]


def test_language_and_voice_reach_the_engine(tmp_path: Path) -> None:
    engine = FakeEngine()
    synthesise_text("Xin chào.", "vi-VN", engine, tmp_path, voice="tone")
    assert engine.calls == [("Xin chào.", "vi-VN", "tone")]


def test_a_failure_on_the_second_sentence_leaves_nothing(tmp_path: Path) -> None:
    engine = FakeEngine(fail_at=2)
    with pytest.raises(TtsFailed, match=r"cannot read sentence 2"):
        synthesise_text(THREE_SENTENCES, "vi", engine, tmp_path)
    assert len(engine.calls) == 2
    assert list(tmp_path.iterdir()) == []


def test_an_engine_writing_nothing_is_a_failure(tmp_path: Path) -> None:
    with pytest.raises(TtsFailed, match=r"fake failed: it wrote no audio for sentence 1"):
        synthesise_text(THREE_SENTENCES, "vi", FakeEngine(write_nothing=True), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_language_fails_at_the_engine_leaving_nothing(
    espeak: EspeakEngine, tmp_path: Path
) -> None:
    with pytest.raises(VoiceNotFound, match=r"language 'hmn'"):
        synthesise_text("Nyob zoo.", "hmn", espeak, tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("pause_s", [-0.1, 60.0])
def test_pause_out_of_range_is_refused(tmp_path: Path, pause_s: float) -> None:
    with pytest.raises(ValueError, match=r"pause_s must be 0-5"):
        synthesise_text("Xin chào.", "vi", FakeEngine(), tmp_path, pause_s=pause_s)
