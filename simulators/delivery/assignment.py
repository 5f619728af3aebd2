"""A receiver's assignment: the groups it listens to and the language of its village.

Set by the controller's `assign` command and kept in the receiver's flash
(`assignment.json`), so a receiver that reboots subscribes to its groups' topics
again at once and announces them in its birth. Before any assignment a receiver
is in no group (its birth says nothing about groups, so the controller sends an
`assign`) and plays Vietnamese.
"""

from __future__ import annotations

from pathlib import Path

from devices.protocol.command_bodies import Assign
from simulators.delivery.files import read_json, write_json

DEFAULT_LANGUAGE = "vi"
FILE_NAME = "assignment.json"


class Assignment:
    """Groups (None: never assigned) and language, stored in `folder`."""

    __slots__ = ("folder", "groups", "language")

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.groups: tuple[str, ...] | None = None
        self.language = DEFAULT_LANGUAGE
        stored = read_json(self.path)
        if stored is None:
            return
        groups, language = stored.get("groups"), stored.get("language")
        if isinstance(groups, list) and all(isinstance(g, str) for g in groups):
            self.groups = tuple(groups)
        if isinstance(language, str):
            self.language = language

    @property
    def path(self) -> Path:
        return self.folder / FILE_NAME

    def apply(self, assign: Assign) -> bool:
        """Take `assign`; whether it changed anything (then it is saved)."""
        if assign.groups == self.groups and assign.language == self.language:
            return False
        self.groups, self.language = assign.groups, assign.language
        write_json(self.path, {"groups": list(assign.groups), "language": assign.language})
        return True
