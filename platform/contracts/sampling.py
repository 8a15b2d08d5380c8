"""Per-user caps on training samples, so bots and always-on players don't dominate.

A shop looping a playlist all day produces thousands of events a day; left alone it
would outweigh hundreds of real listeners in every loss. ``cap_samples_per_user`` keeps
at most ``cap`` rows per (user, day). Which rows survive is decided by a seeded hash of
each row's id, not by row order, so the same rows survive however the table was
partitioned or sorted (the Spark job applies the same hash to get the same sample).

A per-day cap alone does not stop a bot: it plays all day, every day, so it still
collects ``cap`` samples each day, far more than a listener. As YouTube-DNN keeps a
fixed number of samples per user, the budget (``rate``, ``burst``) also bounds each
user *over time*, as a token bucket (:func:`bucket_quotas`): a user starts with
``burst`` samples, earns ``rate`` per day up to ``burst``, and a day keeps at most what
is in the bucket. Any user therefore keeps at most ``burst + rate * (T - 1)`` samples
over any ``T`` consecutive days, however much they play; a light user's busy day
(up to ``burst``) is kept whole. The bucket of day ``d`` starts full ``horizon_days``
before ``d`` (or at the user's first row), so a day's quota depends on those days'
counts only and a batch job computes it from the history it reads anyway.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

_HASH_KEY_LEN = 16  # pandas' hash_array needs a 16-character key


def sample_priority(ids: pd.Series, seed: int) -> np.ndarray:
    """A deterministic pseudo-random uint64 per row id; lower keeps first."""
    hash_key = f"{seed:0{_HASH_KEY_LEN}d}"[-_HASH_KEY_LEN:]
    return pd.util.hash_array(ids.astype(str).to_numpy(dtype=object), hash_key=hash_key)


def bucket_quotas(counts, rate: int, burst: int) -> np.ndarray:
    """Rows kept on each of consecutive days that have ``counts[i]`` rows, by a token
    bucket that starts full with ``burst`` tokens: day ``i`` keeps
    ``min(counts[i], tokens)``, then ``rate`` tokens are added, up to ``burst``.
    So any ``T`` consecutive days keep at most ``burst + rate * (T - 1)`` rows."""
    if rate < 0 or burst < 1:
        raise ValueError(f"need rate >= 0 and burst >= 1, got rate={rate}, burst={burst}")
    counts = np.asarray(counts, dtype=np.int64)
    kept = np.zeros(len(counts), dtype=np.int64)
    tokens = burst
    for i, n in enumerate(counts):
        kept[i] = min(int(n), tokens)
        tokens = min(burst, tokens - kept[i] + rate)
    return kept


def user_day_quotas(days: pd.DataFrame, rate: int, burst: int, horizon_days: int,
                    *, user_col: str = "user_id", day_col: str = "day",
                    count_col: str = "n", targets=None) -> pd.DataFrame:
    """The bucket quota of each (user, day) of ``days`` (one row per user and day with
    ``count_col`` rows that day; days may be absent = 0): :func:`bucket_quotas` over the
    days from ``horizon_days`` before the day (or the user's first day, if later) to the
    day. ``targets``: only these days get a row (default: every day of ``days``).
    Returns the columns ``user_col``, ``day_col``, ``count_col`` and ``quota``."""
    if horizon_days < 0:
        raise ValueError(f"horizon_days must be >= 0, got {horizon_days}")
    rows = []
    day_ns = np.timedelta64(1, "D")
    wanted = None if targets is None else {pd.Timestamp(d).date() for d in targets}
    frame = days[[user_col, day_col, count_col]].copy()
    frame[day_col] = pd.to_datetime(frame[day_col])
    for user, g in frame.groupby(user_col, sort=True):
        g = g.groupby(day_col)[count_col].sum()
        first = g.index.min()
        dense = g.reindex(pd.date_range(first, g.index.max(), freq="D"), fill_value=0)
        values = dense.to_numpy()
        for day, n in g.items():
            if wanted is not None and day.date() not in wanted:
                continue
            end = int((day - first) / day_ns)
            start = max(0, end - horizon_days)
            quota = bucket_quotas(values[start:end + 1], rate, burst)[-1]
            rows.append((user, day, int(n), int(quota)))
    out = pd.DataFrame(rows, columns=[user_col, day_col, count_col, "quota"])
    out[day_col] = pd.to_datetime(out[day_col])
    return out.astype({count_col: "int64", "quota": "int64"})


def cap_samples_per_user(
    df: pd.DataFrame,
    cap: int,
    seed: int,
    *,
    user_col: str = "user_id",
    ts_col: str | None = "ts",
    id_col: str = "event_id",
    rate: int | None = None,
    burst: int | None = None,
    horizon_days: int = 30,
) -> pd.DataFrame:
    """Keep at most ``cap`` rows per user per day (per user overall if ``ts_col`` is None).

    With ``rate`` and ``burst`` (per-day only), a day also keeps at most the user's
    bucket quota (:func:`user_day_quotas` over the rows of ``df``, ``horizon_days``):
    the cap per user-day is ``min(cap, quota)``.

    Rows with a null user (anonymous sessions) are never capped: each belongs to a
    single short session. The kept rows are those with the lowest
    ``sample_priority(id, seed)`` in their group; the result keeps the input order and
    index. Deterministic for the same rows and seed.
    """
    if cap < 1:
        raise ValueError(f"cap must be at least 1, got {cap}")
    if (rate is None) != (burst is None):
        raise ValueError("give both rate and burst, or neither")
    if rate is not None and ts_col is None:
        raise ValueError("the rate/burst budget is per day: it needs ts_col")
    if df.empty:
        return df
    group_cols = [user_col]
    keyed = df[[user_col]].reset_index(drop=True)
    if ts_col is not None:
        ts = pd.to_datetime(df[ts_col])
        if ts.dt.tz is not None:
            ts = ts.dt.tz_convert("UTC").dt.tz_localize(None)
        keyed["_day"] = ts.dt.floor("D").to_numpy()
        group_cols.append("_day")
    keyed["_priority"] = sample_priority(df[id_col], seed)
    keyed["_row"] = np.arange(len(df))
    limit = np.full(len(df), cap, dtype=np.int64)
    if rate is not None:
        assert burst is not None  # checked above: both or neither
        known = keyed[keyed[user_col].notna()]
        counts = known.groupby([user_col, "_day"]).size().rename("n").reset_index()
        quotas = user_day_quotas(counts, rate, burst, horizon_days, user_col=user_col, day_col="_day")
        merged = keyed[[user_col, "_day"]].merge(quotas, on=[user_col, "_day"], how="left")
        limit = np.minimum(limit, merged["quota"].fillna(cap).to_numpy(dtype=np.int64))
    ranked = keyed.sort_values(["_priority", "_row"])
    rank = ranked.groupby(group_cols, sort=False, dropna=False).cumcount()
    keep = (rank.sort_index().to_numpy() < limit) | df[user_col].isna().to_numpy()
    return df[keep]
