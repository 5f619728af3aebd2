"""Canonical form, Ed25519 signatures and the controller's key file."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

from devices.protocol.signing import (
    KeyFileError,
    SigningKey,
    VerifyKey,
    canonical,
    load_or_create,
)

KEY = SigningKey.generate()

# JSON without floats: what a command may hold.
plain_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.text(st.characters(codec="utf-8"), max_size=10),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(st.characters(codec="ascii"), max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def test_canonical_sorts_keys_at_every_depth_and_drops_whitespace() -> None:
    assert canonical({"b": 1, "a": {"d": [3, {"z": True, "y": None}], "c": "x"}}) == (
        b'{"a":{"c":"x","d":[3,{"y":null,"z":true}]},"b":1}'
    )


def test_canonical_writes_non_ascii_as_utf8_and_escapes_only_what_json_must() -> None:
    text = 'Thông báo "khẩn" \\ 📢\n\x01/'
    assert canonical({"title": text}) == (
        '{"title":"Thông báo \\"khẩn\\" \\\\ 📢\\n\\u0001/"}'.encode()
    )


@given(st.dictionaries(st.text(st.characters(codec="ascii"), max_size=8), plain_json))
def test_canonical_form_does_not_depend_on_key_order_and_parses_back(
    obj: dict[str, object],
) -> None:
    reordered = dict(reversed(list(obj.items())))
    assert canonical(reordered) == canonical(obj)
    assert json.loads(canonical(obj)) == obj
    assert canonical(json.loads(canonical(obj))) == canonical(obj)


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"level": 1.5}, r"\$\.level: a float"),
        ({"a": [1, {"b": 2.0}]}, r"\$\.a\[1\]\.b: a float"),
        ({"n": float("nan")}, "a float"),
        ({"n": 2**53}, "beyond"),
        ({"s": "\ud800"}, "not valid Unicode"),
    ],
)
def test_canonical_refuses_what_has_no_single_form(obj: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        canonical(obj)


def test_canonical_refuses_values_json_cannot_hold() -> None:
    with pytest.raises(TypeError, match="bytes is not a JSON value"):
        canonical({"raw": b"x"})
    with pytest.raises(TypeError, match="key 1 is not a string"):
        canonical({"a": {1: "x"}})


def test_a_signature_verifies_only_for_its_message_and_key() -> None:
    message = canonical({"id": "abc", "title": "Họp thôn"})
    signature = KEY.sign(message)
    assert len(signature) == 86
    assert "=" not in signature
    assert KEY.public.verify(message, signature)
    assert not KEY.public.verify(message + b" ", signature)
    assert not SigningKey.generate().public.verify(message, signature)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "abc",
        "!" * 86,
        "A" * 86,  # the right length, the wrong signature
        "A" * 85 + "B",  # stray bits in the last character: a second spelling
        "A" * 86 + "==",
        "A" * 200,
    ],
)
def test_bad_signature_text_is_false_not_an_error(bad: str) -> None:
    assert not KEY.public.verify(b"message", bad)


def test_a_second_spelling_of_a_good_signature_is_refused() -> None:
    signature = KEY.sign(b"m")
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".index(signature[-1])
    # 86 characters carry 516 bits for 512: the last character's low 4 bits are padding.
    other = (
        signature[:-1]
        + "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last ^ 1]
    )
    assert KEY.public.verify(b"m", signature)
    assert not KEY.public.verify(b"m", other)


def test_public_key_text_round_trips_and_has_a_short_fingerprint() -> None:
    text = KEY.public.text()
    assert len(text) == 43
    assert VerifyKey.from_text(f"  {text}\n") == KEY.public
    assert VerifyKey.from_text(text + "=") == KEY.public  # padding a person added is forgiven
    fingerprint = KEY.public.fingerprint()
    assert len(fingerprint) == 16
    assert int(fingerprint, 16) >= 0
    assert fingerprint in repr(KEY.public)
    assert SigningKey.generate().public.fingerprint() != fingerprint


@pytest.mark.parametrize("text", ["", "not a key", "A" * 42, "A" * 44, "+" * 43])
def test_bad_public_key_text_names_where_it_came_from(text: str) -> None:
    with pytest.raises(KeyFileError, match=r"receivers\.yaml: .*is not an Ed25519 public key"):
        VerifyKey.from_text(text, source="receivers.yaml")


def test_a_saved_key_loads_back_from_a_0600_file(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "controller.key"
    old_umask = os.umask(0)  # even a careless umask gives 0600
    try:
        KEY.save(path)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) & 0o077 == 0
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    loaded = SigningKey.load(path)
    assert loaded.public == KEY.public
    assert KEY.public.verify(b"m", loaded.sign(b"m"))
    assert [p.name for p in path.parent.iterdir()] == ["controller.key"]  # no temporary left


def test_saving_never_overwrites_a_key(tmp_path: Path) -> None:
    path = tmp_path / "controller.key"
    KEY.save(path)
    before = path.read_bytes()
    with pytest.raises(KeyFileError, match=rf"{path}: a key file is already there"):
        SigningKey.generate().save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["controller.key"]


def test_saving_where_nothing_can_be_written_names_the_file(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(KeyFileError, match=rf"{blocker / 'controller.key'}: cannot"):
        KEY.save(blocker / "controller.key")


def test_a_missing_key_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.key"
    with pytest.raises(KeyFileError, match=rf"{path}: no key file here"):
        SigningKey.load(path)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"garbage\n",
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    ],
)
def test_a_garbled_key_file_is_named(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "controller.key"
    path.write_bytes(content)
    with pytest.raises(KeyFileError, match=rf"{path}: not a PEM private key"):
        SigningKey.load(path)


def test_a_key_of_another_type_is_named(tmp_path: Path) -> None:
    path = tmp_path / "ec.key"
    path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(KeyFileError, match=rf"{path}: holds a .*, not an Ed25519 private key"):
        SigningKey.load(path)


def test_an_encrypted_key_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "locked.key"
    path.write_bytes(
        SigningKey.generate()._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    with pytest.raises(KeyFileError, match=rf"{path}: the key is encrypted"):
        SigningKey.load(path)


def test_load_or_create_makes_the_key_once(tmp_path: Path) -> None:
    path = tmp_path / "data" / "keys" / "controller.key"
    first, created = load_or_create(path)
    assert created
    again, created_again = load_or_create(path)
    assert not created_again
    assert again.public == first.public
