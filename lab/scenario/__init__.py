"""Failure scenarios as data: a YAML file names a topology, background traffic and a
timeline of faults; `cclab scenario run FILE` plays it and measures each fault.

    model     the validated scenario (frozen value objects)
    schema    YAML -> Scenario, every problem at once (pure)
    profiles  the background flows each topology offers, and where each is seen (pure)
    faults    the fault kinds: what each needs, how it is applied and undone (I/O)
    probes    the background flows, run inside a node, as timestamped attempts
    measure   attempts and events -> detect/recover times, losses, fail mode, leaks (pure)
    runner    brings a lab up (or uses a running one), plays the timeline, cleans up
"""
