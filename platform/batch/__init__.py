"""Spark batch jobs over the event log (``encore batch <job>``).

Every job reads the hive-partitioned event log (``EVENTS/date=YYYY-MM-DD/*.parquet``),
is incremental by date partition (``--dates`` or ``--since/--until``) and writes its
table under ``OUT/<table>/date=YYYY-MM-DD/`` with dynamic partition overwrite, so
re-running a day replaces exactly that day. Jobs:

=====================  =====================================================  ==========
job                    output                                                 reads
=====================  =====================================================  ==========
sessionize             OUT/sessions                                           events (d-1 .. d+1), sessions(d-1)
activity_stats         OUT/item_stats (``--entity track``) or                 events (all days <= d)
                       OUT/artist_stats (``--entity artist``): daily +
                       cumulative per track / artist
item_graph             OUT/item_graph (directed co-listening graph)           events (window)
recall_samples         OUT/recall_samples (next-item samples, capped)         events (lookback)
ranking_samples        OUT/ranking_samples (one row per exposure)             events (lookback), item_stats(d-1)
materialize_features   Feast offline sources (feature_store.schema)           users, catalog, events, *_stats
=====================  =====================================================  ==========

Inputs besides the log: the catalog folder (``--catalog``, the files of
:mod:`encore.platform.contracts.catalog`) and the users folder (``--users``, its
``users.parquet``); both default to a world folder's (``--world``, default the parent
of ``--events``), which is also where the default seed comes from (its manifest), but
no job needs a world. A job's options are typed in the config (``batch.<job>``,
:class:`encore.platform.config.BatchConfig`) and a flag overrides one for a run.

Each job module has ``run(ctx)`` (``activity_stats``: ``run(ctx, entity)``), called by
the one command line (:mod:`encore.platform.batch.cli`), the tests and the benchmark
through :class:`encore.platform.batch.job.Step`. That command line is also the
spark-submit entry point: ``spark-submit platform/batch/submit.py <job> --events DIR
[...]`` (:mod:`encore.platform.batch.submit`). The definition of a complete play is in
:mod:`encore.platform.contracts.labels`; the I/O helpers in
:mod:`encore.platform.batch.batch_io`. (No module here may be named after a standard
library module: spark-submit puts this folder first on ``sys.path``.)
"""
