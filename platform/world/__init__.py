"""The simulated music world: the default data of the demo, the tests and the benchmarks.

``generate_world(cfg, out)`` writes a deterministic world (catalog, knowledge graph,
users, event log and the ground truth behind it) for a seed; ``load_world(path)`` reads
it back with schema checks; ``summarize(world)`` gives its headline numbers. The model
of behaviour is described in utility.py (the latent utility and its parts), plan.py
(who listens when, in which mood), policy.py (what is shown, with propensities),
behaviour.py (plays, skips, reactions), bots.py (always-on players) and rhythm.py.
"""

from encore.platform.world.generate import WorldManifest, generate_world
from encore.platform.world.load import World, load_world, summarize
from encore.platform.world.schema import WorldSchemaError

__all__ = ["World", "WorldManifest", "WorldSchemaError", "generate_world", "load_world", "summarize"]
