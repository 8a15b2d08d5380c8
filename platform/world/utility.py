"""The latent utility of (listener, track, context): the single source of behaviour.

utility = sum over parts of ``weight[part] * raw_part`` (weights: config
``world.utility_weights``). The raw parts, each roughly on a unit scale:

- ``taste``: long-term taste, 0.5 * genre weight + 0.3 * language weight + 0.6 *
  favourite-artist weight - 0.5 (all weights in [0, 1]).
- ``interest``: fit to the interest active in this session: 1 if the track's genre is
  the interest's genre, + 0.6 if its artist is one of the interest's artists.
- ``emotion``: 0.6 - Euclidean distance between the track's (valence, arousal) and the
  session's target emotion (the clock mood blended with the interest's centre).
- ``kg``: affinity to the show whose soundtrack holds the track, + 0.8 * the strongest
  affinity to a variety season the track's artist appeared in.
- ``popularity``: standardised log popularity, clipped to [-2, 2].
- ``familiarity``: log(1 + earlier plays of this track by this listener), capped.
- ``rhythm``: the weekend lift of the track's genre (rock on Saturday/Sunday).
- ``noise``: standard normal, per exposure.

``mismatch`` (in [0, 1]) is the unweighted misfit of the track to the listener's state
right now: 0.5 * (1 - interest fit) + 0.5 * emotion distance / 1.5. Skips (and how early)
follow from utility, whose interest and emotion parts carry this misfit; the truth files
record mismatch so tests can check that skips rise with it. With the interest and
emotion weights at 0, skips no longer depend on mismatch, as it should be.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from encore.platform.config import UtilityWeights
from encore.platform.world.catalog import Catalog, popularity_z
from encore.platform.world.schema import UTILITY_PARTS
from encore.platform.world.users import Population

MAX_FAMILIARITY = np.log1p(20.0)


@dataclass(frozen=True)
class Context:
    """Per-exposure context: which population row, and the session's state."""

    rows: np.ndarray
    interest_genre: np.ndarray
    interest_artists: np.ndarray  # (n, ARTISTS_PER_INTEREST), -1 pad
    target_valence: np.ndarray
    target_arousal: np.ndarray
    weekend_lift: np.ndarray  # per genre code, zeros on weekdays
    play_counts: np.ndarray


class UtilityModel:
    def __init__(self, cat: Catalog, pop: Population, weights: UtilityWeights) -> None:
        self.cat, self.pop, self.weights = cat, pop, weights
        self.popularity_z = np.clip(popularity_z(cat), -2.0, 2.0)

    def parts(self, tracks: np.ndarray, ctx: Context, rng: np.random.Generator
              ) -> dict[str, np.ndarray]:
        """Weighted parts, their sum ``utility`` and ``mismatch`` for each exposure."""
        cat, pop, rows = self.cat, self.pop, ctx.rows
        genre, artist = cat.track_genre[tracks], cat.track_artist[tracks]

        favourite = (pop.favourite_artists[rows] == artist[:, None]) * pop.favourite_weight[rows]
        taste = (0.5 * pop.genre_taste[rows, genre] + 0.3 * pop.language_taste[rows, cat.track_language[tracks]]
                 + 0.6 * favourite.sum(axis=1) - 0.5)

        genre_fit = (genre == ctx.interest_genre).astype(np.float64)
        interest = genre_fit + 0.6 * (ctx.interest_artists == artist[:, None]).any(axis=1)

        distance = np.hypot(cat.valence[tracks] - ctx.target_valence,
                            cat.arousal[tracks] - ctx.target_arousal)
        emotion = 0.6 - distance

        show = cat.track_show[tracks]
        soundtrack = np.where(show >= 0, pop.show_affinity[rows, np.maximum(show, 0)], 0.0)
        season = (pop.show_affinity[rows] * cat.artist_in_show[artist]).max(axis=1)
        kg = soundtrack + 0.8 * season

        raw = {
            "taste": taste, "interest": interest, "emotion": emotion, "kg": kg,
            "popularity": self.popularity_z[tracks],
            "familiarity": np.minimum(np.log1p(ctx.play_counts), MAX_FAMILIARITY),
            "rhythm": ctx.weekend_lift[genre],
            "noise": rng.standard_normal(len(tracks)),
        }
        out = {part: getattr(self.weights, part) * raw[part] for part in UTILITY_PARTS}
        out["utility"] = sum(out[part] for part in UTILITY_PARTS)
        out["mismatch"] = 0.5 * (1.0 - np.minimum(interest, 1.0)) + 0.5 * np.minimum(distance / 1.5, 1.0)
        return out
