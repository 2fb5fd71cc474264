"""`mikado init` as an adopting team runs it: on a docs repository shaped like the operators'
(category folders with index docs, a root index, changelog fragments, a chain under how-to/
whose goal names its own branch), `init` then `check` pass, and the snippets it prints work."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from gitrepo import GitRepo, isolate_git
from treebuilder import card_text, doc, run_mikado

PROJECT = Path(__file__).resolve().parents[2]
BRANCH = "mikado/handbook-search"  # the goal's stem is add-handbook-search


def docs_repository(root: Path) -> GitRepo:
    repo = GitRepo(root)
    files = {
        "docs/index.md": doc("Handbook", "[[how-to]] [[reference]] [[explanation]]\n"),
        "docs/how-to/how-to.md": doc(
            "How-to",
            "- [[add-handbook-search]]\n- [[build-search-index]]\n- [[rotate-backups]]\n",
        ),
        "docs/how-to/search/add-handbook-search.md": card_text(
            "Add Handbook Search",
            status="active",
            branch=BRANCH,
            requires=["build-search-index"],
            body="# Add Handbook Search\n\nNeeds [[build-search-index]].\n",
        ),
        "docs/how-to/search/build-search-index.md": card_text(
            "Build Search Index", status="active", body="Uses [[search-engine]].\n"
        ),
        "docs/how-to/ops/rotate-backups.md": doc("Rotate Backups", "See [[search-engine]].\n"),
        "docs/reference/reference.md": doc("Reference", "- [[search-engine]]\n"),
        "docs/reference/tools/search-engine.md": doc("Search Engine", "Used by [[how-to]].\n"),
        "docs/explanation/explanation.md": doc("Explanation", "- [[why-a-handbook]]\n"),
        "docs/explanation/why-a-handbook.md": doc("Why", "Start at [[index]].\n"),
        "docs/changelog.d/search.feature.md": "Search the handbook.\n",
        "docs/site.config.ts": "export default {}\n",
        "mise-tasks/docs-check-links": "#!/bin/sh\nexit 0\n",
    }
    for path, text in files.items():
        repo.write(path, text)
    repo.commit("The handbook")
    return repo


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    isolate_git(monkeypatch, tmp_path)
    return docs_repository(tmp_path / "handbook")


def test_init_then_check_passes_and_the_branch_tools_follow(repo: GitRepo) -> None:
    done = run_mikado("init", cwd=repo.path)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("Docs: docs (9 docs, 2 with status/requires under how-to/)\n")
    assert "Wrote mikado.toml:" in done.stdout
    # (A warning may remain: the checks' branch-name rule still expects mikado/<stem>.)
    assert "`mikado check` with it: 0 errors, " in done.stdout
    assert repo.read("mikado.toml").splitlines()[1:] == [
        "[mikado]",
        'docs = "docs"',
        "# `status` and `requires` only in the folders that hold cards now",
        'cards_in = ["how-to"]',
        "# no actions/ folder: every card is done by hand (`mikado done CARD`)",
        'ignore = ["action-missing"]',
    ]
    check = run_mikado("check", "--format", "json", cwd=repo.path)
    assert check.returncode == 0, check.stdout
    report = yaml.safe_load(check.stdout)
    assert (report["docs"], report["cards"], report["errors"]) == (9, 2, 0)
    github = run_mikado("check", "--format", "github", cwd=repo.path)
    assert github.returncode == 0 and "::error" not in github.stdout
    # The goal's branch is not mikado/<its stem>: resume and branch-check still find it.
    repo.commit("Adopt mikado")
    repo.switch(BRANCH)
    repo.write("src/search.py", "index = {}\n")
    repo.commit("C2(add-handbook-search): impl a first index")
    assert run_mikado("branch-check", cwd=repo.path).returncode == 0
    resume = run_mikado("resume", cwd=repo.path)
    assert resume.stdout.startswith(f"Branch {BRANCH}: mid-cycle\n")
    assert "Add Handbook Search — 0/2 done" in resume.stdout


def test_dry_run_writes_nothing(repo: GitRepo) -> None:
    before = sorted(p.name for p in repo.path.iterdir())
    done = run_mikado("init", "--dry-run", cwd=repo.path)
    assert done.returncode == 0
    assert "Would write mikado.toml (--dry-run):" in done.stdout
    assert '    cards_in = ["how-to"]' in done.stdout
    assert sorted(p.name for p in repo.path.iterdir()) == before


def test_an_existing_configuration_is_refused_without_force(repo: GitRepo) -> None:
    repo.write("mikado.toml", '[mikado]\ndocs = "docs"\n')
    refused = run_mikado("init", cwd=repo.path)
    assert refused.returncode == 2
    assert refused.stdout == ""
    assert refused.stderr == (
        f"mikado: {repo.path / 'mikado.toml'} already configures mikado; pass --force to "
        "replace it, or --dry-run to see the proposal\n"
    )
    assert repo.read("mikado.toml") == '[mikado]\ndocs = "docs"\n'
    dry = run_mikado("init", "--dry-run", cwd=repo.path)
    assert "Would write mikado.toml, replacing mikado.toml (--dry-run):" in dry.stdout
    forced = run_mikado("init", "--force", cwd=repo.path)
    assert forced.returncode == 0
    assert "cards_in" in repo.read("mikado.toml")


def test_docs_and_config_options_name_the_folder_and_the_file(repo: GitRepo) -> None:
    repo.write("handbook/a.md", doc("A", "[[b]]\n"))
    repo.write("handbook/b.md", doc("B", "[[a]]\n"))
    done = run_mikado("init", "--docs", "handbook", "--config", "conf/mikado.toml", cwd=repo.path)
    assert done.returncode == 0, done.stderr
    assert "Wrote conf/mikado.toml:" in done.stdout
    assert 'docs = "../handbook"' in done.stdout  # relative: the file is committed
    assert run_mikado("check", "--config", "conf/mikado.toml", cwd=repo.path).returncode == 0
    assert not (repo.path / "mikado.toml").exists()
    # The hooks and the CI job run at the top, where mikado would not find conf/mikado.toml.
    assert "entry: mikado check --config conf/mikado.toml\n" in done.stdout
    assert "entry: mikado branch-check --config conf/mikado.toml --commit-msg" in done.stdout
    assert "run: mikado check --config conf/mikado.toml --format github" in done.stdout


def test_baseline_turns_today_s_errors_into_per_file_ignores(repo: GitRepo) -> None:
    repo.write("docs/reference/tools/search-engine.md", doc("Search Engine", "[[no-such]]\n"))
    done = run_mikado("init", cwd=repo.path)
    assert "`mikado check` with it: 1 error, " in done.stdout
    assert "docs/reference/tools/search-engine.md:6: wiki-link [[no-such]]" in done.stdout
    assert run_mikado("check", cwd=repo.path).returncode == 1
    done = run_mikado("init", "--force", "--baseline", cwd=repo.path)
    assert "`mikado check` with it: 0 errors, " in done.stdout
    assert '"broken-link:reference/tools/search-engine.md"' in repo.read("mikado.toml")
    assert run_mikado("check", cwd=repo.path).returncode == 0


def test_the_printed_hooks_and_ci_job_are_the_real_ones(repo: GitRepo) -> None:
    out = run_mikado("init", "--dry-run", cwd=repo.path).stdout
    pre_commit, _, ci = out.partition("pre-commit (.pre-commit-config.yaml):\n")[2].partition(
        "CI (Forgejo or GitHub Actions):\n"
    )
    hooks = yaml.safe_load(_dedent(pre_commit))["repos"][0]["hooks"]
    shipped = {
        hook["id"]: hook
        for hook in yaml.safe_load((PROJECT / ".pre-commit-hooks.yaml").read_text())
    }
    for hook in hooks:  # the same commands and stages as the hooks mikado ships
        ours = shipped[hook["id"]]
        assert hook["entry"] == ours["entry"]
        assert hook.get("stages") == ours.get("stages")
        assert hook.get("pass_filenames", True) == ours.get("pass_filenames", True)
    workflow = yaml.safe_load(_dedent(ci))
    steps = workflow["jobs"]["mikado"]["steps"]
    command = steps[-1]["run"].split("#")[0].split()
    assert command == ["mikado", "check", "--format", "github"]
    run_mikado("init", cwd=repo.path)
    assert run_mikado(*command[1:], cwd=repo.path).returncode == 0


def _dedent(block: str) -> str:
    return "\n".join(line[4:] for line in block.splitlines())
