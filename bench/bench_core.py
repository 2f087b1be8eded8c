"""Connector core speed and size: decisions with 1,020 rules, pool allocations, flows.

Figures (reports/bench/core.json), each the median of several timed batches:
- first-packet forwarding decision with 1,020 rules and 8,000 FQDN entries,
  for a flow that matches the last rule (the worst case for a scan) and one that
  matches nothing (default ZIA);
- the same flow through the flow cache (a hit) when the flow table exists;
- synthetic-pool allocations per second and bytes per binding, when the pool
  module exists.
Targets from the core issue: cache hit < 2 µs, first packet < 50 µs,
100,000 allocations/s, < 300 bytes per binding. A naive scan of the same rules
is timed in the same run as the reference, so the ratio survives a noisy host.
"""

from __future__ import annotations

import importlib.util
import json
import statistics
import time
from collections.abc import Callable
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

from connector.core.model import FlowKey, IpProto, Method
from connector.core.names import NamePattern
from connector.core.policy import (
    ForwardingRule,
    Identity,
    NetworkService,
    Policy,
    PortRange,
    ServiceEntry,
    ServiceProto,
)
from connector.core.rules import ForwardingPolicy

OUT = Path("reports/bench/core.json")
ME = Identity("cc1", "ccg-1", "vpc-lab")
RULES, FQDNS = 1020, 8000


def big_policy() -> Policy:
    services = {f"svc{i}": NetworkService(f"svc{i}", (ServiceEntry(
        ServiceProto.TCP, (PortRange(1000 + i, 1000 + i),)),)) for i in range(64)}
    per_rule = FQDNS // 100
    rules = []
    for i in range(RULES):
        criteria: dict[str, object] = {
            "src_ips": (IPv4Network(f"10.{i // 256}.{i % 256}.0/24"),),
            "nw_services": (f"svc{i % 64}",)}
        if i < 100:  # 100 rules x 80 names = 8,000 FQDN/wildcard entries
            criteria["dest_addresses"] = tuple(
                NamePattern(f"h{j}.r{i}.example", wildcard=j % 2 == 0) for j in range(per_rule))
        rules.append(ForwardingRule(i + 1, f"r{i + 1}", Method.DIRECT if i % 2 else Method.DROP,
                                    **criteria))  # type: ignore[arg-type]
    return Policy(forwarding_rules=tuple(rules), network_services=services)


class _NoNames:
    def names_for(self, addr: IPv4Address) -> frozenset[str]:
        return frozenset({"www.web.example"})


class _NoPools:
    def pool_of(self, addr: IPv4Address) -> str | None:
        return None

    def has_live_mapping(self, addr: IPv4Address) -> bool:
        return False


class _Usable:
    def is_usable(self, gateway: str) -> bool:
        return True


def per_call_us(fn: Callable[[], object], calls: int = 2000, batches: int = 7) -> float:
    times = []
    for _ in range(batches):
        started = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - started) / calls * 1e6)
    return round(statistics.median(times), 3)


def naive_first_match(policy: Policy, flow: FlowKey) -> str:
    """The reference: scan every rule in order (what an unindexed matcher does)."""
    for rule in policy.forwarding_rules:
        src_ok = not rule.src_ips or any(flow.src in n for n in rule.src_ips  # type: ignore
                                         if isinstance(n, IPv4Network))
        svc_ok = not rule.nw_services or any(
            p.first <= flow.dport <= p.last for s in rule.nw_services
            for e in policy.network_services[s].entries for p in e.dest_ports)
        if src_ok and svc_ok and not rule.dest_addresses:
            return rule.name
    return "default"


def decisions() -> dict[str, object]:
    policy = big_policy()
    engine = ForwardingPolicy(policy, ME)
    last = FlowKey(IpProto.TCP, IPv4Address("10.3.251.7"), IPv4Address("198.18.10.10"),
                   40000, 1000 + 1019 % 64)
    none = FlowKey(IpProto.TCP, IPv4Address("10.200.0.1"), IPv4Address("198.18.10.10"),
                   40000, 80)
    names, pools, health = _NoNames(), _NoPools(), _Usable()
    assert engine.decide(last, names, pools, health).rule_name == "r1020"
    result: dict[str, object] = {
        "rules": RULES, "fqdn_entries": FQDNS,
        "first_packet_last_rule_us": per_call_us(lambda: engine.decide(last, names, pools,
                                                                       health)),
        "first_packet_no_match_us": per_call_us(lambda: engine.decide(none, names, pools,
                                                                      health)),
        "naive_scan_last_rule_us": per_call_us(lambda: naive_first_match(policy, last), 200, 5),
    }
    result["speedup_vs_naive_scan"] = round(
        result["naive_scan_last_rule_us"] / result["first_packet_last_rule_us"], 1)  # type: ignore
    result.update(_flow_cache(engine.decide(last, names, pools, health), last))
    return result


def _flow_cache(decision: object, flow: FlowKey) -> dict[str, object]:
    if importlib.util.find_spec("connector.core.flows") is None:
        return {"flow_cache_hit_us": None}
    from connector.core import flows

    table = flows.FlowTable()
    table.insert(flow, decision, 0.0)
    return {"flow_cache_hit_us": per_call_us(lambda: table.lookup(flow, 1.0), 20000)}


def main() -> dict[str, object]:
    figures = {"decisions": decisions()}
    if importlib.util.find_spec("connector.core.ip_pool") is not None:
        from bench.bench_pool import pool_figures

        figures["pool"] = pool_figures()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    main()
