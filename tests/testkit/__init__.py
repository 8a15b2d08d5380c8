"""Helpers shared by the test suite, importable as ``testkit`` (pytest puts tests/ on
sys.path, pyproject ``pythonpath``). Fixture modules here are registered as plugins in
tests/conftest.py; plain helpers are imported where used."""
