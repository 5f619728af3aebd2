"""The YAML registry file: the tree as a technician writes it by hand.

```yaml
province: {id: cao-bang, name: Tỉnh Cao Bằng}        # optional; one per file
communes:
  - id: tra-linh
    name: Xã Trà Lĩnh
    villages:
      - {id: na-vuong, name: Bản Nà Vường}
groups:                                                # free groups, optional
  - {id: tra-linh-school, name: Khu trường học, parent: tra-linh}
receivers:
  - id: tl-na-vuong-1
    name: Loa đầu bản Nà Vường
    village: na-vuong
    gps: 22.8123, 106.3456                             # or lat: and lon:
    languages: [tay, vi]                               # the first is the main one
    speakers: 2
    installed: 2025-06-12
    groups: [tra-linh-school]
    notes: Cột điện cạnh nhà văn hoá
    heartbeat_s: 60
```

The file is read as composed YAML nodes, so every value keeps its line; a key given
twice is an error rather than the last one silently winning. Text fields (ids, names,
notes) are taken as written: `id: 0123` is the id "0123" and `languages: [no]` is the
language "no", not YAML 1.1's `false`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, Final

import yaml
from yaml.constructor import SafeConstructor

from devices.registry.builder import Located, RegistryBuilder
from devices.registry.model import GroupKind, Receiver, Registry, clean_text, label

TOP_KEYS: Final = ("province", "communes", "groups", "receivers")
PROVINCE_KEYS: Final = ("id", "name")
COMMUNE_KEYS: Final = ("id", "name", "villages")
VILLAGE_KEYS: Final = ("id", "name")
FREE_GROUP_KEYS: Final = ("id", "name", "parent")
RECEIVER_KEYS: Final = (
    "id",
    "name",
    "village",
    "gps",
    "lat",
    "lon",
    "groups",
    "languages",
    "speakers",
    "installed",
    "notes",
    "heartbeat_s",
)
_NULL: Final = "tag:yaml.org,2002:null"
_ISO_DATE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_GPS_HINT: Final = "write gps as 'LAT, LON' in decimal degrees, like `gps: 22.6834, 106.2215`"


def fill_from_yaml(text: str, builder: RegistryBuilder) -> None:
    """Read a YAML registry into `builder`."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "syntax error"
        builder.error(None if mark is None else mark.line + 1, f"not valid YAML: {problem}")
        return
    except yaml.YAMLError as exc:
        builder.error(None, f"not valid YAML: {exc}")
        return
    if root is None:
        builder.error(None, "the file is empty; start from docs/examples/registry.yaml")
        return
    _YamlReader(builder).read(root)


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


class _YamlReader:
    def __init__(self, builder: RegistryBuilder) -> None:
        self.builder = builder
        self._constructor = SafeConstructor()

    def read(self, root: yaml.Node) -> None:
        top = self.keys(root, "the registry file", TOP_KEYS)
        if top is None:
            return
        province_id = None
        if "province" in top:
            province_id = self.group(top["province"], "province", PROVINCE_KEYS, None)
        for node in self.items(top.get("communes"), "communes"):
            self.commune(node, province_id)
        for node in self.items(top.get("groups"), "groups"):
            self.free_group(node)
        for node in self.items(top.get("receivers"), "receivers"):
            self.receiver(node)

    def commune(self, node: yaml.Node, province_id: str | None) -> None:
        commune_id = self.group(node, "commune", COMMUNE_KEYS, province_id)
        keys = self.keys(node, "a commune", COMMUNE_KEYS, report=False) or {}
        for village in self.items(keys.get("villages"), "villages"):
            if commune_id is None:
                fields = self.keys(village, "a village", VILLAGE_KEYS, report=False) or {}
                if "id" in fields:
                    self.builder.declare_broken(self.text(fields["id"]), "village", _line(village))
            else:
                self.group(village, "village", VILLAGE_KEYS, commune_id)

    def free_group(self, node: yaml.Node) -> None:
        keys = self.keys(node, "a free group", FREE_GROUP_KEYS, report=False) or {}
        parent = self.text(keys["parent"]) if "parent" in keys else None
        if parent is not None and not isinstance(parent, str):
            self.builder.error(_line(keys["parent"]), f"parent must be a group id, not {parent!r}")
            parent = None
        self.group(node, "free", FREE_GROUP_KEYS, parent)

    def group(
        self, node: yaml.Node, kind: GroupKind, allowed: Sequence[str], parent_id: str | None
    ) -> str | None:
        keys = self.keys(node, f"a {label(kind)}", allowed)
        if keys is None:
            return None
        if "id" not in keys:
            self.builder.error(_line(node), f"a {label(kind)} has no id; add `id:`")
            return None
        name, name_line = (
            (self.text(keys["name"]), _line(keys["name"])) if "name" in keys else (None, None)
        )
        return self.builder.add_group(
            _line(keys["id"]),
            self.text(keys["id"]),
            kind,
            name=name,
            name_line=name_line,
            parent_id=parent_id,
        )

    def receiver(self, node: yaml.Node) -> None:
        keys = self.keys(node, "a receiver", RECEIVER_KEYS)
        if keys is None:
            return
        fields: dict[str, Located] = {}

        def put(key: str, value: object, line: int) -> None:
            if value is not None:
                fields[key] = (value, line)

        for key in ("id", "name", "village", "notes"):
            if key in keys:
                put(key, self.text(keys[key]), _line(keys[key]))
        for key in ("lat", "lon", "speakers", "heartbeat_s"):
            if key in keys:
                put(key, self.value(keys[key]), _line(keys[key]))
        if "installed" in keys:
            put("installed", self.date(keys["installed"]), _line(keys["installed"]))
        if "gps" in keys:
            fields.pop("lat", None)
            fields.pop("lon", None)
            self.gps(keys, put)
        if "languages" in keys:
            languages, _ = self.id_list(keys["languages"])
            put("languages", languages, _line(keys["languages"]))
        group_lines: list[int] = []
        if "groups" in keys:
            groups, group_lines = self.id_list(keys["groups"])
            put("groups", groups, _line(keys["groups"]))
        self.builder.add_receiver(_line(node), fields, group_lines)

    def gps(self, keys: dict[str, yaml.Node], put: Callable[[str, object, int], None]) -> None:
        node = keys["gps"]
        line = _line(node)
        if "lat" in keys or "lon" in keys:
            self.builder.error(line, "give the position as gps or as lat and lon, not both")
            return
        value = self.value(node)
        if value is None:
            return
        parts = value.split(",") if isinstance(value, str) else value
        if not isinstance(parts, list) or len(parts) != 2:
            self.builder.error(line, f"gps {value!r} is not a position; {_GPS_HINT}")
            return
        numbers = [_number(part) for part in parts]
        put("lat", numbers[0], line)
        put("lon", numbers[1], line)

    def keys(
        self, node: yaml.Node, what: str, allowed: Sequence[str], *, report: bool = True
    ) -> dict[str, yaml.Node] | None:
        """The value nodes of a mapping by key; unknown and repeated keys are reported."""
        if not isinstance(node, yaml.MappingNode):
            if report:
                self.builder.error(
                    _line(node), f"{what} must be a mapping of keys ({', '.join(allowed)})"
                )
            return None
        found: dict[str, yaml.Node] = {}
        lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
            line = _line(key_node)
            if key in lines:
                if report:
                    self.builder.error(
                        line,
                        f"key {key!r} appears twice in {what} (lines {lines[key]} and {line}); "
                        "keep one",
                    )
                continue
            lines[key] = line
            if key not in allowed:
                if report:
                    self.builder.error(line, _unknown_key(key, what, allowed))
                continue
            found[key] = value_node
        return found

    def items(self, node: yaml.Node | None, key: str) -> list[yaml.Node]:
        if node is None or (isinstance(node, yaml.ScalarNode) and node.tag == _NULL):
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.builder.error(_line(node), f"`{key}` must be a list (items start with `- `)")
            return []
        return list(node.value)

    def value(self, node: yaml.Node) -> Any:
        """The node as PyYAML's safe loader builds it (a bad timestamp stays text)."""
        try:
            return self._constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, OverflowError):
            return node.value if isinstance(node, yaml.ScalarNode) else None

    def text(self, node: yaml.Node) -> Any:
        """A scalar as written (None for an empty value); other nodes as built."""
        if not isinstance(node, yaml.ScalarNode):
            return self.value(node)
        if node.tag == _NULL and node.style is None:
            return None
        return clean_text(str(node.value))

    def date(self, node: yaml.Node) -> Any:
        value = self.value(node)
        if isinstance(value, str) and _ISO_DATE.match(value.strip()):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                return value
        return value

    def id_list(self, node: yaml.Node) -> tuple[Any, list[int]]:
        """A list of codes or ids (a single one may stand alone), with the line of each."""
        if isinstance(node, yaml.SequenceNode):
            return tuple(self.text(item) for item in node.value), [_line(i) for i in node.value]
        value = self.text(node)
        return (None if value is None else (value,) if isinstance(value, str) else value), []


def _number(value: object) -> object:
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return value
    return value


def _unknown_key(key: str, what: str, allowed: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"expected one of {', '.join(allowed)}"
    return f"unknown key {key!r} in {what}; {hint}"


def dump_yaml(registry: Registry) -> str:
    """The registry as a YAML registry file (the inverse of reading one)."""
    groups = registry.groups
    provinces = [g for g in groups if g.kind == "province"]
    if len(provinces) > 1:
        raise ValueError("a YAML registry file holds one province; write one file per province")
    province_id = provinces[0].id if provinces else None
    data: dict[str, Any] = {}
    if provinces:
        data["province"] = {"id": provinces[0].id, "name": provinces[0].name}
    communes = [g for g in groups if g.kind == "commune"]
    villages = [g for g in groups if g.kind == "village"]
    if any(c.parent_id != province_id for c in communes) or any(
        v.parent_id not in {c.id for c in communes} for v in villages
    ):
        raise ValueError(
            "every commune must be in the file's province and every village in a commune"
        )
    data["communes"] = [
        {
            "id": commune.id,
            "name": commune.name,
            "villages": [
                {"id": v.id, "name": v.name} for v in villages if v.parent_id == commune.id
            ],
        }
        for commune in communes
    ]
    free = [g for g in groups if g.kind == "free"]
    if free:
        data["groups"] = [
            {"id": g.id, "name": g.name} | ({"parent": g.parent_id} if g.parent_id else {})
            for g in free
        ]
    data["receivers"] = [_receiver_data(receiver) for receiver in registry.receivers]
    text: str = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return text


class _Dumper(yaml.SafeDumper):
    """PyYAML writes the Unicode line breaks NEL, LS and PS raw into quoted scalars, where
    reading folds them into spaces; double quotes escape them (`\\N`, `\\L`, `\\P`)."""


def _represent_text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = '"' if any(c in value for c in "\x85\u2028\u2029") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_text)


def _receiver_data(receiver: Receiver) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": receiver.id,
        "name": receiver.name,
        "village": receiver.village_id,
    }
    if receiver.lat is not None:
        data |= {"lat": receiver.lat, "lon": receiver.lon}
    if receiver.groups:
        data["groups"] = list(receiver.groups)
    data |= {"languages": list(receiver.languages), "speakers": receiver.speakers}
    if receiver.installed is not None:
        data["installed"] = receiver.installed
    if receiver.notes:
        data["notes"] = receiver.notes
    data["heartbeat_s"] = receiver.heartbeat_s
    return data
