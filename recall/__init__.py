"""Recall channels: many candidate tracks per listener, fast (encore.recall).

Contracts (docs/design.md, "The contracts every model plugs into"):

* :class:`~encore.recall.query.Query` (query.py): everything a channel may read;
* queries.py: the ONE builder of Queries, ``queries_from_online`` (Feast rows, serving)
  and ``queries_from_log`` (point in time from the event log), one shared core;
* :class:`~encore.recall.channel.Channel` and ``Candidates`` (channel.py): fit from
  :class:`~encore.recall.tables.RecallTables`, save/load a versioned artifact, batched
  pure ``recall(queries, k)``; ``CHANNEL_KINDS`` (registry.py) builds them by name;
* ann.py: ``ItemIndex``, inner-product search over item embeddings (ScaNN, or exact
  for tiny catalogs) for the embedding channels, config ``params.ann`` of each neural channel;
* evaluate.py: ``evaluate_channels`` (recall@K offline) and the held-out-day protocol
  behind ``encore eval recall``.

Baseline channels: popularity.py (popular / trending / by hour), item_cf.py,
session_knn.py (V-SKNN), profile.py. Knowledge graph: kg.py (the graph from the
triples) and kg_walk.py (meta-path walks whose candidates carry the path as reason);
similar_listeners.py (co-listening neighbours: ``similar_listeners(user_id, k)`` and a channel).
Heavy imports stay inside these modules; importing ``encore.recall`` only loads numpy
and pandas.
"""

from encore.recall.channel import Candidates, Channel, ChannelArtifactError
from encore.recall.query import Context, Profile, Query, Session
from encore.recall.queries import QueryParams, assemble_query, queries_from_log, queries_from_online
from encore.recall.registry import CHANNEL_KINDS, build_channel, fit_channels, load_channel
from encore.recall.tables import RecallTables, load_recall_tables

__all__ = [
    "CHANNEL_KINDS", "Candidates", "Channel", "ChannelArtifactError", "Context", "Profile", "Query",
    "QueryParams", "RecallTables", "Session", "assemble_query", "build_channel", "fit_channels",
    "load_channel", "load_recall_tables", "queries_from_log", "queries_from_online",
]
