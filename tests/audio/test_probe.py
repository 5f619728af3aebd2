"""`probe` on real files made by ffmpeg, with ffprobe and with ffmpeg alone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from audio.errors import AudioTooLong, CodecUnavailable, NotAudioError
from audio.ffmpeg import Tools
from audio.probe import DEFAULT_MAX_DURATION_S, AudioStream, probe
from tests.audio.conftest import Make, amr_nb, bundled_ffmpeg, has_decoder, has_encoder

SINE = ["-f", "lavfi", "-i", "sine=frequency=440:duration=2"]
VIDEO = ["-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=2"]


def _backends() -> list[str]:
    return ["ffprobe", "ffmpeg-only", "bundled-ffmpeg"]


@pytest.fixture(params=_backends())
def tools(request: pytest.FixtureRequest, system_tools: Tools) -> Tools:
    """Probe with ffprobe, with the system ffmpeg alone, and with the imageio-ffmpeg binary."""
    if request.param == "ffprobe":
        return system_tools
    if request.param == "ffmpeg-only":
        return Tools(system_tools.ffmpeg, None)
    bundled = bundled_ffmpeg()
    if bundled is None:
        pytest.skip("imageio-ffmpeg is not installed (pip install imageio-ffmpeg)")
    return Tools(bundled, None, bundled=True)


GOOD = [
    pytest.param(
        "Bản tin: sáng.wav",
        [*SINE],
        "wav",
        AudioStream("pcm_s16le", 1, 44100, 705600),
        id="wav-mono",
    ),
    pytest.param(
        "Thông báo xã Hòa Bình.mp3",
        [*SINE, "-ac", "2", "-c:a", "libmp3lame", "-b:a", "64k"],
        "mp3",
        AudioStream("mp3", 2, 44100, 64000),
        id="mp3-stereo",
    ),
    pytest.param(
        "loa 8 kênh.flac",
        ["-f", "lavfi", "-i", "anoisesrc=duration=2:sample_rate=48000", "-ac", "8"],
        "flac",
        AudioStream("flac", 8, 48000, None),
        id="flac-8ch",
    ),
    pytest.param(
        "điện thoại µ-law.wav",
        [*SINE, "-ar", "8000", "-c:a", "pcm_mulaw"],
        "wav",
        AudioStream("pcm_mulaw", 1, 8000, 64000),
        id="wav-mulaw-8k",
    ),
    pytest.param(
        "nhạc hiệu.m4a",
        [*SINE, "-ac", "2", "-c:a", "aac", "-b:a", "96k"],
        "mov,mp4,m4a,3gp,3g2,mj2",
        AudioStream("aac", 2, 44100, None),
        id="m4a-aac",
    ),
    pytest.param(
        "giọng đọc.ogg",
        [*SINE, "-ar", "48000", "-c:a", "libopus", "-b:a", "32k"],
        "ogg",
        AudioStream("opus", 1, 48000, None),
        id="ogg-opus",
    ),
]


@pytest.mark.parametrize(("name", "args", "format_name", "stream"), GOOD)
def test_audio_formats(  # noqa: PLR0917 (two fixtures and four parameters)
    make: Make, tools: Tools, name: str, args: list[str], format_name: str, stream: AudioStream
) -> None:
    path = make(name, *args)
    result = probe(path, tools=tools)
    assert result.path == path
    assert result.format_name == format_name
    assert result.duration_s == pytest.approx(2.0, abs=0.1)
    assert result.size_bytes == path.stat().st_size
    assert not result.has_video
    assert len(result.audio) == 1
    found = result.audio[0]
    assert (found.codec, found.channels, found.sample_rate) == (
        stream.codec,
        stream.channels,
        stream.sample_rate,
    )
    if stream.bit_rate is not None:
        assert found.bit_rate == pytest.approx(stream.bit_rate, rel=0.1)


def test_video_with_sound_is_accepted(make: Make, tools: Tools) -> None:
    path = make("phóng sự có tiếng.mp4", *VIDEO, *SINE, "-c:v", "mpeg4", "-c:a", "aac", "-shortest")
    result = probe(path, tools=tools)
    assert result.has_video
    assert [s.codec for s in result.audio] == ["aac"]
    assert result.duration_s == pytest.approx(2.0, abs=0.2)


def test_video_whose_sound_stops_early(make: Make, tools: Tools) -> None:
    picture = ["-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=4"]
    path = make("phim 4 giây, tiếng 2 giây.mp4", *picture, *SINE, "-c:v", "mpeg4", "-c:a", "aac")
    result = probe(path, tools=tools)
    assert result.has_video
    expected = 2.0 if tools.ffprobe is not None else 4.0
    assert result.duration_s == pytest.approx(expected, abs=0.1)


def test_wav_written_to_a_pipe(make: Make, tools: Tools) -> None:
    """A WAV streamed by ffmpeg has no sizes in its header (0xFFFFFFFF); it is not "cut"."""
    path = make("qua ống.wav", *SINE, "-f", "wav", "-bitexact")
    data = path.read_bytes()
    path.write_bytes(data[:4] + b"\xff\xff\xff\xff" + data[8:])
    assert probe(path, tools=tools).duration_s == pytest.approx(2.0, abs=0.1)


def test_amr_nb(tmp_path: Path, tools: Tools) -> None:
    path = amr_nb(tmp_path / "ghi âm điện thoại.amr", frames=100)
    if not has_decoder(tools.ffmpeg, "amrnb"):
        with pytest.raises(CodecUnavailable, match=r"no decoder for this audio codec"):
            probe(path, tools=tools)
        return
    result = probe(path, tools=tools)
    assert result.format_name == "amr"
    assert result.audio[0].codec == "amr_nb"
    assert (result.audio[0].channels, result.audio[0].sample_rate) == (1, 8000)
    assert result.duration_s == pytest.approx(2.0, abs=0.1)


def test_codec_this_ffmpeg_cannot_decode(make: Make, system_tools: Tools) -> None:
    """Codec2 (a low-bit-rate voice codec): Debian's ffmpeg has it, imageio-ffmpeg's has not."""
    if not has_encoder(system_tools.ffmpeg, "libcodec2"):
        pytest.skip("this ffmpeg has no libcodec2 encoder to make the input")
    bundled = bundled_ffmpeg()
    if bundled is None:
        pytest.skip("imageio-ffmpeg is not installed (pip install imageio-ffmpeg)")
    path = make("giọng nén.c2", *SINE, "-ar", "8000", "-c:a", "libcodec2", "-mode", "3200")
    tools = Tools(bundled, None, bundled=True)
    if has_decoder(bundled, "codec2") or has_decoder(bundled, "libcodec2"):
        assert probe(path, tools=tools).audio[0].codec == "codec2"
        return
    error = _refused(path, tools, r"has no decoder for this audio codec.*apt-get install ffmpeg")
    assert isinstance(error, CodecUnavailable)


def _refused(
    path: Path, tools: Tools, reason: str, max_duration_s: float = DEFAULT_MAX_DURATION_S
) -> NotAudioError:
    """Probe `path`, expecting a refusal whose message starts with the file and says `reason`."""
    with pytest.raises(NotAudioError) as caught:
        probe(path, tools=tools, max_duration_s=max_duration_s)
    message = str(caught.value)
    assert "file:" not in message, message
    assert " @ 0x" not in message, message
    assert message.startswith(f"{path}: "), message
    assert re.search(reason, message), message
    assert caught.value.path == path
    return caught.value


def test_missing_file(tmp_path: Path, tools: Tools) -> None:
    _refused(tmp_path / "không có.mp3", tools, r"no such file")


def test_folder(tmp_path: Path, tools: Tools) -> None:
    _refused(tmp_path, tools, r"folder")


def test_empty_file(tmp_path: Path, tools: Tools) -> None:
    path = tmp_path / "rỗng.mp3"
    path.touch()
    _refused(path, tools, r"empty \(0 bytes\)")


def test_text_renamed_mp3(tmp_path: Path, tools: Tools) -> None:
    path = tmp_path / "văn bản.mp3"
    path.write_text("Thông báo: họp thôn lúc 8 giờ sáng.\n" * 20, encoding="utf-8")
    _refused(path, tools, r"not an audio or video file that ffmpeg can read")


def test_video_without_sound(make: Make, tools: Tools) -> None:
    path = make("hình không tiếng.mp4", *VIDEO, "-c:v", "mpeg4")
    _refused(path, tools, r"video with no sound track")


def test_zero_second_audio(make: Make, tools: Tools) -> None:
    path = make("im lặng.wav", "-f", "lavfi", "-i", "anullsrc", "-t", "0")
    _refused(path, tools, r"lasts 0 seconds")


def test_truncated_wav(make: Make, tools: Tools) -> None:
    path = make("bị cắt.wav", *SINE)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    _refused(path, tools, r"WAV file is cut short")


def test_corrupt_flac(make: Make, tools: Tools) -> None:
    path = make("hỏng.flac", *SINE)
    data = bytearray(path.read_bytes())
    start = len(data) // 3
    for i in range(start, start + 2000):
        data[i] = (i * 7) % 256
    path.write_bytes(bytes(data))
    _refused(path, tools, r"the audio is damaged")


def test_truncated_m4a(make: Make, tools: Tools) -> None:
    # The index (moov) is written at the end: a copy cut in half cannot be opened.
    path = make("dở dang.m4a", *SINE, "-c:a", "aac")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _refused(path, tools, r"not an audio or video file that ffmpeg can read")


def test_too_long(make: Make, tools: Tools) -> None:
    path = make("quá dài.mp3", *SINE, "-c:a", "libmp3lame")
    error = _refused(
        path, tools, r"lasts 0:00:02, longer than the limit of 0:00:01", max_duration_s=1
    )
    assert isinstance(error, AudioTooLong)
    assert error.limit_s == 1


def test_default_limit_is_four_hours() -> None:
    assert DEFAULT_MAX_DURATION_S == 4 * 3600


def test_quick_look_skips_the_decode(make: Make, tools: Tools) -> None:
    path = make("xem nhanh.flac", *SINE)
    data = bytearray(path.read_bytes())
    start = len(data) // 3
    data[start : start + 2000] = bytes(2000)
    path.write_bytes(bytes(data))
    assert probe(path, tools=tools, decode=False).duration_s == pytest.approx(2.0, abs=0.1)
    _refused(path, tools, r"the audio is damaged")
