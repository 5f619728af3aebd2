"""Who gets a bulletin, in which language, and over which topics.

Three pure steps, run when an occurrence is dispatched (so they see the registry as it
is then, not as it was when the bulletin was written):

1. `resolve()`: the targets (`all`, receivers, groups of any kind) to the receivers they
   name. A group includes the receivers of its villages and of its free groups, down
   the tree (`GroupTree.includes`).
2. `language_for()`: the receiver's main language (its village's), then Vietnamese,
   then the bulletin's default (its first language): a village is told in its language
   when the bulletin has it, and never left silent when it does not. This is the rule
   a receiver applies to the play command (`Play.content_for`, docs/protocol.md), so
   the content the controller pushes to a receiver is the one it will play.
3. `fan_out()`: one publish per group instead of one per receiver. A group is used for
   a content when every member of the group is targeted, gets that content and has
   confirmed it listens on the group's topics (its birth lists the group); otherwise a
   receiver is addressed alone. Larger groups are taken first and no receiver is
   covered twice, so every targeted receiver is reached exactly once. The controller
   then publishes the audio once per group (protocol invariant 6).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from controller.store.bulletins import Target
from devices.registry import GroupTree, Receiver
from loa.errors import LoaError

FALLBACK_LANGUAGE = "vi"


class TargetError(LoaError):
    """A bulletin names a receiver or group the registry does not have."""


@dataclass(frozen=True, slots=True)
class Unit:
    """One publish of the command and the audio: to a group's topics or a receiver's."""

    scope: Literal["group", "receiver"]
    id: str
    content: str
    receivers: tuple[str, ...]


def parse_targets(text: str, tree: GroupTree, receiver_ids: Iterable[str]) -> list[Target]:
    """`all`, or ids separated by commas, each a receiver or a group of the registry."""
    known = set(receiver_ids)
    targets: list[Target] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if part == "all":
            targets.append(Target("all"))
        elif part in tree:
            targets.append(Target("group", part))
        elif part in known:
            targets.append(Target("receiver", part))
        else:
            raise TargetError(
                f"target {part!r} is neither a registered receiver nor a group; "
                "`loa devices list` shows both"
            )
    if not targets:
        raise TargetError("no target given; name receivers or groups, or `all`")
    return targets


def memberships(receiver: Receiver, tree: GroupTree) -> frozenset[str]:
    """Every group the receiver is in: its village and the groups above, its free groups
    and the groups above them. These are the topics it should listen on."""
    found: set[str] = set()
    for start in (receiver.village_id, *receiver.groups):
        if start in tree:
            found.add(start)
            found.update(group.id for group in tree.ancestors(start))
    return frozenset(found)


def resolve(
    targets: Sequence[Target], receivers: Sequence[Receiver], tree: GroupTree
) -> list[Receiver]:
    """The receivers `targets` name, each once, in registry order."""
    known = {r.id for r in receivers}
    for target in targets:
        if target.kind == "group" and target.target_id not in tree:
            raise TargetError(f"group {target.target_id!r} is not in the registry")
        if target.kind == "receiver" and target.target_id not in known:
            raise TargetError(f"receiver {target.target_id!r} is not registered")
    if any(t.kind == "all" for t in targets):
        return list(receivers)
    wanted_ids = {t.target_id for t in targets if t.kind == "receiver"}
    groups = [t.target_id for t in targets if t.kind == "group" and t.target_id is not None]
    return [
        r
        for r in receivers
        if r.id in wanted_ids or any(tree.includes(group, r) for group in groups)
    ]


def language_for(receiver: Receiver, languages: Sequence[str]) -> str:
    """Which of a bulletin's `languages` (its first is its own default) `receiver` hears."""
    if not languages:
        raise ValueError("a bulletin has at least one language")
    for language in (receiver.language, FALLBACK_LANGUAGE):
        if language in languages:
            return language
    return languages[0]


def fan_out(
    targeted: Sequence[Receiver],
    registry: Sequence[Receiver],
    tree: GroupTree,
    contents: Mapping[str, str],
    *,
    listening: Callable[[str], frozenset[str]],
) -> list[Unit]:
    """Group and receiver units reaching every receiver in `targeted` exactly once.

    `registry` is every registered receiver (a group is used only if none of its members
    is left out of `targeted`); `contents` maps language to content id, its first key
    the bulletin's default; `listening(receiver_id)` gives the groups a receiver has
    confirmed it listens on.
    """
    languages = list(contents)
    content_of = {r.id: contents[language_for(r, languages)] for r in targeted}
    members = _members(targeted, tree)
    everyone = {group_id: len(ids) for group_id, ids in _members(registry, tree).items()}
    candidates: list[tuple[int, str]] = []
    for group_id, ids in members.items():
        if len(ids) < 2 or len(ids) != everyone.get(group_id, 0):
            continue
        if len({content_of[i] for i in ids}) != 1:
            continue
        if not all(group_id in listening(i) for i in ids):
            continue
        candidates.append((len(ids), group_id))
    # Largest first; among equals the one nearer the top of the tree, then by id.
    candidates.sort(key=lambda item: (-item[0], len(tree.ancestors(item[1])), item[1]))
    covered: set[str] = set()
    units: list[Unit] = []
    for _, group_id in candidates:
        ids = members[group_id]
        if ids & covered:
            continue
        covered |= ids
        ordered = tuple(r.id for r in targeted if r.id in ids)
        units.append(Unit("group", group_id, content_of[ordered[0]], ordered))
    units.extend(
        Unit("receiver", r.id, content_of[r.id], (r.id,)) for r in targeted if r.id not in covered
    )
    return units


def _members(receivers: Sequence[Receiver], tree: GroupTree) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for receiver in receivers:
        for group_id in memberships(receiver, tree):
            found.setdefault(group_id, set()).add(receiver.id)
    return found
