"""cclab's reference cloud connector: the system under test.

`connector.core` holds the pure decisions (no sockets, no clock, no subprocess);
`connector.io` holds thin adapters; `connector.service` is the composition root.
"""

__version__ = "0.1.0"
