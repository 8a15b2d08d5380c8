"""One simulated day: plan the sessions, simulate them round by round, add the bots,
and assemble the day's event log and truth rows as Arrow tables.

Rounds: round r holds every listener's r-th session of the day, so a listener's later
sessions see what they played (and hearted) in earlier ones; each round is simulated
as one vectorised batch. Every day and round draws from its own random stream, so the
output depends only on the seed.

Ids: a user's session is ``f"{user_id}-{start_ms}"`` (the name the sessionization rule
gives it), an anonymous one ``f"anon-{visitor}-{start_ms}"``, a slate
``f"{session_id}-r{rank}"``, an event ``f"{YYYYMMDD}-{index:08d}"`` with ``index`` its
rank in the day's ts order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from encore.platform.config import SessionsConfig, WorldConfig
from encore.platform.contracts.sessions import sessionize_frame
from encore.platform.world import schema
from encore.platform.world.behaviour import ACTION, Behaviour, BatchResult, EventColumns
from encore.platform.world.bots import Bots
from encore.platform.world.catalog import Catalog
from encore.platform.world.history import ListeningHistory
from encore.platform.world.past import ListeningPast
from encore.platform.world.plan import SessionPlan, plan_day
from encore.platform.world.policy import slate_marginals
from encore.platform.world.rhythm import day_lift
from encore.platform.world.seeds import stream
from encore.platform.world.users import Population

BOT_SCENARIO = schema.SCENARIOS.index("playlist")


@dataclass(frozen=True)
class DayTables:
    date: str  # YYYY-MM-DD
    events: pa.Table
    sessions: pa.Table
    exposures: pa.Table
    slates: pa.Table  # the logging policy's log (schema.POLICY_SLATES)


@dataclass
class _Sessions:
    """The day's sessions, in the order their indices refer to."""

    ids: list[str]
    user: np.ndarray  # -1: anonymous
    kind: list[str]
    scenario: np.ndarray
    start_ms: np.ndarray
    end_ms: np.ndarray
    interest_slot: np.ndarray  # -1: none
    interest_genre: np.ndarray  # -1: none
    target_valence: np.ndarray  # nan: none
    target_arousal: np.ndarray

    @staticmethod
    def empty() -> _Sessions:
        none = np.zeros(0, dtype=np.int64)
        return _Sessions([], none, [], none, none, none, none, none, np.zeros(0), np.zeros(0))


class DaySimulator:
    def __init__(self, cfg: WorldConfig, sessions: SessionsConfig, cat: Catalog, pop: Population,
                 behaviour: Behaviour, past: ListeningPast | None = None) -> None:
        self.cfg, self.sessions, self.cat, self.pop, self.behaviour = cfg, sessions, cat, pop, behaviour
        self.history = ListeningHistory(cat.n_tracks, cfg.history_window_days)
        if past is not None:
            self.history.record_past(past.user, past.track, past.plays, past.day)
        self.bots = Bots(cfg.seed, pop, cat.track_duration_ms, cat.track_popularity)

    def run(self, day: int) -> DayTables:
        cfg, pop = self.cfg, self.pop
        date = cfg.start_date + timedelta(days=day)
        day_start_ms = int(datetime(date.year, date.month, date.day, tzinfo=timezone.utc).timestamp() * 1000)
        lift = day_lift(self.cat.genres, date.weekday())
        self.history.start_day(day)
        plan = plan_day(cfg, self.sessions, pop, day, day_start_ms, lift,
                        stream(cfg.seed, "day", day, "plan"))

        parts: list[EventColumns] = []
        slate_ids: list[str] = []
        truth: list[dict[str, np.ndarray]] = []
        policy_log: list[pa.Table] = []
        sessions = _Sessions.empty()
        order_offset = exposures_so_far = 0
        for level in range(int(plan.round.max(initial=-1)) + 1):
            batch_plan = plan.subset(plan.round == level)
            result = self.behaviour.simulate(batch_plan, lift, self.history,
                                             stream(cfg.seed, "day", day, "round", level))
            batch_sessions = self._user_sessions(batch_plan, result, day)
            events = result.events
            events.session = events.session + len(sessions.ids)
            events.slate = events.slate + len(slate_ids)
            events.exposure = np.where(events.exposure >= 0, events.exposure + exposures_so_far, -1)
            exposures_so_far += len(result.exposure_track)
            events.order = events.order + order_offset
            order_offset = int(events.order.max(initial=order_offset)) + 1
            batch_slate_ids = [f"{batch_sessions.ids[s]}-r{r}"
                               for s, r in zip(result.slate_session, result.slate_rank)]
            slate_ids += batch_slate_ids
            policy_log.append(self._policy_log(
                result, batch_slate_ids, batch_sessions.user,
                stream(cfg.seed, "day", day, "round", level, "marginals")))
            truth.append({"session": result.exposure_session + len(sessions.ids),
                          "track": result.exposure_track, **result.exposure_parts})
            sessions = _concat_sessions(sessions, batch_sessions)
            parts.append(events)

        bot_events, bot_sessions = self._bot_day(day, day_start_ms, len(sessions.ids), order_offset)
        parts.append(bot_events)
        sessions = _concat_sessions(sessions, bot_sessions)
        slates = pa.concat_tables(policy_log) if policy_log else schema.POLICY_SLATES.empty_table()
        return self._tables(date.isoformat(), EventColumns.concat(parts), sessions, slate_ids, truth, slates)

    def _policy_log(self, result: BatchResult, slate_ids: list[str], session_user: np.ndarray,
                    rng: np.random.Generator) -> pa.Table:
        """One row per exposed slate: pool, scores, and the shown tracks' propensities and
        marginal slate probabilities (policy.slate_marginals)."""
        keep = np.flatnonzero(result.slate_exposed)
        slates = result.slates
        logits, picked, tracks = slates.logits[keep], slates.picked[keep], slates.tracks[keep]
        k = tracks.shape[1]
        shown = tracks >= 0
        positions = np.broadcast_to(np.arange(k), tracks.shape)
        inclusion, at_position, exact = slate_marginals(
            logits, k, np.where(shown, picked, -1), positions, self.cfg.marginal_draws, rng)
        in_pool = np.isfinite(logits)
        temperature = self.cfg.logging_temperature
        user = session_user[result.slate_session[keep]]

        def lists(values: np.ndarray, mask: np.ndarray, value_type: pa.DataType) -> pa.Array:
            offsets = np.concatenate([[0], np.cumsum(mask.sum(axis=1))]).astype(np.int32)
            return pa.ListArray.from_arrays(offsets, pa.array(values[mask], type=value_type))

        return pa.table({
            "request_id": pa.array([slate_ids[i] for i in keep], type=pa.string()),
            "user_id": pa.array(user, mask=user < 0, type=pa.int64()),
            "temperature": pa.array(np.full(len(keep), temperature, dtype=np.float32)),
            "slate_size": pa.array(np.full(len(keep), k, dtype=np.int32)),
            "pool_track_ids": lists(result.pool[keep], in_pool, pa.int64()),
            "pool_scores": lists((logits * temperature).astype(np.float32), in_pool, pa.float32()),
            "shown_track_ids": lists(tracks, shown, pa.int64()),
            "propensity": lists(slates.propensity[keep].astype(np.float32), shown, pa.float32()),
            "position_prob": lists(at_position.astype(np.float32), shown, pa.float32()),
            "inclusion_prob": lists(inclusion.astype(np.float32), shown, pa.float32()),
            "marginal_draws": pa.array(np.full(len(keep), 0 if exact else self.cfg.marginal_draws,
                                               dtype=np.int32)),
        }, schema=schema.POLICY_SLATES)

    def _user_sessions(self, plan: SessionPlan, result: BatchResult, day: int) -> _Sessions:
        n_users = self.pop.n_users
        start = plan.start_ms
        anonymous = plan.row >= n_users
        visitor = plan.row - n_users - day * self.cfg.anonymous_sessions_per_day
        ids = [f"anon-{day}-{v}-{s}" if a else f"{u}-{s}"
               for u, v, s, a in zip(plan.row, visitor, start, anonymous)]
        kinds = np.array(schema.USER_KINDS + ("anonymous",), dtype=object)
        kind_code = np.where(anonymous, len(schema.USER_KINDS), self.pop.kind[np.minimum(plan.row, n_users - 1)])
        genre = self.pop.interest_genre[plan.row, plan.interest_slot]
        return _Sessions(
            ids=ids, user=np.where(anonymous, -1, plan.row), kind=list(kinds[kind_code]),
            scenario=plan.scenario, start_ms=start, end_ms=result.session_end_ms,
            interest_slot=np.where(anonymous, -1, plan.interest_slot), interest_genre=genre,
            target_valence=plan.target_valence, target_arousal=plan.target_arousal,
        )

    def _bot_day(self, day: int, day_start_ms: int, session_offset: int, order_offset: int
                 ) -> tuple[EventColumns, _Sessions]:
        user, ts, track, is_end = self.bots.day(day_start_ms, stream(self.cfg.seed, "day", day, "bots"))
        frame = pd.DataFrame({"user": user, "ts": ts, "scenario": BOT_SCENARIO})
        names = sessionize_frame(frame, key_col="user", max_session_ms=self.sessions.max_session_ms,
                                 inactivity_gap_ms=self.sessions.inactivity_gap_ms)
        codes, ids = pd.factorize(names, sort=False)
        n = len(ids)
        start = np.full(n, np.iinfo(np.int64).max)
        end = np.full(n, np.iinfo(np.int64).min)
        np.minimum.at(start, codes, ts)
        np.maximum.at(end, codes, ts)
        session_user = np.zeros(n, dtype=np.int64)
        session_user[codes] = user
        events = EventColumns(
            ts=ts, session=codes + session_offset, slate=np.full(len(ts), -1),
            track=track, action=np.where(is_end, ACTION["play_end"], ACTION["play_start"]),
            played_ms=np.where(is_end, self.cat.track_duration_ms[track], -1),
            position=np.full(len(ts), -1), propensity=np.full(len(ts), np.nan),
            exposure=np.full(len(ts), -1), order=order_offset + np.arange(len(ts)),
        )
        none = np.full(n, -1)
        sessions = _Sessions(
            ids=list(ids), user=session_user, kind=["bot"] * n, scenario=np.full(n, BOT_SCENARIO),
            start_ms=start, end_ms=end, interest_slot=none, interest_genre=none,
            target_valence=np.full(n, np.nan), target_arousal=np.full(n, np.nan),
        )
        return events, sessions

    def _tables(self, date: str, ev: EventColumns, sessions: _Sessions, slate_ids: list[str],
                truth: list[dict[str, np.ndarray]], slates: pa.Table) -> DayTables:
        order = np.lexsort((ev.order, ev.ts))
        ev = EventColumns(**{name: getattr(ev, name)[order] for name in EventColumns.__dataclass_fields__})
        n = len(ev.ts)
        index = pa.array(np.arange(n)).cast(pa.string())
        event_ids = pc.binary_join_element_wise(date.replace("-", ""), pc.utf8_lpad(index, 8, "0"), "-")
        session_ids = pa.array(sessions.ids, type=pa.string())
        user = sessions.user[ev.session]
        scenario = pa.array(np.array(schema.SCENARIOS, dtype=object)[sessions.scenario[ev.session]])
        actions = np.array(schema.ACTIONS, dtype=object)
        events = pa.table({
            "event_id": event_ids,
            "ts": pa.array(ev.ts, type=pa.int64()).cast(schema.TIMESTAMP),
            "user_id": pa.array(user, mask=user < 0, type=pa.int64()),
            "session_id": session_ids.take(pa.array(ev.session)),
            "scenario": scenario,
            "track_id": pa.array(ev.track, type=pa.int64()),
            "action": pa.array(actions[ev.action]),
            "played_ms": pa.array(ev.played_ms, mask=ev.played_ms < 0, type=pa.int64()),
            "position": pa.array(ev.position.astype(np.int32), mask=ev.position < 0, type=pa.int32()),
            "propensity": pa.array(ev.propensity.astype(np.float32), mask=np.isnan(ev.propensity),
                                   type=pa.float32()),
            "request_id": pa.array(slate_ids, type=pa.string()).take(
                pa.array(ev.slate, mask=ev.slate < 0, type=pa.int64())),
        }, schema=schema.EVENTS)
        return DayTables(date=date, events=events,
                         sessions=_session_table(sessions, self.cat.genres),
                         exposures=_exposure_table(ev, event_ids, session_ids, sessions, truth),
                         slates=slates)


def _concat_sessions(a: _Sessions, b: _Sessions) -> _Sessions:
    merged: dict[str, Any] = {
        name: (getattr(a, name) + getattr(b, name)) if isinstance(getattr(a, name), list)
        else np.concatenate([getattr(a, name), getattr(b, name)])
        for name in _Sessions.__dataclass_fields__
    }
    return _Sessions(**merged)


def _session_table(s: _Sessions, genres: tuple[str, ...]) -> pa.Table:
    has_events = s.end_ms > np.iinfo(np.int64).min
    order = np.lexsort((np.array(s.ids, dtype=object).astype(str), s.start_ms))
    order = order[has_events[order]]
    genre_names = np.array(list(genres) + [None], dtype=object)  # code -1 -> null
    return pa.table({
        "session_id": pa.array([s.ids[i] for i in order], type=pa.string()),
        "user_id": pa.array(s.user[order], mask=s.user[order] < 0, type=pa.int64()),
        "scenario": pa.array(np.array(schema.SCENARIOS, dtype=object)[s.scenario[order]]),
        "start_ts": pa.array(s.start_ms[order]).cast(schema.TIMESTAMP),
        "end_ts": pa.array(s.end_ms[order]).cast(schema.TIMESTAMP),
        "active_interest_id": pa.array(s.interest_slot[order].astype(np.int32),
                                       mask=s.interest_slot[order] < 0, type=pa.int32()),
        "interest_genre": pa.array(genre_names[s.interest_genre[order]], type=pa.string()),
        "target_valence": pa.array(s.target_valence[order].astype(np.float32),
                                   mask=np.isnan(s.target_valence[order])),
        "target_arousal": pa.array(s.target_arousal[order].astype(np.float32),
                                   mask=np.isnan(s.target_arousal[order])),
        "user_kind": pa.array([s.kind[i] for i in order], type=pa.string()),
    }, schema=schema.SESSIONS)


def _exposure_table(ev: EventColumns, event_ids: pa.Array, session_ids: pa.Array,
                    sessions: _Sessions, truth: list[dict[str, np.ndarray]]) -> pa.Table:
    merged = {name: np.concatenate([t[name] for t in truth]) if truth else np.zeros(0)
              for name in ["session", "track", "utility", "mismatch", *schema.UTILITY_PARTS]}
    is_exposure = ev.exposure >= 0
    rows = ev.exposure[is_exposure]  # truth rows in event order
    session = merged["session"][rows].astype(np.int64)
    user = sessions.user[session]
    columns = {
        "event_id": event_ids.filter(pa.array(is_exposure)),
        "session_id": session_ids.take(pa.array(session)),
        "user_id": pa.array(user, mask=user < 0, type=pa.int64()),
        "track_id": pa.array(merged["track"][rows].astype(np.int64)),
        "utility": pa.array(merged["utility"][rows].astype(np.float32)),
    }
    columns |= {part: pa.array(merged[part][rows].astype(np.float32)) for part in schema.UTILITY_PARTS}
    columns["mismatch"] = pa.array(merged["mismatch"][rows].astype(np.float32))
    return pa.table(columns, schema=schema.EXPOSURE_TRUTH)
