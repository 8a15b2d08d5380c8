"""encore.recall: the Channel contract, one module per recall channel, ScaNN indexes;
see docs/design.md."""

from encore.platform import runtime_env as _runtime_env  # noqa: F401  (sets env first)
