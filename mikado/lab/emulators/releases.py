"""The releases of each service the lab can imitate, and how a person names a choice of them
(``--lab-versions authentik=2025.2,zot=2.1.17,forgejo=11``).

Each emulator behaves as its release does wherever the zot chain can tell the difference; the
modules say, per behaviour, which release of the service's source it follows.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

RELEASES: dict[str, tuple[str, ...]] = {
    "authentik": ("2025.2", "2026.8"),
    "zot": ("2.1.10", "2.1.17", "2.1.20"),
    "forgejo": ("11", "16"),
}


def version_tuple(text: str) -> tuple[int, ...]:
    """``"2.1.17"`` → ``(2, 1, 17)``; a leading ``v`` is dropped."""
    return tuple(int(part) for part in text.strip().removeprefix("v").split("."))


@dataclass(frozen=True, slots=True)
class LabVersions:
    """The release each emulator imitates; the newest of each by default."""

    authentik: str = RELEASES["authentik"][-1]
    zot: str = RELEASES["zot"][-1]
    forgejo: str = RELEASES["forgejo"][-1]

    @classmethod
    def parse(cls, text: str) -> LabVersions:
        """``service=release`` pairs separated by commas; services not named keep their
        newest release. Raises ValueError naming what is wrong and what is offered."""
        chosen: dict[str, str] = {}
        for item in (part.strip() for part in text.split(",")):
            if not item:
                continue
            service, equals, release = (piece.strip() for piece in item.partition("="))
            if not equals or not release:
                raise ValueError(f"{item!r}: write service=release, e.g. zot=2.1.17")
            if service not in RELEASES:
                raise ValueError(f"{service!r} is not a lab service ({', '.join(RELEASES)})")
            if release not in RELEASES[service]:
                offered = ", ".join(RELEASES[service])
                raise ValueError(f"the lab imitates {service} {offered}, not {release}")
            if service in chosen:
                raise ValueError(f"{service} is named twice")
            chosen[service] = release
        return replace(cls(), **chosen)

    def __str__(self) -> str:
        return ",".join(f"{f.name}={getattr(self, f.name)}" for f in fields(self))

    def as_json(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self)}
