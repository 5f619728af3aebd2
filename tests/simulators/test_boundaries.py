"""The simulator is built like third-party firmware: from `devices`, `audio` and `loa` only.

`audio` is allowed for what firmware would have as a library: checking chunks against a
manifest (`audio.manifest`) and decoding what it played (`audio.decode`). Never `controller`.

`simulators/scenario/` is the test harness around the simulated receivers, not firmware:
it reads scenario files (PyYAML, for their line marks) and drives a controller in-process,
so it may import `yaml` and `controller`. No receiver-side module imports it.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import simulators

ALLOWED = {"devices", "audio", "loa", "simulators"}
#: What the scenario harness may use besides.
HARNESS = ALLOWED | {"yaml", "controller"}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_simulators_import_only_devices_audio_loa_and_the_standard_library() -> None:
    root = Path(simulators.__file__).parent
    files = sorted(root.rglob("*.py"))
    assert len(files) > 5
    for path in files:
        harness = "scenario" in path.relative_to(root).parts
        allowed = HARNESS if harness else ALLOWED
        outside = {
            name
            for name in imported_packages(path)
            if name not in allowed and name not in sys.stdlib_module_names
        }
        assert outside == set(), f"{path.relative_to(root.parent)} imports {sorted(outside)}"
        if not harness:
            assert "simulators.scenario" not in path.read_text(encoding="utf-8"), (
                f"{path.relative_to(root.parent)}: receiver-side code does not use the harness"
            )
