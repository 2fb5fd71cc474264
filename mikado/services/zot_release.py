"""What a zot release can do, where the zot chain depends on it, from zot's source at each tag
(project-zot/zot ``pkg/api/config/config.go``, ``pkg/api/authz.go``; see docs/lab.md).

The chain needs OpenID with the client secret in a credentials file (2.1.6) and API keys;
older releases are refused before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass

from mikado.errors import ConfigError

MINIMUM = (2, 1, 6)


@dataclass(frozen=True, slots=True, order=True)
class ZotRelease:
    version: tuple[int, int, int]

    @classmethod
    def parse(cls, text: str, *, where: str = "zot") -> ZotRelease:
        """``"2.1.17"`` or ``"v2.1.17"`` (zot's ``releaseTag``); a suffix such as ``-rc1``
        is ignored."""
        core = text.strip().removeprefix("v").split("-", 1)[0].split("+", 1)[0]
        parts = core.split(".")
        if len(parts) != 3 or not all(part.isascii() and part.isdigit() for part in parts):
            raise ConfigError(f"{where}: {text!r} is not a zot release such as 2.1.20")
        major, minor, patch = (int(part) for part in parts)
        return cls((major, minor, patch))

    def __str__(self) -> str:
        return ".".join(map(str, self.version))

    def require_supported(self) -> None:
        if self.version < MINIMUM:
            raise ConfigError(
                f"zot {self} cannot take part: the chain keeps zot's OIDC client secret in a "
                "credentials file (openid credentialsFile), which zot reads from 2.1.6 on; "
                "upgrade zot to 2.1.6 or later (2.1.15+ also locks `latest`, 2.1.18+ opens "
                "metrics with anonymousPolicy)"
            )

    @property
    def claim_mapping(self) -> bool:
        """``claimMapping.username`` (2.1.11); before it, zot names OIDC users by email."""
        return self.version >= (2, 1, 11)

    @property
    def metrics_anonymous_policy(self) -> bool:
        """``accessControl.metrics.anonymousPolicy`` (2.1.18, 66e9cfb0)."""
        return self.version >= (2, 1, 18)

    @property
    def latest_needs_update(self) -> bool:
        """Overwriting ``latest`` needs ``update`` like any tag (2.1.15, ace12e2a)."""
        return self.version >= (2, 1, 15)

    @property
    def digest_push_moves_tags(self) -> bool:
        """2.1.16-2.1.18 let a create-only user move existing tags with
        ``PUT .../manifests/<digest>?tag=...`` (fixed in 2.1.19, 22deb3bb)."""
        return (2, 1, 16) <= self.version < (2, 1, 19)
