"""`mikado init`: adopting mikado in an existing docs repository (docs/reference.md#commands).

It looks at the docs as they are and proposes the configuration under which they already
pass, as far as configuration can say it: where the docs are, which folders hold cards
(``cards_in``), which of the usual required fields the docs carry, which link targets the site
build adds (``build_time_docs``) and whether open cards need actions. What a configuration
cannot excuse (a broken link, an orphan) is shown, or with ``baseline`` recorded as per-file
``ignore`` entries a team removes as it fixes them.
"""

from __future__ import annotations

import glob
import json
import os
import tempfile
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from mikado.checks.gate import Report, check_docs
from mikado.config import ALWAYS_EXCLUDED, CONFIG_FILE, PYPROJECT, Config, find_config_file
from mikado.errors import UsageError
from mikado.model.card import MIKADO_FIELDS, lacks
from mikado.model.findings import Severity
from mikado.model.rules import RULE_NAMES
from mikado.tree.discover import discover
from mikado.tree.frontmatter import FrontMatterError, parse_block, split_bytes

DOCS_FOLDERS = ("docs", "cards")  # where docs usually live, in order of preference
DEFAULT_REQUIRED = ("title", "modified", "tags")
PLACED_FIELDS = ("status", "requires")  # the fields `cards_in` confines (field-misplaced)

PRE_COMMIT = """\
repos:
  - repo: local  # mikado installed where the hooks run
    hooks:
      - id: mikado-check
        name: mikado check
        entry: mikado check{config}
        language: system
        pass_filenames: false
        always_run: true
        stages: [pre-commit]  # not again at commit-msg, where the next hook runs
      - id: mikado-branch-check  # `pre-commit install -t commit-msg`
        name: mikado branch invariant
        entry: mikado branch-check{config} --commit-msg
        language: system
        stages: [commit-msg]
"""

CI_WORKFLOW = """\
# .forgejo/workflows/docs.yaml (Forgejo Actions) or .github/workflows/docs.yaml
name: docs
on: [push, pull_request]
jobs:
  mikado:
    runs-on: ubuntu-latest  # Forgejo: a label your runner has, e.g. docker
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.12"
      - run: pip install "mikado-chains @ git+https://example.org/your/mikado-mirror"
      - run: mikado check{config} --format github  # annotations on the diff; exit 1 on an error
"""


def snippets(target: Path, top: Path) -> tuple[str, str]:
    """The pre-commit configuration and the CI workflow for a configuration written to
    ``target``, run from the repository's ``top``: they name the file when mikado would not
    find it there by itself."""
    rel = os.path.relpath(target, top)
    config = "" if rel in (CONFIG_FILE,) else f" --config {rel}"
    return PRE_COMMIT.format(config=config), CI_WORKFLOW.format(config=config)


@dataclass(frozen=True, slots=True)
class Survey:
    """What the docs under ``root`` hold, as far as the configuration is concerned."""

    root: Path
    docs: int
    with_front_matter: int
    # Paths (from the root) of the docs carrying `status` or `requires`.
    placed: tuple[str, ...]
    # For each usual required field, how many docs with front-matter lack it (as `check` sees it).
    lacking: Mapping[str, int] = field(default_factory=dict)

    @property
    def card_folders(self) -> tuple[str, ...]:
        """The top folders holding the cards, or ``()`` when a card lies at the root (then
        `cards_in` cannot confine them)."""
        tops = {path.split("/", 1)[0] for path in self.placed if "/" in path}
        if len(tops) == 0 or any("/" not in path for path in self.placed):
            return ()
        return tuple(sorted(tops))


def survey(root: Path) -> Survey:
    """Read the front-matter of every doc discovery finds (no cache is written: nothing is
    configured yet)."""
    paths = discover(root, frozenset(ALWAYS_EXCLUDED))
    placed: list[str] = []
    lacking = dict.fromkeys(DEFAULT_REQUIRED, 0)
    with_front_matter = 0
    for path in paths:
        meta = _front_matter(root / path)
        if meta is None:
            continue  # `check` reports it (frontmatter-missing or -invalid)
        with_front_matter += 1
        if any(key in meta for key in PLACED_FIELDS):
            placed.append(path)
        for key in DEFAULT_REQUIRED:
            if lacks(meta, key):
                lacking[key] += 1
    return Survey(root, len(paths), with_front_matter, tuple(placed), lacking)


def _front_matter(path: Path) -> Mapping[str, object] | None:
    try:
        block = split_bytes(path.read_bytes())
        if block is None:
            return None
        meta = parse_block(block)
    except (OSError, FrontMatterError):
        return None
    return meta if isinstance(meta, dict) else None


def find_docs(cwd: Path, given: Path | None = None) -> Path:
    """The docs folder: ``given``, else the first of ``docs/`` and ``cards/`` in ``cwd`` that
    holds Mikado cards, else the first that holds any doc."""
    if given is not None:
        folder = (cwd / given).absolute()
        if not folder.is_dir():
            raise UsageError(f"--docs {given}: no such folder")
        return folder
    found = [cwd / name for name in DOCS_FOLDERS if (cwd / name).is_dir()]
    with_docs = [folder for folder in found if discover(folder, frozenset(ALWAYS_EXCLUDED))]
    for folder in with_docs:
        if _has_cards(folder):
            return folder
    if with_docs:
        return with_docs[0]
    raise UsageError(
        f"no docs/ or cards/ folder with Markdown docs in {cwd}; name the docs folder with "
        "--docs DIR"
    )


def _has_cards(root: Path) -> bool:
    return any(
        (meta := _front_matter(root / path)) is not None and any(k in meta for k in MIKADO_FIELDS)
        for path in discover(root, frozenset(ALWAYS_EXCLUDED))
    )


@dataclass(frozen=True, slots=True)
class BuildTimeDoc:
    """A wiki-link ``target`` that names no doc, and the ``file`` (``<target>.md`` outside the
    docs folder) a site build copies in to serve it, as a CHANGELOG.md at the top."""

    target: str
    file: Path


@dataclass(frozen=True, slots=True)
class Proposal:
    """The configuration `init` writes: ``target`` is the file, ``survey`` what it is for."""

    target: Path
    survey: Survey
    actions: Path
    # Link targets that are no doc but a `<target>.md` beside the docs folder, as found.
    build_time: tuple[BuildTimeDoc, ...] = ()
    baseline: tuple[str, ...] = ()  # `rule:path` entries for the findings there are now

    @property
    def docs(self) -> str:
        return _relative(self.survey.root, self.target.parent)

    @property
    def required(self) -> tuple[str, ...]:
        """The usual required fields, less any that most docs do not carry (a field the
        repository does not use is not worth a finding on every doc)."""
        half = self.survey.with_front_matter / 2
        return tuple(k for k in DEFAULT_REQUIRED if self.survey.lacking.get(k, 0) <= half)

    @property
    def build_time_docs(self) -> tuple[str, ...]:
        return tuple(doc.target for doc in self.build_time)

    @property
    def manual_only(self) -> bool:
        """No actions folder: every card is done by hand, so `action-missing` is noise."""
        return not self.actions.is_dir()

    def config(self, runtime: Path) -> Config:
        """The configuration the file says, for checking the docs with it before it exists."""
        ignore = {"action-missing"} if self.manual_only else set()
        paths = tuple(tuple(entry.split(":", 1)) for entry in self.baseline)
        return Config(
            source=self.target,
            docs=self.survey.root,
            actions=self.actions,
            runtime=runtime,
            required=self.required,
            cards_in=self.survey.card_folders,
            ignore=frozenset(ignore),
            ignore_paths=tuple((rule, pattern) for rule, pattern in paths),
            build_time_docs=self.build_time_docs,
        )

    def text(self) -> str:
        s = self.survey
        lines = [
            "# mikado's configuration (docs/reference.md#configuration), from `mikado init`",
            "[mikado]",
            f"docs = {_toml(self.docs)}",
        ]
        if s.card_folders:
            lines += [
                "# `status` and `requires` only in the folders that hold cards now",
                f"cards_in = {_toml_list(s.card_folders)}",
            ]
        elif s.placed:
            lines.append("# cards_in left out: a card lies at the top of the docs folder")
        if self.required != DEFAULT_REQUIRED:
            dropped = [k for k in DEFAULT_REQUIRED if k not in self.required]
            counts = ", ".join(f"`{k}` {s.lacking[k]}" for k in dropped)
            lines += [
                f"# most docs lack {counts} of {s.with_front_matter}: not required",
                f"required = {_toml_list(self.required)}",
            ]
        if self.build_time:
            files = ", ".join(_relative(doc.file, self.target.parent) for doc in self.build_time)
            lines += [
                f"# linked from the docs but lying outside them ({files}): the site build "
                "copies them in",
                f"build_time_docs = {_toml_list(self.build_time_docs)}",
            ]
        ignore = []
        if self.manual_only:
            lines.append(
                f"# no {_relative(self.actions, self.target.parent)}/ folder: every card is "
                "done by hand (`mikado done CARD`)"
            )
            ignore.append("action-missing")
        if self.baseline:
            lines.append(
                f"# the last {len(self.baseline)} entries: findings there were at adoption; "
                "fix each and remove it"
            )
            ignore += self.baseline
        if ignore:
            lines.append(f"ignore = {_toml_list(ignore)}")
        return "\n".join(lines) + "\n"


def _relative(path: Path, base: Path) -> str:
    # Relative, `..` included: the file is committed and read from other checkouts.
    return Path(os.path.relpath(path.absolute(), base.absolute())).as_posix()


def _toml(value: str) -> str:
    # A TOML basic string: JSON's escaping is a subset TOML reads the same way.
    return json.dumps(value, ensure_ascii=False)


def _toml_list(values: Iterable[str]) -> str:
    return "[" + ", ".join(_toml(v) for v in values) + "]"


def propose(cwd: Path, docs: Path, target: Path | None = None) -> Proposal:
    target = (cwd / (target or CONFIG_FILE)).absolute()
    if target.name == PYPROJECT:
        raise UsageError(
            "init writes a mikado.toml; to keep the settings in pyproject.toml, run "
            "`mikado init --dry-run` and copy the [mikado] table there as [tool.mikado]"
        )
    proposal = Proposal(target, survey(docs), target.parent / "actions")
    return replace(proposal, build_time=build_time_docs(proposal))


def build_time_docs(proposal: Proposal) -> tuple[BuildTimeDoc, ...]:
    """The broken link targets ``T`` for which a ``T.md`` lies in the repository's top folder
    (the configuration's) or the docs folder's parent. Docs sites copy such files in at build
    time (a changelog, a licence), so the links work on the site; a target with no such file
    stays a broken link."""
    root = proposal.survey.root.absolute()
    folders = dict.fromkeys(
        folder
        for folder in (proposal.target.parent, root.parent)
        if folder != root and root not in folder.parents
    )
    # Only the links `check` calls broken are candidates: a stem or a file of the tree
    # already decides its own links.
    all_but_broken_links = frozenset(RULE_NAMES - {"broken-link"})
    with tempfile.TemporaryDirectory(prefix="mikado-init-") as runtime:
        config = proposal.config(Path(runtime))
        report = check_docs(replace(config, ignore=all_but_broken_links, ignore_paths=()))
    targets = sorted({f.target for f in report.findings if f.rule == "broken-link" and f.target})
    found: list[BuildTimeDoc] = []
    for name in targets:
        for folder in folders:
            if _is_file_named(folder, f"{name}.md"):
                found.append(BuildTimeDoc(name, folder / f"{name}.md"))
                break
    return tuple(found)


def _is_file_named(folder: Path, name: str) -> bool:
    # Exactly this name: on a case-insensitive disk `changelog.md` would open CHANGELOG.md,
    # but the site build (and a case-sensitive checkout) would not serve it.
    try:
        return name in os.listdir(folder) and (folder / name).is_file()
    except OSError:
        return False


def preview(proposal: Proposal) -> Report:
    """`mikado check` over the docs with the proposed configuration, without writing a
    file or a cache."""
    with tempfile.TemporaryDirectory(prefix="mikado-init-") as runtime:
        return check_docs(proposal.config(Path(runtime)))


def with_baseline(proposal: Proposal, report: Report) -> Proposal:
    """``proposal`` with each (rule, doc) of an error finding in ``report`` ignored, so CI
    passes from the first day and every new doc is held to every rule."""
    entries = sorted(
        {f"{f.rule}:{glob.escape(f.path)}" for f in report.findings if f.severity is Severity.ERROR}
    )
    return replace(proposal, baseline=tuple(entries))


def existing(proposal: Proposal) -> Path | None:
    """A configuration that writing ``proposal`` would replace or shadow: the target itself,
    or a `pyproject.toml` with [tool.mikado] in its folder."""
    if proposal.target.exists():
        return proposal.target
    found = find_config_file(proposal.target.parent)
    if found is not None and found.parent == proposal.target.parent:
        return found
    return None


def write(proposal: Proposal, *, force: bool = False) -> None:
    """Write the file; an existing configuration is kept unless ``force``."""
    text = proposal.text()
    tomllib.loads(text)  # never write a file mikado itself cannot read
    there = existing(proposal)
    if there is not None and not force:
        raise UsageError(
            f"{there} already configures mikado; pass --force to replace it, or --dry-run to "
            "see the proposal"
        )
    try:
        proposal.target.parent.mkdir(parents=True, exist_ok=True)
        proposal.target.write_text(text, encoding="utf-8")
    except OSError as error:
        raise UsageError(f"cannot write {proposal.target}: {error.strerror or error}") from None
