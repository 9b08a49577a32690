"""Set up, build and test the project with one command each (needs only Python 3.11 and pip).

    python3 dev.py book    # set up .venv if needed, then build the book into _build/html
    python3 dev.py test    # set up .venv if needed, build the book, run every test
                           # (installs Debian's chromium for the browser tests if missing)
    python3 dev.py lock    # rewrite requirements-lock.txt from the current .venv

Set-up creates ``.venv`` and installs the exact versions of ``requirements-lock.txt`` plus
gconv_lib itself (editable), so the notebooks' kernel imports this checkout's library. It
runs again by itself whenever the lock or pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
LOCK = ROOT / "requirements-lock.txt"
STAMP = VENV / ".installed-from"
CHROMIUM = "/usr/bin/chromium"  # Debian's package; tests/test_browser.py launches it


def run(*cmd, **kwargs):
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], cwd=ROOT, check=True, **kwargs)


def fingerprint() -> str:
    digest = hashlib.sha256()
    for path in (LOCK, ROOT / "pyproject.toml"):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def setup() -> None:
    """Create .venv and install the locked environment, unless it is already current."""
    if STAMP.exists() and STAMP.read_text() == fingerprint() and PY.exists():
        return
    if not PY.exists():
        run(sys.executable, "-m", "venv", VENV)
    run(PY, "-m", "pip", "install", "--upgrade", "pip")
    run(PY, "-m", "pip", "install", "-r", LOCK)
    run(PY, "-m", "pip", "install", "--no-deps", "-e", ".")
    STAMP.write_text(fingerprint())


def build_book() -> None:
    """Build the HTML book into _build/html; any Sphinx warning fails the build."""
    shutil.rmtree(ROOT / "_build" / "html", ignore_errors=True)
    run(BIN / "jupyter-book", "build", ".", "--warningiserror", "--keep-going")
    print(f"The book is at {ROOT / '_build' / 'html' / 'index.html'}")


def install_chromium() -> None:
    """Install Debian's chromium for tests/test_browser.py, unless it is already there.

    The browser tests drive /usr/bin/chromium through playwright (which never downloads a
    browser of its own here). When it cannot be installed (not Debian, no root and no sudo,
    no package registry) this only says so: the browser tests then skip, naming the reason.
    """
    if Path(CHROMIUM).exists():
        return
    apt = shutil.which("apt-get")
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    sudo = [] if root else [shutil.which("sudo"), "-n"]
    if apt is None or None in sudo:
        print(f"! {CHROMIUM} is missing and cannot be installed here (needs apt-get, and root or "
              "sudo): the browser tests will skip", flush=True)
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        run(*sudo, apt, "update", "-qq", env=env)
        run(*sudo, apt, "install", "-y", "-qq", "chromium", env=env)
    except subprocess.CalledProcessError as error:
        print(f"! installing chromium failed ({error}): the browser tests will skip", flush=True)


def test() -> None:
    """Lint, build the book, then run unit tests, doctests, nbval and the browser tests."""
    install_chromium()
    run(BIN / "ruff", "check", ".")
    build_book()
    env = dict(os.environ, PYTHONHASHSEED="0")
    # -rs lists every skip with its reason (say, the browser tests without Chromium).
    result = subprocess.run([str(PY), "-m", "pytest", "-rs"], cwd=ROOT, env=env)
    # One pytest run covers tests/, the doctests and book/, so a part with nothing to
    # collect (say, no notebooks yet) cannot end the run with pytest's exit code 5.
    sys.exit(result.returncode)


def lock() -> None:
    """Write the exact versions installed in .venv to requirements-lock.txt."""
    frozen = subprocess.run([str(PY), "-m", "pip", "freeze", "--exclude-editable"],
                            capture_output=True, text=True, check=True).stdout.splitlines()
    # torch's CPU wheel is "2.13.0+cpu"; "==2.13.0" matches it where it is available.
    lines = [line.replace("+cpu", "") for line in frozen if not line.startswith("gconv")]
    header = "# Exact versions for the book and the tests. Regenerate with: python3 dev.py lock\n"
    LOCK.write_text(header + "\n".join(sorted(lines, key=str.lower)) + "\n")
    STAMP.write_text(fingerprint())


def main(argv: list[str]) -> None:
    commands = {"book": [setup, build_book], "test": [setup, test], "lock": [lock]}
    if len(argv) != 1 or argv[0] not in commands:
        sys.exit(__doc__)
    for step in commands[argv[0]]:
        step()


if __name__ == "__main__":
    main(sys.argv[1:])
