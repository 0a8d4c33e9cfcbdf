"""What a pip user gets: the distribution's name and version, the wheel's metadata, the sdist's
files, the server image's build lines and the PyAV call that changed in PyAV 19.

The sdist and the wheel are built here offline, without build isolation (so the environment
needs the dev group's ``setuptools>=77``), from a copy of the tree: the sdist first, then the
wheel from the unpacked sdist, as ``python -m build`` does. ``scripts/check-installed`` installs
such a wheel into a fresh venv and runs the command line and the tests from it.
"""

from __future__ import annotations

import email
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import av
import pytest
from packaging.requirements import Requirement
from packaging.version import Version
from typer.testing import CliRunner

import aurelia
from aurelia.cli import app
from aurelia.media.probe import OPEN_KWARGS, probe

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
# what a tree holds that is not the project: caches, venvs, build output, local state (.gitignore's list)
JUNK = shutil.ignore_patterns(
    ".git", ".venv", "venv", "build", "dist", "*.egg-info", "__pycache__", "*.py[cod]", ".pytest_cache", ".ruff_cache",
    ".hypothesis", ".grimp_cache", ".import_linter_cache", ".ipynb_checkpoints", "out", ".aurelia", ".langgraph_api",
    "*.sqlite", "*.sqlite-*",
)  # fmt: skip
PROJECT_DOT_DIRS = {".ci"}  # every other hidden folder is a tool's state (caches, venvs, .git), never the project's
NOT_IN_SDIST = {".gitignore"}  # every other file of the tree is
SDIST_EXTRA = re.compile(r"^(PKG-INFO|setup\.cfg|aurelia_av\.egg-info/.*)$")  # what setuptools adds
BUILD_TIMEOUT_S = 300


def make_var(name: str) -> str:
    """A variable's value as the Makefile sets it."""
    found = re.search(rf"^(?:export )?{name} \??= (.+)$", (ROOT / "Makefile").read_text(encoding="utf-8"), re.M)
    assert found, f"Makefile: no {name}"
    return found.group(1).strip()


def tree_files(root: Path) -> set[str]:
    """The project's files under ``root``, as relative POSIX paths, junk left out."""
    out: set[str] = set()
    for folder, dirs, files in os.walk(root):
        ignored = JUNK(folder, dirs + files)
        dirs[:] = [d for d in dirs if d not in ignored and (not d.startswith(".") or d in PROJECT_DOT_DIRS)]
        out |= {Path(folder, f).relative_to(root).as_posix() for f in files if f not in ignored}
    return out


@dataclass(frozen=True)
class Built:
    sdist: Path
    wheel: Path


def _backend(hook: str, source: Path, out: Path) -> Path:
    """Run a PEP 517 hook of setuptools in ``source`` (a child process: setuptools changes global state)."""
    code = f"import sys; from setuptools import build_meta; print(build_meta.{hook}(sys.argv[1]))"
    done = subprocess.run(
        [sys.executable, "-c", code, str(out)], cwd=source, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, check=False
    )
    assert done.returncode == 0, f"{hook} failed:\n{done.stderr[-3000:]}"
    return out / done.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Built:
    have = Version(version("setuptools"))
    assert have >= Version("77"), f"setuptools {have}: building needs >= 77 (the dev group has it: pip install --group dev)"
    tmp = tmp_path_factory.mktemp("packaging")
    shutil.copytree(ROOT, tmp / "tree", ignore=JUNK)
    sdist = _backend("build_sdist", tmp / "tree", tmp / "dist")
    with tarfile.open(sdist) as tar:
        tar.extractall(tmp / "unpacked", filter="data")
    (source,) = (tmp / "unpacked").iterdir()
    return Built(sdist, _backend("build_wheel", source, tmp / "dist"))


def wheel_metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        return email.message_from_bytes(zf.read(name))


# ---------------------------------------------------------------- name and version
def test_version_is_the_distributions_and_the_command_prints_it() -> None:
    assert aurelia.DISTRIBUTION == PYPROJECT["project"]["name"] == "aurelia-av"
    assert aurelia.__version__ == PYPROJECT["project"]["version"]
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output == f"aurelia-av {aurelia.__version__}\n"


def test_dev_group_installs_this_distribution_not_the_unrelated_aurelia() -> None:
    names = [Requirement(r).name for r in PYPROJECT["dependency-groups"]["dev"] if isinstance(r, str)]
    assert "aurelia-av" in names and "aurelia" not in names


# ---------------------------------------------------------------- the wheel
def test_wheel_metadata_says_what_a_user_needs(built: Built) -> None:
    assert built.wheel.name.startswith(f"aurelia_av-{PYPROJECT['project']['version']}-py3-none-any")
    meta = wheel_metadata(built.wheel)
    assert meta["Name"] == "aurelia-av" and meta["Requires-Python"] == ">=3.11"
    assert meta["License-Expression"] == "Apache-2.0" and meta.get_all("License-File") == ["LICENSE"]
    assert {"providers", "hf", "bench", "studio", "notebooks"} <= set(meta.get_all("Provides-Extra"))
    classifiers = set(meta.get_all("Classifier"))
    assert {f"Programming Language :: Python :: 3.{m}" for m in (11, 12, 13)} <= classifiers and "Typing :: Typed" in classifiers
    assert "Paper, https://arxiv.org/abs/2503.23219" in meta.get_all("Project-URL")
    (pyav,) = [Requirement(r) for r in meta.get_all("Requires-Dist") if Requirement(r).name == "av"]
    assert pyav.specifier.contains("14.1.0") and pyav.specifier.contains("19.0.1")
    assert not pyav.specifier.contains("14.0.1") and not pyav.specifier.contains("20.0.0")


def test_wheel_holds_the_package_its_data_and_py_typed_but_no_tests(built: Built) -> None:
    with zipfile.ZipFile(built.wheel) as zf:
        names = set(zf.namelist())
        entry_points = zf.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    assert {"aurelia/py.typed", "aurelia/data/sample.mp4", "aurelia/cli/app.py"} <= names
    assert any(n.startswith("aurelia/prompts/") and n.endswith(".txt") for n in names)
    assert any(n.startswith("aurelia/bench/tasks/") and n.endswith(".yaml") for n in names)
    assert not [n for n in names if n.startswith(("tests/", "docs/", "benchmarks/")) or "__pycache__" in n]
    assert "aurelia = aurelia.cli:main" in entry_points


# ---------------------------------------------------------------- the sdist
def test_sdist_holds_every_file_of_the_tree(built: Built) -> None:
    with tarfile.open(built.sdist) as tar:
        top = built.sdist.name.removesuffix(".tar.gz")
        held = {m.name.removeprefix(f"{top}/") for m in tar.getmembers() if m.isfile()}
    expected = tree_files(ROOT) - NOT_IN_SDIST
    assert not expected - held, f"missing from the sdist (MANIFEST.in): {sorted(expected - held)}"
    assert not {f for f in held - expected if not SDIST_EXTRA.match(f)}, "the sdist holds files that are not the tree's"
    assert {"tests/conftest.py", "CITATION.cff", "constraints.txt", "langgraph.json", "docs/install.md", "scripts/check-installed"} <= held


# ---------------------------------------------------------------- llama.cpp, built portably everywhere
def test_server_image_gets_a_compiler_and_the_portable_llama_cpp_flags(tmp_path: Path) -> None:
    pytest.importorskip("langgraph_cli", reason="needs the studio extra (langgraph-cli)")
    cmake_args = make_var("CMAKE_ARGS")
    config = json.loads((ROOT / "langgraph.json").read_text(encoding="utf-8"))
    assert f'ENV CMAKE_ARGS="{cmake_args}"' in config["dockerfile_lines"]
    cli = Path(sys.executable).parent / "langgraph"
    env = {**os.environ, "LANGGRAPH_CLI_NO_ANALYTICS": "1"}  # the CLI reports usage unless told not to: no network in tests
    done = subprocess.run(
        [str(cli), "dockerfile", "-c", str(ROOT / "langgraph.json"), str(tmp_path / "Dockerfile")],
        capture_output=True, text=True, env=env, timeout=BUILD_TIMEOUT_S, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    lines = (tmp_path / "Dockerfile").read_text().splitlines()
    compiler = next(i for i, line in enumerate(lines) if line.startswith("RUN apt-get") and "build-essential cmake" in line)
    flags = lines.index(f'ENV CMAKE_ARGS="{cmake_args}"')
    install = next(i for i, line in enumerate(lines) if "pip install" in line and "/deps" in line)
    assert compiler < install and flags < install  # llama-cpp-python compiles during the install


def test_every_install_instruction_builds_llama_cpp_with_the_makefiles_flags() -> None:
    cmake_args = make_var("CMAKE_ARGS")
    for path in ("docs/install.md", "scripts/check-installed"):
        assert cmake_args in (ROOT / path).read_text(encoding="utf-8"), f"{path} does not build llama.cpp with {cmake_args!r}"


# ---------------------------------------------------------------- PyAV
def test_probe_opens_files_with_what_the_installed_pyav_takes() -> None:
    declared = next(Requirement(r) for r in PYPROJECT["project"]["dependencies"] if Requirement(r).name == "av")
    assert declared.specifier.contains(av.__version__), f"PyAV {av.__version__} is outside the declared {declared.specifier}"
    # PyAV 19 removed open(metadata_errors=); before it, a tag that is not UTF-8 is ignored, not fatal
    assert OPEN_KWARGS == ({"metadata_errors": "ignore"} if Version(av.__version__).major < 19 else {})
    with av.open(str(aurelia.sample_clip()), mode="r", **OPEN_KWARGS) as container:
        assert container.streams.video and container.streams.audio
    info = probe(aurelia.sample_clip())
    assert info.video is not None and info.audio is not None and info.duration_s > 0
