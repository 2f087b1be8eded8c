"""GCP VPC firewall rules as Google documents them (docs/cloud-semantics.md, "GCP").

- Each rule has a priority 0..65535 (1000 when not written); the lowest number
  is evaluated first, and the first rule that matches decides.
- At equal priority a deny rule takes precedence over an allow rule.
- A rule with target tags applies only to instances that carry one of them; a rule
  with none applies to every instance of the network.
- Every network has two implied rules that cannot be removed, at the lowest
  priority, 65535: allow all egress to 0.0.0.0/0, deny all ingress from 0.0.0.0/0.
- Rules are stateful: a reply of an allowed connection is allowed (the fabric's
  conntrack; nothing here).
Pure: the decision order, nothing resolved against a topology.
"""

from __future__ import annotations

IMPLIED_PRIORITY = 65535
# the implied rule of each direction: (its name, its action)
IMPLIED = {"out": ("implied-allow-egress", "allow"), "in": ("implied-deny-ingress", "deny")}


def applies_to(targets: tuple[str, ...], network_tags: tuple[str, ...]) -> bool:
    """Whether a rule with these target tags applies to an instance with these tags."""
    return not targets or bool(set(targets) & set(network_tags))


def precedence(priority: int, action: str) -> tuple[int, int]:
    """The sort key of a rule: its priority, then deny before allow."""
    return priority, 0 if action == "deny" else 1
