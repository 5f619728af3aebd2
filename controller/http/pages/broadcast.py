"""`/broadcast`: make a bulletin, from a recording or typed text, to villages picked on
the commune's tree; and the guarded emergency button.

The page is rendered here with the tree of groups from the store (each with how many
receivers it reaches and how many are online now); `static/broadcast.js` does the rest
through the API: the upload (with its progress), the text-to-speech preview, and the
send (`POST /api/v1/bulletins`), then goes to the bulletin's delivery page.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from controller.http.context import Ctx
from controller.http.pages.render import render, translator
from controller.store.registry_rows import load_groups, load_receivers
from devices.registry import Group, GroupTree, Receiver

router = APIRouter(include_in_schema=False)

#: The priorities an operator picks from (live is for a microphone, background for music).
PRIORITY_CHOICES = ("normal", "priority", "emergency")
CHIME_CHOICES = ("none", "before", "after", "both")
#: The words that confirm an emergency, whatever the page's language.
CONFIRM_WORDS = ("KHẨN CẤP", "EMERGENCY")


@dataclass
class TreeNode:
    """A group on the page: its receivers (ids) and those below, online among them."""

    group: Group
    receivers: list[str]
    online: int
    children: list[TreeNode] = field(default_factory=list)


def build_tree(
    tree: GroupTree, receivers: list[Receiver], online: set[str]
) -> tuple[list[TreeNode], list[TreeNode]]:
    """The administrative tree (provinces, communes, villages) and the free groups."""

    def node(group: Group) -> TreeNode:
        below = tree.descendants(group.id)  # once per group: `includes` walks it each call
        members = [
            r.id for r in receivers if r.village_id in below or any(g in below for g in r.groups)
        ]
        children = sorted(
            (g for g in tree if g.parent_id == group.id and g.kind != "free"),
            key=lambda g: g.name,
        )
        return TreeNode(
            group,
            members,
            sum(1 for member in members if member in online),
            [node(child) for child in children],
        )

    tops = sorted(
        (g for g in tree if g.parent_id is None and g.kind != "free"), key=lambda g: g.name
    )
    free = sorted((g for g in tree if g.kind == "free"), key=lambda g: g.name)
    return [node(group) for group in tops], [node(group) for group in free]


@router.get("/broadcast", response_class=HTMLResponse)
async def broadcast_page(request: Request, context: Ctx) -> HTMLResponse:
    async with context.store.read() as session:
        tree = GroupTree(await load_groups(session))
        registry = list((await load_receivers(session)).values())
    ingest = context.ingest
    online = {r.id for r in registry if ingest.is_online(r.id)}
    admin, free = build_tree(tree, registry, online)
    config = context.config
    t = translator(request)
    names = t.strings("broadcast.language_name.")
    codes = dict.fromkeys(
        [
            config.audio.default_language,
            *config.audio.tts.voices,
            *(language for r in registry for language in r.languages),
        ]
    )
    languages = [(code, names.get(f"broadcast.language_name.{code}", code)) for code in codes]
    return render(
        request,
        "broadcast.html",
        nav="broadcast",
        admin=admin,
        free=free,
        total=len(registry),
        online_total=len(online),
        languages=languages,
        default_language=config.audio.default_language,
        priorities=PRIORITY_CHOICES,
        chimes=CHIME_CHOICES,
        confirm_words=CONFIRM_WORDS,
        max_upload_mb=config.http.max_upload_mb,
        members={node.group.id: node.receivers for node in _walk([*admin, *free])},
    )


def _walk(nodes: list[TreeNode]) -> list[TreeNode]:
    found: list[TreeNode] = []
    for node in nodes:
        found.append(node)
        found.extend(_walk(node.children))
    return found
