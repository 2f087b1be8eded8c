"""Wire formats the fake cloud and the traffic probes both speak: pure, bytes in and out.

The fake nodes (`lab.nodes`) and the traffic generators (`lab.traffic`) are kept
apart (an import-linter contract in pyproject.toml); what both need to put on
the wire lives here. It is the lab's own encoding, written apart from the
connector's (`connector/io`): the lab shares no code with the connector it tests.
"""
