"""Shared fixtures: the web tests share one real server and one real cut2 job (tests/web_fixtures.py)."""

pytest_plugins = ["web_fixtures"]
