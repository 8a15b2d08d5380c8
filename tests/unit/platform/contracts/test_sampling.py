"""Per-user sample caps: bounded, deterministic, order-independent."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from encore.platform.contracts.sampling import cap_samples_per_user


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


def test_bucket_quotas_hand_computed():
    from encore.platform.contracts.sampling import bucket_quotas

    # burst 5, rate 2: starts with 5 tokens; each day keeps min(count, tokens), then
    # tokens = min(5, tokens - kept + 2)
    assert bucket_quotas([9, 9, 0, 1, 9, 9], rate=2, burst=5).tolist() == [5, 2, 0, 1, 5, 2]
    assert bucket_quotas([3, 3, 3], rate=3, burst=4).tolist() == [3, 3, 3]  # a steady light user
    with pytest.raises(ValueError):
        bucket_quotas([1], rate=1, burst=0)


def _bot_and_listener() -> pd.DataFrame:
    """User 1 plays 30 rows every day for 10 days (a bot); user 2 plays 3 a day and 25
    on day 4 (a binge); user 3 only on the day 9 (20 rows); some anonymous rows."""
    rows = []
    start = pd.Timestamp("2026-01-05", tz="UTC")
    for day in range(10):
        for user, n in ((1, 30), (2, 25 if day == 4 else 3), (3, 20 if day == 9 else 0), (None, 2)):
            for i in range(n):
                rows.append((f"u{user}-d{day}-{i}", user, start + pd.Timedelta(days=day, minutes=i)))
    frame = pd.DataFrame(rows, columns=["event_id", "user_id", "ts"])
    frame["user_id"] = frame["user_id"].astype("Int64")
    return frame


def test_budget_bounds_every_user_over_time():
    events = _bot_and_listener()
    capped = cap_samples_per_user(events, cap=200, seed=5, rate=4, burst=20, horizon_days=30)
    per_user = capped.groupby("user_id").size()
    # the bot: 20 on day 0, then the 4 a day it earns: 20 + 9 * 4 (of 300 rows)
    assert per_user[1] == 20 + 9 * 4
    per_day = capped[capped.user_id == 1].groupby(capped.ts.dt.date).size().tolist()
    assert per_day == [20] + [4] * 9
    # the listener keeps every ordinary day (3 a day, the bucket stays full) and a full
    # bucket (20) of its 25-row binge on day 4 (2026-01-09)
    listener = capped[capped.user_id == 2]
    assert listener.groupby(listener.ts.dt.day).size().tolist() == [3, 3, 3, 3, 20, 3, 3, 3, 3, 3]
    assert per_user[3] == 20  # a new user's first day: the full bucket
    assert capped.user_id.isna().sum() == events.user_id.isna().sum()
    # the per-day cap still applies on top
    tight = cap_samples_per_user(events, cap=10, seed=5, rate=4, burst=20)
    assert tight[tight.user_id == 1].groupby(tight.ts.dt.date).size().tolist() == [10] + [4] * 9


def test_budget_horizon_restarts_the_bucket():
    events = _bot_and_listener()
    # with a 2-day horizon the bucket of each day starts full 2 days before it:
    # day 0: 20; day 1: 4 (20 - 20 + 4); every later day: 20 - 20, + 4, - 4, + 4 -> 4
    capped = cap_samples_per_user(events, cap=200, seed=5, rate=4, burst=20, horizon_days=2)
    assert capped[capped.user_id == 1].groupby(capped.ts.dt.date).size().tolist() == [20] + [4] * 9
    # horizon 0: every day starts full -> a per-day cap of 20
    daily = cap_samples_per_user(events, cap=200, seed=5, rate=4, burst=20, horizon_days=0)
    assert daily[daily.user_id == 1].groupby(daily.ts.dt.date).size().tolist() == [20] * 10


def test_budget_choice_is_deterministic_and_order_independent():
    events = _bot_and_listener()
    first = cap_samples_per_user(events, cap=200, seed=5, rate=4, burst=20)
    shuffled = cap_samples_per_user(events.sample(frac=1, random_state=2), cap=200, seed=5, rate=4, burst=20)
    assert set(first.event_id) == set(shuffled.event_id)
    other = cap_samples_per_user(events, cap=200, seed=6, rate=4, burst=20)
    assert len(other) == len(first) and set(other.event_id) != set(first.event_id)
    with pytest.raises(ValueError):
        cap_samples_per_user(events, cap=200, seed=5, rate=4)
