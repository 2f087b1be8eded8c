"""Azure CLI JSON -> `Subscription`: the answers of `az network ... list` (or `show`).

Each file holds a list of resources (or one), each recognised by its `type`
(`Microsoft.Network/networkSecurityGroups`...), so any mix of files and folders
works; a resource the lab does not need is listed as a warning, never read in
silence. Field names and meanings: the Azure REST API reference of each resource
(docs/cloud-semantics.md).
"""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv4Address, IPv4Network, IPv6Network, ip_network
from typing import Any

from lab.imports.azure_model import (
    AzRoute,
    AzRouteTable,
    AzSubnet,
    Frontend,
    Nic,
    Nsg,
    NsgRule,
    Subscription,
    Vnet,
    rid,
)
from lab.imports.jsonfiles import Document, get, items
from lab.imports.problems import Origin, Problems

PROTOCOLS = {"tcp": "tcp", "udp": "udp", "icmp": "icmp", "*": "all", "esp": "50", "ah": "51"}
# Service tags the lab defines itself (lab/imports/layout.py); `*` is every address.
SERVICE_TAGS = {"virtualnetwork": "VirtualNetwork", "azureloadbalancer": "AzureLoadBalancer",
                "internet": "Internet"}
NOT_NEEDED = ("microsoft.compute/virtualmachines", "microsoft.network/networkwatchers",
              "microsoft.network/privatednszones", "microsoft.network/bastionhosts")
TYPES = "Microsoft.Network/ virtualNetworks, networkSecurityGroups, routeTables, " \
        "networkInterfaces, publicIPAddresses, loadBalancers, virtualNetworkGateways"


def read_subscription(documents: list[Document], problems: Problems) -> Subscription:
    found = Subscription(sources=[d.name for d in documents])
    for doc in documents:
        listed = doc.data if isinstance(doc.data, list) else [doc.data]
        for i, item in enumerate(listed):
            where = doc.origin.at(i) if isinstance(doc.data, list) else doc.origin
            _read(item, where, found, problems)
    return found


def _read(item: Any, where: Origin, found: Subscription, problems: Problems) -> None:
    kind = str(item.get("type", "")).lower() if isinstance(item, dict) else ""
    readers = {"microsoft.network/virtualnetworks": _vnet,
               "microsoft.network/virtualnetworks/subnets": _subnet,
               "microsoft.network/networksecuritygroups": _nsg,
               "microsoft.network/routetables": _route_table,
               "microsoft.network/networkinterfaces": _nic,
               "microsoft.network/publicipaddresses": _public_ip,
               "microsoft.network/loadbalancers": _balancer,
               "microsoft.network/virtualnetworkgateways": _gateway}
    if kind in readers:
        readers[kind](item, where, found, problems)
    elif kind in NOT_NEEDED:
        problems.warn(where, f"{item['type']} is not needed by the lab: not read")
    elif not kind:
        problems.error(where, "not an Azure resource (no `type`)",
                       "save the output of `az network ... list --output json`")
    else:
        problems.unsupported(where.at("type"), f"'{item['type']}' is not a resource the lab "
                             "reads", f"the lab reads {TYPES}")


def _s(obj: Any, key: str, where: Origin, problems: Problems, *, required: bool = True) -> str:
    return str(get(obj, key, where, problems, str, required=required, default=""))


def _ref(obj: Any, key: str, where: Origin, problems: Problems) -> str:
    """`{"id": ...}` under `key` (a reference to another resource), '' when absent."""
    value = get(obj, key, where, problems, dict, required=False, default={})
    return rid(_s(value, "id", where.at(key), problems)) if value else ""


def ipv4_prefix(text: str, where: Origin, problems: Problems) -> IPv4Network | None:
    """An IPv4 prefix (an address alone is a /32); IPv6 warned about and left out."""
    try:
        net = ip_network(text, strict=False)
    except ValueError:
        problems.error(where, f"'{text}' is not an address prefix", "write it as 10.0.0.0/16")
        return None
    if isinstance(net, IPv6Network):
        problems.warn(where, "IPv6 is not modelled: the lab is IPv4; left out")
        return None
    return net


def ipv4_address(text: str, where: Origin, problems: Problems) -> IPv4Address | None:
    if not text:
        return None
    net = ipv4_prefix(text, where, problems)
    return net.network_address if net is not None and net.prefixlen == 32 else None


def _same(key: str) -> str:
    return key


def _prefixes(obj: Any, single: str, where: Origin, problems: Problems,
              key: Callable[[str], str] = _same) -> list[tuple[Origin, str]]:
    """Azure writes one value in `single` or several in `single + 'es'`/`s`."""
    plural = key(single + ("es" if single.endswith("Prefix") else "s"))
    one = obj.get(key(single)) if isinstance(obj, dict) else None
    if one:
        return [(where.at(key(single)), str(one))]
    return [(o, str(v)) for o, v in items(obj, plural, where, problems)]


def _gateway(item: Any, where: Origin, found: Subscription, problems: Problems) -> None:
    """A VPN or ExpressRoute gateway sits in its VNet's GatewaySubnet: that VNet's
    VirtualNetwork holds what it learns (`lab.imports.azure_lab`)."""
    for origin, config in items(item, "ipConfigurations", where, problems):
        subnet = config.get("subnet") if isinstance(config, dict) else None
        subnet_id = rid(str(subnet.get("id", ""))) if isinstance(subnet, dict) else ""
        vnet_id, sep, _ = subnet_id.partition("/subnets/")
        if sep:
            found.gateways.setdefault(vnet_id, origin)
        else:
            problems.error(origin.at("subnet"), "a gateway's IP configuration names no subnet",
                           "`az network vnet-gateway list` writes `subnet.id`")


def _vnet(item: Any, where: Origin, found: Subscription, problems: Problems) -> None:
    space = get(item, "addressSpace", where, problems, dict, default={})
    prefixes = [n for o, p in _prefixes(space, "addressPrefix", where.at("addressSpace"),
                                        problems) if (n := ipv4_prefix(p, o, problems))]
    peered = []
    for origin, peering in items(item, "virtualNetworkPeerings", where, problems):
        remote = peering.get("remoteAddressSpace") if isinstance(peering, dict) else None
        peered += [n for o, p in _prefixes(remote or {}, "addressPrefix",
                                           origin.at("remoteAddressSpace"), problems)
                   if (n := ipv4_prefix(p, o, problems))]
    vnet_id = rid(_s(item, "id", where, problems))
    found.vnets.append(Vnet(vnet_id, _s(item, "name", where, problems), tuple(prefixes),
                            tuple(peered), where))
    for origin, subnet in items(item, "subnets", where, problems):
        _subnet(subnet, origin, found, problems)


def _subnet(item: Any, where: Origin, found: Subscription, problems: Problems) -> None:
    subnet_id = rid(_s(item, "id", where, problems))
    cidrs = [n for o, p in _prefixes(item, "addressPrefix", where, problems)
             if (n := ipv4_prefix(p, o, problems))]
    if not cidrs:
        problems.error(where, "a subnet without an IPv4 prefix", "`addressPrefix` is its range")
        return
    vnet = subnet_id.split("/subnets/")[0]
    found.subnets.append(AzSubnet(subnet_id, _s(item, "name", where, problems), vnet, cidrs[0],
                                  _ref(item, "networkSecurityGroup", where, problems),
                                  _ref(item, "routeTable", where, problems),
                                  _ref(item, "natGateway", where, problems), where))


def _nsg(item: Any, where: Origin, found: Subscription, problems: Problems) -> None:
    # defaultSecurityRules are the same six in every NSG: the lab adds them itself
    rules = tuple(r for o, x in items(item, "securityRules", where, problems)
                  if (r := rule(x, o, problems)))
    found.nsgs.append(Nsg(rid(_s(item, "id", where, problems)),
                          _s(item, "name", where, problems), rules, where))


def protocol(value: str, where: Origin, problems: Problems) -> str | None:
    text = value.lower()
    if text in PROTOCOLS:
        return PROTOCOLS[text]
    problems.error(where, f"unknown protocol {value!r}", "Azure writes Tcp, Udp, Icmp, Esp, "
                   "Ah or *")
    return None


def peer(text: str, where: Origin, problems: Problems) -> str | None:
    """An address prefix of a rule in the topology's terms: a prefix, a service tag the lab
    defines, 0.0.0.0/0 for `*`; None (and a problem) for what it cannot match."""
    if text in ("*", "Any"):
        return "0.0.0.0/0"
    if text.lower() in SERVICE_TAGS:
        return SERVICE_TAGS[text.lower()]
    if text[:1].isdigit() or ":" in text:
        net = ipv4_prefix(text, where, problems)
        return str(net) if net is not None else None
    problems.unsupported(where, f"the service tag {text} is not modelled",
                         "the lab defines VirtualNetwork, AzureLoadBalancer and Internet; "
                         "replace it by its prefixes")
    return None


def rule(item: Any, where: Origin, problems: Problems,
         key: Callable[[str], str] = _same) -> NsgRule | None:
    """A security rule as `az` writes it, or (`key` naming the fields another way) as
    Terraform's azurerm provider does; None when it cannot be matched (said why)."""
    def text(name: str, required: bool = True) -> str:
        return _s(item, key(name), where, problems, required=required)

    proto = protocol(text("protocol"), where.at(key("protocol")), problems)
    direction, access = text("direction"), text("access")
    priority = get(item, key("priority"), where, problems, int, default=0)
    for name, value, allowed in (("direction", direction, ("Inbound", "Outbound")),
                                 ("access", access, ("Allow", "Deny"))):
        if value and value not in allowed:
            problems.error(where.at(key(name)), f"unknown {name} {value!r}",
                           " or ".join(allowed))
    # every problem of the rule is reported before it is left out
    left_out = False
    for name in ("sourceApplicationSecurityGroups", "destinationApplicationSecurityGroups"):
        if isinstance(item, dict) and item.get(key(name)):
            problems.unsupported(where.at(key(name)), "application security groups are not "
                                 "modelled", "name the members' addresses instead")
            left_out = True
    source_ports = [p for _, p in _prefixes(item, "sourcePortRange", where, problems, key)]
    if any(p != "*" for p in source_ports):
        problems.unsupported(where.at(key("sourcePortRange")), "a source port range is not "
                             "modelled (the lab matches destination ports)", "")
        left_out = True
    sources = [p for o, t in _prefixes(item, "sourceAddressPrefix", where, problems, key)
               if (p := peer(t, o, problems))]
    destinations = [p for o, t in _prefixes(item, "destinationAddressPrefix", where, problems,
                                            key) if (p := peer(t, o, problems))]
    ports = [p for _, p in _prefixes(item, "destinationPortRange", where, problems, key)
             if p != "*"]
    if left_out or proto is None or not sources or not destinations:
        return None
    return NsgRule(text("name"), priority, direction == "Inbound", access == "Allow", proto,
                   tuple(sources), tuple(destinations),
                   tuple(ports) if proto in ("tcp", "udp", "all") else (), where)


def route(item: Any, where: Origin, problems: Problems,
          key: Callable[[str], str] = _same) -> AzRoute | None:
    """A user-defined route as `az` writes it (or, with `key`, as azurerm does)."""
    prefix = _s(item, key("addressPrefix"), where, problems)
    if prefix and not prefix[:1].isdigit() and ":" not in prefix:
        problems.unsupported(where.at(key("addressPrefix")), f"a route to the service tag "
                             f"{prefix} is not modelled", "")
        return None
    net = ipv4_prefix(prefix, where.at(key("addressPrefix")), problems) if prefix else None
    hop_ip = ipv4_address(_s(item, key("nextHopIpAddress"), where, problems, required=False),
                 where.at(key("nextHopIpAddress")), problems)
    if net is None:
        return None
    return AzRoute(_s(item, key("name"), where, problems), net,
                   _s(item, key("nextHopType"), where, problems), hop_ip, where)


def _route_table(item: Any, where: Origin, found: Subscription, problems: Problems) -> None:
    routes = [r for origin, x in items(item, "routes", where, problems)
              if (r := route(x, origin, problems))]
    found.route_tables.append(AzRouteTable(rid(_s(item, "id", where, problems)),
                                           _s(item, "name", where, problems), tuple(routes),
                                           where))


def _nic(item: Any, where: Origin, found: Subscription, problems: Problems) -> None:
    configs = items(item, "ipConfigurations", where, problems, required=True)
    primary = [(o, c) for o, c in configs if isinstance(c, dict) and c.get("primary")]
    for origin, config in (primary or configs)[:1]:
        address = ipv4_address(_s(config, "privateIPAddress", origin, problems),
                               origin.at("privateIPAddress"), problems)
        if address is None:
            continue
        tags = get(item, "tags", where, problems, dict, required=False, default={})
        found.nics.append(Nic(rid(_s(item, "id", where, problems)),
                              _s(item, "name", where, problems),
                              _ref(item, "virtualMachine", where, problems),
                              bool(item.get("primary")), address,
                              _ref(config, "subnet", origin, problems),
                              _ref(config, "publicIPAddress", origin, problems),
                              _ref(item, "networkSecurityGroup", where, problems),
                              tuple((str(k), str(v)) for k, v in tags.items()), where))


def _public_ip(item: Any, where: Origin, found: Subscription, problems: Problems) -> None:
    address = ipv4_address(_s(item, "ipAddress", where, problems, required=False),
                           where.at("ipAddress"), problems)
    if address is not None:
        found.public_ips[rid(_s(item, "id", where, problems))] = address


def _balancer(item: Any, where: Origin, found: Subscription, problems: Problems) -> None:
    probes = [p.get("port") for _, p in items(item, "probes", where, problems)
              if isinstance(p, dict) and isinstance(p.get("port"), int)]
    for origin, front in items(item, "frontendIPConfigurations", where, problems):
        address = ipv4_address(_s(front, "privateIPAddress", origin, problems,
                                  required=False), origin.at("privateIPAddress"), problems)
        if address is not None:  # a public frontend is never a UDR's next hop
            found.frontends.append(Frontend(_s(item, "name", where, problems), address,
                                            _ref(front, "subnet", origin, problems),
                                            probes[0] if probes else None, origin))
