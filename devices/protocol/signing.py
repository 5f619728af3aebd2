"""Ed25519 signatures of commands: the canonical form, the keys, and the key file.

The controller signs every command with its private key; receivers are
provisioned with the public key and verify before acting. What is signed is the
**canonical form** of the command (`canonical`): UTF-8 JSON, keys sorted at every
depth, no whitespace, non-ASCII written as itself, no floats. For the messages of
this protocol (ASCII keys, integers within +-(2**53 - 1), no floats) it is exactly
RFC 8785 (JSON Canonicalization Scheme), so firmware may use a JCS library.

Signatures and public keys travel as base64url without padding. The private key
lives in one PEM (PKCS #8) file, mode 0600, written once and never overwritten.
`cryptography` is the only library used, and only here.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from devices.protocol.fields import MAX_SAFE_INT
from loa.errors import LoaError

#: base64url without padding of 64 signature bytes / 32 public-key bytes.
_SIGNATURE_TEXT = re.compile(r"^[A-Za-z0-9_-]{86}$")
_PUBLIC_TEXT = re.compile(r"^[A-Za-z0-9_-]{43}$")


class KeyFileError(LoaError):
    """A key that cannot be read or written; `source` names the file (or the text's origin)."""

    def __init__(self, problem: str, *, source: str) -> None:
        self.problem = problem
        self.source = source
        super().__init__(f"{source}: {problem}")


def canonical(obj: Mapping[str, object]) -> bytes:
    """The bytes a command's signature covers (see the module docstring).

    ValueError if a float, an integer beyond +-(2**53 - 1) or a string that is not
    valid Unicode (a lone surrogate) is anywhere inside; TypeError for a key that
    is not a string or a value JSON cannot hold.
    """
    _check_canonical(obj, "$")
    try:
        text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"a string is not valid Unicode: {exc.reason}") from exc
    except RecursionError as exc:
        raise ValueError("the object is nested too deeply") from exc


def _check_canonical(value: object, where: str) -> None:
    # Iterative, so a deeply nested object is refused rather than overflowing the stack.
    stack: list[tuple[object, str]] = [(value, where)]
    while stack:
        item, path = stack.pop()
        if isinstance(item, bool) or item is None or isinstance(item, str):
            continue
        if isinstance(item, int):
            if not -MAX_SAFE_INT <= item <= MAX_SAFE_INT:
                raise ValueError(f"{path}: the integer {item} is beyond +-(2**53 - 1)")
        elif isinstance(item, float):
            # A value the protocol forbids (not an argument of the wrong type): ValueError.
            raise ValueError(  # noqa: TRY004
                f"{path}: a float ({item!r}) has no canonical form; use an integer"
            )
        elif isinstance(item, Mapping):
            for key, child in item.items():
                if not isinstance(key, str):
                    raise TypeError(f"{path}: the key {key!r} is not a string")
                stack.append((child, f"{path}.{key}"))
        elif isinstance(item, list | tuple):
            stack.extend((child, f"{path}[{index}]") for index, child in enumerate(item))
        else:
            raise TypeError(f"{path}: {type(item).__name__} is not a JSON value")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class VerifyKey:
    """The controller's public key, as receivers hold it."""

    def __init__(self, key: Ed25519PublicKey) -> None:
        self._key = key
        self._raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    def verify(self, message: bytes, signature: str) -> bool:
        """Whether `signature` (base64url, no padding) signs `message`; False for any bad input."""
        if not isinstance(signature, str) or not _SIGNATURE_TEXT.match(signature):
            return False
        raw = _unb64(signature)
        if _b64(raw) != signature:
            return False  # stray bits in the last character: not the one true encoding
        try:
            self._key.verify(raw, message)
        except InvalidSignature:
            return False
        return True

    def text(self) -> str:
        """base64url (no padding) of the 32 raw bytes: what receivers are provisioned with."""
        return _b64(self._raw)

    @classmethod
    def from_text(cls, text: str, source: str = "public key") -> VerifyKey:
        """The key `text()` wrote; KeyFileError naming `source` for anything else."""
        cleaned = text.strip().rstrip("=")
        if not _PUBLIC_TEXT.match(cleaned):
            raise KeyFileError(
                f"{text.strip()[:60]!r} is not an Ed25519 public key: expected 43 base64url "
                "characters (what `loa keys show` prints)",
                source=source,
            )
        try:
            return cls(Ed25519PublicKey.from_public_bytes(_unb64(cleaned)))
        except (ValueError, binascii.Error) as exc:  # pragma: no cover - 43 chars are 32 bytes
            raise KeyFileError(f"not an Ed25519 public key: {exc}", source=source) from exc

    def fingerprint(self) -> str:
        """For people comparing keys: the first 16 hex digits of sha256 of the raw key."""
        return hashlib.sha256(self._raw).hexdigest()[:16]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VerifyKey) and other._raw == self._raw

    def __hash__(self) -> int:
        return hash(self._raw)

    def __repr__(self) -> str:
        return f"VerifyKey({self.fingerprint()})"


class SigningKey:
    """The controller's private key."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    def sign(self, message: bytes) -> str:
        """The Ed25519 signature of `message`, base64url without padding (86 characters)."""
        return _b64(self._key.sign(message))

    @property
    def public(self) -> VerifyKey:
        return VerifyKey(self._key.public_key())

    def save(self, path: Path) -> None:
        """Write the key as PEM (PKCS #8), mode 0600, atomically; never over an existing file.

        Missing parent directories are made with mode 0700. KeyFileError naming
        `path` if it exists already or cannot be written.
        """
        pem = self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise KeyFileError(f"cannot make its directory: {exc}", source=str(path)) from exc
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
        try:
            _write_private(temporary, pem)
            _publish(temporary, path)
        except FileExistsError as exc:
            raise KeyFileError(
                "a key file is already there; Loa never overwrites a key (move it away first "
                "if you really mean to replace the controller's key: receivers must then be "
                "provisioned with the new public key)",
                source=str(path),
            ) from exc
        except OSError as exc:
            raise KeyFileError(f"cannot write the key: {exc}", source=str(path)) from exc
        finally:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()

    @classmethod
    def load(cls, path: Path) -> SigningKey:
        """Read a key `save` wrote; KeyFileError naming `path` if it is missing or not one."""
        try:
            pem = path.read_bytes()
        except FileNotFoundError as exc:
            raise KeyFileError("no key file here", source=str(path)) from exc
        except OSError as exc:
            raise KeyFileError(f"cannot read the key file: {exc}", source=str(path)) from exc
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except TypeError as exc:
            raise KeyFileError(
                "the key is encrypted with a password; Loa needs an unencrypted PKCS #8 key",
                source=str(path),
            ) from exc
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise KeyFileError(
                "not a PEM private key (the file is damaged or is something else); restore it "
                "from a backup, or move it away to have a new key made",
                source=str(path),
            ) from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyFileError(
                f"holds a {type(key).__name__}, not an Ed25519 private key",
                source=str(path),
            )
        return cls(key)


def load_or_create(path: Path) -> tuple[SigningKey, bool]:
    """The key at `path`, made and saved first if there is none: `(key, created)`."""
    if path.exists():
        return SigningKey.load(path), False
    key = SigningKey.generate()
    try:
        key.save(path)
    except KeyFileError:
        if path.exists():  # another process made it between our look and our write
            return SigningKey.load(path), False
        raise
    return key, True


def _write_private(path: Path, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        os.fchmod(file.fileno(), 0o600)  # exactly 0600, whatever the umask said
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


def _publish(temporary: Path, path: Path) -> None:
    """Give the written temporary file its name; FileExistsError if the name is taken."""
    try:
        os.link(temporary, path)  # atomic, and unlike rename it never replaces a file
    except FileExistsError:
        raise
    except OSError:
        # A file system without hard links: look, then rename (atomic, but a tiny race).
        if path.exists():
            raise FileExistsError(str(path)) from None
        temporary.rename(path)
    # Make the new name durable; a file system that cannot sync a directory still has the file.
    with contextlib.suppress(OSError):
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
