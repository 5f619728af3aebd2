"""`/api/v1/groups`: the group tree (province, communes, villages, free groups).

`GET /groups` lists every group once, parents before their children (depth first,
children by kind then name), each with `parent` and `receivers`: how many receivers are
in it or below it (a village's receivers, a commune's villages' receivers, a free
group's members). That is enough to draw the tree: a page keeps `parent` links.
`GET /groups/{id}` adds the ids of those receivers and of the group's children.
"""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter
from pydantic import BaseModel

from controller.http.context import Ctx, HttpContext
from controller.http.problems import not_found
from controller.store.registry_rows import load_groups, load_receivers
from devices.registry import Group, GroupTree, Receiver

router = APIRouter(prefix="/api/v1", tags=["groups"])

_KIND_ORDER: Final = {"province": 0, "commune": 1, "village": 2, "free": 3}


class GroupOut(BaseModel):
    id: str
    name: str
    kind: str
    parent: str | None
    #: Receivers in the group or below it.
    receivers: int


class GroupList(BaseModel):
    items: list[GroupOut]


class GroupDetail(GroupOut):
    receiver_ids: list[str]
    children: list[str]


async def _load(context: HttpContext) -> tuple[GroupTree, dict[str, Receiver]]:
    async with context.store.read() as session:
        tree = GroupTree(await load_groups(session))
        registered = await load_receivers(session)
    return tree, registered


def members(tree: GroupTree, registered: dict[str, Receiver]) -> dict[str, list[str]]:
    """The ids of the receivers in or below each group, by group id, each sorted."""
    found: dict[str, list[str]] = {group.id: [] for group in tree}
    for receiver in registered.values():
        direct = (receiver.village_id, *receiver.groups)
        above = {g for d in direct for g in (d, *(a.id for a in tree.ancestors(d)))}
        for group_id in above:
            if group_id in found:
                found[group_id].append(receiver.id)
    for ids in found.values():
        ids.sort()
    return found


def _order(groups: list[Group]) -> list[Group]:
    return sorted(groups, key=lambda g: (_KIND_ORDER.get(g.kind, 9), g.name, g.id))


def depth_first(tree: GroupTree) -> list[Group]:
    """Every group, each parent before its children."""
    children: dict[str | None, list[Group]] = {}
    for group in tree:
        parent = group.parent_id if group.parent_id in tree else None
        children.setdefault(parent, []).append(group)
    ordered: list[Group] = []
    todo = list(reversed(_order(children.get(None, []))))
    while todo:
        group = todo.pop()
        ordered.append(group)
        todo.extend(reversed(_order(children.get(group.id, []))))
    return ordered


def _out(group: Group, count: int) -> GroupOut:
    return GroupOut(
        id=group.id, name=group.name, kind=group.kind, parent=group.parent_id, receivers=count
    )


@router.get("/groups", summary="The group tree with receiver counts")
async def groups(context: Ctx) -> GroupList:
    tree, registered = await _load(context)
    below = members(tree, registered)
    return GroupList(items=[_out(g, len(below[g.id])) for g in depth_first(tree)])


@router.get("/groups/{group_id}", summary="One group with its receivers' ids")
async def group(context: Ctx, group_id: str) -> GroupDetail:
    tree, registered = await _load(context)
    found = tree.get(group_id)
    if found is None:
        raise not_found("group", group_id)
    ids = members(tree, registered)[group_id]
    children = [g.id for g in _order([g for g in tree if g.parent_id == group_id])]
    return GroupDetail(**_out(found, len(ids)).model_dump(), receiver_ids=ids, children=children)
