"""The simulated music world: the default data of the demo, the tests and the benchmarks.

``generate_world(cfg, out)`` writes a deterministic world (catalog, knowledge graph,
users, event log and the ground truth behind it) for a seed; ``load_world(path)`` reads
it back with schema checks; ``summarize(world)`` gives its headline numbers. The model
of behaviour is described in utility.py (the latent utility and its parts), plan.py
(who listens when, in which mood), policy.py (what is shown, with propensities),
behaviour.py (plays, skips, reactions), bots.py (always-on players) and rhythm.py.
"""

from importlib import import_module
from typing import Any

# The public names, imported on first use (PEP 562) so that `encore --help`, which
# imports this package's CLI, does not pay for numpy/pandas/pyarrow.
_EXPORTS = {
    "WorldManifest": "generate", "generate_world": "generate",
    "World": "load", "load_world": "load", "summarize": "load",
    "WorldSchemaError": "schema",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
