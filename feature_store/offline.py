"""Point-in-time correct training reads from the offline store.

Feast 0.67's file (dask) offline store drops an entity row whose key has feature rows
only *after* the row's timestamp, instead of returning it with nulls (it joins on the
key, then filters by time). Training sets built on it would silently lose exactly the
"new track, no statistics yet" rows. ``historical_features`` restores them: one output
row per entity row, in the entity frame's order, nulls where no value was known yet.
"""

from __future__ import annotations

import pandas as pd
from feast import FeatureService, FeatureStore

_ROW = "__encore_entity_row"


def historical_features(
    store: FeatureStore,
    entity_df: pd.DataFrame,
    features: list[str] | FeatureService,
    *,
    full_feature_names: bool = False,
) -> pd.DataFrame:
    """``entity_df`` plus the features as of each row's ``event_timestamp``."""
    if _ROW in entity_df.columns:
        raise ValueError(f"entity_df must not have a column named {_ROW}")
    keyed = entity_df.reset_index(drop=True).assign(**{_ROW: range(len(entity_df))})
    joined = store.get_historical_features(
        entity_df=keyed, features=features, full_feature_names=full_feature_names
    ).to_df()
    added = [c for c in joined.columns if c not in keyed.columns]
    result = keyed.merge(joined[[_ROW, *added]], on=_ROW, how="left", validate="one_to_one")
    return result.drop(columns=_ROW)
