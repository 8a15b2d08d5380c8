"""encore.ranking (see ../shared/DESIGN.md)."""

from encore.platform import runtime_env as _runtime_env  # noqa: F401  (sets env first)
