"""Knowledge-graph walk channel (kind ``kg_walk``): meta-path guided walks from the
listener's history over the music knowledge graph (:mod:`encore.recall.kg`) to tracks
not yet heard, each candidate carrying the path that explains it.

Meta-paths (config ``meta_paths``: name -> the steps from a track to the path's
*pivot*; the walk goes out to the pivot and back to a track along the same relations
reversed). The defaults over the world's triples:

* ``album``:      track -in_album-> album <-in_album- track
* ``artist``:     track -> album -by_artist-> artist <- album <- track
* ``soundtrack``: track -soundtrack_of-> show <-soundtrack_of- track
* ``season``:     track -> album -> artist -appeared_in-> show (a variety season)
  <-appeared_in- artist <- album <- track

Every step picks uniformly among the neighbours (row-normalised transitions,
``KnowledgeGraph.walk``), so for a meta-path m with out-walk O_m (tracks x pivots) and
back-walk K_m (pivots x tracks), Reach_m = O_m K_m is the probability that the walk
from track s ends on track t (through pivot v: O_m[s, v] K_m[v, t]).

Score of an unheard track t for a listener, with source weights a (those of item-CF:
request time T, half-life h, r(x) = 0.5 ** ((T - ts(x)) / h): + r for each of the last
``max_sources`` plays, + ``heart_boost`` * r for hearts, - ``skip_penalty`` * r for
skips; summed per track, then divided by the query's total positive weight, so with
plays and hearts only ``a`` is the distribution of the walk's start):

    m_m(v) = sum over sources s of  a(s) * O_m[s, v]          (mass on pivot v)
    f_m(v) = m_m(v) ** q * sum_v m_m(v) / sum_v m_m(v) ** q     (q = ``pivot_focus``)
    R_m(t) = sum over pivots v of  f_m(v) * K_m[v, t]           (the walk reaches t)
    M_m    = sum over t of R_m(t) (positive sources only)      (the walk survives:
             a track without a show has no soundtrack walk)
    score(t) = sum over meta-paths m of  w_m * R_m(t) / M_m    (``normalise="path"``)
    score(t) = sum over meta-paths m of  w_m * R_m(t)          (``normalise="walk"``)

With q = 1, R_m(t) = sum_s a(s) Reach_m[s, t], the plain reach probability; q > 1
(default 2) favours pivots that many of the listener's plays lead to (a show they
keep returning to) over pivots one play touches, keeping the path's total mass (on
the recall test world q = 2 lifts recall@200 of tracks tied only through a show or
season from 0.175 to 0.214; on a world of another seed, 11, from 0.169 to 0.173). Negative masses (skips) stay linear.
How the meta-paths are merged (``combine``): ``"sum"`` is the score above;
``"interleave"`` (default) ranks each meta-path's candidates by its own R_m and gives a
candidate max over m of s_m / (c + rank_m) (:func:`rank_fusion`, ``best``; s_m =
w_m ** ``share_power``, c = ``rank_constant``): a weighted interleave in which every
meta-path keeps a quota of the top ranks, so a show's soundtrack, which spreads its
mass over many tracks, is not crowded out of the first 200 by albums and artists
that concentrate theirs; ``"rank"`` sums instead of taking the max (reciprocal-rank
fusion; it rewards tracks two paths reach, i.e. album and artist neighbours).
The defaults (interleave, c = 10, share_power 0.5, half-life 168 h) were chosen on
validation worlds of seeds 11 and 13 (800 listeners x 14 days), never on the
benchmark's world (seed 31): there they lift recall@200 of the graph-only tracks
from 0.159 / 0.118 (sum, 24 h) to 0.250 / 0.164 against item-CF's 0.090 / 0.141,
and with the kg utility off stay below 1.5x item-CF at recall@50.
"path" asks each meta-path where it leads *given that it applies to this listener*
(a show fan's few soundtrack plays still rank the show's other tracks next to the
album and artist neighbours); "walk" is the plain probability of the mixed walk.
Heard tracks (the Query's plays, hearts, skips, dislikes and session) are never
candidates; only positive scores are kept.

Path weights ``w`` (``path_weights`` configured, otherwise counted at fit): on the
log's *discoveries* (a listener's first play of a track in the window, completed
later, with earlier plays; at most ``max_fit_events``, seeded sample), each explained
from that listener's preceding plays (recency-weighted as above; hearts and skips are
not used), L_em = R_m(target of e) and M_em = the walk's surviving mass; w_m = the
meta-path's precision, mean over discoveries with M_em > 0 of L_em / M_em ("path") or
sum_e L_em / sum_e M_em ("walk"), normalised to sum 1 (uniform without discoveries).
``fit_coverage`` (the share of discoveries each meta-path reaches) and ``fit_events``
are saved for reports.

Reasons: each candidate keeps its best-contributing (meta-path, pivot), the largest
``w_m f_m(v) K_m[v, t]`` (after the "path" division; ties: earlier meta-path, smaller
source column, smaller pivot column), with the source that put the most mass
``a(s) O_m[s, v]`` on that pivot (ties: smaller column). ``Candidates.reason_names`` hold their ids
``"<meta-path>|<source track id>|<pivot entity>"`` (e.g. ``"soundtrack|12|show:4"``),
``Candidates.reason_texts`` the sentences serving returns as the item's explanation,
e.g. "Because you played track 12 from the soundtrack of Soundtrack 4" (pivot names
from ``RecallTables.entity_names``; "hearted" when the source was hearted); a variety
season names the source track's artist too: "Because you played track 12 by Artist 3,
who appeared in Season 2 with this artist" (an artist recommendation reads it as "sang
in the same season as an artist you played").

Artifact arrays: ``track_ids``; per meta-path i: ``p<i>_out_*`` / ``p<i>_back_*`` (the
CSR arrays of O_m and K_m), ``p<i>_pivot_ids`` / ``p<i>_pivot_names`` (unicode),
``p<i>_via_names`` (season paths: each track's artist name, else empty);
``path_weights``, ``fit_coverage``, ``fit_events``. A meta-path naming a relation the
triples lack (e.g. ``soundtrack_of`` on Last.fm) is kept empty with weight 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from encore.platform.contracts.labels import is_complete_play
from encore.recall.channel import Candidates, Channel, ChannelArtifactError
from encore.recall.item_cf import source_parts
from encore.recall.kg import TRACK, KnowledgeGraph, invert_steps, parse_step
from encore.recall.query import Query
from encore.recall.sparse import Csr, TrackIndex, batch_times_csr, split_rows, sum_duplicates, top_k_index

HOUR_MS = 3_600_000
CSR_PARTS = ("indptr", "indices", "data")


@dataclass(frozen=True)
class MetaPath:
    name: str
    steps: tuple[str, ...]
    out: Csr  # tracks x pivots
    back: Csr  # pivots x tracks
    pivot_ids: np.ndarray  # str
    pivot_names: np.ndarray  # str
    via_names: np.ndarray  # str per track column (season paths: the source track's artist), or empty

    @property
    def template(self) -> str:
        """Which sentence explains this path: by the last relation, else the pivot type."""
        last, backwards = parse_step(self.steps[-1])
        if not backwards and last in ("soundtrack_of", "appeared_in"):
            return last
        pivot_type = str(self.pivot_ids[0]).partition(":")[0] if len(self.pivot_ids) else ""
        return pivot_type if pivot_type in ("album", "artist") else "generic"

    def explain(self, verb: str, source_track: int, pivot: int, source_col: int = -1) -> str:
        where = str(self.pivot_names[pivot])
        via = str(self.via_names[source_col]) if 0 <= source_col < len(self.via_names) else ""
        template = self.template
        if template == "soundtrack_of":
            return f"Because you {verb} track {source_track} from the soundtrack of {where}"
        if template == "appeared_in" and via:
            return f"Because you {verb} track {source_track} by {via}, who appeared in {where} with this artist"
        if template == "appeared_in":
            return f"Because you {verb} track {source_track}: its artist and this one appeared in {where}"
        if template == "album":
            return f"Because you {verb} track {source_track} from the same album ({where})"
        if template == "artist":
            return f"Because you {verb} track {source_track} by {where}"
        return f"Because you {verb} track {source_track}, linked through {where} ({self.name})"


def _empty_csr(n_rows: int, n_cols: int) -> Csr:
    return Csr(np.zeros(n_rows + 1, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32), n_cols)


def _display_name(entity: str, names: dict[str, str]) -> str:
    return names.get(entity) or entity.replace(":", " ", 1)


def _via_names(kg: KnowledgeGraph, steps: Sequence[str], names: dict[str, str], n_tracks: int) -> np.ndarray:
    """For a variety-season path (last step ``appeared_in`` forwards): per track column,
    the display name of the entity the walk is at just before the pivot (the track's
    artist; the first by column when it has several), '' where none; otherwise empty."""
    last, backwards = parse_step(steps[-1])
    if backwards or last != "appeared_in" or len(steps) < 2:
        return _unicode([])
    walk = kg.walk(steps[:-1])
    ids = kg.entity_ids(kg.path_types(steps[:-1])[-1])
    first = walk.indices[np.minimum(walk.indptr[:-1], max(len(walk.indices) - 1, 0))] if len(walk.indices) else None
    has = np.diff(walk.indptr) > 0
    out = [_display_name(str(ids[first[c]]), names) if has[c] and first is not None else "" for c in range(n_tracks)]
    return _unicode(out)


def _unicode(values) -> np.ndarray:
    values = [str(v) for v in values]
    return np.array(values, dtype=str) if values else np.zeros(0, dtype="<U1")


class KGWalkChannel(Channel):
    kind = "kg_walk"

    # -- fit -------------------------------------------------------------------------
    def fit(self, tables) -> "KGWalkChannel":
        if getattr(tables, "triples", None) is None:
            raise ChannelArtifactError(f"channel {self.name}: the knowledge-graph triples are needed "
                                       "(<world>/kg/triples.parquet)")
        p = self.settings
        index = TrackIndex.of(tables.tracks["track_id"].to_numpy())
        kg = KnowledgeGraph.from_triples(tables.triples, index.track_ids)
        names = {} if tables.entity_names is None else dict(zip(tables.entity_names["entity"].astype(str),
                                                                 tables.entity_names["name"].astype(str)))
        arrays: dict[str, np.ndarray] = {"track_ids": index.track_ids}
        for i, (name, steps) in enumerate(p.meta_paths.items()):
            try:
                types = kg.path_types(steps)
            except KeyError:  # a relation these triples lack: an empty path
                out, back, pivots = _empty_csr(len(index), 0), _empty_csr(0, len(index)), []
            else:
                if types[0] != TRACK or types[-1] == TRACK:
                    raise ValueError(f"channel {self.name}: meta-path {name!r} must lead from a track to "
                                     f"another entity type, not {types[0]} -> {types[-1]}")
                out, back = kg.walk(steps), kg.walk(invert_steps(steps))
                pivots = list(kg.entity_ids(types[-1]))
            for part in CSR_PARTS:
                arrays[f"p{i}_out_{part}"] = getattr(out, part)
                arrays[f"p{i}_back_{part}"] = getattr(back, part)
            arrays[f"p{i}_pivot_ids"] = _unicode(pivots)
            arrays[f"p{i}_pivot_names"] = _unicode(_display_name(e, names) for e in pivots)
            arrays[f"p{i}_via_names"] = _via_names(kg, steps, names, len(index)) if len(pivots) else _unicode([])
        self.arrays = arrays
        self.arrays["path_weights"] = np.full(len(p.meta_paths), 1.0 / len(p.meta_paths))
        self._after_load()
        reach, mass = self.discovery_reach(tables)
        self.arrays["fit_events"] = np.array([len(reach)], np.int64)
        self.arrays["fit_coverage"] = (reach > 0).mean(axis=0) if len(reach) else np.zeros(len(self._paths))
        if p.path_weights:
            weights = np.array([p.path_weights.get(n, 0.0) for n in p.meta_paths], np.float64)
        else:
            weights = precision_weights(reach, mass, p.normalise)
        self.arrays["path_weights"] = weights
        self._after_load()
        return self

    def _after_load(self) -> None:
        a = self.arrays
        self._index = TrackIndex(a["track_ids"])
        n = len(self._index)
        self._paths = []
        for i, (name, steps) in enumerate(self.settings.meta_paths.items()):
            pivots = a[f"p{i}_pivot_ids"]
            out = Csr(a[f"p{i}_out_indptr"], a[f"p{i}_out_indices"], a[f"p{i}_out_data"], len(pivots))
            back = Csr(a[f"p{i}_back_indptr"], a[f"p{i}_back_indices"], a[f"p{i}_back_data"], n)
            via = a.get(f"p{i}_via_names", _unicode([]))  # artifacts saved before via names: none
            self._paths.append(MetaPath(name, tuple(steps), out, back, pivots, a[f"p{i}_pivot_names"], via))
        self._weights = a["path_weights"].astype(np.float64)

    @property
    def path_weights(self) -> dict[str, float]:
        return {m.name: float(w) for m, w in zip(self._paths, self._weights)}

    def discovery_reach(self, tables) -> tuple[np.ndarray, np.ndarray]:
        """(L, M), both (E, P): per fitting discovery (see the module docstring) and
        meta-path, the probability that the walk from the listener's preceding plays
        reaches the discovered track, and the walk's surviving mass."""
        p = self.settings
        events, sources = discoveries(tables, self._index, p.max_sources, p.recency_half_life_hours,
                                      p.max_fit_events, p.seed)
        reach, mass = np.zeros((len(events), len(self._paths))), np.zeros((len(events), len(self._paths)))
        if not len(events):
            return reach, mass
        targets = events["col"].to_numpy(np.int64)
        e, src, a = sources
        n = len(self._index)
        for j, path in enumerate(self._paths):
            ev, pivot, via, _ = pivot_mass(e, src, a, path.out, p.pivot_focus)
            back_rows = np.repeat(np.arange(path.back.n_rows, dtype=np.int64), np.diff(path.back.indptr))
            back_sum = np.bincount(back_rows, weights=path.back.data, minlength=path.back.n_rows)
            keys = back_rows * n + path.back.indices  # sorted: the CSR is row-major, columns sorted
            wanted = pivot * n + targets[ev]
            pos = np.minimum(np.searchsorted(keys, wanted), max(len(keys) - 1, 0))
            hit = (keys[pos] == wanted) if len(keys) else np.zeros(len(wanted), bool)
            hit_value = np.where(hit, via * path.back.data[pos], 0.0) if len(keys) else np.zeros(len(wanted))
            reach[:, j] = np.bincount(ev, weights=hit_value, minlength=len(events))
            mass[:, j] = np.bincount(ev, weights=via * back_sum[pivot], minlength=len(events))
        return reach, mass

    # -- recall ----------------------------------------------------------------------
    def source_weights(self, queries: Sequence[Query]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(rows, columns, a, hearted): each query's sources with weights divided by
        its total positive weight, and whether the source is among its hearts."""
        n = len(self._index)
        parts = source_parts(queries, self._index, self.settings)
        heart_rows, heart_cols, _ = parts["heart"]
        heart_keys = heart_rows * n + heart_cols
        all_rows, all_cols, all_vals = (np.concatenate(x) for x in zip(*parts.values()))
        rows, cols, vals = sum_duplicates(all_rows, all_cols, all_vals, n)
        total = np.bincount(rows, weights=np.maximum(vals, 0.0), minlength=len(queries))
        keep = (total[rows] > 0) & (vals != 0)
        rows, cols, vals = rows[keep], cols[keep], vals[keep] / total[rows[keep]]
        return rows, cols, vals, np.isin(rows * n + cols, heart_keys)


    def walks(self, queries: Sequence[Query]) -> dict[str, np.ndarray]:
        """Every path contribution: flat arrays row, col (candidate), value, path,
        source (the column of the pivot's largest source), pivot (column), hearted
        (that source)."""
        rows, cols, a, hearted = self.source_weights(queries)
        parts: list[tuple[np.ndarray, ...]] = []
        for j, (path, w) in enumerate(zip(self._paths, self._weights)):
            if w <= 0 or not len(path.out.indices):
                continue
            prow, pivot, mass, entry = pivot_mass(rows, cols, a, path.out, self.settings.pivot_focus)
            pair, track, value = batch_times_csr(np.arange(len(prow)), pivot, w * mass, path.back)
            src = entry[pair]
            parts.append((prow[pair], track, value, np.full(len(pair), j, np.int64), cols[src], pivot[pair],
                          hearted[src]))
        names = ("row", "col", "value", "path", "source", "pivot", "hearted")
        if not parts:
            return {k: np.zeros(0, bool if k == "hearted" else np.float64 if k == "value" else np.int64)
                    for k in names}
        return {k: np.concatenate(v) for k, v in zip(names, zip(*parts))}

    def recall(self, queries: Sequence[Query], k: int) -> list[Candidates]:
        self._require_fitted()
        n = len(self._index)
        w = self.walks(queries)
        if self.settings.normalise == "path":  # divide by the walk's surviving mass M_m
            group = w["row"] * len(self._paths) + w["path"]
            unweighted = np.maximum(w["value"], 0.0) / self._weights[w["path"]]  # walked paths have w_m > 0
            mass = np.bincount(group, weights=unweighted, minlength=len(queries) * len(self._paths))
            w["value"] = np.where(mass[group] > 0, w["value"] / np.maximum(mass[group], 1e-300), 0.0)
        key = w["row"] * n + w["col"]
        unheard = ~np.isin(key, self._index.heard(queries))
        w = {name: v[unheard] for name, v in w.items()}
        key = key[unheard]
        unique, inverse = np.unique(key, return_inverse=True)
        score = np.bincount(inverse, weights=w["value"], minlength=len(unique))
        if self.settings.combine != "sum":
            shares = self._weights ** self.settings.share_power
            score = rank_fusion(unique % n, unique // n, inverse, w["path"], w["value"], shares,
                                self.settings.rank_constant, best=self.settings.combine == "interleave")
        # per candidate: its best contribution (ties: earlier path, smaller source, pivot)
        order = np.lexsort((w["pivot"], w["source"], w["path"], -w["value"], inverse))
        first = np.ones(len(order), bool)
        first[1:] = inverse[order][1:] != inverse[order][:-1]
        best = order[first]  # aligned with unique
        rows, cols = unique // n, unique % n
        pick = top_k_index(rows, score, len(queries), k, tie=cols)
        rows, cols, score, best = rows[pick], cols[pick], score[pick], best[pick]
        reason = np.stack([w["path"][best], w["source"][best], w["pivot"][best],
                           w["hearted"][best].astype(np.int64)], axis=1) if len(best) else np.zeros((0, 4), np.int64)
        triples, which = np.unique(reason, axis=0, return_inverse=True)
        which = which.reshape(-1)
        ids = self._index.track_ids
        reason_ids = np.array([f"{self._paths[p].name}|{ids[s]}|{self._paths[p].pivot_ids[v]}"
                               for p, s, v, _ in triples], dtype=object)
        reason_texts = np.array([self._paths[p].explain("hearted" if h else "played", int(ids[s]), v, int(s))
                                 for p, s, v, h in triples], dtype=object)
        out = []
        for c, v, r in split_rows(rows, len(queries), cols, score, which):
            local, idx = np.unique(r, return_inverse=True)
            if len(local) > np.iinfo(np.int16).max:
                raise ValueError(f"channel {self.name}: more distinct reasons than int16 holds; lower k")
            out.append(Candidates(ids[c], v.astype(np.float32), idx.reshape(-1).astype(np.int16),
                                  tuple(reason_ids[local]), tuple(reason_texts[local])))
        return out


def rank_fusion(cols: np.ndarray, rows: np.ndarray, inverse: np.ndarray, path: np.ndarray, value: np.ndarray,
                weights: np.ndarray, constant: float, best: bool = False) -> np.ndarray:
    """Weighted reciprocal-rank fusion of the meta-paths (Cormack et al. 2009, weighted):
    per candidate c (``cols``/``rows`` of each unique candidate; ``inverse`` maps each
    contribution to it), sum over meta-paths m that reach it of
    ``weights[m] / (constant + rank_m(c))``, rank_m the 1-based rank of c among the
    row's candidates by meta-path m's summed positive contributions (ties: smaller
    column). Scale-free across meta-paths: a path spreading its mass over many tracks
    (a show's soundtrack) keeps its share of the top ranks instead of being outscored
    by one that concentrates it (an album). Shapes: cols, rows (C,); inverse, path,
    value (N,); weights (P,); returns (C,) float64."""
    n_paths = len(weights)
    key = inverse.astype(np.int64) * n_paths + path
    unique, pinv = np.unique(key, return_inverse=True)
    total = np.bincount(pinv.reshape(-1), weights=value, minlength=len(unique))
    keep = total > 0
    cand, m, total = unique[keep] // n_paths, unique[keep] % n_paths, total[keep]
    row = rows[cand]
    order = np.lexsort((cols[cand], -total, m, row))
    group = row[order] * n_paths + m[order]
    start = np.r_[True, group[1:] != group[:-1]] if len(group) else np.zeros(0, bool)
    first = np.maximum.accumulate(np.where(start, np.arange(len(group)), 0)) if len(group) else group
    rank = np.empty(len(order), np.float64)
    rank[order] = np.arange(len(order)) - first + 1
    share = weights[m] / (constant + rank)
    if best:
        out = np.zeros(len(cols))
        np.maximum.at(out, cand, share)
        return out
    return np.bincount(cand, weights=share, minlength=len(cols))


def pivot_mass(rows: np.ndarray, cols: np.ndarray, a: np.ndarray, out: Csr, focus: float
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The first half of a walk, summed per (row, pivot): (rows, pivots, mass, entry)
    where mass = sum over sources s of a(s) O[s, pivot] and entry indexes the source
    that contributes most (ties: the smaller column). With ``focus`` != 1 each row's
    positive pivot masses m become m ** focus rescaled to the same total (> 1: pivots
    many sources lead to gain on pivots few lead to)."""
    entry, pivot, via = batch_times_csr(np.arange(len(rows)), cols, a, out)
    n_pivots = max(out.n_cols, 1)
    key = rows[entry] * n_pivots + pivot
    unique, inverse = np.unique(key, return_inverse=True)
    mass = np.bincount(inverse, weights=via, minlength=len(unique))
    order = np.lexsort((cols[entry], -via, inverse))
    first = np.ones(len(order), bool)
    first[1:] = inverse[order][1:] != inverse[order][:-1]
    best = entry[order[first]]
    prow, ppivot = unique // n_pivots, unique % n_pivots
    if focus != 1.0 and len(unique):
        positive = np.maximum(mass, 0.0)
        sharpened = positive ** focus
        n_rows = int(prow.max()) + 1
        scale = np.bincount(prow, weights=positive, minlength=n_rows) / \
            np.maximum(np.bincount(prow, weights=sharpened, minlength=n_rows), 1e-300)
        mass = np.where(mass > 0, sharpened * scale[prow], mass)
    return prow, ppivot, mass, best


def discoveries(tables, index: TrackIndex, max_sources: int, half_life_hours: float, max_events: int,
                seed: int) -> tuple[pd.DataFrame, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The log's discoveries (user_id, col, ts_ms: a listener's first play of a track in
    the window, completed later) that have preceding plays, at most ``max_events``
    (seeded sample, in log order), and their sources ``(event, column, a)``: the last
    ``max_sources`` plays before each, recency-weighted, normalised to sum 1."""
    ev = tables.events
    empty = (pd.DataFrame({"user_id": [], "col": [], "ts_ms": []}),
             (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)))
    plays = ev[(ev["action"] == "play_start") & ev["user_id"].notna()][["user_id", "track_id", "ts_ms", "event_id"]]
    cols, known = index.columns(plays["track_id"].fillna(-1).to_numpy(np.int64))
    plays = plays[known].assign(col=cols[known], user_id=plays["user_id"][known].astype(np.int64))
    plays = plays.sort_values(["user_id", "ts_ms", "event_id"], kind="mergesort").reset_index(drop=True)
    ends = ev[(ev["action"] == "play_end") & ev["user_id"].notna()]
    if not len(plays) or not len(ends) or "played_ms" not in ends:
        return empty
    ends = ends.merge(tables.tracks[["track_id", "duration_ms"]], on="track_id", how="inner")
    done = ends[is_complete_play(ends["played_ms"].astype("float64"), ends["duration_ms"]).fillna(False)]
    completed = pd.MultiIndex.from_arrays([done["user_id"].astype(np.int64), done["track_id"].astype(np.int64)])
    first = ~plays.duplicated(["user_id", "col"])
    user = plays["user_id"].to_numpy(np.int64)
    user_start = np.searchsorted(user, user)  # position of each user's first play
    position = np.arange(len(plays))
    pair = pd.MultiIndex.from_arrays([plays["user_id"], plays["track_id"].astype(np.int64)])
    chosen = np.flatnonzero(first.to_numpy() & pair.isin(completed) & (position > user_start))
    if not len(chosen):
        return empty
    if len(chosen) > max_events:
        chosen = np.sort(np.random.default_rng(seed).choice(chosen, max_events, replace=False))
    lo = np.maximum(user_start[chosen], chosen - max_sources)
    lengths = chosen - lo
    e = np.repeat(np.arange(len(chosen)), lengths)
    src = np.repeat(lo, lengths) + (np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths))
    ts = plays["ts_ms"].to_numpy(np.int64)
    recency = 0.5 ** (np.maximum(ts[chosen][e] - ts[src], 0) / (half_life_hours * HOUR_MS))
    e, col, a = sum_duplicates(e, plays["col"].to_numpy(np.int64)[src], recency, len(index))
    a = a / np.bincount(e, weights=a, minlength=len(chosen))[e]
    events = plays.iloc[chosen][["user_id", "col", "ts_ms"]].reset_index(drop=True)
    return events, (e, col, a)


def precision_weights(reach: np.ndarray, mass: np.ndarray, normalise: str) -> np.ndarray:
    """Each meta-path's precision on the discoveries (see the module docstring),
    normalised to sum 1; uniform when no meta-path reaches any discovery."""
    n_paths = reach.shape[1]
    uniform = np.full(n_paths, 1.0 / n_paths)
    if not len(reach) or not (reach > 0).any():
        return uniform
    if normalise == "path":
        applies = mass > 0
        ratio = np.where(applies, reach / np.where(applies, mass, 1.0), 0.0)
        precision = ratio.sum(axis=0) / np.maximum(applies.sum(axis=0), 1)
    else:
        precision = reach.sum(axis=0) / np.maximum(mass.sum(axis=0), 1e-300)
    return precision / precision.sum()
