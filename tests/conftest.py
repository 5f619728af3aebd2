"""Test-wide fixtures: private services live in `tests/support/`."""

pytest_plugins = ["tests.support.mosquitto", "tests.support.postgres"]
