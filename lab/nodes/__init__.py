"""Fake cloud and internet nodes; each runs as `python -m lab.nodes.<kind>` in a node."""
