"""Loa's shared kernel: the version, the error tree and the clock seam.

Every other package (`controller`, `devices`, `audio`, `schedules`, `simulators`)
may import `loa`; `loa` imports none of them.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("loa")
except PackageNotFoundError:  # pragma: no cover - running from a tree that was never installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
