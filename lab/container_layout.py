"""Where things are inside a docker lab's containers: constants the host's compose model
and the node agent share. Kept apart from lab.compose so that the agent, which runs in
every container, imports neither YAML nor the planner to learn them."""

from __future__ import annotations

from ipaddress import IPv4Network

CONTAINER_RUN = "/lab/run"
CONTAINER_TOPOLOGY = "/lab/topology"
STAND_IN_SPACE = IPv4Network("100.64.0.0/10")  # no lab topology uses it
