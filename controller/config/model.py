"""The resolved configuration of a Loa controller, as frozen dataclasses.

`controller.config.load.load_config()` builds these from `config.yaml` and the
environment and is the only place that reads either; everything else is handed
the object (or the part of it that it needs).

Field metadata (see `setting()`) tells the loader which environment variable
overrides a key, which values are secrets (masked when printed) and how a
value is checked beyond its type.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

#: A check returns None when the value is good, or what was expected when it is not.
Check = Callable[[Any], str | None]

BrokerMode = Literal["embedded", "external"]
AudioCodec = Literal["mp3", "opus"]
TtsEngineName = Literal["espeak-ng", "http"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


def setting(
    default: Any = None,
    *,
    env: str | None = None,
    secret: bool = False,
    check: Check | None = None,
    default_factory: Callable[[], Any] | None = None,
) -> Any:
    """A dataclass field with Loa's loader metadata."""
    metadata = {"env": env, "secret": secret, "check": check}
    if default_factory is not None:
        return field(default_factory=default_factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def port_check(value: int) -> str | None:
    return None if 1 <= value <= 65535 else "a TCP port from 1 to 65535"


def positive(value: float) -> str | None:
    return None if value > 0 else "a number greater than 0"


def non_negative(value: float) -> str | None:
    return None if value >= 0 else "a number of 0 or more"


def dbm_check(value: int) -> str | None:
    return None if -160 <= value <= 0 else "a level in dBm from -160 to 0"


def duration_check(value: str) -> str | None:
    ok = re.fullmatch(r"[1-9][0-9]*[hdwmy]", value) is not None
    return None if ok else "a duration like '12h', '30d', '8w', '6m' or '1y'"


@dataclass(frozen=True)
class TlsConfig:
    """TLS towards the broker (external mode)."""

    enabled: bool = setting(False)
    ca_file: Path | None = setting(None)
    cert_file: Path | None = setting(None)
    key_file: Path | None = setting(None)


@dataclass(frozen=True)
class ReconnectConfig:
    """Jittered exponential back-off between connection attempts, in seconds."""

    initial_delay: float = setting(0.5, check=positive)
    max_delay: float = setting(30.0, check=positive)


@dataclass(frozen=True)
class EmbeddedBrokerConfig:
    """The private Mosquitto that `loa serve` runs in `embedded` mode."""

    binary: str = setting("mosquitto")
    allow_anonymous: bool = setting(True)
    persistence: bool = setting(True)
    autosave_interval: int = setting(10, check=positive)
    max_queued_messages: int = setting(1_000_000, check=non_negative)
    max_queued_bytes: int = setting(0, check=non_negative)
    max_inflight_messages: int = setting(0, check=non_negative)
    persistent_client_expiration: str | None = setting("30d", check=duration_check)
    restart_delay: float = setting(0.5, check=positive)


@dataclass(frozen=True)
class BrokerConfig:
    mode: BrokerMode = setting("embedded")
    host: str = setting("127.0.0.1", env="LOA_BROKER_HOST")
    port: int = setting(18830, env="LOA_BROKER_PORT", check=port_check)
    username: str | None = setting(None, env="LOA_BROKER_USERNAME")
    password: str | None = setting(None, env="LOA_BROKER_PASSWORD", secret=True)
    client_id: str = setting("loa-controller")
    keepalive: int = setting(30, check=positive)
    connect_timeout: float = setting(10.0, check=positive)
    startup_timeout: float = setting(30.0, check=non_negative)
    tls: TlsConfig = setting(default_factory=TlsConfig)
    reconnect: ReconnectConfig = setting(default_factory=ReconnectConfig)
    embedded: EmbeddedBrokerConfig = setting(default_factory=EmbeddedBrokerConfig)

    @property
    def connect_host(self) -> str:
        """The address a client on this machine uses: an embedded broker bound to every
        interface (`0.0.0.0`, `::`) is reached on the loopback."""
        if self.mode == "embedded" and self.host in ("0.0.0.0", "::"):
            return "127.0.0.1" if self.host == "0.0.0.0" else "::1"
        return self.host


@dataclass(frozen=True)
class StoreConfig:
    #: An SQLAlchemy async URL, already normalised to its async driver:
    #: `sqlite+aiosqlite:///...` or `postgresql+asyncpg://...`.
    url: str = setting("", env="LOA_STORE_URL", secret=True)


def http_port_check(value: int) -> str | None:
    return None if 0 <= value <= 65535 else "a TCP port from 1 to 65535, or 0 for any free port"


DashboardLanguage = Literal["vi", "en"]


@dataclass(frozen=True)
class HttpConfig:
    """The HTTP API and the dashboard, served by `loa serve`."""

    host: str = setting("127.0.0.1", env="LOA_HTTP_HOST")
    port: int = setting(8080, env="LOA_HTTP_PORT", check=http_port_check)
    #: The dashboard's language until a person picks the other one.
    language: DashboardLanguage = setting("vi")
    #: The largest audio upload accepted, in MB.
    max_upload_mb: int = setting(200, check=positive)

    def local_url(self, port: int | None = None) -> str:
        """`http://host:port` as a browser or client on this machine reaches the server: one
        bound to every interface (`0.0.0.0`, `::`) is reached on the loopback. `port`: the
        port actually bound, when the setting is 0."""
        host = self.host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port if port is None else port}"


@dataclass(frozen=True)
class HealthConfig:
    """How receivers' presence is judged and when technicians are alerted."""

    default_heartbeat_s: int = setting(60, check=positive)
    silent_after_intervals: float = setting(3.0, check=positive)
    flapping_transitions: int = setting(5, check=positive)
    flapping_window: float = setting(600.0, check=positive)
    telemetry_flush: float = setting(30.0, check=positive)
    offline_alert_after: float = setting(300.0, check=non_negative)
    silent_alert_after: float = setting(300.0, check=non_negative)
    weak_rsrp_dbm: int = setting(-110, check=dbm_check)
    weak_rssi_dbm: int = setting(-95, check=dbm_check)
    low_battery_v: float = setting(11.8, check=non_negative)
    clock_offset_alert_ms: int = setting(2000, check=positive)
    storage_low_mb: int = setting(100, check=non_negative)


def within(low: float, high: float, unit: str = "") -> Check:
    """A check that a number lies from `low` to `high` inclusive."""
    suffix = f" {unit}" if unit else ""

    def check(value: float) -> str | None:
        return None if low <= value <= high else f"a number from {low:g} to {high:g}{suffix}"

    return check


def tones_check(value: tuple[float, ...]) -> str | None:
    good = 1 <= len(value) <= 8 and all(100 <= tone <= 4000 for tone in value)
    return None if good else "a list of 1 to 8 tones, each from 100 to 4000 Hz"


def language_check(value: str) -> str | None:
    good = re.fullmatch(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*", value) is not None
    return None if good else "a language code like 'vi', 'en' or 'hmn'"


def voices_check(value: dict[str, str]) -> str | None:
    for language, voice in value.items():
        if language_check(language) is not None:
            return f"language codes as keys ({language!r} is not one)"
        if not voice.strip():
            return f"a voice name for each language ({language!r} has none)"
    return None


def http_url_check(value: str) -> str | None:
    good = re.match(r"https?://[^/\s]+", value) is not None
    return None if good else "an http:// or https:// URL"


@dataclass(frozen=True)
class AudioFormatConfig:
    """The one format receivers are sent: MP3 (every receiver plays it) or Opus."""

    codec: AudioCodec = setting("mp3")
    bitrate_kbps: int = setting(48, check=within(6, 320, "kbps"))
    sample_rate: int = setting(24000, check=within(8000, 48000, "Hz"))


@dataclass(frozen=True)
class ChimeConfig:
    """The attention chime played before and/or after a bulletin."""

    before: bool = setting(False)
    after: bool = setting(False)
    #: G5, E5, C5: a falling major triad, heard as "attention" (audio.chime has the same).
    tones_hz: tuple[float, ...] = setting((784.0, 659.25, 523.25), check=tones_check)
    tone_s: float = setting(0.5, check=within(0.1, 2.0, "s"))
    gap_s: float = setting(0.5, check=within(0.0, 5.0, "s"))


@dataclass(frozen=True)
class HttpTtsConfig:
    """A text-to-speech service a commune has bought, reached over HTTP."""

    url: str | None = setting(None, env="LOA_TTS_URL", secret=True, check=http_url_check)
    authorization: str | None = setting(None, env="LOA_TTS_AUTHORIZATION", secret=True)
    timeout: float = setting(30.0, check=positive)


@dataclass(frozen=True)
class TtsConfig:
    """Text read aloud: the engine, its voices by language, the pause between sentences."""

    engine: TtsEngineName = setting("espeak-ng")
    espeak_binary: str = setting("espeak-ng")
    speed_wpm: int = setting(150, check=within(80, 450, "words per minute"))
    voices: dict[str, str] = setting(default_factory=lambda: {"vi": "vi"}, check=voices_check)
    pause_s: float = setting(0.35, check=within(0.0, 3.0, "s"))
    http: HttpTtsConfig = setting(default_factory=HttpTtsConfig)


@dataclass(frozen=True)
class AudioConfig:
    """How uploaded recordings and typed text become broadcast-ready contents."""

    target_lufs: float = setting(-16.0, check=within(-40.0, -5.0, "LUFS"))
    true_peak_dbtp: float = setting(-1.0, check=within(-9.0, 0.0, "dBTP"))
    trim_silence: bool = setting(True)
    silence_threshold_db: float = setting(-50.0, check=within(-90.0, -20.0, "dBFS"))
    silence_keep_s: float = setting(0.2, check=within(0.0, 2.0, "s"))
    max_duration_s: float = setting(4 * 3600.0, check=within(1.0, 24 * 3600.0, "s"))
    chunk_size: int = setting(32 * 1024, check=within(1024, 1024 * 1024, "bytes"))
    default_language: str = setting("vi", check=language_check)
    gc_grace_hours: float = setting(24.0, check=within(0.0, 24 * 365.0, "hours"))
    format: AudioFormatConfig = setting(default_factory=AudioFormatConfig)
    chime: ChimeConfig = setting(default_factory=ChimeConfig)
    tts: TtsConfig = setting(default_factory=TtsConfig)


@dataclass(frozen=True)
class DeliveryConfig:
    """How bulletins reach receivers: how early, how long they stay valid, how fast."""

    lead_s: float = setting(300.0, check=within(0.0, 86_400.0, "s"))
    expires_after_s: float = setting(3600.0, check=within(60.0, 7 * 86_400.0, "s"))
    emergency_expires_after_s: float = setting(900.0, check=within(30.0, 86_400.0, "s"))
    poll_s: float = setting(0.25, check=within(0.05, 10.0, "s"))
    chunks_in_flight: int = setting(32, check=within(1, 1024))
    repair_chunks_per_minute: int = setting(2000, check=within(1, 1_000_000))


_QUIET = re.compile(r"^\s*([01][0-9]|2[0-3]):[0-5][0-9]\s*-\s*([01][0-9]|2[0-3]):[0-5][0-9]\s*$")
QUIET_RULE = "quiet hours as 'HH:MM-HH:MM' in the controller's time zone, or 'none'"


def quiet_check(value: str) -> str | None:
    if value.strip().lower() in ("none", "off"):
        return None
    match = _QUIET.match(value)
    start, _, end = value.partition("-")
    if match is None or start.strip() == end.strip():
        return QUIET_RULE
    return None


def quiet_by_commune_check(value: dict[str, str]) -> str | None:
    for commune, hours in value.items():
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,39}", commune):
            return f"commune ids as keys ({commune!r} is not one)"
        if quiet_check(hours) is not None:
            return f"{QUIET_RULE} for each commune ({commune}: {hours!r})"
    return None


def commune_ids_check(value: tuple[str, ...]) -> str | None:
    for commune in value:
        if commune != "all" and not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,39}", commune):
            return f"commune ids, or all ({commune!r} is not one)"
    return None


@dataclass(frozen=True)
class SchedulesConfig:
    """How the calendar fires: quiet hours, approval, what happens after a restart."""

    #: No sound but emergencies in these hours (local time of `time_zone`), every commune
    quiet_hours: str = setting("22:00-05:00", env="LOA_QUIET_HOURS", check=quiet_check)
    #: A commune's own quiet hours, by commune id (e.g. {tra-linh: "21:30-05:30"})
    quiet_hours_by_commune: dict[str, str] = setting(
        default_factory=dict, check=quiet_by_commune_check
    )
    #: Communes whose schedules wait for a second person's approval ("all" for every one)
    approval: tuple[str, ...] = setting((), check=commune_ids_check)
    #: After the controller was down: an air time passed less than this long ago is still
    #: sent (if it has not expired); an older one is recorded `missed`
    grace_s: float = setting(600.0, check=within(0.0, 86_400.0, "s"))
    #: An occurrence sent late starts this long after it is fired (the audio must arrive)
    late_start_s: float = setting(30.0, check=within(1.0, 3600.0, "s"))
    #: How often `loa serve` looks for schedules applied, paused or approved meanwhile
    sync_s: float = setting(2.0, check=within(0.1, 60.0, "s"))


@dataclass(frozen=True)
class LoggingConfig:
    level: LogLevel = setting("INFO", env="LOA_LOG_LEVEL")


@dataclass(frozen=True)
class Config:
    topic_prefix: str = setting("loa")
    data_dir: Path = setting(Path("data"))
    time_zone: str = setting("Asia/Ho_Chi_Minh")
    broker: BrokerConfig = setting(default_factory=BrokerConfig)
    store: StoreConfig = setting(default_factory=StoreConfig)
    http: HttpConfig = setting(default_factory=HttpConfig)
    health: HealthConfig = setting(default_factory=HealthConfig)
    audio: AudioConfig = setting(default_factory=AudioConfig)
    delivery: DeliveryConfig = setting(default_factory=DeliveryConfig)
    schedules: SchedulesConfig = setting(default_factory=SchedulesConfig)
    logging: LoggingConfig = setting(default_factory=LoggingConfig)
    #: Where this config came from (not a key in the file).
    source: Path | None = field(default=None, compare=False)
    #: The keys an environment variable set, as `("broker.port", "LOA_BROKER_PORT")` pairs.
    env_overrides: tuple[tuple[str, str], ...] = field(default=(), compare=False)
