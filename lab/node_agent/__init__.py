"""The node agent: PID 1's child in every container of a docker lab.

It gives the container the node's share of the same plan the netns backend
carries out (interface names, routes, rules, nftables, resolv.conf), starts
the node's services, waits for their readiness events, then marks the node
ready (the container's health check and `{run}/nodes/NODE.json`). It stops its
services on SIGTERM and restarts one on request (`restart KIND`).
"""
