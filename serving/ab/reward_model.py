"""The reward model of the direct-method and doubly-robust estimators: P(outcome |
listener, track, slate position) as an L2-regularised logistic regression fitted on
logged exposures (IRLS / Newton; standardised features).

Features of (listener u, track i, position p, UTC hour h), from the catalogue and the
fitting window's events: position; log(1 + plays of i); log of i's catalogue
popularity; i's outcome rate per exposure (smoothed towards the mean with ``prior``
pseudo-exposures); u's share of plays in i's genre, by i's artist, in i's language and
of i's show's tracks, and in i's genre and by i's artist over the last days (the
interests of the moment); u's outcome rate in i's genre (smoothed towards u's rate);
log(1 + u's plays of i) (familiarity); u's outcome rate per exposure (smoothed); u's
outcome rates by i's artist and in i's language (smoothed towards u's rate); log(1 + u's
plays) by i's artist, in i's genre and in i's language, and whether i's artist is one of
u's five most played (shares alone under-weight a favourite artist with few plays); the
largest share of u's plays by the artists of a variety season i's artist appeared in (the
knowledge graph's ``appeared_in`` edges); the distance of i's (valence, arousal) from u's
mean mood over the window and over the last days; the PureSVD co-listening affinity of u
and i (Cremonesi et al. 2010; top-32 track factors of the window's plays); i's
valence and arousal, alone, squared and times sin / cos of the hour: with these the
model can represent a squared distance between the track's mood and a mood that follows
the clock, which it learns. Shapes: (m, F) design matrix, F = len(FEATURES) + 1 (intercept).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

FEATURES = ("position", "track_log_plays", "track_log_popularity", "track_rate", "genre_share", "artist_share",
            "language_share", "show_share", "recent_genre_share", "recent_artist_share", "genre_rate",
            "familiarity", "user_rate", "valence", "arousal", "valence_sin", "valence_cos", "arousal_sin",
            "arousal_cos", "valence_sq", "arousal_sq", "artist_rate", "language_rate", "artist_log_plays",
            "genre_log_plays", "language_log_plays", "top_artist", "season_share", "cf_affinity", "mood_distance",
            "recent_mood_distance")


@dataclass
class Profiles:
    """Count tables of the fitting window (built by :meth:`from_events`)."""

    tracks: pd.DataFrame  # track_id -> artist_id, genre, language, plays, rate
    user_plays: pd.Series  # user -> plays
    user_rate: pd.Series  # user -> smoothed outcome rate
    by_genre: pd.Series  # (user, genre) -> plays
    by_artist: pd.Series  # (user, artist) -> plays
    by_language: pd.Series  # (user, language) -> plays
    by_track: pd.Series  # (user, track) -> plays
    by_show: pd.Series  # (user, show) -> plays
    genre_rate: pd.Series  # (user, genre) -> smoothed outcome rate
    artist_rate: pd.Series  # (user, artist) -> smoothed outcome rate
    language_rate: pd.Series  # (user, language) -> smoothed outcome rate
    recent_plays: pd.Series  # user -> plays in the last ``recent_days``
    recent_genre: pd.Series  # (user, genre) -> plays in the last ``recent_days``
    recent_artist: pd.Series  # (user, artist) -> plays in the last ``recent_days``
    seasons: pd.DataFrame  # artist_id, show_id: the artist appeared in that variety season (the KG)
    by_season: pd.Series  # (user, show) -> plays of tracks by the season's artists
    mood: pd.DataFrame  # user -> mean (valence, arousal) of u's plays
    recent_mood: pd.DataFrame  # user -> the same over the last ``recent_days``
    cf_users: pd.Index  # user ids of the rows of ``cf_user`` (listeners with plays)
    cf_user: np.ndarray  # (users, k): each listener's plays projected on the top-k track factors
    cf_track: pd.DataFrame  # track_id -> (k,) its factor loadings (columns 0..k-1)

    @classmethod
    def from_events(cls, events: pd.DataFrame, exposures: pd.DataFrame, catalog: pd.DataFrame,
                    prior: float = 20.0, as_of_ms: int | None = None, recent_days: float = 2.0,
                    seasons: pd.DataFrame | None = None) -> "Profiles":
        """``events``: plays (user_id, track_id, optional ``n``: how many, default 1,
        optional ``ts_ms``); ``exposures``: logged exposures with their outcome (user_id,
        track_id, reward). ``as_of_ms``: the end of the window; the plays of its last
        ``recent_days`` are the recent ones (the session interests of these days).
        ``seasons``: (artist_id, show_id) pairs of the knowledge graph's ``appeared_in``
        edges (none: the season feature is 0)."""
        columns = ["track_id", "artist_id", "genre", "language", "popularity", "valence", "arousal", "show_id"]
        cat = catalog.reindex(columns=columns).drop_duplicates("track_id")
        cat["show_id"] = cat["show_id"].fillna(-1).astype(np.int64)
        plays = events.merge(cat, on="track_id", how="inner")
        if "n" not in plays:
            plays = plays.assign(n=1.0)
        mean = float(exposures["reward"].mean()) if len(exposures) else 0.0
        per_track = exposures.groupby("track_id")["reward"].agg(["sum", "size"])
        per_user = exposures.groupby("user_id")["reward"].agg(["sum", "size"])
        user_rate = (per_user["sum"] + prior * mean) / (per_user["size"] + prior)
        rated = exposures.merge(cat[["track_id", "genre", "artist_id", "language"]], on="track_id")

        def rate_by(key: str) -> pd.Series:
            """(user, key) -> the user's outcome rate there, smoothed towards the user's rate."""
            agg = rated.groupby(["user_id", key])["reward"].agg(["sum", "size"])
            base = user_rate.reindex(agg.index.get_level_values(0)).fillna(mean).to_numpy()
            return (agg["sum"] + 5.0 * base) / (agg["size"] + 5.0)

        season_pairs = (pd.DataFrame({"artist_id": pd.Series(dtype=np.int64), "show_id": pd.Series(dtype=np.int64)})
                        if seasons is None else seasons[["artist_id", "show_id"]].astype(np.int64).drop_duplicates())
        recent = plays.iloc[0:0]
        if as_of_ms is not None and "ts_ms" in plays:
            recent = plays[plays["ts_ms"] >= as_of_ms - recent_days * 86_400_000]
        tracks = cat.set_index("track_id")
        tracks["plays"] = plays.groupby("track_id")["n"].sum().reindex(tracks.index, fill_value=0).astype(float)
        tracks["rate"] = ((per_track["sum"] + prior * mean) / (per_track["size"] + prior)).reindex(
            tracks.index, fill_value=mean)
        return cls(
            tracks=tracks,
            user_plays=plays.groupby("user_id")["n"].sum().astype(float),
            user_rate=user_rate,
            by_genre=plays.groupby(["user_id", "genre"])["n"].sum().astype(float),
            by_artist=plays.groupby(["user_id", "artist_id"])["n"].sum().astype(float),
            by_language=plays.groupby(["user_id", "language"])["n"].sum().astype(float),
            by_track=plays.groupby(["user_id", "track_id"])["n"].sum().astype(float),
            by_show=plays[plays["show_id"] >= 0].groupby(["user_id", "show_id"])["n"].sum().astype(float),
            genre_rate=rate_by("genre"), artist_rate=rate_by("artist_id"), language_rate=rate_by("language"),
            recent_plays=recent.groupby("user_id")["n"].sum().astype(float),
            recent_genre=recent.groupby(["user_id", "genre"])["n"].sum().astype(float),
            recent_artist=recent.groupby(["user_id", "artist_id"])["n"].sum().astype(float),
            seasons=season_pairs, mood=_mean_mood(plays), recent_mood=_mean_mood(recent),
            **_pure_svd(plays),
            by_season=plays[["user_id", "artist_id", "n"]].merge(season_pairs, on="artist_id")
            .groupby(["user_id", "show_id"])["n"].sum().astype(float),
        )

    def features(self, users: np.ndarray, tracks: np.ndarray, positions: np.ndarray, hours: np.ndarray
                 ) -> np.ndarray:
        """(m, len(FEATURES)) for the (user, track, position, UTC hour) rows."""
        users = np.asarray(users, np.int64)
        tracks = np.asarray(tracks, np.int64)
        t = self.tracks.reindex(tracks)
        total = self.user_plays.reindex(users).fillna(0.0).to_numpy()

        recent_total = self.recent_plays.reindex(users).fillna(0.0).to_numpy()

        def share(table: pd.Series, keys: np.ndarray, of: np.ndarray = total) -> np.ndarray:
            index = pd.MultiIndex.from_arrays([users, keys])
            counts = table.reindex(index).fillna(0.0).to_numpy()
            return np.where(of > 0, counts / np.maximum(of, 1.0), 0.0)

        mean_rate = float(self.tracks["rate"].mean()) if len(self.tracks) else 0.0
        user_rate = self.user_rate.reindex(users).fillna(mean_rate).to_numpy()
        genres = t["genre"].to_numpy(dtype=object)
        artists = t["artist_id"].fillna(-1).to_numpy(np.int64)
        languages = t["language"].to_numpy(dtype=object)

        def rate(table: pd.Series, keys: np.ndarray) -> np.ndarray:
            values = table.reindex(pd.MultiIndex.from_arrays([users, keys])).to_numpy()
            return np.where(np.isnan(values), user_rate, values)

        angle = 2 * np.pi * np.asarray(hours, np.float64) / 24.0
        valence = t["valence"].fillna(0.0).to_numpy(np.float64)
        arousal = t["arousal"].fillna(0.0).to_numpy(np.float64)
        columns = [
            np.asarray(positions, np.float64),
            np.log1p(t["plays"].fillna(0.0).to_numpy()),
            np.log(t["popularity"].fillna(0.0).to_numpy(np.float64) + 1e-6),
            t["rate"].fillna(mean_rate).to_numpy(),
            share(self.by_genre, genres),
            share(self.by_artist, t["artist_id"].fillna(-1).to_numpy(np.int64)),
            share(self.by_language, t["language"].to_numpy(dtype=object)),
            share(self.by_show, t["show_id"].fillna(-1).to_numpy(np.int64)),
            share(self.recent_genre, genres, recent_total),
            share(self.recent_artist, t["artist_id"].fillna(-1).to_numpy(np.int64), recent_total),
            rate(self.genre_rate, genres),
            np.log1p(self.by_track.reindex(pd.MultiIndex.from_arrays([users, tracks])).fillna(0.0).to_numpy()),
            user_rate,
            valence, arousal,
            valence * np.sin(angle), valence * np.cos(angle), arousal * np.sin(angle), arousal * np.cos(angle),
            valence ** 2, arousal ** 2,
            rate(self.artist_rate, artists), rate(self.language_rate, languages),
            np.log1p(self.by_artist.reindex(pd.MultiIndex.from_arrays([users, artists])).fillna(0.0).to_numpy()),
            np.log1p(self.by_genre.reindex(pd.MultiIndex.from_arrays([users, genres])).fillna(0.0).to_numpy()),
            np.log1p(self.by_language.reindex(pd.MultiIndex.from_arrays([users, languages])).fillna(0.0).to_numpy()),
            self._top_artist(users, artists),
            self._season_share(users, artists, total),
            self._cf_affinity(users, tracks),
            self._mood_distance(self.mood, users, valence, arousal),
            self._mood_distance(self.recent_mood, users, valence, arousal),
        ]
        return np.stack(columns, axis=1).astype(np.float64)

    @staticmethod
    def _mood_distance(mood: pd.DataFrame, users: np.ndarray, valence: np.ndarray, arousal: np.ndarray
                       ) -> np.ndarray:
        """Distance of the track's (valence, arousal) from u's mean mood (the world's
        interest centres pull each listener's target emotion; 1 where u has no plays)."""
        m = mood.reindex(users)
        d = np.hypot(valence - m["valence"].to_numpy(), arousal - m["arousal"].to_numpy())
        return np.where(np.isnan(d), 1.0, d)

    def _cf_affinity(self, users: np.ndarray, tracks: np.ndarray) -> np.ndarray:
        """PureSVD score ``p_u V V_i``: u's play profile through the top-k track factors."""
        if len(self.cf_users) == 0:
            return np.zeros(len(users))
        at = self.cf_users.get_indexer(users)
        v = self.cf_track.reindex(tracks).fillna(0.0).to_numpy()
        return np.where(at >= 0, (self.cf_user[np.maximum(at, 0)] * v).sum(axis=1), 0.0)

    def _season_share(self, users: np.ndarray, artists: np.ndarray, total: np.ndarray) -> np.ndarray:
        """The largest share of u's plays by the artists of a variety season that i's
        artist appeared in (0 when it appeared in none): the world's season affinity."""
        out = np.zeros(len(users))
        if self.seasons.empty or len(users) == 0:
            return out
        rows = pd.DataFrame({"row": np.arange(len(users)), "user_id": users, "artist_id": artists}).merge(
            self.seasons, on="artist_id")
        if rows.empty:
            return out
        counts = self.by_season.reindex(pd.MultiIndex.from_frame(rows[["user_id", "show_id"]])).fillna(0.0)
        best = pd.Series(counts.to_numpy(), index=rows["row"].to_numpy()).groupby(level=0).max()
        out[best.index.to_numpy()] = best.to_numpy()
        return np.where(total > 0, out / np.maximum(total, 1.0), 0.0)

    def _top_artist(self, users: np.ndarray, artists: np.ndarray, top: int = 5) -> np.ndarray:
        """1 where the artist is one of the listener's ``top`` most played (ties broken by id):
        the world's favourite artists, seen through the log."""
        if len(self.by_artist) == 0:
            return np.zeros(len(users))
        ranked = self.by_artist.rename("n").reset_index().sort_values(["user_id", "n", "artist_id"],
                                                                        ascending=[True, False, True])
        ranked = ranked[ranked.groupby("user_id").cumcount() < top]
        keys = pd.MultiIndex.from_frame(ranked[["user_id", "artist_id"]])
        return pd.MultiIndex.from_arrays([users, artists]).isin(keys).astype(np.float64)


@dataclass
class LogisticModel:
    """``p = sigmoid(coef . [1, (x - mean) / scale])``."""

    coef: np.ndarray  # (F + 1,)
    mean: np.ndarray  # (F,)
    scale: np.ndarray  # (F,)

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, l2: float = 1.0, iterations: int = 25) -> "LogisticModel":
        """Newton-Raphson on the penalised log likelihood (the intercept is not penalised)."""
        x = np.asarray(x, np.float64)
        y = np.asarray(y, np.float64)
        if len(x) == 0:
            raise ValueError("no logged exposures to fit the reward model on")
        mean, scale = x.mean(axis=0), x.std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        design = np.hstack([np.ones((len(x), 1)), (x - mean) / scale])
        coef = np.zeros(design.shape[1])
        penalty = np.full(design.shape[1], l2)
        penalty[0] = 0.0
        for _ in range(iterations):
            p = 1.0 / (1.0 + np.exp(-design @ coef))
            grad = design.T @ (y - p) - penalty * coef
            hess = (design * (p * (1 - p))[:, None]).T @ design + np.diag(penalty) + 1e-9 * np.eye(len(coef))
            step = np.linalg.solve(hess, grad)
            coef += step
            if np.abs(step).max() < 1e-8:
                break
        return cls(coef, mean, scale)

    def predict(self, x: np.ndarray) -> np.ndarray:
        design = np.hstack([np.ones((len(x), 1)), (np.asarray(x, np.float64) - self.mean) / self.scale])
        return 1.0 / (1.0 + np.exp(-design @ self.coef))


def _mean_mood(plays: pd.DataFrame) -> pd.DataFrame:
    """user -> play-weighted mean valence and arousal of ``plays`` (with catalogue columns)."""
    if plays.empty:
        return pd.DataFrame(columns=["valence", "arousal"], dtype=np.float64)
    w = plays["n"].to_numpy(np.float64)
    frame = pd.DataFrame({"user_id": plays["user_id"].to_numpy(), "w": w,
                          "valence": plays["valence"].fillna(0.0).to_numpy() * w,
                          "arousal": plays["arousal"].fillna(0.0).to_numpy() * w}).groupby("user_id").sum()
    return frame[["valence", "arousal"]].div(frame["w"], axis=0)


def _pure_svd(plays: pd.DataFrame, k: int = 32, seed: int = 0) -> dict:
    """Top-k right singular vectors V (tracks, k) of the listener x track matrix P of
    log(1 + plays), rows scaled to unit norm (Cremonesi et al. 2010, "PureSVD"), by a
    seeded randomised SVD (Halko et al. 2011; two power iterations), and each listener's
    ``p_u V`` (users, k): the affinity of (u, i) is ``p_u V . V_i``, the co-listening
    structure of the log (genre, language, favourite artists, shows together)."""
    counts = plays.groupby(["user_id", "track_id"])["n"].sum()
    users = pd.Index(counts.index.get_level_values(0).unique())
    tracks = pd.Index(counts.index.get_level_values(1).unique())
    if len(users) < 2 or len(tracks) < 2:
        return {"cf_users": pd.Index([]), "cf_user": np.zeros((0, 1)), "cf_track": pd.DataFrame(np.zeros((0, 1)))}
    p = np.zeros((len(users), len(tracks)), np.float32)  # (users, tracks): dense, catalogues are small here
    p[users.get_indexer(counts.index.get_level_values(0)), tracks.get_indexer(counts.index.get_level_values(1))] = \
        np.log1p(counts.to_numpy())
    p /= np.maximum(np.linalg.norm(p, axis=1, keepdims=True), 1e-9)
    k = min(k, min(p.shape) - 1)
    q = p.T @ np.random.default_rng(seed).standard_normal((len(users), k + 8)).astype(np.float32)  # (tracks, k+8)
    for _ in range(2):
        q, _ = np.linalg.qr(p.T @ (p @ q))
    _, _, vt = np.linalg.svd(p @ q, full_matrices=False)
    v = (q @ vt.T)[:, :k]  # (tracks, k)
    return {"cf_users": users, "cf_user": p @ v, "cf_track": pd.DataFrame(v, index=tracks)}
