"""The `audio:` section: ranges, lists and mappings, and what only the encoder knows."""

from __future__ import annotations

from pathlib import Path

import pytest

from audio.chime import ChimeSettings
from controller.audio.settings import prepare_settings, tts_engine
from controller.config import load_config, masked
from loa.errors import ConfigError
from tests.controller.config.test_load import error_of, write


def test_defaults_give_the_issue_s_format_and_loudness(tmp_path: Path) -> None:
    settings = prepare_settings(load_config(write(tmp_path, ""), {}))
    assert settings.target_lufs == -16.0
    assert settings.true_peak_dbtp == -1.0
    assert (settings.format.codec, settings.format.bitrate_kbps) == ("mp3", 48)
    assert settings.format.sample_rate == 24000
    assert settings.chime == ChimeSettings(), "config and audio.chime agree on the default chime"


def test_chime_tones_are_a_list_of_numbers(tmp_path: Path) -> None:
    path = write(
        tmp_path, "audio:\n  chime:\n    before: true\n    tones_hz: [880, 660.5]\n    gap_s: 1\n"
    )
    settings = prepare_settings(load_config(path, {}))
    assert settings.chime.before
    assert settings.chime.tones_hz == (880.0, 660.5)
    assert settings.chime.gap_s == 1.0


@pytest.mark.parametrize(
    ("text", "key", "line", "expected"),
    [
        ("audio:\n  chime:\n    tones_hz: [880,\n      'la']\n", "audio.chime.tones_hz[1]", 3,
         "'la' is not valid; expected a number"),
        ("audio:\n  chime:\n    tones_hz: 880\n", "audio.chime.tones_hz", 3,
         "expected a list of numbers"),
        ("audio:\n  chime:\n    tones_hz: [50]\n", "audio.chime.tones_hz", 3,
         "each from 100 to 4000 Hz"),
        ("audio:\n  target_lufs: -3\n", "audio.target_lufs", 2, "from -40 to -5 LUFS"),
        ("audio:\n  format:\n    codec: aac\n", "audio.format.codec", 3, "one of 'mp3', 'opus'"),
        ("audio:\n  tts:\n    voices: [vi]\n", "audio.tts.voices", 3,
         "expected a mapping of names to texts"),
        ("audio:\n  tts:\n    voices:\n      Vietnamese: vi\n", "audio.tts.voices", 3,
         "language codes as keys"),
        ("audio:\n  tts:\n    http:\n      url: ftp://tts.example\n", "audio.tts.http.url", 4,
         "an http:// or https:// URL"),
    ],
)  # fmt: skip
def test_bad_audio_values_name_the_key_and_line(
    tmp_path: Path, text: str, key: str, line: int, expected: str
) -> None:
    error = error_of(write(tmp_path, text))
    assert error.key == key
    assert error.line == line
    assert expected in str(error)


def test_a_combination_only_the_encoder_refuses_names_the_format_section(tmp_path: Path) -> None:
    path = write(tmp_path, "audio:\n  format:\n    codec: opus\n    sample_rate: 44100\n")
    config = load_config(path, {})  # each value is in range on its own
    with pytest.raises(ConfigError) as caught:
        prepare_settings(config)
    assert caught.value.key == "audio.format"
    assert str(caught.value).startswith(f"{path}: audio.format: ")


def test_http_engine_needs_a_url(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "audio:\n  tts:\n    engine: http\n"), {})
    with pytest.raises(ConfigError, match=r"audio\.tts\.http\.url"):
        tts_engine(config)


def test_the_tts_url_comes_from_the_environment_and_is_masked(tmp_path: Path) -> None:
    url = "https://commune:s3cret@tts.example/v1/speak"
    config = load_config(
        write(tmp_path, "audio:\n  tts:\n    engine: http\n"), {"LOA_TTS_URL": url}
    )
    assert config.audio.tts.http.url == url
    shown = masked(config)["audio"]["tts"]["http"]["url"]
    assert "s3cret" not in shown
    assert "tts.example" in shown
    assert tts_engine(config).name == "http"
