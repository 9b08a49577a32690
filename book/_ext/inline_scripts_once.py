"""Sphinx extension: emit each inline ``<script>`` body once per page.

With Sphinx 7.4, an inline script that an extension adds after the HTML builder starts
(sphinx-thebe's ``const THEBE_JS_URL = ...``, sphinx-togglebutton's selector) reaches the
page twice: once as added (file name ``None``) and once re-read from the registry (file
name ``''``), which Sphinx does not see as the same script. The second ``const`` declaration
is a JavaScript error on every page ("Identifier 'THEBE_JS_URL' has already been
declared"), which tests/test_browser.py catches. This drops the repeats.
"""

from __future__ import annotations


def drop_repeated_inline_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen = set()
    kept = []
    for script in scripts:
        body = getattr(script, "attributes", {}).get("body") if not script.filename else None
        if body is not None:
            if body in seen:
                continue
            seen.add(body)
        kept.append(script)
    scripts[:] = kept


def setup(app):
    app.connect("html-page-context", drop_repeated_inline_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
