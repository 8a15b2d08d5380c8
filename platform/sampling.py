"""Per-user caps on training samples, so bots and always-on players don't dominate.

A shop looping a playlist all day produces thousands of events a day; left alone it
would outweigh hundreds of real listeners in every loss. ``cap_samples_per_user`` keeps
at most ``cap`` rows per (user, day). Which rows survive is decided by a seeded hash of
each row's id, not by row order, so the same rows survive however the table was
partitioned or sorted (the Spark job applies the same hash to get the same sample).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

_HASH_KEY_LEN = 16  # pandas' hash_array needs a 16-character key


def sample_priority(ids: pd.Series, seed: int) -> np.ndarray:
    """A deterministic pseudo-random uint64 per row id; lower keeps first."""
    hash_key = f"{seed:0{_HASH_KEY_LEN}d}"[-_HASH_KEY_LEN:]
    return pd.util.hash_array(ids.astype(str).to_numpy(dtype=object), hash_key=hash_key)


def cap_samples_per_user(
    df: pd.DataFrame,
    cap: int,
    seed: int,
    *,
    user_col: str = "user_id",
    ts_col: str | None = "ts",
    id_col: str = "event_id",
) -> pd.DataFrame:
    """Keep at most ``cap`` rows per user per day (per user overall if ``ts_col`` is None).

    Rows with a null user (anonymous sessions) are never capped: each belongs to a
    single short session. The kept rows are those with the lowest
    ``sample_priority(id, seed)`` in their group; the result keeps the input order and
    index. Deterministic for the same rows and seed.
    """
    if cap < 1:
        raise ValueError(f"cap must be at least 1, got {cap}")
    if df.empty:
        return df
    group_cols = [user_col]
    keyed = df[[user_col]].reset_index(drop=True)
    if ts_col is not None:
        keyed["_day"] = pd.to_datetime(df[ts_col]).dt.floor("D").to_numpy()
        group_cols.append("_day")
    keyed["_priority"] = sample_priority(df[id_col], seed)
    keyed["_row"] = np.arange(len(df))
    ranked = keyed.sort_values(["_priority", "_row"])
    rank = ranked.groupby(group_cols, sort=False, dropna=False).cumcount()
    keep = (rank.sort_index().to_numpy() < cap) | df[user_col].isna().to_numpy()
    return df[keep]
