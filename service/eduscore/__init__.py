"""eduscore: rates the educational value of code snippets, as a gRPC service."""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"
__all__ = ["ScoredSnippet", "Scorer", "Settings", "Snippet", "__version__"]

if TYPE_CHECKING:
    from eduscore.config import Settings
    from eduscore.scoring.scorer import ScoredSnippet, Scorer, Snippet


def __getattr__(name: str) -> object:
    # Lazy: `import eduscore` must not pull in torch (the client and CLI start fast).
    if name == "Settings":
        from eduscore.config import Settings

        return Settings
    if name in {"Scorer", "ScoredSnippet", "Snippet"}:
        from eduscore.scoring import scorer

        return getattr(scorer, name)
    raise AttributeError(name)
