"""Every signal the models will claim to use is planted in the world, measured here with
numbers that would fail if the signal were missing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from encore.platform.config import SamplingConfig
from encore.platform.contracts.sampling import cap_samples_per_user
from encore.platform.world import World, generate_world, load_world, summarize
from encore.platform.world.load import repeat_flags, repeat_share


def _exposure_outcomes(world: World, events: pd.DataFrame) -> pd.DataFrame:
    """One row per exposure: truth (utility, mismatch) and whether it was played/skipped."""
    truth = world.truth("exposures")
    shown = events.loc[events["action"] == "exposure", ["event_id", "request_id", "track_id", "user_id", "ts"]]
    shown = shown.merge(truth[["event_id", "utility", "mismatch"]], on="event_id", validate="one_to_one")
    key = ["request_id", "track_id"]
    played = events.loc[events["action"] == "play_start", key].drop_duplicates().assign(played=1)
    skipped = events.loc[events["action"] == "skip", key].drop_duplicates().assign(skipped=1)
    out = shown.merge(played, on=key, how="left").merge(skipped, on=key, how="left")
    out[["played", "skipped"]] = out[["played", "skipped"]].notna()
    return out


def _complete_plays(world: World, events: pd.DataFrame) -> pd.DataFrame:
    ends = events[events["action"] == "play_end"].merge(
        world.tracks[["track_id", "duration_ms", "arousal", "genre", "show_id"]], on="track_id")
    return ends[ends["played_ms"] == ends["duration_ms"]]


def test_skips_rise_with_mismatch_and_come_earlier(small_world, events):
    plays = _exposure_outcomes(small_world, events).query("played")
    matched, mismatched = plays[plays["mismatch"] < 0.3], plays[plays["mismatch"] > 0.7]
    assert len(matched) > 1000 and len(mismatched) > 1000
    assert mismatched["skipped"].mean() > 2.0 * matched["skipped"].mean()

    skips = events[events["action"] == "skip"].merge(
        small_world.truth("exposures")[["event_id", "mismatch"]].merge(
            events[["event_id", "request_id", "track_id"]], on="event_id").drop(columns="event_id"),
        on=["request_id", "track_id"])
    skips = skips.merge(small_world.tracks[["track_id", "duration_ms"]], on="track_id")
    fraction = skips["played_ms"] / skips["duration_ms"]
    assert fraction[skips["mismatch"] > 0.7].median() < fraction[skips["mismatch"] < 0.3].median()


def test_repeat_share_of_regular_users_is_in_the_stated_band(small_world, events):
    kinds = small_world.truth("user_kinds")
    regular = kinds.loc[kinds["kind"] == "regular", "user_id"]
    plays = events[(events["action"] == "play_start") & events["user_id"].isin(regular)]
    low, high = small_world.manifest.config.repeat_share_band
    window = small_world.manifest.config.history_window_days
    assert low <= repeat_share(plays, small_world.past_plays(), window) <= high
    assert low <= summarize(small_world)["repeat_share_regular"] <= high


def test_bots_dominate_before_the_sample_cap_and_not_after(small_world, events):
    kinds = small_world.truth("user_kinds")
    bots = kinds.loc[kinds["kind"] == "bot", "user_id"]
    user_share = len(bots) / len(small_world.users)
    keyed = events[events["user_id"].notna()]
    before = keyed["user_id"].isin(bots).mean()
    assert before > 5 * user_share

    cap = SamplingConfig().max_samples_per_user_per_day
    bot_days = keyed[keyed["user_id"].isin(bots)].groupby(["user_id", keyed["ts"].dt.date]).size()
    assert bot_days.min() > 1.5 * cap  # the cap binds on every bot-day

    capped = cap_samples_per_user(keyed, cap, seed=1)
    per_user_day = capped.groupby([capped["user_id"], capped["ts"].dt.date]).size()
    assert per_user_day.max() <= cap
    after = capped["user_id"].isin(bots).mean()
    assert after <= len(bot_days) * cap / len(capped)
    assert after < 0.7 * before


def test_no_session_exceeds_the_max_and_bot_play_is_split(small_world, events):
    max_ms = small_world.manifest.sessions.max_session_ms
    span = events.groupby("session_id")["ts"].agg(["min", "max"])
    assert ((span["max"] - span["min"]).dt.total_seconds() * 1000 <= max_ms).all()
    sessions = small_world.truth("sessions")
    assert ((sessions["end_ts"] - sessions["start_ts"]).dt.total_seconds() * 1000 <= max_ms).all()
    assert set(sessions["session_id"]) == set(events["session_id"])

    bot_sessions = sessions[sessions["user_kind"] == "bot"]
    per_bot_day = bot_sessions.groupby([bot_sessions["user_id"], bot_sessions["start_ts"].dt.date]).size()
    assert per_bot_day.min() >= 5  # 11+ hours of continuous play, cut every 90 minutes


def test_evening_plays_are_calmer_than_morning_plays(small_world, events):
    plays = _complete_plays(small_world, events)
    hour = plays["ts"].dt.hour
    morning = plays.loc[(hour >= 6) & (hour < 10), "arousal"]
    evening = plays.loc[hour >= 19, "arousal"]
    assert morning.mean() - evening.mean() > 0.08


def test_rock_is_played_more_at_the_weekend(small_world, events):
    plays = _complete_plays(small_world, events)
    weekend = plays["ts"].dt.dayofweek >= 5
    assert weekend.any() and (~weekend).any()
    rock_weekend = (plays.loc[weekend, "genre"] == "rock").mean()
    rock_weekday = (plays.loc[~weekend, "genre"] == "rock").mean()
    assert rock_weekend > 1.15 * rock_weekday


def test_show_fans_play_its_soundtrack_more_than_non_fans(small_world, events):
    taste = small_world.truth("user_taste")
    soundtracks = small_world.tracks.dropna(subset=["show_id"])[["track_id", "show_id"]]
    outcomes = _exposure_outcomes(small_world, events).merge(soundtracks, on="track_id")
    fan_pairs = {(user, show) for user, shows in zip(taste["user_id"], taste["show_affinities"])
                 for show, _ in shows}
    outcomes = outcomes[outcomes["user_id"].notna()]
    is_fan = [(int(u), int(s)) in fan_pairs for u, s in zip(outcomes["user_id"], outcomes["show_id"])]
    fans, others = outcomes[np.array(is_fan)], outcomes[~np.array(is_fan)]
    assert len(fans) > 200 and len(others) > 200
    # Completed (not skipped) listens per exposure: the utility's kg part, not the policy.
    def listened(frame: pd.DataFrame) -> float:
        return (frame["played"] & ~frame["skipped"]).mean()
    assert listened(fans) > listened(others) + 0.05


def test_interest_weights_drift_over_the_days(small_world):
    interests = small_world.truth("interests")
    multi = interests.groupby(["user_id", "interest_id"])["weight"].agg(["min", "max", "size"])
    multi = multi[multi["size"] == small_world.manifest.config.days]
    assert (multi["max"] - multi["min"]).median() > 0.02


def test_plays_follow_the_interest_drift(small_world, events):
    """Where a user's interest in a genre grew from the first half of the days to the
    second, that genre's share of their plays grows too (and falls where it waned)."""
    interests = small_world.truth("interests")
    dates = sorted(interests["date"].unique())
    halves = {"early": dates[: len(dates) // 2], "late": dates[(len(dates) + 1) // 2:]}
    weights = interests.groupby(["user_id", "genre", "date"])["weight"].sum().reset_index()
    plays = events[(events["action"] == "play_start") & events["user_id"].notna()]
    plays = plays.assign(date=plays["ts"].dt.date).merge(
        small_world.tracks[["track_id", "genre"]], on="track_id")

    def weight_and_share(days) -> tuple[pd.Series, pd.Series]:
        weight = weights[weights["date"].isin(days)].groupby(["user_id", "genre"])["weight"].mean()
        counts = plays[plays["date"].isin(set(pd.to_datetime(days).date))].groupby(
            ["user_id", "genre"]).size()
        return weight, counts / counts.groupby(level="user_id").transform("sum")

    (w_early, s_early), (w_late, s_late) = (weight_and_share(d) for d in halves.values())
    change = pd.DataFrame({"weight": w_late - w_early, "share": s_late - s_early}).dropna()
    rising = change[change["weight"] > change["weight"].quantile(0.8)]["share"].mean()
    waning = change[change["weight"] < change["weight"].quantile(0.2)]["share"].mean()
    assert rising > waning + 0.05
    assert change.corr().loc["weight", "share"] > 0.1


def test_anonymous_sessions_have_no_user(small_world, events):
    sessions = small_world.truth("sessions")
    anonymous = sessions["user_kind"] == "anonymous"
    assert anonymous.sum() == small_world.manifest.counts["anonymous_sessions"] > 0
    assert sessions.loc[anonymous, "user_id"].isna().all()
    anon_events = events[events["session_id"].isin(sessions.loc[anonymous, "session_id"])]
    assert len(anon_events) > 0 and anon_events["user_id"].isna().all()
    assert events.loc[events["user_id"].isna(), "session_id"].str.startswith("anon-").all()


def test_new_users_have_no_events_before_signup_and_some_none_at_all(small_world, events):
    users = small_world.users.merge(small_world.truth("user_kinds"), on="user_id", validate="one_to_one")
    new = users[users["kind"] == "new"].set_index("user_id")
    first_day = events[events["user_id"].isin(new.index)].groupby("user_id")["ts"].min().dt.date
    signup = pd.to_datetime(new.loc[first_day.index, "signup_date"]).dt.date
    assert (first_day >= signup).all()
    assert len(set(new.index) - set(first_day.index)) > 0  # profile only, zero events


def test_utility_parts_can_be_switched_off(tmp_path, world_config):
    """With the interest and emotion parts at weight 0, mismatch no longer drives skips.
    (Familiarity is off too: a listener's history leans to their interests, so re-played
    tracks are both familiar and matched, a second, legitimate path from mismatch to skips.)"""
    weights = world_config().utility_weights.model_copy(
        update={"interest": 0.0, "emotion": 0.0, "familiarity": 0.0})
    cfg = world_config(users=80, days=3, tracks=1000, artists=60, utility_weights=weights)
    generate_world(cfg, tmp_path, progress=False)
    world = load_world(tmp_path)
    plays = _exposure_outcomes(world, world.events()).query("played")
    truth = world.truth("exposures")
    assert (truth["interest"] == 0).all() and (truth["emotion"] == 0).all()
    matched, mismatched = plays[plays["mismatch"] < 0.3], plays[plays["mismatch"] > 0.7]
    assert mismatched["skipped"].mean() < 1.3 * matched["skipped"].mean()


def test_exposure_truth_utility_is_the_sum_of_its_parts(small_world):
    truth = small_world.truth("exposures")
    parts = list(small_world.manifest.utility_parts)
    assert np.allclose(truth[parts].sum(axis=1), truth["utility"], atol=1e-4)
    assert (truth[parts].std() > 0).all()  # every part is active (rhythm: there is a weekend)


def test_summary_reports_the_skip_rate_with_and_without_bots(small_world, events):
    kinds = small_world.truth("user_kinds")
    bots = kinds.loc[kinds["kind"] == "bot", "user_id"]
    human = events[~events["user_id"].isin(bots)]
    expected = (human["action"] == "skip").sum() / (human["action"] == "play_start").sum()
    summary = summarize(small_world)
    assert summary["skip_rate_without_bots"] == pytest.approx(expected)
    assert summary["skip_rate_without_bots"] > summary["skip_rate"]  # bots never skip
    assert sum(summary["users_by_kind"].values()) == len(small_world.users)


def test_the_daily_repeat_share_stays_in_the_band_from_the_first_day_to_the_last(tmp_path, world_config):
    """Listeners remember a window of history_window_days, start with a past that fills it
    (users/past_plays.parquet, drawn like the world's own plays), and the policy's sources
    other than history skip what is in the window: the repeat share (over the same window)
    neither starts near 0 nor climbs."""
    cfg = world_config(users=150, days=30, tracks=5000, artists=300, anonymous_sessions_per_day=2,
                       bot_share=0.0, hyperactive_share=0.0)
    generate_world(cfg, tmp_path, progress=False)
    world = load_world(tmp_path)
    kinds = world.truth("user_kinds")
    regular = kinds.loc[kinds["kind"] == "regular", "user_id"]
    past = world.past_plays()
    assert set(past["user_id"]) <= set(regular) and past["user_id"].nunique() > 0.9 * len(regular)
    ev = world.events(columns=["ts", "user_id", "track_id", "action"])
    plays = ev[(ev["action"] == "play_start") & ev["user_id"].isin(regular)].copy()
    plays["repeat"] = repeat_flags(plays, past, cfg.history_window_days)
    daily = plays.groupby(plays["ts"].dt.date)["repeat"].mean()
    low, high = cfg.repeat_share_band
    assert len(daily) == 30
    assert daily.between(low, high).all(), daily.round(3).tolist()[-12:]
    assert abs(daily.iloc[-7:].mean() - daily.iloc[:7].mean()) < 0.1  # settled, not climbing
