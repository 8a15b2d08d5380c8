"""encore.cli: the ``encore`` command line, the composition root of Encore.

It is the one part allowed to import every other part (it mounts each part's command
group); no part imports it. See docs/architecture.md for the import rules.
"""
