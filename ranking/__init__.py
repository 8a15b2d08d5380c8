"""encore.ranking: the Ranker contract and the ranking stack (DIN -> DIEN -> session
multi-behaviour ranker); see docs/design.md ("Ranking").

Modules (import them directly; this package imports nothing heavy):

- ``features``: the one ``FeatureSpec`` (user / context / candidate features, the
  behaviour sequences (B, T) of the sequence rankers, fitted vocabularies and
  statistics) every ranker shares; ``ranking_feature_spec()``.
- ``inputs``: the one input pipeline: ``read_samples``, ``Catalog``, ``raw_features``
  (training rows and serving requests alike), ``request_features``, ``make_dataset``.
- ``ranker``: the contract: ``export_ranker`` (SavedModel with the one-listener,
  N-candidate serving signature) and ``Ranker.load(dir).score(user, candidates)``.
- ``layers``: ``FeatureEncoder``, ``Dice``, ``LocalActivationUnit`` (DIN's attention),
  ``InterestEvolution`` (DIEN's GRU / AUGRU / AGRU / AIGRU cell).
- ``baseline``: ``BaselineRanker``, the no-sequence three-head model (complete_play,
  heart, skip) every sequence ranker must beat.
- ``sequence``: ``DINRanker``, ``DIENRanker``, ``SessionRanker`` (the session
  multi-behaviour ranker).
- ``train``: ``fit_ranker``, ``train_rank`` (train, evaluate, publish), ``eval_rank``;
  sequence rankers take a ``BehaviourSource`` (``encore.serving.behaviours``).
- ``bench``: ``encore bench rank`` (latency and candidates per second per model).
- ``metrics``: AUC, GAUC per listener, log loss.
- ``cli``: ``encore train rank``, ``encore eval rank`` and ``encore bench rank``.
"""

from encore.platform import runtime_env as _runtime_env  # noqa: F401  (sets env first)
