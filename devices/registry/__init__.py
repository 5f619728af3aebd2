"""The receiver registry: receivers, the groups they belong to, and registry files.

`model` holds the frozen `Group` and `Receiver` and the `GroupTree` (a receiver's
commune and province, a group's descendants); `file` reads YAML and CSV registry
files, reporting every problem with its line.
"""

from devices.registry.file import (
    FileFormat,
    RegistryFileError,
    file_format,
    format_registry,
    parse_registry,
    read_registry,
)
from devices.registry.model import (
    DEFAULT_HEARTBEAT_S,
    DEFAULT_LANGUAGES,
    GROUP_KINDS,
    Group,
    GroupKind,
    GroupTree,
    Receiver,
    Registry,
    RegistryError,
    readable_name,
)

__all__ = [
    "DEFAULT_HEARTBEAT_S",
    "DEFAULT_LANGUAGES",
    "GROUP_KINDS",
    "FileFormat",
    "Group",
    "GroupKind",
    "GroupTree",
    "Receiver",
    "Registry",
    "RegistryError",
    "RegistryFileError",
    "file_format",
    "format_registry",
    "parse_registry",
    "read_registry",
    "readable_name",
]
