"""environment.yml (conda-forge) and requirements-lock.txt (pip) describe the same environment.

The lock pins every package pip installs, dependencies of dependencies included;
environment.yml lists the project's own dependencies (pyproject.toml's ``dependencies`` and
extras) and lets conda resolve the rest. So the two agree when

* environment.yml names exactly the project's dependencies (conda ones, plus pip-only ones
  under ``pip:``), each pinned to one version;
* each of those versions is the lock's version, and satisfies pyproject.toml's specifier;
* its Python is one pyproject.toml's ``requires-python`` allows.

Names are compared normalised (case, ``-``/``_``/``.``), and conda-forge's ``pytorch`` is
pip's ``torch``. The checks are functions of the three texts, so the tests below also show
that each kind of drift is caught.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import tomllib
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
CONDA_TO_PIP = {"pytorch": "torch"}  # conda-forge name -> PyPI name, where they differ


def normalise(name: str) -> str:
    """PEP 503 normal form, after mapping conda-forge names to PyPI names."""
    name = re.sub(r"[-_.]+", "-", name).lower()
    return CONDA_TO_PIP.get(name, name)


def parse_lock(text: str) -> dict[str, str]:
    """``name==version`` lines -> {normalised name: version}; every line must be an exact pin."""
    pins = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;=]+)", line)
        if not match:
            raise ValueError(f"requirements-lock.txt: {line!r} is not an exact pin name==version")
        pins[normalise(match[1])] = match[2]
    return pins


def parse_environment(text: str) -> tuple[str | None, dict[str, str | None], list[str]]:
    """environment.yml -> (python version, {normalised name: pinned version or None}, channels).

    Conda entries are ``name=version`` (or ``name==version``); the ``pip:`` entries are
    ``name==version``. Anything not pinned to one version maps to None.
    """
    env = yaml.safe_load(text)
    python, packages = None, {}

    def add(spec: str, pattern: str):
        match = re.fullmatch(pattern, spec.strip())
        name, version = (match[1], match[2]) if match else (re.split(r"[=<>!~ ]", spec.strip())[0], None)
        packages[normalise(name)] = version

    for dep in env.get("dependencies", []):
        if isinstance(dep, dict):
            for spec in dep.get("pip", []):
                add(spec, r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s=<>!~,*]+)")
        elif re.split(r"[=<>! ]", dep)[0] == "python":
            python = dep.partition("=")[2].lstrip("=") or None
        elif dep != "pip":
            add(dep, r"([A-Za-z0-9][A-Za-z0-9._-]*)==?([^\s=<>!~,*]+)")
    return python, packages, env.get("channels", [])


def project_requirements(text: str) -> tuple[SpecifierSet, dict[str, SpecifierSet]]:
    """pyproject.toml -> (requires-python, {normalised name: combined specifier} over the
    dependencies and every extra)."""
    project = tomllib.loads(text)["project"]
    reqs: dict[str, SpecifierSet] = {}
    for spec in [*project.get("dependencies", []),
                 *(s for extra in project.get("optional-dependencies", {}).values() for s in extra)]:
        req = Requirement(spec)
        name = normalise(req.name)
        reqs[name] = reqs.get(name, SpecifierSet()) & req.specifier
    return SpecifierSet(project.get("requires-python", "")), reqs


def disagreements(environment: str, lock: str, pyproject: str) -> list[str]:
    """Every way environment.yml, the lock and pyproject.toml disagree (empty when they agree)."""
    python, packages, channels = parse_environment(environment)
    pins = parse_lock(lock)
    requires_python, reqs = project_requirements(pyproject)
    problems = []
    if channels != ["conda-forge"]:
        problems.append(f"environment.yml: channels must be [conda-forge], not {channels}")
    if python is None or Version(python) not in requires_python:
        problems.append(
            f"environment.yml: python={python} is not allowed by requires-python {requires_python}")
    for name in sorted(set(reqs) - set(packages)):
        problems.append(f"{name}: a project dependency missing from environment.yml")
    for name in sorted(set(packages) - set(reqs)):
        problems.append(f"{name}: in environment.yml but not a dependency in pyproject.toml")
    for name, version in sorted(packages.items()):
        if version is None:
            problems.append(f"{name}: environment.yml must pin one version")
        elif name not in pins:
            problems.append(f"{name}: in environment.yml ({version}) but not in requirements-lock.txt")
        elif Version(version) != Version(pins[name]):
            problems.append(f"{name}: environment.yml has {version}, requirements-lock.txt has {pins[name]}")
        elif name in reqs and Version(version) not in reqs[name]:
            problems.append(f"{name}: {version} does not satisfy pyproject.toml's {reqs[name]}")
    return problems


def read(name: str) -> str:
    return (ROOT / name).read_text()


def test_environment_yml_agrees_with_the_lock():
    problems = disagreements(read("environment.yml"), read("requirements-lock.txt"), read("pyproject.toml"))
    assert problems == []


def test_every_runtime_dependency_is_pinned_in_the_lock():
    _, reqs = project_requirements(read("pyproject.toml"))
    pins = parse_lock(read("requirements-lock.txt"))
    assert sorted(set(reqs) - set(pins)) == []
    for name, spec in reqs.items():
        assert Version(pins[name]) in spec, (name, pins[name], str(spec))


# ---------------------------------------------------------------- the checks catch drift
ENV = """\
channels: [conda-forge]
dependencies:
  - python=3.11
  - pip
  - numpy=2.4.6
  - pytorch=2.13.0
  - jupyter-book=1.0.4.post1
  - PyYAML=6.0.4
  - pip:
      - sphinx_mathjax_offline==0.0.2
"""
LOCK = """\
# a comment
jupyter-book==1.0.4.post1
numpy==2.4.6
PyYAML==6.0.4
sphinx-mathjax-offline==0.0.2
torch==2.13.0
urllib3==2.8.0
"""
PYPROJECT = """\
[project]
requires-python = ">=3.10"
dependencies = ["numpy>=1.25"]
[project.optional-dependencies]
dev = ["torch==2.13.0", "jupyter-book>=1.0.4.post1,<2", "pyyaml", "sphinx-mathjax-offline"]
"""


def test_a_consistent_set_passes():
    """Names differ only in case, '-'/'_' and pytorch/torch; urllib3 is a lock-only dependency."""
    assert disagreements(ENV, LOCK, PYPROJECT) == []


DRIFTS = {
    "lock bumps numpy": (ENV, LOCK.replace("numpy==2.4.6", "numpy==2.5.0"), PYPROJECT,
                         "numpy: environment.yml has 2.4.6, requirements-lock.txt has 2.5.0"),
    "environment.yml bumps torch": (ENV.replace("pytorch=2.13.0", "pytorch=2.14.0"), LOCK, PYPROJECT,
                                    "torch: environment.yml has 2.14.0, requirements-lock.txt has 2.13.0"),
    "pip-only package drifts": (
        ENV.replace("offline==0.0.2", "offline==0.0.3"), LOCK, PYPROJECT,
        "sphinx-mathjax-offline: environment.yml has 0.0.3, requirements-lock.txt has 0.0.2"),
    "new dependency not in environment.yml": (
        ENV, LOCK + "ruff==0.17.6\n", PYPROJECT.replace('"pyyaml"', '"pyyaml", "ruff"'),
        "ruff: a project dependency missing from environment.yml"),
    "environment.yml has an extra package": (
        ENV + "  - scipy=1.16.0\n", LOCK, PYPROJECT,
        "scipy: in environment.yml but not a dependency in pyproject.toml"),
    "unpinned in environment.yml": (ENV.replace("numpy=2.4.6", "numpy"), LOCK, PYPROJECT,
                                    "numpy: environment.yml must pin one version"),
    "dropped from the lock": (ENV, LOCK.replace("torch==2.13.0\n", ""), PYPROJECT,
                              "torch: in environment.yml (2.13.0) but not in requirements-lock.txt"),
    "outside pyproject's range": (ENV.replace("book=1.0.4.post1", "book=2.0.0"),
                                  LOCK.replace("book==1.0.4.post1", "book==2.0.0"), PYPROJECT,
                                  "jupyter-book: 2.0.0 does not satisfy pyproject.toml's <2,>=1.0.4.post1"),
    "python too old": (ENV.replace("python=3.11", "python=3.9"), LOCK, PYPROJECT,
                       "environment.yml: python=3.9 is not allowed by requires-python >=3.10"),
    "another channel": (ENV.replace("[conda-forge]", "[defaults]"), LOCK, PYPROJECT,
                        "environment.yml: channels must be [conda-forge], not ['defaults']"),
}


@pytest.mark.parametrize(("environment", "lock", "pyproject", "problem"), DRIFTS.values(),
                         ids=DRIFTS.keys())
def test_drift_is_caught(environment, lock, pyproject, problem):
    assert problem in disagreements(environment, lock, pyproject)


def test_a_lock_line_that_is_not_a_pin_is_an_error():
    with pytest.raises(ValueError, match=r"'numpy>=2' is not an exact pin name==version"):
        parse_lock("numpy>=2\n")
