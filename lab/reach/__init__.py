"""Static reachability: a packet walked through a topology, every control judged.

    verdict = evaluate(topo, "attacker", Probe("tcp", "198.18.99.99", "203.0.113.21", 22),
                       reply=True)
    verdict.reached, verdict.deciding().what

Pure: topology in, verdict out (no lab needed). `cclab attack` sets these
expectations beside what the packets do; `cclab lint` asks them too.
"""

from lab.reach.probe import Decision, Probe, Verdict
from lab.reach.walk import evaluate, forward, reply

__all__ = ["Decision", "Probe", "Verdict", "evaluate", "forward", "reply"]
