"""``recur``: what is installed (``recur list``) and the main job (``recur demo``).

``recur list`` must answer in well under two seconds, so it imports neither torch nor any
member: it reads the registration decorators (``@register_layer("name")``,
``@register_model(...)``) from the members' source text. A test checks that this agrees with
the live registries.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import time
from importlib.metadata import entry_points
from pathlib import Path

from recur_core.recipes import list_recipes
from recur_core.registry import installed_members

__all__ = ["main", "scan_registrations"]


_DECORATOR = re.compile(
    r"^[ \t]*@(register_layer|register_model)\((?:\s*(?:name\s*=\s*)?[\"']([\w.-]+)[\"'])?[^)]*\)\s*\n"
    r"(?:[ \t]*@.*\n)*[ \t]*(?:def|class)\s+(\w+)",
    re.MULTILINE,
)


def scan_registrations(package: str) -> dict[str, list[str]]:
    """Layer and model names registered in ``package``'s source, without importing it.

    Matches ``@register_layer("name")`` and ``@register_model("name")`` / ``@register_model()``
    (the key is then the decorated function's or class's name, lower-cased, as the registry does).
    """
    spec = importlib.util.find_spec(package)
    found: dict[str, list[str]] = {"layer": [], "model": []}
    for root in (spec.submodule_search_locations or []) if spec else []:
        for path in sorted(Path(root).rglob("*.py")):
            text = path.read_text()
            if "@register_" not in text:
                continue
            for decorator, name, target in _DECORATOR.findall(text):
                found["layer" if decorator == "register_layer" else "model"].append(name or target.lower())
    return {kind: sorted(names) for kind, names in found.items()}


def _print_list() -> None:
    members = installed_members()
    scans = {name: scan_registrations(package) for name, package in members.items()}
    print("members: " + ", ".join(f"{m} ({p})" for m, p in members.items()))
    layers = sorted(name for scan in scans.values() for name in scan["layer"])
    print(f"layers ({len(layers)}): " + ", ".join(layers))
    print("models:")
    for member, scan in scans.items():
        print(f"  {member}: " + (", ".join(scan["model"]) or "-"))
    print("recipes:")
    for member in members:
        recipes = list_recipes(member)
        print(f"  {member}: " + (", ".join(recipes) or "-"))


def _run_demos() -> None:
    demos = sorted(entry_points(group="recur.demos"), key=lambda ep: ep.name)
    if not demos:
        print("no demos installed (a member registers one under the 'recur.demos' entry point)")
        return
    for ep in demos:
        print(f"== recur demo: {ep.name} ==", flush=True)
        start = time.perf_counter()
        ep.load()()
        print(f"== {ep.name} done in {time.perf_counter() - start:.0f} s ==", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="recur", description="recur: one recurrent core, many applied models")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="installed members, registered layers and models, shipped recipes")
    sub.add_parser("demo", help="run the main job of every installed member")
    from recur_core.data.cli import add_data_command, run_data_command

    add_data_command(sub)
    args = parser.parse_args(argv)
    if args.command == "data":
        raise SystemExit(run_data_command(args))
    if args.command == "list":
        _print_list()
    else:
        _run_demos()


if __name__ == "__main__":
    main()
