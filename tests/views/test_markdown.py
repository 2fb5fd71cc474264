"""`mikado status --format markdown`: a pull-request description with graph and checklist."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from mikado.cli import run_cli
from mikado.config import load_config
from mikado.model.chains import Plan
from mikado.tree.loader import load_docs
from mikado.views.graph import mermaid
from mikado.views.markdown import code, escape


def write(root: Path, stem: str, title: str, status: str | None, requires: list[str]) -> None:
    lines = ["---", "title: '" + title.replace("'", "''") + "'", "modified: 2026-01-02"]
    if status:
        lines.append(f"status: {status}")
    if requires:
        lines.append("requires: [" + ", ".join(requires) + "]")
    lines += ["tags: [t]", "---", "", "body", ""]
    (root / f"{stem}.md").write_text("\n".join(lines), encoding="utf-8")


@pytest.fixture
def chains_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    docs = tmp_path / "cards"
    docs.mkdir()
    write(docs, "leaf", "A *leaf* with [a link](http://x) and <b>html</b>", None, [])
    write(docs, "middle", "Middle", "active", ["leaf"])
    write(docs, "broken", "Broken", "failed", [])
    write(docs, "goal", "The Goal", "active", ["middle", "broken"])
    write(docs, "second", "Second Goal", "active", [])
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".mikado").mkdir()
    (tmp_path / ".mikado" / "journal.jsonl").write_text(
        json.dumps(
            {
                "time": "2026-01-03T10:00:00+00:00",
                "event": "card-end",
                "stem": "broken",
                "outcome": "failed",
                "error": "zot: GET /v2/ → 500: `boom`",
            }
        )
        + "\n",
        encoding="utf-8",
    )
    return tmp_path


def markdown(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert run_cli(["status", *args, "--format", "markdown"]) == 0
    return capsys.readouterr().out


def test_chain_as_pull_request_description(
    chains_tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = markdown(capsys, "goal")
    plan = Plan(load_docs(load_config(cwd=chains_tree), strict_graph=True))
    tokens = MarkdownIt("commonmark").parse(text)
    fences = [t for t in tokens if t.type == "fence"]
    assert [f.info for f in fences] == ["mermaid"]
    assert fences[0].content == mermaid([plan.chain("goal")])
    items = [line for line in text.splitlines() if line.startswith("- [")]
    # Run order, done ticked, open cards with their state, the failure's last error.
    assert [re.search(r"`([^`]+)`", i).group(1) for i in items] == [  # type: ignore[union-attr]
        "broken",
        "leaf",
        "middle",
        "goal",
    ]
    assert items[1].startswith("- [x] `leaf` — ")
    assert items[2] == "- [ ] `middle` — Middle (ready)"
    assert items[0].startswith("- [ ] `broken` — Broken (failed): ")
    assert "`` zot: GET /v2/ → 500: `boom` ``" in items[0]
    assert "1/4 done" in text and "no branch yet" in text
    # User text renders literally: no emphasis, link or HTML from a title. The URL is in a
    # code span besides, where GitHub and Forgejo do not autolink it.
    html = MarkdownIt("commonmark").render(text)
    assert "<em>" not in html and "<a " not in html and "<b>" not in html
    assert "A *leaf* with [a link](<code>http://x</code>) and &lt;b&gt;html&lt;/b&gt;" in html


def test_all_open_chains_one_section_each(
    chains_tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = markdown(capsys)
    assert [line for line in text.splitlines() if line.startswith("## ")] == [
        "## Mikado chain: The Goal",
        "## Mikado chain: Second Goal",
    ]
    assert text.count("```mermaid") == 2


@pytest.mark.parametrize("text", ["plain", "has `tick`", "`edge`", "a `` b", "x"])
def test_code_span_holds_any_text(text: str) -> None:
    html = MarkdownIt("commonmark").renderInline(code(text))
    assert html == f"<code>{text}</code>"


def test_escape_renders_literally() -> None:
    text = "a_b *c* [d](e) <f> `g` # h | i ~j~ \\ k"
    rendered = MarkdownIt("commonmark").renderInline(escape(text))
    assert rendered == text.replace("<", "&lt;").replace(">", "&gt;")


# What GitHub and Forgejo make live in plain text of a pull request: bare URLs of any scheme,
# `www.` addresses and e-mail addresses become links, `@user` and `@org/team` notify people.
LIVE_TITLES = {
    "Ping @security-team and @acme/ops-oncall about it": ["@security-team", "@acme/ops-oncall"],
    "see https://evil.example/x?y=1, then www.example.org.": [
        "https://evil.example/x?y=1",
        "www.example.org",
    ],
    "mail ops@example.com (or WWW.example.net)": ["ops@example.com", "WWW.example.net"],
    "(@lead) and mailto:a@b.example": ["@lead", "mailto:a@b.example"],
    "ftp://files.example/a_b and git+ssh://host/x": ["ftp://files.example/a_b", "git+ssh://host/x"],
}


def _outside_code(html: str) -> str:
    return re.sub(r"<code>.*?</code>", "", html)


@pytest.mark.parametrize(("title", "quoted"), LIVE_TITLES.items(), ids=range(len(LIVE_TITLES)))
def test_urls_and_mentions_in_titles_are_quoted_not_live(title: str, quoted: list[str]) -> None:
    html = MarkdownIt("commonmark").renderInline(escape(title))
    assert re.findall(r"<code>(.*?)</code>", html) == quoted
    rest = _outside_code(html)
    assert "@" not in rest and "://" not in rest and "www." not in rest.lower()
    # Read as text, the title is unchanged: nothing was inserted into it.
    assert re.sub(r"</?code>", "", html) == title.replace("&", "&amp;")


@pytest.mark.parametrize("title", ["email@localhost is fine", "C# and @-sign, 100%", "x@y"])
def test_text_the_forges_leave_alone_stays_plain(title: str) -> None:
    # No mention (an @ inside a word, or before no name) and no address (a domain without a dot)
    assert "<code>" not in MarkdownIt("commonmark").renderInline(escape(title))


def test_a_pull_request_description_pings_and_links_no_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = tmp_path / "cards"
    docs.mkdir()
    write(docs, "leaf", "Ask @acme/security, see https://wiki.example/zot", None, [])
    write(docs, "goal", "Harden zot for @alice (www.example.com)", "active", ["leaf"])
    monkeypatch.chdir(tmp_path)
    text = markdown(capsys, "goal")
    prose = MarkdownIt("commonmark").render(text.split("```mermaid")[0] + text.split("```\n")[-1])
    rest = _outside_code(prose)
    assert "@" not in rest and "://" not in rest and "www." not in rest
    for piece in ("@acme/security", "https://wiki.example/zot", "@alice", "www.example.com"):
        assert f"<code>{piece}</code>" in prose


def test_control_characters_in_titles_show_as_escapes() -> None:
    assert escape("a\x1b]0;t\x07b") == "a\\\\x1b\\]0;t\\\\x07b"
    assert code("\x1b[2J") == "`\\x1b[2J`"
