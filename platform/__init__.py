"""encore.platform: configuration, the simulated music world, real-data loaders, the
local service stack, event I/O, Spark batch jobs, benchmarks and the ``encore`` CLI."""

from encore.platform import runtime_env as _runtime_env  # noqa: F401  (sets env first)
