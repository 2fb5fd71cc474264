"""The options every command takes, before or after its name (`--docs`, `--config`,
`--format`), and what commands share: loading the configuration and reading the docs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from mikado.cli.output import StatusLine
from mikado.errors import UsageError

if TYPE_CHECKING:  # imported where used, at run time: start-up stays lean
    from click.shell_completion import CompletionItem

    from mikado.config import Config
    from mikado.lab.emulators.releases import LabVersions
    from mikado.lab.operator import OperatorSources
    from mikado.model.chains import Plan

F = TypeVar("F", bound=Callable[..., Any])

_META = "mikado.options"


@dataclass
class GlobalOptions:
    """`--docs`, `--config` and `--format`, accepted before or after the subcommand; the one
    written after it wins."""

    docs: Path | None = None
    config: Path | None = None
    format: str | None = None


def _options(ctx: click.Context) -> GlobalOptions:
    root = ctx.find_root()
    options: GlobalOptions | None = root.meta.get(_META)
    if options is None:
        options = root.meta[_META] = GlobalOptions()
    return options


def _store(name: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> None:
        if value is not None:
            setattr(_options(ctx), name, value)

    return callback


def global_options(func: F) -> F:
    func = click.option(
        "--format",
        "format_",
        metavar="FORMAT",
        expose_value=False,
        callback=_store("format"),
        help="Output format: human (default), json, or what the command lists.",
    )(func)
    func = click.option(
        "--config",
        type=click.Path(path_type=Path, dir_okay=False),
        expose_value=False,
        callback=_store("config"),
        help="Configuration file (default: nearest mikado.toml or pyproject.toml [tool.mikado]).",
    )(func)
    func = click.option(
        "--docs",
        type=click.Path(path_type=Path, file_okay=False),
        expose_value=False,
        callback=_store("docs"),
        help="Docs root (overrides the configured `docs`).",
    )(func)
    return func


def output_format(ctx: click.Context, allowed: Sequence[str]) -> str:
    chosen = _options(ctx).format or "human"
    if chosen not in allowed:
        raise UsageError(
            f"`{ctx.info_name}` does not support --format {chosen} (choose: {', '.join(allowed)})"
        )
    return chosen


def load_settings(ctx: click.Context) -> Config:
    from mikado.config import load_config

    options = _options(ctx)
    return load_config(config_file=options.config, docs=options.docs)


def operator_sources(ctx: click.Context, infra: Path | None) -> OperatorSources | None:
    """With `--lab --infra PATH`: the repository, and the configuration `--config` names (the
    chain's configuration for that repository, which the lab points at its emulators)."""
    if infra is None:
        return None
    from mikado.lab.operator import OperatorSources

    config = _options(ctx).config
    return OperatorSources(infra.absolute(), config.absolute() if config else None)


LAB_INFRA_HELP = (
    "With --lab: copy the infrastructure repository at PATH into the workspace and run the "
    "chain on it; --config then names the chain's configuration for that repository (its "
    "service URLs, tokens and deploy commands are pointed at the lab). See docs/repo-mode.md."
)


def read_plan(config: Config) -> Plan:
    """The docs of ``config`` as chains, read strictly (the graph must be sound), with a
    status line while a large tree is read."""
    from mikado.engine.lock import holder
    from mikado.errors import DocsError
    from mikado.model.chains import Plan
    from mikado.tree.loader import load_docs
    from mikado.views.paths import shown_problems

    with StatusLine("reading docs") as progress:
        try:
            docs = load_docs(config, strict_graph=True, progress=progress)
        except DocsError as error:
            # the findings' paths as `check` shows them, not relative to the docs root
            raise shown_problems(error, config.docs) from None
    return Plan(docs, run_live=holder(config.runtime) is not None)


def goal_stem(plan: Plan, goal: str) -> str:
    return str(plan.docs.require(goal).stem)


def every_goal(plan: Plan) -> list[str]:
    """`status --all`: the goals of the open chains and of the complete ones, by stem. A
    complete chain's goal is a complete card still carrying Mikado fields (`finalize` has not
    stripped it) that no card requires."""
    cards = plan.docs.cards
    required = {stem for card in cards.values() for stem in card.requires}
    complete = [
        stem
        for stem, card in cards.items()
        if card.is_complete and card.is_mikado and stem not in required
    ]
    return sorted({*plan.root_goals(), *complete})


def complete_stems(
    ctx: click.Context, _param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Shell completion of a GOAL or CARD: the stems of the cards (docs carrying `status`,
    `requires` or `branch`) that start with what is typed, open ones first. Read from the scan
    cache, so a warm tree answers in a fraction of a second; any problem completes nothing
    rather than printing into the person's command line."""
    import warnings

    from click.shell_completion import CompletionItem

    from mikado.config import load_config
    from mikado.tree.loader import load_docs
    from mikado.views.printable import printable

    options = _options(ctx)
    try:
        with warnings.catch_warnings():  # a damaged cache must not write into the prompt
            warnings.simplefilter("ignore")
            docs = load_docs(load_config(config_file=options.config, docs=options.docs))
    except Exception:  # a broken tree or configuration completes nothing
        return []
    cards = [c for c in docs.cards.values() if c.is_mikado and c.stem.startswith(incomplete)]
    cards.sort(key=lambda card: (card.is_complete, card.stem))
    return [
        CompletionItem(card.stem, help=printable(card.title) if card.title else None)
        for card in cards
    ]


LAB_VERSIONS_HELP = (
    "With --lab: the releases the emulators imitate, e.g. authentik=2025.2,zot=2.1.17,forgejo=11 "
    "(default: the newest of each: authentik 2025.2|2026.8, zot 2.1.10|2.1.17|2.1.20, "
    "forgejo 11|16)."
)


def lab_versions(text: str | None) -> LabVersions | None:
    """``--lab-versions`` parsed, or None when not given; a usage error names the problem."""
    if text is None:
        return None
    from mikado.lab.emulators.releases import LabVersions

    try:
        return LabVersions.parse(text)
    except ValueError as error:
        raise UsageError(f"--lab-versions: {error}") from None
