"""encore.feature_store: the Feast repo (entities, feature views, push sources) and the
serving-side feature client with its item-feature cache (docs/design.md, docs/architecture.md).
It depends only on the protos: its settings come in as any ``StoreSettings`` (settings.py)."""
