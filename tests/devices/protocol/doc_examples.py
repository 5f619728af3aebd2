"""The examples of the bulletin section of `docs/protocol.md`, made by the code.

`test_documented_examples.py` checks that each appears verbatim in the doc, so the
doc cannot drift from the code. Run this module to print them after a change:
`.venv/bin/python -m tests.devices.protocol.doc_examples`.

The example key is made from a published seed (the bytes 0 to 31): Ed25519
signatures are deterministic, so firmware authors can reproduce every signature
here as a test vector.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from devices.protocol import (
    Assign,
    Cancel,
    Command,
    ContentRef,
    Play,
    Proof,
    Receipt,
    ReceiverBirth,
    RepairRequest,
    SigningKey,
    TimeReply,
    TimeRequest,
    canonical,
)

SEED = bytes(range(32))
KEY = SigningKey(Ed25519PrivateKey.from_private_bytes(SEED))
RX = "cb-tl-01"
GROUP = "ban-na-vuong"
ISSUED = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
OCCURRENCE = "5f0c3a7be1d24c9a8e6b1f2d3c4b5a69"
BULLETIN = "a3e1c0d9b8f74e6a95d2c1b0a9f8e7d6"
CONTENT = ContentRef(
    content="6f2c8e1a9b7d5c3e1f0a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e2f4a6b8c0d2e",
    size=40_000,
    chunk_size=32_768,
    chunk_sha256=(
        "1d3f5b7a9c0e2f4a6b8c0d2e4f6a8b0c2d4e6f8a0b1c3d5e7f9a1b3c5d7e9f0a",
        "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d",
    ),
    codec="mp3",
    duration_ms=10_000,
)


def command(body: Assign | Play | Cancel | TimeReply, to: str, command_id: str) -> Command:
    return Command(command_id, to, ISSUED, ISSUED + timedelta(hours=1), body)


GROUPS = (GROUP, "xa-ta-lung", "cao-bang")
ASSIGN = command(Assign(GROUPS, "tay"), f"rx:{RX}", "0" * 31 + "1")
PLAY = command(
    Play(
        occurrence=OCCURRENCE,
        bulletin=BULLETIN,
        title="Thông báo họp thôn",
        priority="normal",
        play_at=ISSUED + timedelta(minutes=30),
        expires_at=ISSUED + timedelta(minutes=45),
        volume=80,
        repeat=1,
        contents={"vi": CONTENT},
    ),
    f"grp:{GROUP}",
    "0" * 31 + "2",
)
CANCEL = command(Cancel(OCCURRENCE), f"grp:{GROUP}", "0" * 31 + "3")
TIME = command(
    TimeReply(
        request=17,
        received=ISSUED + timedelta(milliseconds=120),
        sent=ISSUED + timedelta(milliseconds=121),
    ),
    f"rx:{RX}",
    "0" * 31 + "4",
)
AT = ISSUED + timedelta(minutes=1)
PROOF = Proof(
    started_at=ISSUED + timedelta(minutes=30),
    ended_at=ISSUED + timedelta(minutes=30, seconds=10, milliseconds=40),
    clock_offset_ms=-1840,
    content=CONTENT.content,
    played_ms=10_040,
    level_db=-18.5,
)
RECEIPTS = (
    Receipt(RX, 7, 0, OCCURRENCE, "accepted", AT, command=PLAY.id),
    Receipt(RX, 7, 1, OCCURRENCE, "downloading", AT, have=1),
    Receipt(RX, 7, 2, OCCURRENCE, "armed", AT),
    Receipt(RX, 7, 3, OCCURRENCE, "played", PROOF.ended_at, proof=PROOF),
    Receipt(RX, 7, 4, None, "rejected", AT, command="0" * 31 + "9", reason="bad_signature"),
)
REPAIR = RepairRequest(RX, CONTENT.content, (1,))
TIME_REQUEST = TimeRequest(RX, 17, ISSUED + timedelta(milliseconds=2))
BIRTH = ReceiverBirth(RX, 7, ISSUED, "fw 2.4.0", ("mp3", "chunks-v1"), 60, GROUPS)


def examples() -> dict[str, str]:
    """Name to text, each exactly as the doc shows it."""
    return {
        "seed": SEED.hex(),
        "public key": KEY.public.text(),
        "canonical cancel": canonical(CANCEL.unsigned()).decode(),
        "assign": ASSIGN.encode(KEY).decode(),
        "play": PLAY.encode(KEY).decode(),
        "cancel": CANCEL.encode(KEY).decode(),
        "time": TIME.encode(KEY).decode(),
        **{f"receipt {r.state}": r.encode().decode() for r in RECEIPTS},
        "repair": REPAIR.encode().decode(),
        "time request": TIME_REQUEST.encode().decode(),
        "birth": BIRTH.encode().decode(),
    }


if __name__ == "__main__":
    for name, text in examples().items():
        print(f"{name}:\n{text}\n")  # a tool for the doc's author
