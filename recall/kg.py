"""The music knowledge graph as a queryable structure: typed entities indexed densely
per type and one sparse adjacency (:class:`encore.recall.sparse.Csr`) per relation,
walkable forwards and backwards.

Input: the triples table (``encore.platform.contracts.catalog.TRIPLES``: head,
relation, tail) over typed entity ids ``<type>:<key>``. The simulated world writes
(``encore.platform.world.catalog.knowledge_graph``):

* ``in_album`` track -> album, ``by_artist`` album -> artist,
* ``soundtrack_of`` track -> show (a TV show's soundtrack),
* ``appeared_in`` artist -> show (the artists of a variety season),
* ``from_origin`` artist -> origin, ``has_genre`` track -> genre,
  ``in_language`` track -> language.

Entities of one type get the columns 0..n-1 in sorted key order; tracks, when a
catalog is given, get the catalog's columns (:class:`encore.recall.sparse.TrackIndex`:
the candidates' columns), and triples naming a track outside the catalog are dropped.
A relation must have one head type and one tail type.

A *step* is a relation name walked forwards (head -> tail) or, written
``~relation``, backwards. :meth:`KnowledgeGraph.transition` is a step's row-normalised
adjacency (a uniform choice among the neighbours; an entity without neighbours has an
empty row, so the walk stops there), and :meth:`KnowledgeGraph.walk` the product of
the transitions of a sequence of steps: entry (a, b) is the probability that the walk
started at a is at b after the steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from encore.recall.sparse import Csr, TrackIndex, batch_times_csr

TRACK = "track"


def parse_step(step: str) -> tuple[str, bool]:
    """``"rel"`` -> (rel, False); ``"~rel"`` -> (rel, True) (walked backwards)."""
    return (step[1:], True) if step.startswith("~") else (step, False)


def invert_steps(steps: Sequence[str]) -> list[str]:
    """The steps that walk ``steps`` back to where they started."""
    return [s[1:] if s.startswith("~") else "~" + s for s in reversed(steps)]


@dataclass(frozen=True)
class Relation:
    head_type: str
    tail_type: str
    heads: np.ndarray  # int64 columns of the head type
    tails: np.ndarray  # int64 columns of the tail type


def _split(entities: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    parts = entities.astype(str).str.partition(":")
    if (parts[1] != ":").any():
        bad = entities[(parts[1] != ":").to_numpy()].iloc[0]
        raise ValueError(f"knowledge-graph entity {bad!r} is not <type>:<key>")
    return parts[0].to_numpy(dtype=object), parts[2].to_numpy(dtype=object)


class KnowledgeGraph:
    """Typed entities and relations (see the module docstring)."""

    def __init__(self, keys: dict[str, np.ndarray], relations: dict[str, Relation],
                 tracks: TrackIndex | None = None):
        self.keys = keys  # type -> sorted keys (str); tracks: str of the catalog ids
        self.relations = relations
        self.tracks = tracks

    @classmethod
    def from_triples(cls, triples: pd.DataFrame, track_ids: np.ndarray | None = None) -> "KnowledgeGraph":
        head_type, head_key = _split(triples["head"])
        tail_type, tail_key = _split(triples["tail"])
        relation = triples["relation"].astype(str).to_numpy(dtype=object)
        tracks = TrackIndex.of(track_ids) if track_ids is not None else None
        types = sorted(set(head_type) | set(tail_type))
        keys: dict[str, np.ndarray] = {}
        for t in types:
            if t == TRACK and tracks is not None:
                keys[t] = tracks.track_ids.astype(str).astype(object)
            else:
                keys[t] = np.unique(np.concatenate([head_key[head_type == t], tail_key[tail_type == t]]))
        head_col = np.zeros(len(triples), np.int64)
        tail_col = np.zeros(len(triples), np.int64)
        known = np.ones(len(triples), bool)
        for types_of, keys_of, cols in ((head_type, head_key, head_col), (tail_type, tail_key, tail_col)):
            for t in types:
                rows = np.flatnonzero(types_of == t)
                if t == TRACK and tracks is not None:
                    ids = pd.to_numeric(pd.Series(keys_of[rows]), errors="coerce").fillna(-1).to_numpy(np.int64)
                    cols[rows], ok = tracks.columns(ids)
                    known[rows] &= ok
                else:
                    cols[rows] = np.searchsorted(keys[t], keys_of[rows])
        relations: dict[str, Relation] = {}
        for name in sorted(set(relation)):
            rows = np.flatnonzero((relation == name) & known)
            all_rows = relation == name
            h, t = set(head_type[all_rows]), set(tail_type[all_rows])
            if len(h) != 1 or len(t) != 1:
                raise ValueError(f"relation {name!r} links several entity types: {sorted(h)} -> {sorted(t)}")
            relations[name] = Relation(h.pop(), t.pop(), head_col[rows], tail_col[rows])
        return cls(keys, relations, tracks)

    # -- entities ------------------------------------------------------------------
    @property
    def types(self) -> list[str]:
        return sorted(self.keys)

    def n(self, entity_type: str) -> int:
        return len(self.keys.get(entity_type, ()))

    def entity_ids(self, entity_type: str) -> np.ndarray:
        """``<type>:<key>`` of every entity of the type, in column order."""
        return np.array([f"{entity_type}:{k}" for k in self.keys.get(entity_type, ())], dtype=object)

    def columns(self, entity_type: str, keys: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(columns, known) of entity keys (the part after ``<type>:``)."""
        if entity_type == TRACK and self.tracks is not None:
            return self.tracks.columns(pd.to_numeric(pd.Series(list(keys), dtype=object), errors="coerce")
                                       .fillna(-1).to_numpy(np.int64))
        table = self.keys.get(entity_type, np.zeros(0, object))
        wanted = np.asarray([str(k) for k in keys], dtype=object)
        if not len(table):
            return np.zeros(len(wanted), np.int64), np.zeros(len(wanted), bool)
        pos = np.clip(np.searchsorted(table, wanted), 0, len(table) - 1)
        return pos.astype(np.int64), table[pos] == wanted

    # -- relations -----------------------------------------------------------------
    def step_types(self, step: str) -> tuple[str, str]:
        """(from type, to type) of a step."""
        name, backwards = parse_step(step)
        if name not in self.relations:
            raise KeyError(f"no relation {name!r} in the knowledge graph; known: {sorted(self.relations)}")
        r = self.relations[name]
        return (r.tail_type, r.head_type) if backwards else (r.head_type, r.tail_type)

    def path_types(self, steps: Sequence[str]) -> list[str]:
        """The entity types a walk along ``steps`` visits (len(steps) + 1); raises when
        consecutive steps do not meet on one type."""
        types = list(self.step_types(steps[0]))
        for step in steps[1:]:
            a, b = self.step_types(step)
            if a != types[-1]:
                raise ValueError(f"meta-path {list(steps)}: {step!r} starts at {a}, the walk is at {types[-1]}")
            types.append(b)
        return types

    def adjacency(self, step: str) -> Csr:
        """The 0/1 adjacency of a step (duplicate triples count once)."""
        name, backwards = parse_step(step)
        a, b = self.step_types(step)
        r = self.relations[name]
        rows, cols = (r.tails, r.heads) if backwards else (r.heads, r.tails)
        m = Csr.from_coo(rows, cols, np.ones(len(rows)), self.n(a), self.n(b))
        return Csr(m.indptr, m.indices, np.ones_like(m.data), m.n_cols)

    def transition(self, step: str) -> Csr:
        """The row-normalised adjacency: a uniform step to one of the neighbours."""
        m = self.adjacency(step)
        degree = np.diff(m.indptr)
        data = (1.0 / np.repeat(np.maximum(degree, 1), degree)).astype(np.float32)
        return Csr(m.indptr, m.indices, data, m.n_cols)

    def walk(self, steps: Sequence[str]) -> Csr:
        """Reach probabilities of a walk along ``steps`` (product of the transitions)."""
        self.path_types(steps)
        out = self.transition(steps[0])
        for step in steps[1:]:
            out = times(out, self.transition(step))
        return out

    def neighbours(self, entity: str, step: str) -> list[str]:
        """``<type>:<key>`` of the entities one step away from ``entity`` (a query
        helper: explanations, tests, notebooks)."""
        entity_type, _, key = entity.partition(":")
        a, b = self.step_types(step)
        if entity_type != a:
            raise ValueError(f"{entity} is a {entity_type}, step {step!r} starts at {a}")
        cols, known = self.columns(a, [key])
        if not known[0]:
            return []
        m = self.adjacency(step)
        ids = self.entity_ids(b)
        return [str(ids[c]) for c in m.indices[m.indptr[cols[0]]:m.indptr[cols[0] + 1]]]


def times(a: Csr, b: Csr) -> Csr:
    """The sparse product a @ b."""
    rows, cols, vals = batch_times_csr(*a.row_coo(), b)
    return Csr.from_coo(rows, cols, vals, a.n_rows, b.n_cols)
