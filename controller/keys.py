"""The controller's signing key: made on first use, kept in `<data_dir>/keys/`.

Every command to receivers is signed with it (Ed25519, `devices.protocol.signing`).
Receivers are provisioned with the public key, which is also written beside the
private one as `controller.pub` (base64url of its 32 bytes, one line) so that a
technician, `loa keys show` and the simulated receivers can read it.

Losing the private key means re-provisioning every receiver; replacing it is
refused here (a new key is made only where none exists). The private key file is
mode 0600 and written atomically.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from devices.protocol.signing import SigningKey, VerifyKey, load_or_create
from loa.errors import LoaError

log = logging.getLogger(__name__)

PRIVATE_NAME = "controller.key"
PUBLIC_NAME = "controller.pub"


class KeyFolderError(LoaError):
    """The key folder cannot be read or written."""


@dataclass(frozen=True, slots=True)
class ControllerKey:
    signing: SigningKey
    private_path: Path
    public_path: Path
    created: bool

    @property
    def public(self) -> VerifyKey:
        return self.signing.public


def key_folder(data_dir: Path) -> Path:
    return data_dir / "keys"


def controller_key(data_dir: Path) -> ControllerKey:
    """The controller's key from `data_dir`, made (and its public half written) if missing."""
    folder = key_folder(data_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)
    except OSError as exc:
        raise KeyFolderError(f"cannot create the key folder {folder}: {exc.strerror}") from exc
    private = folder / PRIVATE_NAME
    signing, created = load_or_create(private)
    if created:
        log.warning(
            "made a new controller signing key in %s; provision receivers with its public "
            "key (`loa keys show`)",
            private,
        )
    public = folder / PUBLIC_NAME
    text = signing.public.text() + "\n"
    try:
        if not public.exists() or public.read_text(encoding="utf-8") != text:
            _write_atomically(public, text)
    except OSError as exc:
        raise KeyFolderError(f"cannot write the public key {public}: {exc.strerror}") from exc
    return ControllerKey(signing, private, public, created)


def read_public_key(data_dir: Path) -> VerifyKey:
    """The public key written beside the controller's key (for simulated receivers)."""
    path = key_folder(data_dir) / PUBLIC_NAME
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError as exc:
        raise KeyFolderError(
            f"no controller public key at {path}; run `loa keys show` or `loa serve` once "
            "to make the controller's key"
        ) from exc
    except OSError as exc:
        raise KeyFolderError(f"cannot read the public key {path}: {exc.strerror}") from exc
    return VerifyKey.from_text(text)


def _write_atomically(path: Path, text: str) -> None:
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        Path(temp).chmod(0o644)
        Path(temp).replace(path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
