"""encore.serving: the gRPC services and the serving Pipeline (recall fan-out, merge,
rank, re-rank); see docs/design.md and docs/architecture.md."""

from encore.platform import runtime_env as _runtime_env  # noqa: F401  (sets env first)
