"""espeak-ng, really run: Vietnamese speech, voices, and its failures told plainly."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from audio.errors import AudioError
from audio.tts import (
    EspeakEngine,
    TtsFailed,
    TtsUnavailable,
    Voice,
    VoiceNotFound,
    normalise,
)
from tests.audio.tts.helpers import wav_info


def test_vietnamese_time_and_date_are_spoken_at_a_plausible_length(
    espeak: EspeakEngine, tmp_path: Path
) -> None:
    text = normalise("Bà con chú ý: họp lúc 06:00 ngày 15/11/2026 tại nhà văn hóa.")
    assert "sáu giờ" in text
    assert "mười lăm tháng mười một" in text
    out = tmp_path / "speech.wav"
    espeak.synthesise(text, "vi", out)
    info = wav_info(out)
    assert (info.rate, info.channels, info.sample_width) == (22050, 1, 2)
    words = len(text.split())  # 25 syllables: about 10 s at 150 words a minute
    assert words * 60 / 150 * 0.5 < info.duration_s < words * 60 / 150 * 1.5
    assert info.rms > 1000  # speech, not silence


def test_more_text_is_longer_speech(espeak: EspeakEngine, tmp_path: Path) -> None:
    espeak.synthesise("Xin chào bà con.", "vi", tmp_path / "short.wav")
    espeak.synthesise("Xin chào bà con. " * 4, "vi", tmp_path / "long.wav")
    short = wav_info(tmp_path / "short.wav").duration_s
    assert wav_info(tmp_path / "long.wav").duration_s > 3 * short


def test_slower_speed_is_longer_speech(tmp_path: Path) -> None:
    text = "Thông báo của Ủy ban nhân dân xã về lịch tiêm phòng cho đàn gia súc."
    EspeakEngine(speed_wpm=100).synthesise(text, "vi", tmp_path / "slow.wav")
    EspeakEngine(speed_wpm=200).synthesise(text, "vi", tmp_path / "fast.wav")
    slow = wav_info(tmp_path / "slow.wav").duration_s
    assert slow > 1.5 * wav_info(tmp_path / "fast.wav").duration_s


@pytest.mark.parametrize("text", ["--help xin chào", "-v en -w /dev/null xin chào", "- xin chào"])
def test_text_starting_with_a_dash_is_read_not_taken_as_an_option(
    espeak: EspeakEngine, tmp_path: Path, text: str
) -> None:
    out = tmp_path / "dash.wav"
    espeak.synthesise(text, "vi", out)
    assert wav_info(out).duration_s > 0.1


def test_missing_binary_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(TtsUnavailable, match=r"apt-get install espeak-ng") as raised:
        EspeakEngine(tmp_path / "no-espeak-ng-here")
    assert isinstance(raised.value, AudioError)


def test_no_espeak_on_path_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(TtsUnavailable, match=r"espeak-ng was not found.*apt-get install espeak-ng"):
        EspeakEngine()


def test_unknown_language_names_it_and_lists_the_voices(
    espeak: EspeakEngine, tmp_path: Path
) -> None:
    out = tmp_path / "hmn.wav"
    with pytest.raises(VoiceNotFound, match=r"no espeak-ng voice for language 'hmn'") as raised:
        espeak.synthesise("Nyob zoo", "hmn", out)
    assert {"vi", "vi-vn-x-central", "vi-vn-x-south"} <= set(raised.value.available)
    assert "vi-vn-x-south" in str(raised.value)
    assert not out.exists()


@pytest.mark.parametrize(
    ("language", "voice"),
    [
        ("vi", "vi"),
        ("VI", "vi"),
        ("vi-VN", "vi"),
        ("vi_VN", "vi"),
        ("en", "en"),
        ("en-US", "en-us"),
        ("fr", "fr-fr"),  # from the "other languages" column
        ("zh", "cmn"),
    ],
)
def test_languages_find_their_voice(espeak: EspeakEngine, language: str, voice: str) -> None:
    assert espeak.voice_for(language) == voice


def test_voices_list_the_three_vietnamese_ones(espeak: EspeakEngine) -> None:
    vietnamese = [voice for voice in espeak.voices() if voice.language == "vi"]
    assert vietnamese == [
        Voice("vi", "vi"),
        Voice("vi", "vi-vn-x-central"),
        Voice("vi", "vi-vn-x-south"),
    ]


def test_a_chosen_voice_and_variant_change_the_speech(espeak: EspeakEngine, tmp_path: Path) -> None:
    text = "Xin chào bà con."
    espeak.synthesise(text, "vi", tmp_path / "north.wav")
    espeak.synthesise(text, "vi", tmp_path / "south.wav", voice="vi-vn-x-south")
    espeak.synthesise(text, "vi", tmp_path / "female.wav", voice="vi+f3")
    north = (tmp_path / "north.wav").read_bytes()
    assert (tmp_path / "south.wav").read_bytes() != north
    assert (tmp_path / "female.wav").read_bytes() != north


@pytest.mark.parametrize(
    ("voice", "listed"),
    [("klingon", "vi-vn-x-south"), ("vi+no-such-variant", "vi+f3")],
)
def test_an_unknown_voice_or_variant_is_refused_with_the_choices(
    espeak: EspeakEngine, tmp_path: Path, voice: str, listed: str
) -> None:
    with pytest.raises(
        VoiceNotFound, match=re.escape(f"no espeak-ng voice named '{voice}'")
    ) as raised:
        espeak.synthesise("Xin chào.", "vi", tmp_path / "x.wav", voice=voice)
    assert listed in raised.value.available


def test_the_voice_map_chooses_per_language() -> None:
    engine = EspeakEngine(voices={"vi": "vi-vn-x-south", "hmn": "vi"})
    assert engine.voice_for("vi-VN") == "vi-vn-x-south"
    assert engine.voice_for("hmn") == "vi"
    assert engine.voice_for("en") == "en"  # the defaults stay for other languages


def test_a_voice_map_entry_espeak_lacks_is_named() -> None:
    engine = EspeakEngine(voices={"vi": "vi-vn-x-highlands"})
    with pytest.raises(VoiceNotFound, match=r"named 'vi-vn-x-highlands'"):
        engine.voice_for("vi")


def test_espeak_failing_is_reported_with_its_message(
    espeak: EspeakEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # espeak-ng's data gone (a broken install): the voice list is read, speaking fails.
    monkeypatch.setenv("ESPEAK_DATA_PATH", str(tmp_path))
    out = tmp_path / "x.wav"
    with pytest.raises(TtsFailed, match=r"exited with status 1 .*phontab"):
        espeak.synthesise("Xin chào.", "vi", out)
    assert not out.exists()


def test_espeak_writing_nothing_is_a_failure(espeak: EspeakEngine, tmp_path: Path) -> None:
    # espeak-ng exits 0 when it cannot write its output; the missing audio gives it away.
    with pytest.raises(TtsFailed, match=r"wrote no audio .*Can't write to"):
        espeak.synthesise("Xin chào.", "vi", tmp_path / "missing-folder" / "x.wav")


def test_a_broken_install_fails_when_listing_voices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ESPEAK_DATA_PATH", str(tmp_path))
    with pytest.raises(TtsFailed, match=r"--voices` exited with status 1"):
        EspeakEngine().voices()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"speed_wpm": 20}, "80-450 words per minute"), ({"timeout_s": 0}, "positive")],
)
def test_settings_out_of_range_are_refused(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EspeakEngine(**kwargs)  # type: ignore[arg-type]
