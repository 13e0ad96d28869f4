"""The CLI tests use the in-process ``run`` fixture of tests/conftest.py."""
