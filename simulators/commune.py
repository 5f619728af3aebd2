"""A plausible commune of Cao Bằng to simulate: villages, receivers, places, languages.

`generate_commune(seed)` gives the same commune for the same seed: a province
group (Cao Bằng), a commune under it, villages with Tày and Nùng names
("Bản Nà Vường", "Xóm Pác Pó") and receivers spread over them, with GPS points
clustered around each village between 22.6-22.9 N and 106.0-106.5 E, and
languages mixing Tày, Nùng and Vietnamese. The groups and receivers are the
registry's own `Group` and `Receiver`, ready for an import.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta

from devices.registry.model import DEFAULT_HEARTBEAT_S, Group, Receiver, Registry
from simulators.config import ReceiverSpec

PROVINCE = ("cao-bang", "Cao Bằng")
#: (commune name, the short code in its receiver ids)
COMMUNES = (
    ("Tà Lùng", "tl"),
    ("Trường Hà", "th"),
    ("Quốc Toản", "qt"),
    ("Đức Long", "dl"),
    ("Lương Can", "lc"),
    ("Cần Yên", "cy"),
    ("Thông Nông", "tn"),
    ("Tri Phương", "tp"),
    ("Quang Hán", "qh"),
    ("Hưng Đạo", "hd"),
)
_KINDS = ("Bản", "Bản", "Bản", "Xóm", "Xóm", "Lũng")
_FIRST = ("Nà", "Khuổi", "Pác", "Pò", "Phja", "Cốc", "Bó", "Kéo", "Nặm", "Pù", "Khau", "Vằng")
_SECOND = (
    "Vường",
    "Khon",
    "Pó",
    "Mạ",
    "Rằng",
    "Luông",
    "Đon",
    "Chang",
    "Sliến",
    "Nưa",
    "Tảu",
    "Hoi",
    "Mò",
    "Lẹng",
    "Cáy",
    "Riềng",
)
#: The main language of a village, and how often: Tày, Nùng, or Kinh (Vietnamese).
_LANGUAGES = (("tay", 50), ("nung", 35), ("vi", 15))
LAT_RANGE = (22.6, 22.9)
LON_RANGE = (106.0, 106.5)


@dataclass(frozen=True)
class GeneratedCommune:
    province: Group
    commune: Group
    villages: tuple[Group, ...]
    receivers: tuple[Receiver, ...]

    @property
    def groups(self) -> tuple[Group, ...]:
        return (self.province, self.commune, *self.villages)

    @property
    def registry(self) -> Registry:
        return Registry(groups=self.groups, receivers=self.receivers)

    def specs(self) -> tuple[ReceiverSpec, ...]:
        """What a `Fleet` needs to simulate these receivers."""
        return tuple(ReceiverSpec(r.id, r.heartbeat_s) for r in self.receivers)


def generate_commune(
    seed: int | str,
    receivers: int = 30,
    villages: int = 6,
    *,
    heartbeat_s: int = DEFAULT_HEARTBEAT_S,
) -> GeneratedCommune:
    """A commune of `villages` villages and `receivers` receivers (at least one each)."""
    if not 1 <= villages <= len(_FIRST) * len(_SECOND):
        raise ValueError(f"villages must be from 1 to {len(_FIRST) * len(_SECOND)}")
    if receivers < villages:
        raise ValueError("every village needs a receiver: receivers must be >= villages")
    rng = random.Random(f"commune:{seed}")  # noqa: S311 - simulation, not cryptography
    commune_name, code = rng.choice(COMMUNES)
    province = Group(PROVINCE[0], PROVINCE[1], "province")
    commune = Group(f"cb-{code}", f"Xã {commune_name}", "commune", parent_id=province.id)
    centre = (rng.uniform(22.65, 22.85), rng.uniform(106.08, 106.42))
    names = _village_names(rng, villages)
    village_groups = tuple(
        Group(f"{commune.id}-{slug(name)}", name, "village", parent_id=commune.id) for name in names
    )
    counts = [1] * villages
    for _ in range(receivers - villages):
        counts[rng.randrange(villages)] += 1
    width = max(2, len(str(receivers)))
    made: list[Receiver] = []
    for village, count in zip(village_groups, counts, strict=True):
        here = (centre[0] + rng.uniform(-0.05, 0.05), centre[1] + rng.uniform(-0.05, 0.05))
        main = rng.choices([c for c, _ in _LANGUAGES], weights=[w for _, w in _LANGUAGES])[0]
        languages = (main,) if main == "vi" else (main, "vi")
        for number in range(1, count + 1):
            where = "nhà văn hóa" if number == 1 else f"số {number}"
            made.append(
                Receiver(
                    id=f"{commune.id}-{len(made) + 1:0{width}d}",
                    name=f"Cụm loa {village.name} {where}",
                    village_id=village.id,
                    lat=_clamp(round(here[0] + rng.gauss(0, 0.002), 5), LAT_RANGE),
                    lon=_clamp(round(here[1] + rng.gauss(0, 0.002), 5), LON_RANGE),
                    languages=languages,
                    speakers=rng.choice((1, 2, 2, 3, 4)),
                    installed=date(2021, 1, 1) + timedelta(days=rng.randrange(5 * 365)),
                    heartbeat_s=heartbeat_s,
                )
            )
    return GeneratedCommune(province, commune, village_groups, tuple(made))


def slug(name: str) -> str:
    """`Bản Nà Vường` -> `ban-na-vuong`: an id level from a Vietnamese name."""
    plain = unicodedata.normalize("NFD", name.replace("đ", "d").replace("Đ", "D"))
    letters = "".join(c for c in plain if not unicodedata.combining(c)).lower()
    return "-".join("".join(c if c.isalnum() else " " for c in letters).split())


def _village_names(rng: random.Random, count: int) -> list[str]:
    names: list[str] = []
    used: set[tuple[str, str]] = set()
    while len(names) < count:
        first, second = rng.choice(_FIRST), rng.choice(_SECOND)
        if (first, second) not in used:
            used.add((first, second))
            names.append(f"{rng.choice(_KINDS)} {first} {second}")
    return names


def _clamp(value: float, bounds: tuple[float, float]) -> float:
    return min(bounds[1], max(bounds[0], value))
