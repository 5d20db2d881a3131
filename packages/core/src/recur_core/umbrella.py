"""``recur``: what is installed (``recur list``) and the main job (``recur demo [MEMBER ...]``).

``recur list`` must answer in well under two seconds, so it imports neither torch nor any
member: it reads the registration decorators (``@register_layer("name")``,
``@register_model(...)``) from the members' source text. A test checks that this agrees with
the live registries. Piped into a reader that stops early (``recur list | head``) it stops
quietly.

A user's mistake (a bad subcommand or option, an unknown member, two members shipping a recipe
of the same name, a demo's missing data file) ends as one line, ``recur: error: <message>``, with
exit status 2; ``RECUR_DEBUG=1`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import sys
import time
from collections.abc import Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import NoReturn

from recur_core.recipes import RecipeClash, list_recipes
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
    # every recipe name must mean one file: a clash between members is an error, not a shadowed recipe
    list_recipes()
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


def _run_demos(members: Sequence[str]) -> None:
    """Run the demo of each member in ``members`` (all installed demos when empty), then print the total time."""
    demos = {ep.name: ep for ep in entry_points(group="recur.demos")}
    unknown = [m for m in members if m not in demos]
    if unknown:
        valid = ", ".join(sorted(demos)) or "none installed"
        _fail(f"no demo for {', '.join(map(repr, unknown))}; members with a demo: {valid}")
    if not demos:
        print("no demos installed (a member registers one under the 'recur.demos' entry point)")
        return
    names = list(dict.fromkeys(members)) or sorted(demos)
    start = time.perf_counter()
    for name in names:
        print(f"== recur demo: {name} ==", flush=True)
        began = time.perf_counter()
        demos[name].load()()
        print(f"== {name} done in {time.perf_counter() - began:.0f} s ==", flush=True)
    print(f"== {len(names)} demo(s) done in {time.perf_counter() - start:.0f} s ==", flush=True)


def _fail(message: str) -> NoReturn:
    print(f"recur: error: {message}", file=sys.stderr)
    raise SystemExit(2)


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` that reports a usage mistake in one line, without the usage block."""

    def error(self, message: str) -> NoReturn:
        _fail(message)


def _quiet_on_closed_pipe() -> NoReturn:
    # the reader stopped early (`recur list | head`): send the rest of our output nowhere, so that
    # Python's flush at exit does not fail a second time, and stop without a traceback
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> None:
    parser = _Parser(prog="recur", description="recur: one recurrent core, many applied models")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="installed members, registered layers and models, shipped recipes")
    demo = sub.add_parser("demo", help="run the main job of every installed member, or of the members named")
    demo.add_argument("members", nargs="*", metavar="MEMBER", help="members whose demo to run (default: all)")
    from recur_core.data.cli import add_data_command, run_data_command

    add_data_command(sub)
    args = parser.parse_args(argv)
    try:
        if args.command == "data":
            code = run_data_command(args)
            sys.stdout.flush()
            raise SystemExit(code)
        if args.command == "list":
            _print_list()
        else:
            _run_demos(args.members)
        sys.stdout.flush()
    except BrokenPipeError:
        _quiet_on_closed_pipe()
    except (RecipeClash, FileNotFoundError, NotADirectoryError, PermissionError) as err:
        if os.environ.get("RECUR_DEBUG", "") not in ("", "0"):
            raise
        _fail(str(err))


if __name__ == "__main__":
    main()
