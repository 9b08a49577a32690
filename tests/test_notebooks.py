"""The notebooks in book/ are what nbval checks and what the book shows, so they must hold
something to check: every code cell executed (in order, from a fresh kernel) and stored
without an error, every notebook in the table of contents, and every chapter framed the same
way (goals and prerequisites, a visible check against PyTorch, a summary, 2-4 exercises with
executed solutions in ``hide-cell`` dropdowns). ``# NBVAL_IGNORE_OUTPUT`` is kept for the few
cells whose output cannot be stable, and says why.

The notebooks are read as JSON (through nbformat when it is installed); every failure names
the notebook and the index of the cell, counted from 0 as in ``nb["cells"]``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import tomllib

try:
    import nbformat
except ImportError:  # pragma: no cover - nbformat comes with jupyter
    nbformat = None

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
TOC = ROOT / "_toc.yml"
NOTEBOOKS = sorted(p for p in BOOK.rglob("*.ipynb") if not {".ipynb_checkpoints", "_build"} & set(p.parts))

#: Tags under which Jupyter Book does not show a cell's code.
HIDDEN_CODE = {"hide-cell", "hide-input", "remove-cell", "remove-input"}
#: Comment markers and tags by which nbval checks less than the whole stored output.
RELAXING = {"NBVAL_IGNORE_OUTPUT", "NBVAL_SKIP", "PYTEST_VALIDATE_IGNORE_OUTPUT"}
RELAXING_TAGS = {"nbval-ignore-output", "nbval-skip", "pytest-validate-ignore-output"}
RAISES = ("NBVAL_RAISES_EXCEPTION", "raises-exception", "nbval-raises-exception")
#: At most this many relaxed cells per notebook: the exception, not a habit.
MAX_RELAXED_PER_NOTEBOOK = 3
#: The chapter that measures time has one timing cell per measurement it reports.
MAX_RELAXED = {"cost.ipynb": 7}
#: What makes a cell's output unstable by nature: it measures time.
TIMING = re.compile(r"perf_counter|process_time|monotonic|\btime\.time\(|\btimeit\b|%%?time\b|benchmark"
                    r"|\btime_\w+\(|Timer\(")
#: A call into PyTorch: torch.*, nn.Module classes, or gconv_lib's torch bridge.
TORCH_CALL = re.compile(r"\btorch\.[A-Za-z_]\w*|\bnn\.[A-Z]\w*\(|\b(?:torch_conv|compare_with_torch)\(")
IMPORTS_GCONV_LIB = re.compile(r"^\s*(?:import gconv_lib\b|from gconv_lib\b)", re.MULTILINE)
HEADING = re.compile(r"^\s*#{1,6}\s+(.*?)\s*$", re.MULTILINE)
EXERCISE = re.compile(r"^\s*(?:\*\*|#{2,6}\s+)Exercise\s+(\d+)", re.MULTILINE)


@dataclass(frozen=True)
class Cell:
    index: int
    kind: str  # "code", "markdown" or "raw"
    source: str
    tags: frozenset
    execution_count: int | None
    outputs: tuple

    @property
    def hidden(self):
        return bool(self.tags & HIDDEN_CODE)

    def headings(self):
        return HEADING.findall(self.source) if self.kind == "markdown" else []


def read_cells(path):
    """The cells of a notebook, read with nbformat if it is installed, else with json."""
    if nbformat is not None:
        nb = nbformat.read(path, as_version=4)
    else:
        nb = json.loads(path.read_text(encoding="utf-8"))
    cells = []
    for i, c in enumerate(nb["cells"]):
        src = c.get("source", "")
        cells.append(Cell(
            index=i,
            kind=c["cell_type"],
            source="".join(src) if isinstance(src, list) else src,
            tags=frozenset(c.get("metadata", {}).get("tags", [])),
            execution_count=c.get("execution_count"),
            outputs=tuple(c.get("outputs", ())),
        ))
    return cells


def name(path):
    return path.relative_to(ROOT).as_posix()


def where(path, cell):
    return f"{name(path)}, cell {cell.index}"


def first_line(cell):
    return cell.source.lstrip().splitlines()[0].strip() if cell.source.strip() else ""


def toc_entries():
    """Every ``file:`` (and the ``root:``) of _toc.yml, in order."""
    import yaml

    toc = yaml.safe_load(TOC.read_text(encoding="utf-8"))
    entries = [toc["root"]] if "root" in toc else []

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                entries.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({k: v for k, v in toc.items() if k != "root"})
    return entries


def toc_path(entry):
    """The file a toc entry names (Jupyter Book lets the suffix be left out), or None."""
    path = ROOT / entry
    if path.suffix in (".ipynb", ".md", ".rst"):
        return path if path.is_file() else None
    for suffix in (".ipynb", ".md", ".rst"):
        if path.with_suffix(suffix).is_file():
            return path.with_suffix(suffix)
    return None


notebooks = pytest.mark.parametrize("path", [pytest.param(p, id=name(p)) for p in NOTEBOOKS])


#: The chapters: every notebook but the book's root page (the introduction, the first entry of
#: _toc.yml), which opens the book with the picture of groups and is not a chapter with goals
#: and exercises.
CHAPTERS = [p for p in NOTEBOOKS if p != toc_path(toc_entries()[0])]
chapters = pytest.mark.parametrize("path", [pytest.param(p, id=name(p)) for p in CHAPTERS])


# ---------------------------------------------------------------------------------------------
# what nbval checks: executed cells, no stored errors, strict comparison over book/


def test_the_book_has_notebooks():
    assert len(NOTEBOOKS) >= 6, f"expected the chapters in {BOOK}, found {[name(p) for p in NOTEBOOKS]}"


@notebooks
def test_every_code_cell_was_executed_in_order(path):
    code = [c for c in read_cells(path) if c.kind == "code"]
    assert code, f"{name(path)} has no code cell, so nbval would check nothing"
    problems = [f"{where(path, c)} has no stored execution_count (never executed)"
                for c in code if c.execution_count is None]
    assert not problems, "\n".join(problems)
    counts = [c.execution_count for c in code]
    expected = list(range(1, len(code) + 1))
    wrong = [f"{where(path, c)} has execution_count {c.execution_count}, expected {n}"
             for c, n in zip(code, expected) if c.execution_count != n]
    assert counts == expected, (
        "code cells must be executed top to bottom in one fresh kernel "
        f"(`jupyter execute --inplace {name(path)}`):\n" + "\n".join(wrong))


@notebooks
def test_no_cell_stores_an_error(path):
    problems = []
    for c in read_cells(path):
        if c.kind != "code":
            continue
        expects_error = bool(c.tags & set(RAISES)) or any(
            line.strip().lstrip("#").strip() == "NBVAL_RAISES_EXCEPTION" for line in c.source.splitlines())
        for out in c.outputs:
            if out.get("output_type") == "error" and not expects_error:
                problems.append(f"{where(path, c)} stores an error: {out.get('ename')}: {out.get('evalue')}")
    assert not problems, "\n".join(problems) + (
        "\n(show an expected error by catching it and printing it, or tag the cell raises-exception)")


@notebooks
def test_relaxed_nbval_cells_are_few_and_justified(path):
    cells = read_cells(path)
    problems, relaxed = [], 0
    for c in cells:
        if c.kind != "code":
            continue
        lines = [line.strip() for line in c.source.splitlines()]
        markers = [i for i, line in enumerate(lines)
                   if line.startswith("#") and line.lstrip("#").strip() in RELAXING]
        tags = c.tags & RELAXING_TAGS
        if not markers and not tags:
            continue
        relaxed += 1
        if markers and markers[0] != 0:
            problems.append(f"{where(path, c)}: the nbval marker must be the cell's first line")
        after = lines[markers[0] + 1] if markers and markers[0] + 1 < len(lines) else ""
        explained = after.startswith("#") and len(after.lstrip("#").split()) >= 3
        if not (TIMING.search(c.source) or explained):
            problems.append(
                f"{where(path, c)} is marked {lines[markers[0]] if markers else sorted(tags)} but neither "
                "measures time nor says why on the next line (a comment of 3 words or more); "
                "make its output stable instead (seed, round, sort)")
    most = MAX_RELAXED.get(path.name, MAX_RELAXED_PER_NOTEBOOK)
    if relaxed > most:
        problems.append(f"{name(path)} has {relaxed} cells that nbval does not fully check "
                        f"(at most {most})")
    assert not problems, "\n".join(problems)


def test_nbval_runs_strictly_over_the_book():
    pytest_options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    addopts = pytest_options["addopts"].split()
    assert "--nbval" in addopts and "--nbval-lax" not in addopts, f"nbval must run strict: addopts={addopts}"
    testpaths = pytest_options["testpaths"]
    assert "book" in testpaths, f"testpaths must include book: {testpaths}"
    sanitize = addopts[addopts.index("--nbval-sanitize-with") + 1]
    assert (ROOT / sanitize).is_file(), f"the sanitize file {sanitize} is missing"


# ---------------------------------------------------------------------------------------------
# the table of contents


def test_every_toc_entry_has_a_file():
    missing = [f"_toc.yml entry {e!r} has no file (looked for {e}, {e}.ipynb, {e}.md, {e}.rst)"
               for e in toc_entries() if toc_path(e) is None]
    assert not missing, "\n".join(missing)


@notebooks
def test_every_notebook_is_in_the_toc(path):
    listed = {toc_path(e) for e in toc_entries()}
    assert path in listed, (f"{name(path)} is not in _toc.yml, so the book does not show it; "
                            f"add `- file: {name(path.with_suffix(''))}`")


# ---------------------------------------------------------------------------------------------
# the chapter frame


@chapters
def test_chapter_opens_with_goals_and_prerequisites(path):
    cells = read_cells(path)
    first_code = next((c.index for c in cells if c.kind == "code"), len(cells))
    opening = "\n".join(c.source for c in cells[:first_code] if c.kind == "markdown")
    assert cells[0].kind == "markdown" and cells[0].source.lstrip().startswith("# "), (
        f"{where(path, cells[0])}: a chapter starts with its '# Title' in a markdown cell")
    for word in ("Goals", "Prerequisites"):
        assert re.search(rf"\b{word}\b", opening), (
            f"{name(path)}: the markdown before the first code cell (cell {first_code}) must state the "
            f"chapter's {word.lower()}")


@notebooks
def test_chapter_imports_gconv_lib_and_calls_torch_in_a_visible_cell(path):
    visible = [c for c in read_cells(path) if c.kind == "code" and not c.hidden]
    assert any(IMPORTS_GCONV_LIB.search(c.source) for c in visible), (
        f"{name(path)}: no visible code cell imports gconv_lib (cells {[c.index for c in visible]})")
    assert any(TORCH_CALL.search(c.source) for c in visible), (
        f"{name(path)}: no visible code cell checks against PyTorch (torch.*, nn.*(...), gl.torch_conv, "
        f"gl.compare_with_torch); hidden cells ({sorted(HIDDEN_CODE)}) do not count")


def exercise_section(path):
    """(cells after the '## Exercises' heading, the cell holding it), or fail naming the notebook."""
    cells = read_cells(path)
    heads = [(c, h) for c in cells for h in c.headings()]
    summary = [c.index for c, h in heads if h.lower().startswith("summary")]
    exercises = [c for c, h in heads if h.lower().startswith("exercises")]
    assert summary, f"{name(path)} has no '## Summary' heading"
    assert exercises, f"{name(path)} has no '## Exercises' heading"
    head = exercises[-1]
    assert head.index >= summary[-1], (
        f"{where(path, head)}: the exercises come at the end, after the summary (cell {summary[-1]})")
    return cells[head.index:], head


@chapters
def test_chapter_ends_with_a_summary_and_two_to_four_exercises(path):
    section, head = exercise_section(path)
    numbers = [int(n) for c in section if c.kind == "markdown" for n in EXERCISE.findall(c.source)]
    assert 2 <= len(numbers) <= 4, (
        f"{name(path)}: {len(numbers)} exercises after cell {head.index} (want 2-4, each starting "
        "'**Exercise N.**')")
    assert numbers == list(range(1, len(numbers) + 1)), f"{name(path)}: exercises numbered {numbers}"


@chapters
def test_every_exercise_has_an_executed_solution_in_a_hide_cell_dropdown(path):
    section, _ = exercise_section(path)
    problems, solutions, current = [], {}, None
    for c in section:
        found = EXERCISE.findall(c.source) if c.kind == "markdown" else []
        if len(found) > 1:
            problems.append(f"{where(path, c)} states exercises {found} in one cell: give each its own "
                            "cell, followed by its solution")
        if found:
            current = int(found[-1])
            solutions.setdefault(current, [])
        if c.kind != "code":
            continue
        if "hide-cell" not in c.tags:
            problems.append(f"{where(path, c)} is a code cell in the exercises without the hide-cell tag "
                            f"(tags {sorted(c.tags)}): solutions go in a dropdown")
        elif c.execution_count is None:
            problems.append(f"{where(path, c)}: the solution was never executed")
        elif current is not None:
            solutions[current].append(c.index)
    problems += [f"{name(path)}: exercise {n} has no hide-cell solution cell after it"
                 for n, cells in solutions.items() if not cells]
    assert solutions and not problems, "\n".join(problems) or f"{name(path)}: no exercise found"


#: Words by which the prose next to a figure points at it.
POINTS_AT_FIGURE = re.compile(r"what to see|figure|diagram|picture|plot|panel|drawn|draw|shows",
                              re.IGNORECASE)


@notebooks
def test_every_figure_says_what_to_see(path):
    cells = read_cells(path)
    problems = []
    for c in cells:
        if c.kind != "code" or not any("image/png" in out.get("data", {}) for out in c.outputs):
            continue
        before = next((m.source for m in reversed(cells[:c.index]) if m.kind == "markdown"), "")
        nxt = cells[c.index + 1] if c.index + 1 < len(cells) else None
        after = nxt.source if nxt is not None and nxt.kind == "markdown" else ""
        last_paragraph, first_paragraph = before.strip().split("\n\n")[-1], after.strip().split("\n\n")[0]
        if not (POINTS_AT_FIGURE.search(last_paragraph) or POINTS_AT_FIGURE.search(first_paragraph)):
            problems.append(f"{where(path, c)} draws a figure, but neither the paragraph before it nor the "
                            "one after it says what to see in it ('What to see: ...')")
    assert not problems, "\n".join(problems)


@notebooks
def test_no_installs_inside_notebooks(path):
    installs = re.compile(r"^\s*[!%]\s*(?:pip|conda)\b", re.MULTILINE)
    problems = [f"{where(path, c)} installs packages; the set-up belongs to the README"
                for c in read_cells(path) if c.kind == "code" and installs.search(c.source)]
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------------------------
# the page as a reader sees it: lines that fit the column, figures held to the house style

#: Characters of code or printed output per line: the column holds about 98 at 1280 px
#: (tests/test_browser.py checks the built pages), 80 leaves room for narrower windows.
MAX_LINE = 80


def _output_text(out):
    if out.get("output_type") == "stream":
        return out.get("text", "")
    data = out.get("data", {})
    if "text/markdown" in data or "text/html" in data:
        return ""  # rendered as a table or HTML, which wraps; the browser tests check it
    return data.get("text/plain", "")


@notebooks
def test_code_and_printed_lines_fit_the_column(path):
    problems = []
    for c in read_cells(path):
        if c.kind != "code":
            continue
        texts = [("code", c.source)] + [("output", "".join(_output_text(o))) for o in c.outputs]
        for kind, text in texts:
            for line in text.splitlines():
                if len(line) > MAX_LINE:
                    problems.append(f"{where(path, c)}: {kind} line of {len(line)} characters: "
                                    f"{line[:60]!r}...")
    assert not problems, (f"{len(problems)} line(s) longer than {MAX_LINE} characters, which overflow "
                          "the column on narrower windows:\n" + "\n".join(problems))


@notebooks
def test_every_figure_is_shown_through_the_house_style_check(path):
    """A cell that stores a figure shows it with viz.show (which runs viz.check_figure: the
    figure fits the column and its smallest text is readable), so nbval re-checks every figure."""
    problems = [f"{where(path, c)} stores a figure but does not call viz.show(...)"
                for c in read_cells(path) if c.kind == "code"
                and any("image/png" in out.get("data", {}) for out in c.outputs)
                and "viz.show(" not in c.source]
    assert not problems, "\n".join(problems)


@notebooks
def test_every_stored_figure_fits_the_column(path):
    """Each PNG is stored at most viz.COLUMN_PX wide, so the book shows it at its own size."""
    import base64
    import struct

    from gconv_lib import viz

    problems = []
    for c in read_cells(path):
        for out in c.outputs if c.kind == "code" else ():
            png = out.get("data", {}).get("image/png")
            if png:
                width = struct.unpack(">I", base64.b64decode(png)[16:20])[0]  # the IHDR chunk
                if width > viz.COLUMN_PX:
                    problems.append(f"{where(path, c)}: a figure {width} px wide "
                                    f"(column: {viz.COLUMN_PX} px)")
    assert not problems, "\n".join(problems)
