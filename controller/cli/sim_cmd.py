"""`loa sim`: simulated receivers for the broker of this config, faults typed on stdin.

    loa sim --generate [--receivers 30 --villages 6 --seed 1 --out FILE]
    loa sim --registry FILE [--receivers N]
    loa sim --scenario FILE [--seed N] [--report FILE]

`--scenario` runs a scripted scenario (docs/scenarios.md) in a world of its own: a private
broker, a controller and the fleet in this process, timed faults and bulletins, then the
expectations judged (exit 1 when one fails).

`--generate` makes a plausible commune, writes its registry file (YAML) and
imports it into the store of the same config, so the controller knows the
receivers before they connect. `--registry` simulates the receivers of a
registry file the technician already imported.

The receivers verify commands with the controller's public key: by default
`<data_dir>/keys/controller.pub` (written by the controller, shown by `loa keys
show`), or `--public-key` (the key's text or a file holding it). Each keeps its
flash (content cache of at most `--cache-mb`, command ids, occurrences) under
`<data_dir>/sim-receivers/<id>/`, so it survives a restart of `loa sim` like the
epochs do. `--clock-skew S` sets each receiver's clock off by up to S seconds
either way (drawn from the seed); they correct it by the protocol's time sync.
`--latency MS[:JITTER]` and `--chunk-loss RATE` give every receiver a poor 4G link
(in-order latency, audio chunks lost; they ask for repairs).
`--wav-dir DIR` writes what each receiver plays to `DIR/<receiver>-<occurrence>.wav`.

One process holds up to about 10,000 receivers (one core; at most 20,000 open
files). For more, run several: `--shard K/N` makes this process the K-th of N
sharing one fleet. It runs the receivers whose position in the sorted id list
modulo N is K-1, so the N processes agree without talking; each keeps its
epochs in `<data_dir>/sim-epochs-K-of-N.json` (one writer per file).

While it runs, one command per line on standard input: `kill ID` (power cut),
`power-on ID`, `half-open ID` (the link dies without closing), `restore ID`,
`reboot ID`, `speaker-fail ID`, `speaker-ok ID`, `amp-fail ID`, `amp-ok ID`,
`status`, `list`, `quit`. Each answers one line on standard output.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import stat
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from controller.cli.logs import setup_logging
from controller.cli.output import emit_text
from controller.config import Config, load_config
from loa.errors import LoaError

if TYPE_CHECKING:
    from devices.protocol.signing import VerifyKey
    from simulators.fleet import Fleet, Shard
    from simulators.link import LinkShape

log = logging.getLogger(__name__)

FAULTS: dict[str, str] = {
    "kill": "kill",
    "power-on": "power_on",
    "half-open": "half_open",
    "restore": "restore_link",
    "reboot": "reboot",
    "speaker-fail": "fail_speaker",
    "speaker-ok": "repair_speaker",
    "amp-fail": "fail_amplifier",
    "amp-ok": "repair_amplifier",
}


def add_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    parser = commands.add_parser(
        "sim",
        parents=[common],
        help="simulated receivers on this config's broker (faults on stdin)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--registry", type=Path, metavar="FILE", help="receivers of this file")
    source.add_argument(
        "--generate", action="store_true", help="make a commune, write and import its registry"
    )
    source.add_argument(
        "--scenario",
        type=Path,
        metavar="FILE",
        help="run a scenario: its own broker, controller, fleet, faults and checks "
        "(docs/scenarios.md)",
    )
    parser.add_argument(
        "--receivers",
        type=int,
        metavar="N",
        help="how many: with --generate (default 30), or the first N of --registry (default all)",
    )
    parser.add_argument("--villages", type=int, default=6, help="with --generate (default 6)")
    parser.add_argument(
        "--seed",
        default=None,
        help="same seed, same commune, telemetry and faults (default 1, or the scenario's)",
    )
    parser.add_argument(
        "--report", type=Path, metavar="FILE", help="with --scenario: write the JSON report"
    )
    parser.add_argument(
        "--out", type=Path, metavar="FILE", help="where --generate writes the registry"
    )
    parser.add_argument(
        "--heartbeat", type=int, metavar="S", help="heartbeat interval for every receiver"
    )
    parser.add_argument("--keepalive", type=int, default=60, metavar="S", help="MQTT keepalive")
    parser.add_argument(
        "--ramp", type=float, default=100.0, metavar="N", help="receivers started per second"
    )
    parser.add_argument(
        "--duration", type=float, metavar="S", help="stop by itself after S seconds"
    )
    parser.add_argument(
        "--shard",
        type=shard_option,
        metavar="K/N",
        help="run only the K-th of N shares of the fleet (by sorted id), for N processes",
    )
    parser.add_argument(
        "--public-key",
        metavar="TEXT|FILE",
        help="the controller's public key, or a file holding it "
        "(default: <data_dir>/keys/controller.pub)",
    )
    parser.add_argument(
        "--clock-skew",
        type=float,
        metavar="S",
        help="clocks off by up to S seconds either way (default: a few hundred ms)",
    )
    parser.add_argument(
        "--wav-dir", type=Path, metavar="DIR", help="write what each receiver plays as WAVs"
    )
    parser.add_argument(
        "--latency",
        type=_latency,
        metavar="MS[:JITTER]",
        help="every receiver's 4G link adds MS ms (+- JITTER ms), in order, as TCP does",
    )
    parser.add_argument(
        "--chunk-loss",
        type=float,
        metavar="RATE",
        help="every receiver loses this share of audio chunks (0 to 1); it asks for repairs",
    )
    parser.add_argument(
        "--cache-mb",
        type=int,
        default=256,
        metavar="N",
        help="each receiver's content cache, in MiB (default 256)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.scenario is not None:
        from controller.cli.sim_scenario import run_scenario_command

        return run_scenario_command(args)
    if args.report is not None:
        raise LoaError("--report goes with --scenario")
    if args.seed is None:
        args.seed = "1"
    config = load_config(args.config)
    setup_logging("DEBUG" if args.debug else config.logging.level, config.time_zone)
    asyncio.run(simulate(config, args))
    return 0


async def simulate(config: Config, args: argparse.Namespace) -> None:
    from simulators.config import BrokerAddress, ReceiverSpec, SimSettings
    from simulators.epochs import EpochStore
    from simulators.fleet import Fleet

    if args.cache_mb < 1:
        raise LoaError(f"--cache-mb must be at least 1, not {args.cache_mb}")
    if args.clock_skew is not None and args.clock_skew < 0:
        raise LoaError(f"--clock-skew must be >= 0 s, not {args.clock_skew}")
    if not args.ramp > 0:
        raise LoaError(f"--ramp must be more than 0 receivers a second, not {args.ramp}")
    shape = _shape(args)
    public_key = public_key_for(config.data_dir, args.public_key)
    receivers = await _receivers(config, args)
    share = _share(receivers, args.shard)
    if args.shard is not None:
        emit_text(
            f"shard {args.shard}: {len(share)} of the fleet's {len(receivers)} receivers "
            f"(positions {_positions(args.shard)} of the sorted ids), "
            f"{share[0][0]} to {share[-1][0]}"
        )
    broker = config.broker
    settings = SimSettings(
        broker=BrokerAddress(broker.connect_host, broker.port, broker.username, broker.password),
        topic_prefix=config.topic_prefix,
        keepalive=args.keepalive,
        public_key=public_key,
        data_root=config.data_dir / "sim-receivers",
        cache_bytes=args.cache_mb * 1024 * 1024,
        wav_dir=args.wav_dir,
        clock_skew_s=args.clock_skew,
    )
    specs = [ReceiverSpec(rid, args.heartbeat or heartbeat) for rid, heartbeat in share]
    # The simulated flash: epochs keep growing across runs of `loa sim`, as on real boxes.
    epochs = EpochStore(config.data_dir / epoch_file_name(args.shard))
    fleet = Fleet(specs, settings, seed=args.seed, ramp_per_s=args.ramp, epochs=epochs)
    if shape is not None:
        for receiver in fleet:
            receiver.set_link(shape)
        emit_text(f"every link: {shape.describe()}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    emit_text(f"simulating {len(fleet)} receivers on {broker.connect_host}:{broker.port}")
    await fleet.start()
    commands = asyncio.create_task(_read_commands(fleet, stop), name="sim-commands")
    try:
        async with asyncio.timeout(args.duration):
            await stop.wait()
    except TimeoutError:
        pass
    finally:
        commands.cancel()
        await fleet.stop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    status = fleet.status()
    emit_text(
        f"stopped: {status.total} receivers, {status.births} births, "
        f"{status.heartbeats} heartbeats, {status.reconnects} reconnects",
    )


def _latency(text: str) -> tuple[float, float]:
    """`--latency 300` or `300:200` (ms, jitter ms)."""
    latency, _, jitter = text.partition(":")
    try:
        values = (float(latency), float(jitter or 0))
    except ValueError:
        problem = f"{text!r} is not MS or MS:JITTER (e.g. 300:200)"
        raise argparse.ArgumentTypeError(problem) from None
    if min(values) < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: milliseconds are 0 or more")
    return values


def _shape(args: argparse.Namespace) -> LinkShape | None:
    """The link every receiver gets from `--latency` and `--chunk-loss`, or None."""
    from simulators.link import LinkShape

    if args.latency is None and args.chunk_loss is None:
        return None
    latency, jitter = args.latency or (0.0, 0.0)
    try:
        return LinkShape(latency_ms=latency, jitter_ms=jitter, chunk_loss=args.chunk_loss or 0.0)
    except ValueError as exc:
        raise LoaError(f"--chunk-loss {args.chunk_loss}: {exc}") from None


def shard_option(text: str) -> Shard:
    """`--shard K/N` as argparse reads it: a bad value becomes an error naming the flag."""
    from simulators.fleet import Shard

    try:
        return Shard.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def epoch_file_name(shard: Shard | None) -> str:
    """Each shard writes its own epoch file: processes sharing one would overwrite each other.

    The file holds a ceiling per receiver and is rewritten whole, so two writers
    would each drop the other's reservations and epochs could repeat after a restart.
    """
    if shard is None:
        return "sim-epochs.json"
    return f"sim-epochs-{shard.index}-of-{shard.count}.json"


def _share(receivers: list[tuple[str, int]], shard: Shard | None) -> list[tuple[str, int]]:
    if shard is None:
        return receivers
    share = shard.select(receivers)
    if not share:
        raise LoaError(
            f"--shard {shard}: share {shard.index} of {shard.count} is empty: the fleet has "
            f"only {len(receivers)} receivers; use N <= {len(receivers)}"
        )
    return share


def _positions(shard: Shard) -> str:
    """`2, 6, 10, ...` for shard 2/4 (positions counted from 1)."""
    return ", ".join(str(shard.index + n * shard.count) for n in range(3)) + ", ..."


async def _receivers(config: Config, args: argparse.Namespace) -> list[tuple[str, int]]:
    from devices.registry.file import format_registry, read_registry

    if args.registry is not None:
        registry = read_registry(args.registry)
        chosen = registry.receivers[: args.receivers] if args.receivers else registry.receivers
        if not chosen:
            raise LoaError(f"{args.registry}: no receivers to simulate")
        return [(r.id, r.heartbeat_s) for r in chosen]
    from controller.store import Store
    from controller.store.registry import import_registry
    from simulators.commune import generate_commune

    try:
        commune = generate_commune(
            args.seed, receivers=args.receivers or 30, villages=args.villages
        )
    except ValueError as exc:
        raise LoaError(f"cannot generate the commune: {exc}") from exc
    out: Path = args.out or config.data_dir / "sim-registry.yaml"
    await asyncio.to_thread(_write, out, format_registry(commune.registry, "yaml"))
    async with await Store.open(config.store.url) as store:
        await store.upgrade()
        result = await import_registry(
            store, commune.groups, commune.receivers, dry_run=False, at=datetime.now(UTC)
        )
    emit_text(
        f"{commune.commune.name}: {len(commune.receivers)} receivers in "
        f"{len(commune.villages)} villages; registry written to {out} and imported "
        f"({len(result.changes)} changes)",
    )
    return [(r.id, r.heartbeat_s) for r in commune.receivers]


def public_key_for(data_dir: Path, given: str | None) -> VerifyKey | None:
    """The key from `--public-key` (text or file), else the controller's `controller.pub`.

    None (with a warning) when neither exists: the receivers then refuse every command.
    """
    from controller.keys import PUBLIC_NAME, key_folder
    from devices.protocol.signing import VerifyKey

    if given is None:
        path = key_folder(data_dir) / PUBLIC_NAME
        if not path.is_file():
            emit_text(
                f"warning: no controller key at {path} (the controller writes it on its first "
                "start; `loa keys show`): the receivers will refuse every command"
            )
            return None
        return _read_key(path)
    path = Path(given)
    if path.is_file():
        return _read_key(path)
    return VerifyKey.from_text(given, source="--public-key (neither a file nor a key)")


def _read_key(path: Path) -> VerifyKey:
    from devices.protocol.signing import VerifyKey

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LoaError(f"{path}: cannot read the controller's public key: {exc}") from exc
    return VerifyKey.from_text(text, source=str(path))


def _pollable(stream: TextIO) -> bool:
    """Whether the event loop can wait on `stream`: a terminal, a pipe or a socket."""
    try:
        fd = stream.fileno()
        mode = os.fstat(fd).st_mode
    except (OSError, ValueError):
        return False
    return os.isatty(fd) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


async def _read_commands(fleet: Fleet, stop: asyncio.Event) -> None:
    """One command per line from stdin until it closes (then the fleet keeps running)."""
    if not _pollable(sys.stdin):
        return  # /dev/null or a file: nothing will be typed, and epoll cannot watch it
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    try:
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    except (ValueError, OSError, NotImplementedError):
        return  # no usable stdin (a closed or odd stdin): faults are not available
    while True:
        line = await reader.readline()
        if not line:
            return
        words = line.decode(errors="replace").split()
        if words:
            emit_text(_command(fleet, words, stop))


def _command(fleet: Fleet, words: list[str], stop: asyncio.Event) -> str:  # noqa: PLR0911
    verb, *rest = words
    if verb == "quit":
        stop.set()
        return "ok: stopping"
    if verb == "status":
        s = fleet.status()
        return (
            f"ok: {s.online}/{s.total} online, {s.births} births, "
            f"{s.heartbeats} heartbeats, {s.reconnects} reconnects"
        )
    if verb == "list":
        return "ok: " + " ".join(f"{r.id}={r.state}" for r in fleet)
    if verb not in FAULTS:
        known = ", ".join([*FAULTS, "status", "list", "quit"])
        return f"error: unknown command {verb!r}; known: {known}"
    if len(rest) != 1:
        return f"error: {verb} takes one receiver id"
    receiver = fleet.get(rest[0])
    if receiver is None:
        return f"error: no simulated receiver {rest[0]!r}"
    action: Callable[[], None] = getattr(receiver, FAULTS[verb])
    try:
        action()
    except Exception as exc:  # noqa: BLE001 - report it on the command's own line
        return f"error: {verb} {receiver.id} failed: {exc}"
    return f"ok: {verb} {receiver.id}"
