"""Tests of simulators.scenario."""
