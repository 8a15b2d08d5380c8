"""encore.feature_store: the Feast repo (entities, feature views, push sources) and the
serving-side feature client with its item-feature cache (docs/design.md, docs/architecture.md)."""

from encore.platform import runtime_env as _runtime_env  # noqa: F401  (sets env first)
