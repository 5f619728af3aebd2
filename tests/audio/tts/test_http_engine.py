"""The HTTP TTS adapter against a real local service: the contract, and every failure."""

from __future__ import annotations

import base64
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from audio.tts import (
    EspeakEngine,
    HttpTtsEngine,
    TtsFailed,
    Voice,
    VoiceNotFound,
    synthesise_text,
)
from tests.audio.conftest import Make
from tests.audio.tts.helpers import Answer, TtsService, wav_info


@pytest.fixture(scope="module")
def spoken_wav(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A WAV of real speech, as a service would answer it."""
    out = tmp_path_factory.mktemp("spoken") / "xin-chao.wav"
    EspeakEngine().synthesise("Xin chào bà con.", "vi", out)
    return out.read_bytes()


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A URL on a port where nothing listens (bound, so no one else takes it meanwhile)."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{held.getsockname()[1]}/speak"


def test_the_audio_answered_is_written(
    service: TtsService, spoken_wav: bytes, tmp_path: Path
) -> None:
    service.answer = Answer(spoken_wav)
    out = tmp_path / "piece.wav"
    HttpTtsEngine(service.url).synthesise("Xin chào bà con.", "vi", out)
    assert out.read_bytes() == spoken_wav


def test_the_request_follows_the_contract(
    service: TtsService, spoken_wav: bytes, tmp_path: Path
) -> None:
    service.answer = Answer(spoken_wav)
    engine = HttpTtsEngine(
        service.url,
        headers={"Authorization": "Bearer k3y"},
        voices=[Voice("en", "en-amy"), Voice("vi", "vi-hoa"), Voice("vi", "vi-nam")],
    )
    speech = synthesise_text("Họp lúc 06:00 🎉 nhé", "vi-VN", engine, tmp_path)
    assert speech.sentences == ("Họp lúc sáu giờ nhé",)
    [request] = service.received
    assert request.path == "/speak"
    assert request.json == {"text": "Họp lúc sáu giờ nhé", "language": "vi-VN", "voice": "vi-hoa"}
    assert "sáu giờ".encode() in request.raw  # UTF-8, not \u escapes
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert request.headers["Accept"] == "audio/*"
    assert request.headers["Authorization"] == "Bearer k3y"


def test_a_chosen_voice_is_sent(service: TtsService, spoken_wav: bytes, tmp_path: Path) -> None:
    service.answer = Answer(spoken_wav)
    engine = HttpTtsEngine(service.url, voices=[Voice("vi", "vi-hoa"), Voice("vi", "vi-nam")])
    engine.synthesise("Xin chào.", "vi", tmp_path / "a.wav", voice="vi-nam")
    assert service.received[0].json["voice"] == "vi-nam"


def test_without_declared_voices_the_service_chooses(
    service: TtsService, spoken_wav: bytes, tmp_path: Path
) -> None:
    service.answer = Answer(spoken_wav)
    HttpTtsEngine(service.url).synthesise("Hello.", "en", tmp_path / "a.wav")
    assert service.received[0].json == {"text": "Hello.", "language": "en", "voice": None}
    assert HttpTtsEngine(service.url).voices() == []


@pytest.mark.parametrize(
    ("language", "voice"),
    [("vi", "vi-hoa"), ("vi-VN", "vi-vn-mai"), ("vi_vn", "vi-vn-mai"),
     ("vi-VN-x-south", "vi-vn-mai"), ("en-GB", "en-amy"), ("en", "en-amy")],
)  # fmt: skip
def test_the_most_specific_declared_voice_is_chosen(language: str, voice: str) -> None:
    declared = [Voice("vi", "vi-hoa"), Voice("vi-VN", "vi-vn-mai"), Voice("en-GB", "en-amy")]
    assert HttpTtsEngine("http://tts.example/speak", voices=declared).voice_for(language) == voice


@pytest.mark.parametrize(
    ("language", "voice", "message"),
    [
        ("en", None, r"no http voice for language 'en'; voices: vi-hoa \(vi\)"),
        ("vi", "vi-nam", r"no http voice named 'vi-nam'"),
    ],
)
def test_voices_the_service_lacks_are_refused_before_asking(
    service: TtsService, tmp_path: Path, language: str, voice: str | None, message: str
) -> None:
    engine = HttpTtsEngine(service.url, voices=[Voice("vi", "vi-hoa")])
    with pytest.raises(VoiceNotFound, match=message):
        engine.synthesise("Hello.", language, tmp_path / "a.wav", voice=voice)
    assert service.received == []


def test_a_password_in_the_url_is_sent_as_basic_auth_and_masked(
    service: TtsService, tmp_path: Path
) -> None:
    service.answer = Answer(b"overloaded", "text/plain", status=500)
    url = service.url.replace("http://", "http://loa:s%40cret@")
    with pytest.raises(TtsFailed) as raised:
        HttpTtsEngine(url).synthesise("Xin chào.", "vi", tmp_path / "a.wav")
    expected = base64.b64encode(b"loa:s@cret").decode()
    assert service.received[0].headers["Authorization"] == f"Basic {expected}"
    message = str(raised.value)
    assert "s%40cret" not in message
    assert "s@cret" not in message
    assert "http://loa:***@127.0.0.1" in message


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (Answer(b"database down", "text/plain", status=500), r"answered 500 .*'database down'"),
        (Answer(b"", status=404), r"answered 404 Not Found"),
        (Answer(b"<html>login</html>", "text/html"), r"'text/html', not audio: '<html>login"),
        (Answer(b""), r"empty body"),
        (Answer(b"", status=204), r"empty body"),
        (
            Answer(b"", status=302, headers={"Location": "http://127.0.0.1:1/elsewhere"}),
            r"answered 302",
        ),
        (
            Answer(b"", headers={"Content-Length": str(100 * 2**20)}),
            r"announced 104,857,600 bytes",
        ),
    ],
    ids=["500", "404", "html", "empty", "204", "redirect", "too-big"],
)
def test_bad_answers_are_failures_naming_the_url(
    service: TtsService, tmp_path: Path, answer: Answer, message: str
) -> None:
    service.answer = answer
    out = tmp_path / "a.wav"
    with pytest.raises(TtsFailed, match=message) as raised:
        HttpTtsEngine(service.url, timeout_s=5).synthesise("Xin chào.", "vi", out)
    assert service.url in str(raised.value)
    assert not out.exists()


def test_a_slow_service_times_out(service: TtsService, tmp_path: Path) -> None:
    service.answer = Answer(b"late", delay_s=20)
    out = tmp_path / "a.wav"
    started = time.monotonic()
    with pytest.raises(TtsFailed, match=r"did not answer within 0.5 s"):
        HttpTtsEngine(service.url, timeout_s=0.5).synthesise("Xin chào.", "vi", out)
    assert time.monotonic() - started < 5
    assert not out.exists()


def test_a_service_dripping_its_answer_times_out(service: TtsService, tmp_path: Path) -> None:
    service.answer = Answer(b"RIFF" * 100, drip_s=0.05)  # 20 s for the whole body
    started = time.monotonic()
    with pytest.raises(TtsFailed, match=r"did not answer within 0.5 s"):
        HttpTtsEngine(service.url, timeout_s=0.5).synthesise("Xin chào.", "vi", tmp_path / "a.wav")
    assert time.monotonic() - started < 5  # the whole answer is bounded, not each byte
    assert not (tmp_path / "a.wav").exists()


def test_a_refused_connection_is_a_failure(refused_url: str, tmp_path: Path) -> None:
    with pytest.raises(TtsFailed, match=r"could not be reached \(.*refused"):
        HttpTtsEngine(refused_url, timeout_s=5).synthesise("Xin chào.", "vi", tmp_path / "a.wav")


@pytest.mark.parametrize(
    "url",
    ["ftp://tts.example/speak", "file:///etc/passwd", "http://", "tts.example/speak",
     "http://tts.example:99999/speak"],
)  # fmt: skip
def test_only_http_urls_with_a_host_are_accepted(url: str) -> None:
    with pytest.raises(ValueError, match=r"give an http:// or https:// URL"):
        HttpTtsEngine(url)


def test_a_secret_in_a_refused_url_is_masked() -> None:
    with pytest.raises(ValueError, match=r"ftp://loa:\*\*\*@tts") as raised:
        HttpTtsEngine("ftp://loa:hunter2@tts.example/speak")
    assert "hunter2" not in str(raised.value)


def test_mp3_answers_are_joined_into_one_wav(
    service: TtsService, make: Make, tmp_path: Path
) -> None:
    mp3 = make("tone.mp3", "-f", "lavfi", "-i", "sine=frequency=440:duration=1:sample_rate=24000",
               "-ac", "2", "-c:a", "libmp3lame", "-b:a", "64k")  # fmt: skip
    service.answer = Answer(mp3.read_bytes(), "audio/mpeg")
    out_dir = tmp_path / "out"
    speech = synthesise_text(
        "Một. Hai. Ba.", "vi", HttpTtsEngine(service.url), out_dir, pause_s=0.5
    )
    assert len(service.received) == 3
    info = wav_info(speech.path)
    assert (info.rate, info.channels) == (24000, 1)
    assert speech.duration_s == pytest.approx(info.duration_s)
    assert speech.duration_s == pytest.approx(3 * 1.0 + 2 * 0.5, abs=0.2)  # MP3 adds padding
    assert [path.name for path in out_dir.iterdir()] == [speech.path.name]


def test_an_answer_that_is_not_audio_after_all_leaves_nothing(
    service: TtsService, tmp_path: Path
) -> None:
    service.answer = Answer(b"RIFF-but-not-really " * 20, "audio/wav")
    with pytest.raises(TtsFailed, match=r"sentence 1 cannot be decoded"):
        synthesise_text("Xin chào.", "vi", HttpTtsEngine(service.url), tmp_path)
    assert list(tmp_path.iterdir()) == []
