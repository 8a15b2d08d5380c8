"""Spark batch jobs over the event log (``encore batch <job>``).

Every job reads the hive-partitioned event log (``EVENTS/date=YYYY-MM-DD/*.parquet``),
is incremental by date partition (``--dates`` or ``--since/--until``) and writes its
table under ``OUT/<table>/date=YYYY-MM-DD/`` with dynamic partition overwrite, so
re-running a day replaces exactly that day. Jobs:

=====================  =====================================================  ==========
job                    output                                                 reads
=====================  =====================================================  ==========
sessionize             OUT/sessions                                           events (d-1 .. d+1), sessions(d-1)
item_stats             OUT/item_stats (daily + cumulative per track)          events (all days <= d)
artist_stats           OUT/artist_stats (daily + cumulative per artist)       events (all days <= d)
item_graph             OUT/item_graph (directed co-listening graph)           events (window)
recall_samples         OUT/recall_samples (next-item samples, capped)         events (lookback)
ranking_samples        OUT/ranking_samples (one row per exposure)             events (lookback), item_stats(d-1)
materialize_features   Feast offline sources (feature_store.schema)           users, catalog, events, *_stats
=====================  =====================================================  ==========

Each job module has ``run(ctx)`` (used by the CLI, the tests and the benchmark) and a
``main()`` so it also runs as ``spark-submit platform/batch/<job>.py --events DIR
--out DIR [--dates ...]``. The definition of a complete play is in
:mod:`encore.platform.contracts.labels`; the I/O helpers in
:mod:`encore.platform.batch.batch_io`. (No module here may be named after a standard
library module: spark-submit puts this folder first on ``sys.path``.)
"""
