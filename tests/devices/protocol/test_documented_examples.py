"""The bulletin examples of `docs/protocol.md` are what the code makes, and they open."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devices.protocol import (
    Command,
    Topics,
    VerifyKey,
    decode_receipt,
    decode_repair,
    decode_status,
    decode_time_request,
    open_command,
)
from tests.devices.protocol import doc_examples
from tests.devices.protocol.doc_examples import examples

DOC = (Path(__file__).parents[3] / "docs" / "protocol.md").read_text(encoding="utf-8")
SECTION = DOC[DOC.index("## Bulletins: commands, audio chunks, receipts") :]
TOPICS = Topics("loa")
RX = doc_examples.RX


@pytest.mark.parametrize(("name", "text"), examples().items())
def test_each_example_appears_in_the_doc_as_the_code_makes_it(name: str, text: str) -> None:
    assert text in SECTION, f"docs/protocol.md lacks the {name} example: {text}"


@pytest.mark.parametrize(
    "command", [doc_examples.ASSIGN, doc_examples.PLAY, doc_examples.CANCEL, doc_examples.TIME]
)
def test_the_documented_commands_open_with_the_documented_public_key(command: Command) -> None:
    payload = examples()[command.type].encode()
    opened = open_command(
        payload,
        command.topic(TOPICS),
        topics=TOPICS,
        receiver_id=RX,
        groups=(doc_examples.GROUP,),
        key=VerifyKey.from_text("A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg"),
        now=doc_examples.ISSUED,
        seen=lambda _: False,
    )
    assert opened == command


def test_the_documented_canonical_form_is_the_cancel_without_its_signature() -> None:
    cancel = json.loads(examples()["cancel"])
    del cancel["sig"]
    assert json.loads(examples()["canonical cancel"]) == cancel


def test_the_documented_receiver_messages_decode() -> None:
    texts = examples()
    for receipt in doc_examples.RECEIPTS:
        assert decode_receipt(texts[f"receipt {receipt.state}"].encode(), None, RX) == receipt
    assert decode_repair(texts["repair"].encode(), None, RX) == doc_examples.REPAIR
    assert decode_time_request(texts["time request"].encode(), None, RX) == (
        doc_examples.TIME_REQUEST
    )
    assert decode_status(texts["birth"].encode(), RX) == doc_examples.BIRTH
