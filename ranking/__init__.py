"""encore.ranking: the Ranker contract and the ranking stack (DIN -> DIEN -> session
multi-behaviour ranker); see docs/design.md."""

from encore.platform import runtime_env as _runtime_env  # noqa: F401  (sets env first)
