"""The files that install the project: the runtime lock pins what pyproject.toml names, the dev lock
tests exactly what the runtime lock ships, `make run` installs only that, and `make lint` and
`make test` install what they need on a clone with nothing beside it (TradingAgents from its
public tag)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
TRADINGAGENTS_GIT = "git+https://github.com/TauricResearch/TradingAgents@v0.3.0"
WHEEL = "tradingagents-0.3.0-py3-none-any.whl"


def read_lock(name: str) -> dict[str, tuple[str, list[str]]]:
    """A lock file as {name: (version, hashes)}."""
    pins: dict[str, tuple[str, list[str]]] = {}
    package = ""
    for line in (ROOT / name).read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "--hash")):
            package, _, version = line.split(" ")[0].partition("==")
            pins[canonicalize_name(package)] = (version, [])
        elif line.startswith("--hash=sha256:"):
            pins[canonicalize_name(package)][1].append(line)
    return pins


def dry_run(target: str, folder: Path, **env: str) -> list[str]:
    """The commands `make <target>` runs in a fresh clone in `folder`: no .venv, nothing beside it
    unless the test puts it there."""
    clone = folder / "clone"
    clone.mkdir()
    for name in ("Makefile", "pyproject.toml", "requirements.lock", "requirements-dev.lock"):
        shutil.copy(ROOT / name, clone / name)
    # Nothing of an outer make (CI runs the tests under one) or of the caller's wheel leaks in.
    outer = {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "TRADINGAGENTS_WHEEL", "VENV"}
    done = subprocess.run(
        ["make", "-n", target],
        cwd=clone,
        env={**{k: v for k, v in os.environ.items() if k not in outer}, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return [" ".join(line.split()) for line in done.stdout.replace("\\\n", " ").splitlines()]


def installs(commands: list[str]) -> list[str]:
    return [line for line in commands if " install " in line]


def test_the_lock_pins_every_runtime_dependency_and_nothing_for_development() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = read_lock("requirements.lock")
    for spec in project["dependencies"]:
        requirement = Requirement(spec)
        version, hashes = pins[canonicalize_name(requirement.name)]
        assert requirement.specifier.contains(version), (spec, version)
        assert hashes, requirement.name
    for spec in project["optional-dependencies"]["dev"]:
        assert canonicalize_name(Requirement(spec).name) not in pins, spec


def test_the_dev_lock_tests_exactly_what_the_runtime_lock_ships() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    shipped, tested = read_lock("requirements.lock"), read_lock("requirements-dev.lock")
    assert {name: tested.get(name) for name in shipped} == shipped
    extras = project["optional-dependencies"]
    for spec in [*extras["dev"], *extras["tradingagents"]]:
        requirement = Requirement(spec)
        version, hashes = tested[canonicalize_name(requirement.name)]
        assert requirement.specifier.contains(version), (spec, version)
        assert hashes, requirement.name


def test_make_run_installs_only_the_runtime_lock(tmp_path: Path) -> None:
    commands = installs(dry_run("run", tmp_path))
    assert any("--require-hashes -r requirements.lock" in line for line in commands)
    # Anything else is the checkout itself, which adds nothing the lock did not pin.
    assert [line for line in commands if "requirements.lock" not in line] == [
        line for line in commands if line.endswith("install --no-deps -e .")
    ]
    assert not any("requirements-dev.lock" in line or "[dev" in line for line in commands)


def test_make_lint_on_a_fresh_clone_installs_the_dev_lock_first(tmp_path: Path) -> None:
    # The vendor module imports langchain_core, which mypy must find: the dev lock pins it.
    commands = dry_run("lint", tmp_path)
    [mypy] = [n for n, line in enumerate(commands) if line.endswith("/mypy")]
    [lock] = [n for n, line in enumerate(commands) if "-r requirements-dev.lock" in line]
    assert lock < mypy and "--require-hashes" in commands[lock]
    assert "langchain-core" in read_lock("requirements-dev.lock")


@pytest.mark.parametrize("source", ["none", "env", "beside"])
def test_make_test_takes_tradingagents_from_a_wheel_if_given_else_from_its_public_tag(
    tmp_path: Path, source: str
) -> None:
    env = {}
    if source == "env":
        env["TRADINGAGENTS_WHEEL"] = f"/elsewhere/{WHEEL}"
    if source == "beside":
        (tmp_path / "shared" / "wheels").mkdir(parents=True)
        (tmp_path / "shared" / "wheels" / WHEEL).write_bytes(b"")
    commands = installs(dry_run("setup", tmp_path, **env))
    [line] = [line for line in commands if "tradingagents" in line]
    expected = {
        "none": f"'tradingagents @ {TRADINGAGENTS_GIT}'",
        "env": f"'/elsewhere/{WHEEL}'",
        "beside": f"'../shared/wheels/{WHEEL}'",
    }[source]
    assert line.endswith(f"--no-deps {expected}")  # its LLM clients stay out


def test_the_readme_installs_tradingagents_as_make_test_does() -> None:
    readme = (ROOT / "README.md").read_text()
    assert f".venv/bin/pip install --no-deps 'tradingagents @ {TRADINGAGENTS_GIT}'" in readme
    # A wheel is named by a path that works wherever the command is run from.
    assert f"install --no-deps {WHEEL}" not in readme
