"""The `mikado-check` pre-commit hook runs the real gate."""

from __future__ import annotations

import shlex
from pathlib import Path

import yaml
from treebuilder import doc, run_mikado, write_tree

PROJECT = Path(__file__).resolve().parents[2]


def test_the_hook_runs_mikado_check_on_the_whole_tree(tmp_path: Path) -> None:
    hooks = {
        hook["id"]: hook
        for hook in yaml.safe_load((PROJECT / ".pre-commit-hooks.yaml").read_text())
    }
    hook = hooks["mikado-check"]
    assert hook["language"] == "python"
    # the whole tree matters (a doc elsewhere may now be an orphan), not the files changed
    assert hook["pass_filenames"] is False and hook["always_run"] is True
    command = shlex.split(hook["entry"])
    assert command[0] == "mikado"
    write_tree(tmp_path, {"a.md": doc("A", "[[missing]]\n")})
    failing = run_mikado(*command[1:], cwd=tmp_path)
    assert failing.returncode == 1 and "missing" in failing.stdout
    (tmp_path / "docs" / "a.md").write_text(doc("A"))
    assert run_mikado(*command[1:], cwd=tmp_path).returncode == 0
