"""Schedules firing for real: a broker, the controller's scheduler and simulated receivers.

Short test times (air times seconds ahead, `lead_s` of a few seconds, zone UTC) stand for
the commune's 06:00 and 17:00 programme. Receipts come from the simulators' player, so a
`preempted` receipt is what a receiver really did when a priority item cut in. The
restart cases run `loa serve` as a process and SIGKILL it; the DST cases go through the
CLI as an operator would.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from controller.config import Config
from controller.delivery.status import occurrence_report
from controller.scheduler.policy import PolicyError
from controller.store import Store
from controller.store.fires import occurrence_id
from controller.store.schedules import list_schedules
from schedules.model import Schedule
from simulators.fleet import Fleet
from tests.integration.schedule_support import (
    TRUE_CLOCKS,
    VILLAGE,
    Commune,
    ReceiptWatch,
    add_audio,
    apply,
    commune_running,
    daily_at,
    fleet_running,
    has_job,
    now,
    once_at,
    prepare_store,
    stored_occurrences,
    tone,
    until_report,
    until_true,
    write_schedules_config,
)
from tests.support.controller import ServeProcess, run_loa
from tests.support.mosquitto import PrivateMosquitto

pytestmark = [pytest.mark.broker, pytest.mark.slow]

PLAYED = dict.fromkeys(VILLAGE, "played")


@pytest.fixture(scope="module")
def short(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-second recording: one or two chunks."""
    return tone(tmp_path_factory.mktemp("audio"), "tin ngắn", 2)


@pytest.fixture(scope="module")
def long(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An 8-second recording, long enough for a priority item to cut into it."""
    return tone(tmp_path_factory.mktemp("audio"), "chương trình dài", 8)


def planned(schedule_id: str, when_at: datetime, content: str, **fields: object) -> Schedule:
    """A schedule of `content` to the village ban-a; `fields` override the rest."""
    base = Schedule(
        id=schedule_id,
        title=schedule_id.replace("-", " ").title(),
        when=once_at(when_at),
        targets="ban-a",
        contents=(("vi", content),),
        lead_s=3,
    )
    return dataclasses.replace(base, **fields)  # type: ignore[arg-type]


def second(instant: datetime) -> datetime:
    return instant.replace(microsecond=0)


# --- 1. A daily programme ----------------------------------------------------------------


async def test_a_daily_schedule_fires_each_air_time_once_and_the_village_plays_on_time(
    tmp_path: Path, topic_prefix: str, mosquitto: PrivateMosquitto, short: Path
) -> None:
    async with commune_running(tmp_path, topic_prefix, mosquitto, {"tin": short}) as commune:
        start = second(now())
        airs = [start + timedelta(seconds=9), start + timedelta(seconds=17)]
        daily = planned(
            "chuong-trinh", airs[0], commune.audio["tin"], when=daily_at(*airs), lead_s=4
        )
        result = await apply(commune.config, commune.store, daily)
        assert result.ids("added") == ["chuong-trinh"]

        ids = [occurrence_id("chuong-trinh", air) for air in airs]
        for oid in ids:
            await until_report(commune.store, oid, PLAYED, timeout=25)
        found = await stored_occurrences(commune.store, "chuong-trinh")
        assert [row["id"] for row in found] == ids, "one occurrence per air time, no more"
        for row, air in zip(found, airs, strict=True):
            assert row["planned_at"] == air
            assert row["play_at"] == air
            assert row["reason"] is None
            dispatched = row["dispatch_at"]
            assert isinstance(dispatched, datetime)
            early = (air - dispatched).total_seconds()
            assert 3.0 <= early <= 4.2, f"dispatched {early:.2f} s before air time, not ~4 s"
            report = await occurrence_report(commune.store, row["id"])
            assert {d.receiver for d in report.deliveries} == set(VILLAGE), "ban-a only"
            for rx in VILLAGE:
                late = abs((report.proofs[rx].started_at - air).total_seconds())
                assert late <= 1.0, f"{rx} reported its start {late:.2f} s off the air time"
                heard = commune.heard(rx, row["id"])
                assert len(heard) == 1, f"{rx} played it {len(heard)} times"
                off = abs((heard[0].true_start - air).total_seconds())
                assert off <= 1.0, f"{rx} was heard {off:.2f} s off the air time"
        assert not commune.heard("rx-b1", ids[0]), "another village heard nothing"


# --- 2. A clash resolved by priority ----------------------------------------------------


async def test_a_clash_is_refused_unless_forced_and_then_the_priority_item_preempts(
    tmp_path: Path, topic_prefix: str, mosquitto: PrivateMosquitto, short: Path, long: Path
) -> None:
    recordings = {"long": long, "short": short}
    async with commune_running(tmp_path, topic_prefix, mosquitto, recordings) as commune:
        watch = ReceiptWatch(mosquitto, commune.topics, VILLAGE).start()
        try:
            await _clash(commune, watch)
        finally:
            watch.close()


async def _clash(commune: Commune, watch: ReceiptWatch) -> None:
    zone = ZoneInfo(commune.config.time_zone)
    air = second(now()) + timedelta(seconds=8)
    normal = planned("nhac-sang", air, commune.audio["long"])
    urgent = planned(
        "tin-khan", air + timedelta(seconds=3), commune.audio["short"], priority="priority"
    )
    await apply(commune.config, commune.store, normal)

    with pytest.raises(PolicyError) as refused:
        await apply(commune.config, commune.store, urgent)
    assert refused.value.forcible
    message = str(refused.value)
    assert "rx-a1, rx-a2, rx-a3" in message, message
    assert f"{air.astimezone(zone):%H:%M}" in message, message
    assert "interrupts" in message, message
    assert "--force" in message, message
    assert [s.schedule.id for s in await list_schedules(commune.store)] == ["nhac-sang"]

    forced = await apply(commune.config, commune.store, urgent, force=True)
    assert forced.ids("added") == ["tin-khan"]
    assert forced.clashes, "the accepted clash is reported"

    cut = occurrence_id("nhac-sang", air)
    winner = occurrence_id("tin-khan", air + timedelta(seconds=3))
    await until_report(commune.store, winner, PLAYED, timeout=25)
    report = await until_report(commune.store, cut, dict.fromkeys(VILLAGE, "preempted"), timeout=5)
    # the store says who cut in, as the receipt did
    assert {d.reason for d in report.deliveries} == {f"by occurrence {winner}"}
    for rx in VILLAGE:
        receipts = [r for r in watch.receipts(cut) if r.id == rx and r.state == "preempted"]
        assert [r.by for r in receipts] == [winner], f"{rx}: {receipts}"
        heard = commune.heard(rx, cut)
        assert [h.state for h in heard] == ["preempted"], f"{rx} heard {heard}"
        cut_at = (heard[0].true_end - air).total_seconds()
        assert 2.0 <= cut_at <= 4.0, f"{rx}: the normal item was cut {cut_at:.2f} s in, not ~3"


# --- 3. Quiet hours -----------------------------------------------------------------------


def quiet_around(instant: datetime, zone: str) -> str:
    """Quiet hours from an hour before `instant` to an hour after, local `HH:MM-HH:MM`."""
    local = instant.astimezone(ZoneInfo(zone))
    return f"{local - timedelta(hours=1):%H:%M}-{local + timedelta(hours=1):%H:%M}"


async def test_quiet_hours_refuse_normal_items_let_emergencies_play_and_miss_the_rest(
    tmp_path: Path, topic_prefix: str, mosquitto: PrivateMosquitto, short: Path
) -> None:
    quiet = quiet_around(now(), "Asia/Ho_Chi_Minh")
    recordings = {"tin": short}
    async with commune_running(
        tmp_path, topic_prefix, mosquitto, recordings, quiet_hours=quiet
    ) as commune:
        config, store, content = commune.config, commune.store, commune.audio["tin"]
        air = second(now()) + timedelta(seconds=7)
        normal = planned("loa-chieu", air, content)
        with pytest.raises(PolicyError) as refused:
            await apply(config, store, normal)
        assert not refused.value.forcible
        assert "quiet hours" in str(refused.value)
        assert "'loa-chieu'" in str(refused.value)
        assert await list_schedules(store) == [], "nothing stored"

        alarm = planned("bao-lu", air, content, priority="emergency", title="Báo lũ")
        await apply(config, store, alarm)
        # Applied where quiet hours were "none"; fired by this controller, which has them.
        elsewhere = dataclasses.replace(
            config, schedules=dataclasses.replace(config.schedules, quiet_hours="none")
        )
        hushed = planned("tin-lang", air, content, targets="rx-b1")
        await apply(elsewhere, store, hushed)

        await until_report(store, occurrence_id("bao-lu", air), PLAYED, timeout=20)
        missed_id = occurrence_id("tin-lang", air)
        found = await stored_occurrences(store, "tin-lang")
        assert [row["id"] for row in found] == [missed_id]
        assert found[0]["state"] == "missed"
        assert "quiet hours" in str(found[0]["reason"]), found[0]["reason"]
        assert found[0]["dispatch_at"] is None
        assert (await occurrence_report(store, missed_id)).deliveries == ()
        for receiver in commune.fleet:
            assert receiver.delivery is not None
            assert receiver.delivery.state_of(missed_id) is None, f"{receiver.id} was sent it"


# --- 4. Restarts --------------------------------------------------------------------------


async def serve_online(config_path: Path) -> ServeProcess:
    """`loa serve` started and online on the broker."""
    process = ServeProcess(config_path)

    async def online() -> bool:
        if process.process.poll() is not None:
            raise AssertionError(f"loa serve stopped:\n{process.log()}")
        return "presence online" in process.log()

    try:
        await until_true("loa serve online", online, timeout=20, every=0.05)
    except BaseException:
        process.stop()
        raise
    return process


@dataclasses.dataclass
class Site:
    """A commune for `loa serve` run as a process: its config file, store and receivers.

    `process` is the `loa serve` running now, if any; the site stops it on the way out.
    """

    folder: Path
    prefix: str
    mosquitto: PrivateMosquitto
    config_path: Path
    config: Config
    store: Store
    content: str
    fleet: Fleet | None = None
    process: ServeProcess | None = None

    def configure(self, **schedules: object) -> None:
        """Rewrite the config file (read by the next `loa serve`)."""
        self.config_path, self.config = write_schedules_config(
            self.folder, self.prefix, self.mosquitto.port, **schedules
        )

    async def start(self) -> None:
        assert self.process is None, "loa serve is running already"
        self.process = await serve_online(self.config_path)

    def kill(self) -> None:
        """SIGKILL: no goodbye, no write finished, as when the power goes."""
        assert self.process is not None
        self.process.signal(signal.SIGKILL)
        assert self.process.wait(10) == -signal.SIGKILL
        self.stop()

    def stop(self) -> None:
        """SIGTERM (then SIGKILL if it hangs), as an operator stops it."""
        if self.process is not None:
            self.process.stop()
            self.process = None

    def heard(self, receiver_id: str, occurrence: str) -> int:
        """How many times a listener near `receiver_id` heard `occurrence`."""
        assert self.fleet is not None
        delivery = self.fleet[receiver_id].delivery
        assert delivery is not None
        return sum(1 for h in delivery.heard if h.occurrence == occurrence)

    async def fired(self, schedule_id: str) -> list[dict[str, Any]]:
        """Wait for the first occurrence of `schedule_id`; every one stored."""

        async def any_stored() -> bool:
            return bool(await stored_occurrences(self.store, schedule_id))

        await until_true(f"an occurrence of {schedule_id}", any_stored, timeout=15, every=0.01)
        return await stored_occurrences(self.store, schedule_id)


@asynccontextmanager
async def site_running(
    folder: Path, prefix: str, mosquitto: PrivateMosquitto, recording: Path
) -> AsyncIterator[Site]:
    """`loa serve` online and the receivers started after it (their clocks true)."""
    config_path, config = write_schedules_config(folder, prefix, mosquitto.port)
    await prepare_store(config)
    async with await Store.open(config.store.url) as store:
        content = await add_audio(config, store, recording)
        site = Site(folder, prefix, mosquitto, config_path, config, store, content)
        try:
            await site.start()
            async with fleet_running(config, folder, mosquitto, TRUE_CLOCKS) as fleet:
                site.fleet = fleet
                yield site
        finally:
            site.stop()


async def test_a_controller_killed_right_after_a_fire_sends_that_occurrence_once(
    tmp_path: Path, topic_prefix: str, mosquitto: PrivateMosquitto, short: Path
) -> None:
    async with site_running(tmp_path, topic_prefix, mosquitto, short) as site:
        air = second(now()) + timedelta(seconds=7)
        await apply(site.config, site.store, planned("tin-sang", air, site.content))
        oid = occurrence_id("tin-sang", air)
        assert [row["id"] for row in await site.fired("tin-sang")] == [oid]
        site.kill()
        await site.start()
        report = await until_report(site.store, oid, PLAYED, timeout=25)
        await asyncio.sleep(1.0)  # a second fire or a second play would show by now
        found = await stored_occurrences(site.store, "tin-sang")
        assert [row["id"] for row in found] == [oid], "exactly one occurrence"
        assert len(report.deliveries) == 3, "one delivery per receiver"
        for rx in VILLAGE:
            assert site.heard(rx, oid) == 1, f"{rx} played it {site.heard(rx, oid)} times"


async def test_air_times_passed_while_down_are_sent_within_the_grace_and_missed_after_it(
    tmp_path: Path, topic_prefix: str, mosquitto: PrivateMosquitto, short: Path
) -> None:
    async with site_running(tmp_path, topic_prefix, mosquitto, short) as site:
        # Stopped across an air time, with a grace of 10 min: sent late after the restart.
        air = second(now()) + timedelta(seconds=6)
        await apply(site.config, site.store, planned("tin-tre", air, site.content, lead_s=2))
        await until_true("the job built", lambda: has_job(site.store, "tin-tre"), timeout=5)
        site.stop()
        assert await stored_occurrences(site.store, "tin-tre") == [], "stopped before its fire"
        await asyncio.sleep((air - now()).total_seconds() + 1.0)
        restarted = now()
        await site.start()
        late = occurrence_id("tin-tre", air)
        report = await until_report(site.store, late, PLAYED, timeout=25)
        play_at = report.occurrence.play_at
        assert play_at is not None
        assert play_at >= restarted, f"it plays at {play_at}, after the restart {restarted}"
        [row] = await stored_occurrences(site.store, "tin-tre")
        assert (row["id"], row["planned_at"]) == (late, air)
        assert row["state"] != "missed"
        assert row["dispatch_at"] is not None
        assert str(row["reason"]).startswith("late: "), row["reason"]
        for rx in VILLAGE:
            assert site.heard(rx, late) == 1

        # Killed across an air time, with a grace of 1 s: recorded missed, nothing sent.
        air = second(now()) + timedelta(seconds=6)
        await apply(site.config, site.store, planned("tin-lo", air, site.content, lead_s=2))
        await until_true("the job built", lambda: has_job(site.store, "tin-lo"), timeout=5)
        site.kill()
        site.configure(grace_s=1)
        await asyncio.sleep((air - now()).total_seconds() + 2.0)
        await site.start()
        [row] = await site.fired("tin-lo")
        missed = occurrence_id("tin-lo", air)
        assert (row["id"], row["state"], row["dispatch_at"]) == (missed, "missed", None)
        assert "more than the grace of 1 s" in str(row["reason"]), row["reason"]
        await asyncio.sleep(0.5)
        assert (await occurrence_report(site.store, missed)).deliveries == ()
        for rx in VILLAGE:
            assert site.heard(rx, missed) == 0
        assert len(await stored_occurrences(site.store, "tin-tre")) == 1


# --- 5. Daylight saving time through the CLI --------------------------------------------


DST_FILE = """\
schedules:
  - id: praha-jaro
    title: Ranní zprávy (spring forward)
    when: {{daily: "02:30", from: 2027-03-26, until: 2027-03-29, zone: Europe/Prague}}
    targets: ban-a
    contents: {{vi: {content}}}
  - id: praha-podzim
    title: Ranní zprávy (autumn back)
    when: {{daily: "02:30", from: 2026-10-24, until: 2026-10-26, zone: Europe/Prague}}
    targets: ban-a
    contents: {{vi: {content}}}
"""


def loa_json(*args: str) -> object:
    done = run_loa(*args)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


async def test_dst_a_skipped_hour_moves_forward_and_a_repeated_hour_plays_once(
    tmp_path: Path, short: Path
) -> None:
    # The CLI reads the store only: no broker or controller runs (the port is never used).
    config_path, config = write_schedules_config(tmp_path, "loa", 1883)
    await prepare_store(config)
    async with await Store.open(config.store.url) as store:
        content = await add_audio(config, store, short)
    path = tmp_path / "praha.yaml"
    path.write_text(DST_FILE.format(content=content[:12]), encoding="utf-8")

    applied = loa_json("schedule", "apply", str(path), "--config", str(config_path), "--json")
    assert isinstance(applied, dict)
    assert sorted(c["id"] for c in applied["changes"]) == ["praha-jaro", "praha-podzim"]

    shown = loa_json("schedule", "show", "praha-jaro", "--config", str(config_path), "--json")
    assert isinstance(shown, dict)
    spring = [(o["air_local"], o["air_utc"]) for o in shown["occurrences"]]
    assert spring == [
        ("2027-03-26T02:30:00+01:00", "2027-03-26T01:30:00Z"),
        ("2027-03-27T02:30:00+01:00", "2027-03-27T01:30:00Z"),
        ("2027-03-28T03:30:00+02:00", "2027-03-28T01:30:00Z"),  # 02:30 does not exist
        ("2027-03-29T02:30:00+02:00", "2027-03-29T00:30:00Z"),
    ]

    previewed = loa_json(
        "schedule", "preview", str(path), "--id", "praha-podzim",
        "--after", "2026-10-24T00:00", "--json",
    )  # fmt: skip
    assert isinstance(previewed, list)
    autumn = [(o["air_local"], o["air_utc"]) for o in previewed[0]["occurrences"]]
    assert autumn == [
        ("2026-10-24T02:30:00+02:00", "2026-10-24T00:30:00Z"),
        ("2026-10-25T02:30:00+02:00", "2026-10-25T00:30:00Z"),  # the first 02:30 only
        ("2026-10-26T02:30:00+01:00", "2026-10-26T01:30:00Z"),
    ]
