"""The store's tables, as SQLAlchemy Core metadata.

Alembic migrations (`controller/store/migrations/versions/`) create these
tables; a test checks the two agree. Constraint and index names follow
`NAMING_CONVENTION`, so later migrations can refer to them by name.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION: Final = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware instant, stored in UTC and read back as UTC.

    SQLite has no time zones: values are stored as naive UTC text and given
    `UTC` on the way out. A naive datetime is refused with `ValueError`.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: the store keeps timezone-aware instants")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


#: What happened to a controller, newest rows last: start, stop, broker links, ...
controller_events = Table(
    "controller_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False, index=True),
    Column("controller_id", String(128), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("detail", JSON(none_as_null=True), nullable=True),
)

#: One row per controller: the session epoch handed out last.
controller_state = Table(
    "controller_state",
    metadata,
    Column("controller_id", String(128), primary_key=True),
    Column("epoch", BigInteger, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

#: Provinces, communes, villages and free groups: a tree through `parent_id`.
groups = Table(
    "groups",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("parent_id", String(40), ForeignKey("groups.id", ondelete="RESTRICT"), nullable=True),
)

#: The registered receivers; each stands in one village (a group of kind "village").
receivers = Table(
    "receivers",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("village_id", String(40), ForeignKey("groups.id"), nullable=False),
    Column("lat", Float, nullable=True),
    Column("lon", Float, nullable=True),
    Column("languages", JSON, nullable=False),
    Column("speakers", Integer, nullable=False),
    Column("installed", Date, nullable=True),
    Column("notes", Text, nullable=False, server_default=""),
    Column("heartbeat_s", Integer, nullable=False, server_default="60"),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

#: The free groups each receiver belongs to.
receiver_groups = Table(
    "receiver_groups",
    metadata,
    Column(
        "receiver_id",
        String(40),
        ForeignKey("receivers.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("group_id", String(40), ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
)

#: What the controller knows of each registered receiver's health, one row per receiver.
receiver_health = Table(
    "receiver_health",
    metadata,
    Column(
        "receiver_id",
        String(40),
        ForeignKey("receivers.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("state", String(16), nullable=False),
    Column("link_state", String(16), nullable=False),
    Column("since", UtcDateTime, nullable=False),
    Column("cause", String(300), nullable=False),
    Column("epoch", BigInteger, nullable=True),
    Column("last_heard", UtcDateTime, nullable=True),
    Column("heartbeat_s", Integer, nullable=True),
    Column("firmware", String(200), nullable=True),
    Column("capabilities", JSON(none_as_null=True), nullable=True),
    Column("telemetry", JSON(none_as_null=True), nullable=True),
    Column("telemetry_at", UtcDateTime, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
)

#: Every change of a receiver's health state, oldest first.
receiver_transitions = Table(
    "receiver_transitions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "receiver_id",
        String(40),
        ForeignKey("receivers.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("at", UtcDateTime, nullable=False),
    Column("from_state", String(16), nullable=False),
    Column("to_state", String(16), nullable=False),
    Column("cause", String(300), nullable=False),
    Column("epoch", BigInteger, nullable=True),
    Index("ix_receiver_transitions_receiver_id_at", "receiver_id", "at"),
)

#: Receivers' health sampled over time for the dashboard's charts (`controller.store.samples`):
#: at most one row per receiver every few minutes, kept for 30 days.
receiver_samples = Table(
    "receiver_samples",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "receiver_id",
        String(40),
        ForeignKey("receivers.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("at", UtcDateTime, nullable=False),
    Column("state", String(16), nullable=False),
    Column("rsrp_dbm", Integer, nullable=True),
    Column("rssi_dbm", Integer, nullable=True),
    Column("battery_v", Float, nullable=True),
    Index("ix_receiver_samples_receiver_id_at", "receiver_id", "at"),
    Index("ix_receiver_samples_at", "at"),
)

#: Maintenance commands (`controller.maintenance`) asked for a receiver that was not online,
#: waiting for it to come back: the latest of each kind, with the command's own fields as
#: JSON, until it is sent or expires. Kept here so a controller restart does not lose them.
waiting_commands = Table(
    "waiting_commands",
    metadata,
    Column(
        "receiver_id",
        String(40),
        ForeignKey("receivers.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("kind", String(16), primary_key=True),
    Column("fields", Text, nullable=False),
    Column("asked_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
)

#: Receivers heard on the broker that are not in the registry, waiting to be adopted.
unregistered_receivers = Table(
    "unregistered_receivers",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("first_seen", UtcDateTime, nullable=False),
    Column("last_seen", UtcDateTime, nullable=False),
    Column("epoch", BigInteger, nullable=True),
    Column("firmware", String(200), nullable=True),
    Column("messages", Integer, nullable=False, server_default="0"),
    Column("last_topic", String(300), nullable=True),
)

#: Prepared audio in the content store (`audio.content_store`), one row per content:
#: what it is, where it came from, its format and loudness, and who added it when.
audio_contents = Table(
    "audio_contents",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("title", Text, nullable=False),
    Column("language", String(16), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("source_name", Text, nullable=False),
    Column("source_text", Text, nullable=True),
    Column("codec", String(16), nullable=False),
    Column("mime_type", String(64), nullable=False),
    Column("extension", String(16), nullable=False),
    Column("bitrate_kbps", Integer, nullable=False),
    Column("sample_rate", Integer, nullable=False),
    Column("duration_s", Float, nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("chunk_size", Integer, nullable=False),
    Column("chunk_count", Integer, nullable=False),
    Column("loudness_before_lufs", Float, nullable=False),
    Column("true_peak_before_dbtp", Float, nullable=False),
    Column("loudness_after_lufs", Float, nullable=False),
    Column("true_peak_after_dbtp", Float, nullable=False),
    Column("loudness_range_lu", Float, nullable=False),
    Column("added_by", String(200), nullable=False),
    Column("added_at", UtcDateTime, nullable=False, index=True),
)

#: Bulletins (issue 5): what to air, to whom, how; each airing is an occurrence.
bulletins = Table(
    "bulletins",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("title", String(200), nullable=False),
    Column("priority", String(16), nullable=False),
    Column("volume", Integer, nullable=True),
    Column("repeat", Integer, nullable=False),
    Column("chime", String(8), nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("cancelled_at", UtcDateTime, nullable=True),
)

#: A bulletin's audio, one content per language, in the order given: the first (lowest
#: `position`) is its default. A receiver plays its village's language, else "vi", else
#: the default.
bulletin_contents = Table(
    "bulletin_contents",
    metadata,
    Column(
        "bulletin_id",
        String(32),
        ForeignKey("bulletins.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("language", String(16), primary_key=True),
    Column("position", Integer, nullable=False, server_default=text("0")),
    Column(
        "content_id",
        String(64),
        ForeignKey("audio_contents.id", ondelete="RESTRICT"),
        nullable=False,
        index=True,
    ),
)

#: Whom a bulletin is for: "all", a receiver, or a group (village, commune, free group).
#: `target_id` is "" for "all" (a primary key column cannot be null).
bulletin_targets = Table(
    "bulletin_targets",
    metadata,
    Column(
        "bulletin_id",
        String(32),
        ForeignKey("bulletins.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("kind", String(16), primary_key=True),
    Column("target_id", String(40), primary_key=True),
)

#: One airing of a bulletin: when it plays (null: emergency, at once) and until when it may.
occurrences = Table(
    "occurrences",
    metadata,
    Column("id", String(32), primary_key=True),
    Column(
        "bulletin_id",
        String(32),
        ForeignKey("bulletins.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("play_at", UtcDateTime, nullable=True),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("dispatched_at", UtcDateTime, nullable=True),
    Column("cancelled_at", UtcDateTime, nullable=True),
    Column("finished_at", UtcDateTime, nullable=True),
    Column("state", String(16), nullable=False),
    #: the schedule that fired it and the air time it planned; None for a one-off bulletin
    Column("schedule_id", String(40), nullable=True),
    Column("planned_at", UtcDateTime, nullable=True),
    #: deliver from this instant on; None: `delivery.lead_s` before `play_at`
    Column("dispatch_at", UtcDateTime, nullable=True),
    #: why it ended as it did, for people (a `missed` occurrence: why it never went out)
    Column("reason", Text, nullable=True),
    Index("ix_occurrences_state_play_at", "state", "play_at"),
    Index("ix_occurrences_schedule_id_planned_at", "schedule_id", "planned_at", unique=True),
)

#: Where each occurrence stands on each receiver it targets (`devices.delivery`), with
#: the command sent last and, once played, the receiver's proof of play.
deliveries = Table(
    "deliveries",
    metadata,
    Column(
        "occurrence_id",
        String(32),
        ForeignKey("occurrences.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "receiver_id",
        String(40),
        ForeignKey("receivers.id", ondelete="RESTRICT"),
        primary_key=True,
    ),
    Column("state", String(16), nullable=False),
    Column("reason", String(200), nullable=True),
    Column("content_id", String(64), nullable=True),
    Column("epoch", BigInteger, nullable=True),
    Column("seq", BigInteger, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("offered_at", UtcDateTime, nullable=True),
    Column("command_id", String(32), nullable=True),
    Column("started_at", UtcDateTime, nullable=True),
    Column("ended_at", UtcDateTime, nullable=True),
    Column("clock_offset_ms", Integer, nullable=True),
    Column("played_ms", BigInteger, nullable=True),
    Column("played_content", String(64), nullable=True),
    Column("level_db", Float, nullable=True),
    Index("ix_deliveries_receiver_id_state", "receiver_id", "state"),
)

#: Every receipt and every controller move on a delivery, applied or not, oldest first.
#: Neither id is a foreign key: receipts naming unknown occurrences or coming from
#: unknown receivers are kept too, as anomalies.
delivery_events = Table(
    "delivery_events",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("occurrence_id", String(32), nullable=True, index=True),
    Column("receiver_id", String(40), nullable=False),
    Column("source", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("reason", String(200), nullable=True),
    Column("command_id", String(32), nullable=True),
    Column("epoch", BigInteger, nullable=True),
    Column("seq", BigInteger, nullable=True),
    Column("at", UtcDateTime, nullable=False),
    Column("received_at", UtcDateTime, nullable=False, index=True),
    Column("outcome", String(24), nullable=False),
    Column("detail", String(300), nullable=False),
)

#: Schedules (issue 6) as applied from files (`loa schedule apply`): `definition` is the
#: whole schedule as canonical JSON text (`controller.store.schedules`), so "unchanged" is
#: one comparison; title, priority and enabled are copied out for listing and pausing.
schedules = Table(
    "schedules",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("definition", Text, nullable=False),
    Column("title", String(200), nullable=False),
    Column("priority", String(16), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("source", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    #: who applied or added it (`--by`, else the login name)
    Column("created_by", String(200), nullable=False, server_default=""),
    #: "none" (its communes do not ask for approval, or an emergency), "pending", "approved"
    Column("approval", String(16), nullable=False, server_default="none"),
    Column("approved_by", String(200), nullable=True),
    Column("approved_at", UtcDateTime, nullable=True),
)

#: The scheduler's persistent state per schedule (`controller.scheduler`): the revision of
#: the schedule its job was built from, the contents ready to play (language -> content id,
#: text read aloud included) as JSON, since when it counts air times, and up to which
#: planned air time every fire has been handled: after a restart it resumes from there.
schedule_jobs = Table(
    "schedule_jobs",
    metadata,
    Column("schedule_id", String(40), primary_key=True),
    Column("revision", String(64), nullable=False),
    Column("contents", Text, nullable=False),
    Column("since", UtcDateTime, nullable=False),
    Column("handled_through", UtcDateTime, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
)
