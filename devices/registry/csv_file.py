"""The CSV registry file: one receiver per row, as a spreadsheet exports it.

```csv
id,name,province,commune,village,lat,lon,groups,languages,speakers,installed,notes,heartbeat_s
tl-na-vuong-1,Loa đầu bản,cao-bang,tra-linh,na-vuong,22.8123,106.3456,market,tay;vi,2,2025-06-12,,60
```

The header row names the columns, in any order; `id`, `name`, `commune` and
`village` are required, the others may be left out (or left empty: the defaults
apply). `province`, `commune` and `village` hold group ids: the groups are made from
them, named after the id (`tra-linh` -> "Tra Linh"); write a YAML registry to give
them their Vietnamese names. `groups` (free groups) and `languages` hold several
values separated by `;`. Rows that are empty or whose first cell starts with `#` are
skipped. The file is UTF-8, with or without the byte-order mark Excel writes.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
from datetime import date
from typing import Final

from devices.ids import is_valid_id
from devices.registry.builder import Located, RegistryBuilder
from devices.registry.model import GroupTree, Registry, clean_text

COLUMNS: Final = (
    "id",
    "name",
    "province",
    "commune",
    "village",
    "lat",
    "lon",
    "groups",
    "languages",
    "speakers",
    "installed",
    "notes",
    "heartbeat_s",
)
REQUIRED_COLUMNS: Final = ("id", "name", "commune", "village")
_NUMBER: Final = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_INTEGER: Final = re.compile(r"^[+-]?\d+$")
_ISO_DATE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def fill_from_csv(text: str, builder: RegistryBuilder) -> None:
    """Read a CSV registry into `builder`."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str | None] | None = None
    start = 1
    try:
        for row in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
                continue
            if header is None:
                header = _header(row, line, builder)
                if header is None:
                    return
                continue
            if len(row) != len(header):
                builder.error(
                    line,
                    f"this row has {len(row)} cells but the header has {len(header)}; "
                    "put a cell holding ',' in double quotes",
                )
                continue
            cells = {
                column: clean_text(cell)
                for column, cell in zip(header, row, strict=True)
                if column is not None and cell.strip()
            }
            _row(cells, line, builder)
    except csv.Error as exc:
        builder.error(reader.line_num, f"not valid CSV: {exc}")
    if header is None:
        builder.error(
            None,
            f"the file has no header row; the first row names the columns: {','.join(COLUMNS)}",
        )


def _header(row: list[str], line: int, builder: RegistryBuilder) -> list[str | None] | None:
    """The known column of each cell (None for unknown ones), or None when unusable."""
    names = [cell.strip().lower() for cell in row]
    header: list[str | None] = []
    for name in names:
        if name not in COLUMNS:
            close = difflib.get_close_matches(name, COLUMNS, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"expected {', '.join(COLUMNS)}"
            builder.error(line, f"unknown column {name!r}; {hint}")
            header.append(None)
        elif name in header:
            builder.error(line, f"column {name!r} appears twice in the header; keep one")
            header.append(None)
        else:
            header.append(name)
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        builder.error(line, f"the header has no {', '.join(missing)} column; add it")
        return None
    return header


def _row(cells: dict[str, str], line: int, builder: RegistryBuilder) -> None:
    _row_groups(cells, line, builder)
    fields: dict[str, Located] = {
        key: (cells[key], line) for key in ("id", "name", "village", "notes") if key in cells
    }
    for key in ("lat", "lon"):
        if key in cells:
            fields[key] = (_parse(cells[key], _NUMBER, float), line)
    for key in ("speakers", "heartbeat_s"):
        if key in cells:
            fields[key] = (_parse(cells[key], _INTEGER, int), line)
    if "installed" in cells:
        fields["installed"] = (_date(cells["installed"]), line)
    for key in ("groups", "languages"):
        if key in cells:
            parts = (part.strip() for part in cells[key].split(";"))
            fields[key] = (tuple(part for part in parts if part), line)
    for group_id in fields.get("groups", ((), line))[0]:
        if is_valid_id(group_id):
            builder.add_group(line, group_id, "free", may_repeat=True)
    builder.add_receiver(line, fields)


def _row_groups(cells: dict[str, str], line: int, builder: RegistryBuilder) -> None:
    """Declare the row's province, commune and village (each row names them again)."""
    province, commune, village = (cells.get(key) for key in ("province", "commune", "village"))
    province_id = None
    broken = False
    if province is not None:
        province_id = builder.add_group(line, province, "province", may_repeat=True)
        broken = province_id is None
    if commune is None:
        builder.error(line, f"receiver {cells.get('id')!r} has no commune; fill the commune cell")
        broken = True
    elif broken:
        builder.declare_broken(commune, "commune", line)
    else:
        added = builder.add_group(line, commune, "commune", parent_id=province_id, may_repeat=True)
        broken = added is None
    if village is not None and is_valid_id(village):  # a bad village id: the receiver says so
        if broken:
            builder.declare_broken(village, "village", line)
        else:
            builder.add_group(line, village, "village", parent_id=commune, may_repeat=True)


def _parse(text: str, pattern: re.Pattern[str], kind: type[float] | type[int]) -> object:
    """The number in `text`, or the text itself (the field's check then says what is wrong)."""
    return kind(text) if pattern.match(text) else text


def _date(text: str) -> object:
    if _ISO_DATE.match(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            return text
    return text


def dump_csv(registry: Registry) -> str:
    """The registry as CSV rows; group names are not kept (CSV holds only their ids)."""
    tree = GroupTree(registry.groups)
    out = io.StringIO()
    writer = csv.writer(out)  # RFC 4180: CRLF, so a lone CR in a note is quoted too
    writer.writerow(COLUMNS)
    for receiver in registry.receivers:
        province = tree.province_of(receiver)
        commune = tree.commune_of(receiver)
        writer.writerow(
            [
                receiver.id,
                receiver.name,
                "" if province is None else province.id,
                "" if commune is None else commune.id,
                receiver.village_id,
                "" if receiver.lat is None else repr(receiver.lat),
                "" if receiver.lon is None else repr(receiver.lon),
                ";".join(receiver.groups),
                ";".join(receiver.languages),
                receiver.speakers,
                "" if receiver.installed is None else receiver.installed.isoformat(),
                receiver.notes,
                receiver.heartbeat_s,
            ]
        )
    return out.getvalue()
