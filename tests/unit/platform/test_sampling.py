"""Per-user sample caps: bounded, deterministic, order-independent."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from encore.platform.sampling import cap_samples_per_user


def _events() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    users = np.concatenate([np.full(900, 1), rng.integers(2, 40, 600), np.full(50, -1)])
    ts = pd.Timestamp("2026-01-05", tz="UTC") + pd.to_timedelta(rng.integers(0, 2 * 86_400, len(users)), "s")
    frame = pd.DataFrame({"event_id": [f"e{i}" for i in range(len(users))], "user_id": users, "ts": ts})
    frame["user_id"] = frame["user_id"].where(frame["user_id"] >= 0)  # anonymous rows
    return frame


def test_cap_bounds_each_user_day_and_keeps_anonymous_rows():
    events = _events()
    capped = cap_samples_per_user(events, cap=20, seed=3)
    per_user_day = capped.dropna(subset=["user_id"]).groupby(["user_id", capped["ts"].dt.date]).size()
    assert per_user_day.max() == 20
    assert capped["user_id"].isna().sum() == 50
    small = events.groupby("user_id").size()
    small = small[small < 20].index
    assert len(capped[capped["user_id"].isin(small)]) == len(events[events["user_id"].isin(small)])


def test_cap_is_deterministic_and_independent_of_row_order():
    events = _events()
    first = cap_samples_per_user(events, cap=20, seed=3)
    shuffled = cap_samples_per_user(events.sample(frac=1, random_state=1), cap=20, seed=3)
    assert set(first["event_id"]) == set(shuffled["event_id"])
    assert first.equals(cap_samples_per_user(events, cap=20, seed=3))
    assert set(first["event_id"]) != set(cap_samples_per_user(events, cap=20, seed=4)["event_id"])


def test_cap_overall_and_bad_cap():
    events = _events()
    assert cap_samples_per_user(events, cap=5, seed=0, ts_col=None).groupby("user_id").size().max() == 5
    with pytest.raises(ValueError):
        cap_samples_per_user(events, cap=0, seed=0)
