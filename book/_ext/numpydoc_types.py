"""Sphinx extension: numpydoc types such as ``ndarray of shape (N, C_in, *spatial)`` as text.

napoleon sets each parameter's type in emphasis, ``*...*``, so a ``*`` inside a type (the
``*spatial`` of an N-d shape) breaks the markup and Sphinx warns. Before napoleon reads a
docstring, this escapes every ``*`` in the type part of the lines that name a parameter,
attribute or return value (``name : type`` at the left margin of a numpydoc section),
outside ````literals````. Descriptions and examples are left alone.
"""

from __future__ import annotations

import re

SECTIONS = {"parameters", "other parameters", "returns", "yields", "receives", "attributes",
            "raises", "warns"}
LITERAL = re.compile(r"(``.*?``)")


def escape_stars(text: str) -> str:
    parts = LITERAL.split(text)
    return "".join(part if part.startswith("``") else re.sub(r"(?<!\\)\*", r"\\*", part)
                   for part in parts)


def escape_types(app, what, name, obj, options, lines) -> None:
    section = None
    for i, line in enumerate(lines):
        underline = lines[i + 1] if i + 1 < len(lines) else ""
        if underline.strip() and set(underline.strip()) == {"-"}:
            section = line.strip().lower()
            continue
        if section not in SECTIONS or not line.strip() or line[0].isspace() or set(line) == {"-"}:
            continue
        if " : " in line:
            head, type_ = line.split(" : ", 1)
            lines[i] = f"{head} : {escape_stars(type_)}"
        elif section in {"returns", "yields", "receives"}:
            lines[i] = escape_stars(line)  # a return type alone on its line


def setup(app):
    # Before napoleon (priority 500) turns the numpydoc sections into reST.
    app.connect("autodoc-process-docstring", escape_types, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
