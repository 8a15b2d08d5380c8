"""Offline A/B of two whole pipeline configurations (``encore ab``).

Pure parts (no I/O): ``stats`` (paired bootstrap, verdicts, sample sizes),
``offpolicy`` (IPS / SNIPS / DR estimators on logged exposures), ``interleave``
(team-draft interleaving), ``metrics`` (per-listener list metrics), ``reward_model``
(the DR reward model). I/O and orchestration: ``logged`` (exposures and propensities
from the world's log), ``online`` (the world as an environment), ``run`` (the whole
comparison), ``report`` (JSON + one self-contained HTML page), ``cli``.
"""
