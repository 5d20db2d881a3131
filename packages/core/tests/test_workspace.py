"""The monorepo's wiring: every member under packages/ is installed by ``make`` and sorted as first-party."""

import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
MEMBERS = sorted(p.name for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").exists())


@pytest.mark.parametrize("member", MEMBERS)
def test_member_is_installed_by_the_requirements(member):
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    assert f"-e packages/{member}" in lines, f"add '-e packages/{member}' to requirements.txt"


@pytest.mark.parametrize("member", MEMBERS)
def test_member_is_first_party_for_ruff(member):
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert f"recur_{member}" in config["tool"]["ruff"]["lint"]["isort"]["known-first-party"]


def _name(requirement: str) -> str:
    """A requirement's distribution name, without extras: ``gymnasium[mujoco]==1.4.0`` -> ``gymnasium``."""
    return requirement.split("==", 1)[0].split("[", 1)[0].strip()


@pytest.mark.parametrize("member", MEMBERS)
def test_member_pins_are_the_requirements_pins(member):
    lines = [line for line in (ROOT / "requirements.txt").read_text().splitlines() if "==" in line]
    pins = {_name(line): line.split("==", 1)[1].strip() for line in lines}
    project = tomllib.loads((ROOT / "packages" / member / "pyproject.toml").read_text())["project"]
    for dependency in project["dependencies"]:
        assert "==" in dependency, f"{member}: pin {dependency} to the version requirements.txt installs"
        name, version = _name(dependency), dependency.split("==", 1)[1].strip()
        if not name.startswith("recur-"):
            assert pins.get(name) == version, f"{member} pins {dependency}, requirements.txt has {pins.get(name)}"
