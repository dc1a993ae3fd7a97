"""The crystals feature without Discord: services, the focus provider, the daily job, console commands."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from bot.features import FeatureHost
from bot.scheduler.jobs import crystal_formation_job
from cogs.crystals.describe import crystal_line, facet_text
from cogs.crystals.focus import CrystalFocusProvider
from cogs.crystals.reality import RealityService
from cogs.crystals.service import CrystalService
from storage.crystals import CrystalError
from storage.scope import Scope

CRYSTALS = "crystals"
REALITY = "reality"

CRYSTAL_USAGE = (
    "/crystal list | view NAME | map | explore | form | pin NAME | unpin NAME | rename NAME = NEW | "
    "dissolve NAME | enter NAME | leave"
)


def register(host: FeatureHost) -> None:
    """Offer the crystal and reality services, the focus provider, the daily job and console commands."""
    service = CrystalService(host.storage, host.llm, host.settings.crystals)
    host.services[CRYSTALS] = service
    host.services[REALITY] = RealityService(host.storage, host.llm, host.settings.crystals)
    if host.pipeline is not None:
        host.pipeline.register_provider(
            CrystalFocusProvider(host.storage.crystals, host.settings.crystals.focus_facets)
        )
    if host.scheduler is not None:
        host.scheduler.register(crystal_formation_job(service.form_due))
    host.add_console_command(
        "crystal", CRYSTAL_USAGE, "your memory crystals: themes of your story", console_crystal
    )
    host.add_console_command(
        "reality", "/reality PROMPT", "imagine a scene: a short story and a picture", console_reality
    )


def output_dir(host: FeatureHost, scope: Scope) -> Path:
    """Return (and create) the folder the console writes a person's pictures and views into."""
    folder = host.settings.storage.data_dir / "crystals" / scope.user_key
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def console_crystal(host: FeatureHost, scope: Scope, arg: str, out: TextIO) -> None:
    """Run ``/crystal ...`` in the console."""
    service: CrystalService = host.services[CRYSTALS]
    action, _, rest = arg.strip().partition(" ")
    rest = rest.strip()
    try:
        await _crystal_action(host, service, scope, action.lower(), rest, out)
    except CrystalError as exc:
        out.write(f"{exc}\n")


async def _crystal_action(
    host: FeatureHost, service: CrystalService, scope: Scope, action: str, rest: str, out: TextIO
) -> None:
    store = service.store
    if action in ("", "list"):
        crystals = await service.crystals(scope)
        if not crystals:
            out.write("No crystals yet: they form once a few related memories gather.\n")
        for c in crystals:
            out.write(f"  {crystal_line(c)}\n")
    elif action == "form":
        report = await service.form(scope)
        out.write(f"Formed {report.crystals} crystals from {report.memories} memories ({report.new} new).\n")
    elif action == "view":
        c = await service.find(scope, rest)
        out.write(f"{crystal_line(c)}\nKey terms: {', '.join(c.key_terms) or '-'}\n")
        for f in c.facets:
            out.write(f"  - {facet_text(f.text)}\n")
        if c.links:
            out.write("Linked: " + ", ".join(link.name for link in c.links) + "\n")
    elif action == "map":
        path = output_dir(host, scope) / "constellation.png"
        path.write_bytes(await service.map_png(scope))
        out.write(f"Constellation map written to {path}\n")
    elif action == "explore":
        gif, html = await service.explore_files(scope, "Your constellation")
        folder = output_dir(host, scope)
        (folder / "constellation.gif").write_bytes(gif)
        (folder / "constellation.html").write_text(html, encoding="utf-8")
        out.write(
            f"Rotating view: {folder / 'constellation.gif'}\n3D view (open in a browser): "
            f"{folder / 'constellation.html'}\n"
        )
    elif action in ("pin", "unpin"):
        c = await store.set_pinned(scope, (await service.find(scope, rest)).id, action == "pin")
        out.write(f"{'Pinned' if c.pinned else 'Unpinned'} {c.name}.\n")
    elif action == "rename":
        old, sep, new = rest.partition("=")
        if not sep:
            raise CrystalError("Usage: /crystal rename NAME = NEW NAME")
        c = await store.rename(scope, (await service.find(scope, old)).id, new)
        out.write(f"Renamed to {c.name}.\n")
    elif action == "dissolve":
        name = await store.dissolve(scope, (await service.find(scope, rest)).id)
        out.write(f"Dissolved {name}; it will not form again from the same memories.\n")
    elif action == "enter":
        c = await store.enter(scope, (await service.find(scope, rest)).id)
        out.write(f"You are inside {c.name}: our conversation stays close to it until /crystal leave.\n")
    elif action == "leave":
        left = await store.leave(scope)
        out.write(f"You left {left}.\n" if left else "You are not inside a crystal.\n")
    else:
        out.write(f"Usage: {CRYSTAL_USAGE}\n")


async def console_reality(host: FeatureHost, scope: Scope, arg: str, out: TextIO) -> None:
    """Run ``/reality PROMPT`` in the console: print the scene and write its picture to a file."""
    if not arg.strip():
        out.write("Usage: /reality PROMPT\n")
        return
    scene = await host.services[REALITY].scene(scope, arg)
    path = output_dir(host, scope) / scene.filename
    path.write_bytes(scene.image)
    if scene.narrative:
        out.write(f"{scene.narrative}\n")
    out.write(f"Picture written to {path}\n")
