"""Hand-made faults: realistic mistakes, each with the narrowest tests that must catch it.

Each fault is a set of text edits (a line as written, and what a plausible
mistake makes of it) and a pytest selection: the tests of the behaviour the
fault breaks, at the tier where it happens. `python -m suites.mutants` applies
one fault at a time, runs its selection, restores the file and says whether the
selection failed (killed) or passed (survived: a test still to write). An edit
whose text is no longer in the file makes the fault stale: the run says so,
and the catalogue must follow the code.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Edit:
    path: str
    old: str
    new: str


@dataclass(frozen=True, slots=True)
class Fault:
    id: str
    area: str
    what: str  # the mistake, as a reviewer would describe it
    edits: tuple[Edit, ...]
    tests: tuple[str, ...]  # pytest arguments: files, -m TIER, -k EXPR


def fault(id: str, area: str, what: str, path: str, old: str, new: str,  # noqa: A002
          *tests: str) -> Fault:
    return Fault(id, area, what, (Edit(path, old, new),), tests)


RULES = "connector/core/rules.py"
NFT = "connector/io/nft_render.py"
UNIT_RULES = ("suites/unit/connector/test_rules.py", "suites/unit/connector/"
              "test_rules_property.py", "suites/unit/connector/test_trusted_sources.py")
KERNEL = "suites/functional/lab/test_kernel_path.py"
LISTENER = "suites/functional/connector/test_dns_listener.py"
ABUSE = "suites/functional/connector/test_dns_abuse.py"
GENEVE = "suites/functional/connector/test_geneve.py"
HEALTH = "suites/functional/connector/test_health_failover.py"
CLOUD = "suites/functional/cloud/test_cloud_topologies.py"
NETNS = ("-m", "netns")
IMPORT_GOLDEN = "suites/golden/lab/test_import_golden.py"
IMPORTED = "suites/functional/cloud/test_imported_clouds.py"
ATTACK_UNIT = "suites/unit/lab/test_attack.py"
ATTACK_CLI = "suites/functional/cloud/test_attack_cli.py"
SUBLOC = "suites/functional/connector/test_sublocations.py"
IPV6 = "suites/functional/cloud/test_ipv6_bypass.py"
MEMBERSHIP = "suites/functional/connector/test_gwlb_membership.py"
TARGET_GROUP = "suites/unit/lab/test_gwlb_target_group.py"

FAULTS: tuple[Fault, ...] = (
    # -- forwarding order and defaults (spec §5.2, §5.3) -------------------------------
    fault("fwd-last-match", "forwarding order", "the last matching rule wins, not the first",
          RULES, "bit = (mask & -mask).bit_length() - 1", "bit = mask.bit_length() - 1",
          *UNIT_RULES, "-m", "unit"),
    fault("fwd-disabled-kept", "forwarding order", "disabled rules are compiled in",
          "connector/core/rule_index.py", "live = tuple(r for r in rules if r.enabled)",
          "live = tuple(rules)", *UNIT_RULES, "-m", "unit"),
    fault("fwd-default-direct", "forwarding defaults", "unmatched traffic goes Direct, not ZIA",
          RULES, 'return self._apply(Method.ZIA, DEFAULT_ZIA_RULE, None, "no rule matched"',
          'return self._apply(Method.DIRECT, DEFAULT_ZIA_RULE, None, "no rule matched"',
          *UNIT_RULES, "-m", "unit"),
    fault("fwd-fail-close-inverted", "tunnels and failover",
          "fail-close and fail-open swapped when ZIA is unreachable",
          RULES, "        if gateway.fail_closed:", "        if not gateway.fail_closed:",
          KERNEL, *NETNS, "-k", "fail_open"),
    fault("fwd-public-source-forwarded", "forwarding defaults",
          "public sources on the service interface are forwarded (spec 2.5)",
          RULES, "if self._trusted is not None and not _inside(int(flow.src), self._trusted):",
          "if False:", "suites/unit/connector/test_trusted_sources.py", "-m", "unit"),
    fault("fwd-live-pool-any-rule", "pools",
          "a live synthetic address meets every rule (a catch-all Direct leaks it)",
          RULES, "return mask & (ix.drops | self._zpa_mask(dst_names) if live "
          "else ix.not_zpa)",
          "return mask & (ix.not_zpa | (self._zpa_mask(dst_names) if live else 0))",
          KERNEL, *NETNS, "-k", "pool"),
    fault("fwd-stray-forwarded", "pools", "a pool address with no mapping is not dropped",
          RULES, "        if pool is not None and not live:", "        if False:",
          *UNIT_RULES, "-m", "unit"),
    # -- the kernel path (routed mode) ----------------------------------------------------
    fault("nft-snat-wrong-address", "SNAT", "Direct is SNATed to the management address",
          NFT, 'f"snat ip to {svc.address.ip}",', 'f"snat ip to {config.management.address.ip}",',
          "suites/functional/lab/test_minimal_direct.py", *NETNS),
    fault("nft-disabled-rendered", "forwarding order", "disabled rules are rendered in the kernel",
          NFT, "return RenderedRule(rule, lines if rule.enabled else ())",
          "return RenderedRule(rule, lines)", KERNEL, *NETNS, "-k", "disabled"),
    fault("nft-steer-reversed", "forwarding order", "the kernel tries the rules last to first",
          NFT, "for r in rules for line in r.lines]", "for r in reversed(rules) "
          "for line in r.lines]", KERNEL, *NETNS, "-k", "lower_order"),
    fault("nft-and-ignores-source", "forwarding order",
          "the kernel drops a rule's source criterion (AND becomes less)",
          NFT, 'sources = _ip_set("saddr", [*rule.src_ips, *_group_items(policy.source_ip_groups,',
          'sources = "" and _ip_set("saddr", [*rule.src_ips, '
          '*_group_items(policy.source_ip_groups,',
          KERNEL, *NETNS, "-k", "every_criterion"),
    fault("nft-fail-open-to-tunnel", "tunnels and failover",
          "the fail-open switch keeps sending flows to the dead tunnel",
          NFT, 'return [f"        ct mark set ct mark or {DIRECT_MARK:#x} "',
          'return [f"        ct mark set ct mark or {USER_MARK:#x} "',
          KERNEL, *NETNS, "-k", "fail_open"),
    fault("nft-probe-open", "health", "the health port answers anyone (H2)",
          NFT, 'f"        tcp dport {dp.health_port} ip saddr != {{ {probers} }} "',
          'f"        tcp dport {dp.health_port} ip saddr == 255.255.255.255 ip saddr != '
          '{{ {probers} }} "', HEALTH, *NETNS, "-k", "H2"),
    fault("nft-dns-on-management", "DNS guard",
          "DNS arriving on the management interface is no longer dropped (A4)",
          NFT, "f'iifname != {_service_ifaces(config)} counter drop '",
          "f'iifname != {_service_ifaces(config)} counter accept '",
          LISTENER, *NETNS, "-k", "A4"),
    fault("nft-ssh-anywhere", "management", "SSH accepted from any source (A5)",
          NFT, "*_ssh_guard(config.management.name, dp.ssh_sources),", "",
          "suites/functional/connector/test_management.py", *NETNS, "-k", "A5"),
    # -- DNS policy, pools and guard (spec §6, §9) ---------------------------------------
    fault("dns-block-answers", "DNS policy", "a BLOCK rule forwards the query (D7)",
          "connector/core/dns_policy.py", "        return replace(base, outcome="
          "DnsOutcome.DROP_SILENT)", "        return base",
          "suites/unit/connector/test_dns_policy.py", "-m", "unit"),
    fault("dns-aaaa-servfail", "DNS policy", "AAAA for a ZPA name is SERVFAIL, not NODATA (D2)",
          "connector/core/dns_policy.py", "            else DnsOutcome.ANSWER_NODATA",
          "            else DnsOutcome.ANSWER_SERVFAIL", LISTENER, *NETNS, "-k", "D2"),
    fault("pool-not-sticky", "pools", "a name gets a new address each time (D1)",
          "connector/core/ip_pool.py", "        addr = self._by_name.get(name)\n",
          "        addr = None\n", "suites/unit/connector/test_ip_pool.py", "-m", "unit"),
    fault("pool-no-quarantine", "pools", "an address is reclaimed with no quarantine (D3)",
          "connector/core/ip_pool.py", "return addr if now - last >= self.quarantine_s else None",
          "return addr", "suites/unit/connector/test_ip_pool.py", "-m", "unit"),
    fault("pool-no-alert", "pools", "exhaustion answers SERVFAIL with no alert (D3)",
          "connector/service/dns_service.py", 'self.events.emit("pool.exhausted", pool=result.pool,'
          ' qname=result.name,', 'self.events.emit("pool.quiet", pool=result.pool, '
          'qname=result.name,', LISTENER, *NETNS, "-k", "D3"),
    fault("guard-refuses-udp", "DNS guard",
          "a spoofed UDP source gets REFUSED (a reflection) instead of silence (A1)",
          "connector/core/dns_guard.py",
          "return QueryVerdict.REFUSED if tcp else QueryVerdict.DROP_SILENT",
          "return QueryVerdict.REFUSED", ABUSE, *NETNS, "-k", "A1"),
    fault("rrl-never-slips", "DNS guard", "over the limit nothing is truncated (A2)",
          "connector/core/rrl.py", "        if c.slip and account.limited % c.slip == 0:",
          "        if False:", ABUSE, *NETNS, "-k", "A2"),
    fault("dnsgw-no-secondary", "DNS gateways", "a DNS gateway's secondary is never tried (D5)",
          "connector/service/dns_service.py",
          "for server in filter(None, (gateway.primary, gateway.secondary)):",
          "for server in filter(None, (gateway.primary,)):", LISTENER, *NETNS, "-k",
          "primary_then"),
    fault("dnsgw-allow-servfails", "DNS gateways",
          "FAIL_ALLOW_IGNORE_DNAT answers SERVFAIL (D5)", "connector/core/dns_policy.py",
          "replace(decision, outcome=DnsOutcome.FORWARD_ORIGINAL,",
          "replace(decision, outcome=DnsOutcome.ANSWER_SERVFAIL,",
          LISTENER, *NETNS, "-k", "original_server"),
    # -- GENEVE (spec §4.1) ------------------------------------------------------------------
    Fault("geneve-cookie-optional", "GENEVE", "a packet without the flow cookie is accepted (G1)",
          (Edit("connector/io/geneve.py", '                                      (OPT_COOKIE, '
                '"flow cookie")) if typ not in found]', "                                      ) "
                "if typ not in found]"),
           Edit("connector/io/geneve.py", "found[OPT_COOKIE])", "found.get(OPT_COOKIE, 0))")),
          ("suites/unit/connector/test_geneve_codec.py", "-m", "unit")),
    fault("geneve-any-sender", "GENEVE", "GENEVE accepted from any sender (S8b)",
          "connector/service/dataplane.py",
          "if not self._senders.admits(peer[0]):", "if not peer[0]:",
          GENEVE, *NETNS, "-k", "another_sender"),
    fault("geneve-header-rebuilt", "GENEVE", "replies carry a header with the cookie zeroed (G2)",
          "connector/service/dataplane.py", "self._sock.sendto(action.header + packet, "
          "action.peer)", "self._sock.sendto(action.header[:-4] + bytes(4) + packet, "
          "action.peer)", GENEVE, *NETNS, "-k", "G1_G2"),
    fault("flows-short-timeout", "GENEVE", "TCP flow state kept 35 s, not 350 s (G6)",
          "connector/core/flows.py", "    tcp: float = 350.0", "    tcp: float = 35.0",
          "suites/unit/connector/test_flows.py", "suites/unit/connector/test_steering.py",
          "-m", "unit"),
    # -- health (spec §3.5) ----------------------------------------------------------------
    fault("health-ignores-dns", "health", "health says 200 with the DNS listener down",
          "connector/core/health.py", "    if not facts.dns_up:", "    if False:",
          HEALTH, *NETNS, "-k", "dns_listener"),
    fault("health-ignores-zia", "health", "health says 200 with every ZIA path cut (H1)",
          "connector/core/health.py", "        if not g.usable and g.fail_closed:",
          "        if False:", HEALTH, *NETNS, "-k", "H1"),
    # -- tunnels and failover (spec §5.4) --------------------------------------------------
    fault("tunnel-no-failover", "tunnels and failover", "new flows stay on a dead primary (F5)",
          "connector/core/tunnel_health.py",
          "            if address is not None and self.alive(address, now):",
          "            if address is not None:", HEALTH, *NETNS, "-k", "F5"),
    fault("tunnel-no-tls-fallback", "tunnels and failover", "UDP never falls back to TLS",
          "connector/core/tunnel_health.py",
          'return "udp" if udp_alive or not tls_connected else "tls"', 'return "udp"',
          "suites/unit/connector/test_health_and_tunnels.py", "-m", "unit"),
    # -- licences (seed) -------------------------------------------------------------------
    fault("licence-udp-counts", "licences", "a UDP reply licenses its (forged) source",
          "connector/core/workloads.py",
          "if (not entry.completed or entry.key.proto != IpProto.TCP",
          "if (not entry.completed", "suites/unit/connector/test_workloads.py", "-m", "unit"),
    fault("licence-blind-ack", "licences", "any ACK completes a handshake",
          "connector/core/flows.py",
          "and self._synack_seq is not None and ack == (self._synack_seq + 1) % 2**32)",
          "and self._synack_seq is not None)", "suites/unit/connector/test_workloads.py",
          "-m", "unit"),
    # -- persistence and the cluster (spec §6.6) ---------------------------------------------
    fault("restart-forgets-bindings", "persistence",
          "a restarted member does not replay the binding log before it answers",
          "connector/service/run.py", "        shared.member.sync()  # every binding any member "
          "handed out, this one's included", "        pass", LISTENER, *NETNS, "-k",
          "restart"),
    fault("cluster-learn-ignored", "persistence", "a peer ignores names another member learned",
          "connector/core/cluster.py",
          "                table.learn_until(entry.addr, entry.name, entry.at)",
          "                pass", "suites/unit/connector/test_cluster.py", "-m", "unit"),
    # -- the fake cloud -------------------------------------------------------------------
    fault("sg-default-allow", "fake cloud: security groups",
          "a security group admits what no rule allows", "lab/security_groups.py",
          "    yield f'    counter drop comment \"{p.where} {direction}: no rule allows\"'",
          "    yield f'    counter comment \"{p.where} {direction}: no rule allows\"'",
          "suites/functional/lab/test_security_groups.py", *NETNS),
    fault("sg-stateless", "fake cloud: security groups",
          "replies of admitted flows are judged by the rules (not stateful)",
          "lab/security_groups.py", '    yield "    ct state established,related accept"',
          '    yield "    ct state established,related counter"',
          "suites/functional/lab/test_security_groups.py", *NETNS),
    fault("igw-no-antispoof", "fake cloud: gateways",
          "the internet gateway lets spoofed VPC sources in",
          "lab/gateways.py",
          'yield f"    iifname {outside} ip saddr @vpc counter name spoofed_vpc drop"',
          'yield f"    iifname {outside} ip saddr @vpc counter name spoofed_vpc accept"',
          "suites/functional/lab/test_gateways.py", *NETNS, "-k", "anti_spoofing"),
    fault("natgw-unsolicited", "fake cloud: gateways",
          "the NAT gateway lets unsolicited inbound traffic in", "lab/gateways.py",
          '        yield "    counter name unsolicited drop"',
          '        yield "    counter name unsolicited accept"',
          "suites/functional/lab/test_gateways.py", *NETNS, "-k", "unsolicited"),
    fault("igw-unsolicited", "fake cloud: gateways",
          "the internet gateway forwards internet traffic to VPC addresses it never mapped",
          "lab/gateways.py", 'yield f"    iifname {outside} counter name unsolicited drop"',
          'yield f"    iifname {outside} counter name unsolicited accept"',
          CLOUD, *NETNS, "-k", "internet_traffic_never and insecure-netns"),
    fault("azure-nsg-no-probe-rule", "fake cloud: security groups",
          "the Azure NSG lacks the AzureLoadBalancer probe rule (C2): no connector is healthy",
          "lab/topologies/cloud/azure.yaml",
          "      - {proto: tcp, ports: 50000, from: [AzureLoadBalancer], label: health probe}\n",
          "", "suites/functional/cloud/test_azure_ilb.py", *NETNS, "-k", "spread"),
    fault("azure-udr-forgotten", "importers",
          "the Azure importer drops the routes' names: no UDR widens VirtualNetwork",
          "lab/imports/azure_lab.py", "{route.name}\", udr=route.name))",
          "{route.name}\"))", IMPORTED, *NETNS, "-k", "azure-udr-internet-netns and matrix"),
    fault("azure-nic-nsg-dropped", "importers",
          "the Azure importer leaves the NIC's NSG off the lab's interface",
          "lab/imports/azure_lab.py", "(nsgs[n.nsg],) if n.nsg in nsgs else (), f\"{n.name}",
          "(), f\"{n.name}", IMPORT_GOLDEN, "-k", "azure"),
    fault("tf-var-not-followed", "importers",
          "the Terraform importer does not follow a module's variable to what its caller passes",
          "lab/imports/terraform_plan.py", '        if ref.startswith("var.") and module:',
          '        if ref.startswith("var.") and not module:',
          "suites/unit/lab/test_terraform_plan.py", IMPORT_GOLDEN, "-k", "terraform"),
    fault("attack-blind-arrival", "cclab attack",
          "the attack matrix never counts a packet that reached the connector",
          "lab/attack/replay.py",
          "at the attacker\"\n        return Row.of(cell, bool(hits), sent, evidence)",
          "at the attacker\"\n        return Row.of(cell, False, sent, evidence)",
          ATTACK_CLI, *NETNS, "-k", "insecure_rules"),
    fault("attack-unsent-unchecked", "cclab attack",
          "the attack matrix never checks that a probe entered the cloud",
          "lab/attack/replay.py", "    sent = None\n    if gateway is not None:",
          "    sent = None\n    if gateway is None:",
          IMPORTED, *NETNS, "-k", "aws-recommended-netns and matrix"),
    fault("attack-exit-0", "cclab attack",
          "cclab attack exits 0 although an attack got through",
          "lab/attack/matrix.py", "return EXIT_SUCCEEDED if self.succeeded else EXIT_BLOCKED",
          "return EXIT_BLOCKED", ATTACK_UNIT),
    fault("diff-new-row-silent", "cclab diff",
          "cclab diff does not report an attack that is new and gets through",
          "lab/attack/diff.py", "        if through_after and not through_before:",
          "        if through_after and not through_before and was is not None:",
          ATTACK_UNIT),
    fault("inbound-no-snat", "public-LB inbound",
          "inbound flows leave with the client's address: returns bypass the ILB (spec 4.2)",
          NFT, "snat ip to {config.inbound.snat_to} ", "snat ip to {svc.address.ip} ",
          "suites/functional/cloud/test_azure_plb_inbound.py", *NETNS, "-k", "reaches"),
    fault("inbound-drop-unlogged", "public-LB inbound",
          "an inbound flow kept out is dropped in the kernel, with no session-log record (F7)",
          NFT, 'return "drop" if config.trusted_sources is None else TO_USER',
          'return "drop"',
          "suites/functional/cloud/test_azure_plb_inbound.py", *NETNS, "-k",
          "no_mapping or drop_rule"),
    fault("azure-gateway-prefixes-ignored", "importers",
          "a VPN gateway's learned prefixes are left out of VirtualNetwork",
          "lab/imports/azure_lab.py", "virtual_network=(*vnet.prefixes, *vnet.peered, *learned),",
          "virtual_network=(*vnet.prefixes, *vnet.peered),",
          "suites/unit/lab/test_azure_gateway_prefixes.py"),
    fault("tf-azure-association-dropped", "importers",
          "a Terraform association naming a subnet the plan does not declare is dropped silently",
          "lab/imports/terraform_azure.py",
          "    if sid in reader.found.subnets:\n        return sid",
          "    if True:\n        return sid", "suites/unit/lab/test_terraform_azure.py"),
    fault("routed-behind-dropped", "routed path",
          "a Direct flow the kernel sent up while its name set was behind is dropped (F9)",
          "connector/service/routed_path.py",
          "        if action.decision.method is not Method.DIRECT or key.proto not in _PORTED:",
          "        if True:",
          "suites/functional/cloud/test_azure_ilb.py", *NETNS, "-k", "kernel_sent"),
    fault("routed-behind-not-accepted", "routed path",
          "the kernel does not accept a packet user space carries Direct from its TUN",
          NFT, "ct direction original ct state new ", "ct direction reply ct state new ",
          "suites/functional/cloud/test_azure_ilb.py", *NETNS, "-k", "kernel_sent"),
    fault("gcp-allow-wins-tie", "GCP firewall",
          "at equal priority an allow rule wins over a deny",
          "lab/gcp_firewall.py", 'return priority, 0 if action == "deny" else 1',
          'return priority, 0 if action == "allow" else 1', "suites/unit/lab/test_gcp_firewall.py"),
    fault("gcp-untagged-rule-nowhere", "GCP firewall",
          "a rule without target tags applies to no instance instead of every one",
          "lab/gcp_firewall.py", "return not targets or bool(set(targets) & set(network_tags))",
          "return bool(set(targets) & set(network_tags))", "suites/unit/lab/test_gcp_firewall.py"),
    fault("scenario-enroll-quick", "scenarios",
          "the enrollment fault waits the lab's usual 15 s for a connector that waits 20 s",
          "lab/scenario/faults.py", "ENROLL_READY_S = 20.0 + 15.0", "ENROLL_READY_S = 15.0",
          "suites/unit/lab/test_scenario_schema.py"),
    # -- sub-locations (issue 18: two VPCs, one address plan, two GWLB endpoints) ---------
    fault("subloc-endpoint-ignored", "sub-locations",
          "the GWLB endpoint ID is not read: every flow is the connector's own location",
          "connector/service/dataplane.py",
          'location = self.locations.get(packet.options.eni_id, "")', 'location = ""',
          SUBLOC, *NETNS, "-k", "session_log or dns_rules"),
    fault("subloc-flow-key-no-location", "sub-locations",
          "the flow table keys flows by 5-tuple alone: one 5-tuple in two VPCs is one flow",
          "connector/core/flows.py", "return key.proto, lo[0], lo[1], hi[0], hi[1], key.location",
          'return key.proto, lo[0], lo[1], hi[0], hi[1], ""',
          "suites/unit/connector/test_sublocations.py"),
    fault("subloc-dns-memo-no-location", "sub-locations",
          "a remembered DNS decision answers the same address asking from another location",
          "connector/service/dns_service.py",
          "query.transport is Transport.TCP, location)", 'query.transport is Transport.TCP, "")',
          "suites/unit/connector/test_dns_service_answers.py"),
    fault("subloc-one-tun", "sub-locations",
          "every location's inner packets enter the kernel by the own location's TUN",
          "connector/service/dataplane.py", "if not self._tuns[location].write(payload):",
          'if not self._tuns[""].write(payload):', "suites/unit/connector/test_sublocations.py"),
    fault("subloc-no-zones", "sub-locations",
          "the sub-location TUNs share conntrack's default zone: one 5-tuple, one connection",
          NFT, "    if not config.dataplane.geneve or not tuns:", "    if True:",
          SUBLOC, *NETNS, "-k", "same_5_tuple"),
    fault("subloc-names-not-stored", "sub-locations",
          "a sub-location's learned names are not written to the state store",
          "connector/service/dns_service.py",
          "                self.store.save_located(location, addr, name, expires)",
          "                pass", "suites/unit/connector/test_sublocation_state.py"),
    fault("routed-location-ignored", "sub-locations",
          "a routed flow's source range is not read: every routed flow is the own location's",
          "connector/service/routed_path.py", "        if self.locations.locations:",
          "        if False:", "suites/unit/connector/test_routed_locations.py"),
    # -- IPv6 (issue 18: the GWLB carries IPv6 inner packets, rules judge their family) --
    fault("gwlb-ipv6-not-keyed", "IPv6",
          "the lab's GWLB reads IPv4 only: an IPv6 inner packet has no flow and is dropped",
          "lab/nodes/flow_key.py", "_LAYOUT = {4: (9, 12, 4, 20), 6: (6, 8, 16, 40)}",
          "_LAYOUT = {4: (9, 12, 4, 20)}",
          IPV6, *NETNS, "-k", "gwlb_reaches and aws-natgw-ipv6-connector-netns"),
    fault("g3-ipv6-not-counted", "IPv6",
          "an IPv6 inner packet is dropped without being counted as received (spec G3)",
          "connector/service/dataplane.py", '            self.counters.add("geneve_rx_ipv6")',
          "            pass",
          IPV6, *NETNS, "-k", "gwlb_reaches and aws-natgw-ipv6-connector-netns"),
    fault("sg-other-family-matches-all", "IPv6",
          "a rule naming no address of a family matches all of that family (IPv4 rules "
          "let IPv6 in)",
          "lab/security_groups.py",
          "            continue  # names no address of this family: never matches it",
          "            parts = []  # names no address of this family: matches all of it",
          IPV6, *NETNS, "-k", "judge_ipv6 and aws-natgw-ipv6-netns"),
    # -- GWLB targets registered and deregistered (issue 18) -----------------------------
    fault("tg-draining-takes-new", "GWLB membership",
          "a draining (deregistered) target still gets new flows",
          "lab/nodes/target_group.py",
          '    healthy = [t for t, s in states if s == "healthy"]',
          '    healthy = [t for t, s in states if s in ("healthy", "draining")]',
          TARGET_GROUP, MEMBERSHIP, "-m", "netns or unit",
          "-k", "deregistered or target_group"),
    fault("tg-initial-takes-new", "GWLB membership",
          "a registered target gets new flows before its health checks pass",
          "lab/nodes/target_group.py",
          '    healthy = [t for t, s in states if s == "healthy"]',
          '    healthy = [t for t, s in states if s in ("healthy", "initial")]',
          TARGET_GROUP, MEMBERSHIP, "-m", "netns or unit",
          "-k", "registered_connector or target_group"),
    fault("tg-drain-drops-flows", "GWLB membership",
          "a draining target's flows are moved at once instead of finishing on it",
          "lab/nodes/target_group.py",
          '    if state in ("healthy", "initial", "draining"):',
          '    if state in ("healthy", "initial"):', TARGET_GROUP),
    fault("attack-via-ignored", "cclab attack",
          "a private destination is judged by the attacker's routes, not handed to the gateway",
          "lab/attack/expect.py", "    via = gateway if private else None",
          "    via = None", ATTACK_UNIT),
    fault("attack-arrival-by-ports", "cclab attack",
          "an arrival is any packet on the cell's ports, the lab's own health probes too",
          "lab/attack/replay.py",
          "    return [p for p in packets if IP in p and p[IP].src == str(cell.source)",
          "    return [p for p in packets if IP in p", ATTACK_UNIT, "-k", "arrival"),
    # -- the lab's load balancers and docker labs side by side (issue 19) ----------------
    fault("gwlb-hash-crc-alone", "lab GWLB",
          "the flow hash is a CRC alone: its low bits follow the source port's steps",
          "lab/nodes/flow_key.py",
          "    h = ((h ^ (h >> 16)) * 0x85EBCA6B) & 0xFFFFFFFF",
          "    return h", "suites/unit/lab/test_flow_key.py"),
    fault("docker-zones-from-1", "docker labs side by side",
          "every docker lab numbers its conntrack zones from 1, as a netns lab does",
          "lab/backends/docker.py",
          "        zones = docker_zones.reserve(self.instance, max(1, len(topo.networks)))",
          "        zones = range(1, 1 + max(1, len(topo.networks)))",
          "suites/functional/lab/test_security_groups.py", "-m", "docker",
          "-k", "second_lab"),
    fault("reservation-unlocked", "docker labs side by side",
          "a lab locks a file of its own, not the host-wide one, while it chooses",
          "lab/backends/run_reservation.py", "        with exclusive(self.lock):",
          '        with exclusive(self.lock.with_name(f".{instance}.lock")):',
          "suites/unit/lab/test_run_reservation.py"),
    fault("gwlb-held-flow-never-repicked", "GWLB membership",
          "a flow's first pick is kept for good: a target turning unhealthy keeps its flows",
          "lab/nodes/gwlb.py", "        if held is None or held.view is not self.view:",
          "        if held is None:", MEMBERSHIP, *NETNS, "-k", "running_flow"),
    # -- the harness's DNS probe (issue 19) --------------------------------------------
    fault("probe-catch-up-burst", "DNS probe",
          "after a timeout the probe sends the missed questions back to back",
          "lab/traffic/dns_probe.py", "    return max(due + interval, now)",
          "    return due + interval", "suites/unit/lab/test_dns_probe_pacing.py"),
    fault("probe-tc-is-an-answer", "DNS probe",
          "a truncated UDP answer (an RRL slip) is taken as the answer, never asked over TCP",
          "lab/traffic/locust/dns_client.py",
          "        over_tcp = self._again_over_tcp(query, wait) if response.flags & dns.flags.TC "
          "else None", "        over_tcp = None", "suites/unit/lab/test_dns_client.py"),
)
