"""Every check `cclab lint` runs, with its reason (seed or spec section) and fix."""

from __future__ import annotations

from lab.lint.finding import Check

SEED = "seed 'Cloud Connector without a NAT gateway'"

MGMT_INTERNET = Check(
    "mgmt-internet", "the internet reaches the management interface",
    f"{SEED}: the management interface's open listeners (SSH) are a target for compromise "
    "and denial of service; spec §2.5 (mgmt: SSH only from management CIDRs), §10 C1",
    "allow the port only from the management range (a management subnet or jump hosts; "
    "Azure: VirtualNetwork at the widest), never 0.0.0.0/0 or Internet")
MGMT_OPEN = Check(
    "mgmt-open-wide", "the management interface admits sources outside the private ranges",
    "spec §2.2 and §10 C1: an inbound 0.0.0.0/0 is harmless only while no public address "
    "is attached; with one it exposes SSH to the internet",
    "narrow the rule's sources to the management range")
MGMT_RANGE = Check(
    "mgmt-beyond-range", "the management interface admits more than the management range",
    f"{SEED}: if you have a specific subnet to manage workloads from, further limit SSH to "
    "those systems; spec §2.1 (SSH from the VPC CIDR at the widest), §2.5",
    "allow the management subnet or the jump hosts only (cclab lint --management-range "
    "says which range is yours)")
SERVICE_INTERNET = Check(
    "service-internet", "the internet reaches the service interface",
    f"{SEED}: the service interface should never accept unsolicited traffic from the "
    "internet (spoofed workloads reach ZIA and ZPA through it, and inflate licences); "
    "spec §2.5, §10 C1",
    "allow the service interface only from the VPC/VNet (AWS: your subnets or RFC 1918; "
    "Azure: VirtualNetwork, unless a route widens it) and the load balancer's health-probe "
    "source")
SERVICE_LOCAL = Check(
    "service-non-local", "the service interface admits non-local sources",
    "spec §2.2 and §10 C1: inbound from 0.0.0.0/0 is harmless only while the connector has "
    f"no public address; {SEED}: only local subnets should use the connector",
    "narrow the rule to the VPC/VNet ranges (or RFC 1918 on AWS)")
DNS_INTERNET = Check(
    "dns-internet", "the connector's DNS is reachable from the internet",
    f"{SEED}: the service interface answers DNS, so an open one is used to (D)DoS internet "
    "and private services (reflection, with the bandwidth billed to you); spec §9.4 (never "
    "bind DNS to a public address), §2.5",
    "do not admit UDP/TCP 53 from internet sources: allow the VPC/VNet only")
AZURE_PROBE = Check(
    "azure-probe-missing", "the Azure load balancer's health probe is not admitted",
    "spec §10 C2 and §2.3 (C#5): Azure probes come from 168.63.129.16 (AzureLoadBalancer) "
    "and must be allowed before any DenyAll, or every connector is marked down (spec §3.3)",
    "add an inbound rule allowing TCP to the health port from AzureLoadBalancer with a "
    "lower priority number than any deny")
VNET_WIDENED = Check(
    "virtualnetwork-widened", "VirtualNetwork is widened by a user-defined route",
    "spec §2.3 ('VirtualNetwork' caveat, M3) and §10 C3: Azure adds the prefixes of "
    "user-defined routes to VirtualNetwork, so a 0.0.0.0/0 route makes every rule that "
    "allows VirtualNetwork allow the internet",
    "allow the VNet's own prefixes (or RFC 1918) instead of the VirtualNetwork tag on the "
    "connectors, or keep the route off the connectors' subnets")
MGMT_EGRESS = Check(
    "mgmt-egress-missing", "the management interface cannot reach a service it needs",
    f"spec §1.1 and §2.1 (mgmt out: TCP 443 and UDP 123 'Required', UDP 53 'Recommended'); "
    f"{SEED}: the management interface needs outbound DNS (UDP/TCP 53), (D)TLS "
    "(UDP/TCP 443) and NTP (UDP 123)",
    "add the outbound rule to the management interface's security group")

IPV6_BYPASS = Check(
    "ipv6-bypass", "a subnet steered to the connectors sends IPv6 around them",
    "issue 18: the connectors see only what the route tables send them; a subnet whose "
    "0.0.0.0/0 goes to their load balancer but whose ::/0 goes to an (egress-only) "
    "internet gateway reaches the internet over IPv6 without their policy",
    "send the subnet's ::/0 to the connectors as well, or give it no IPv6 route out")

ALL = (MGMT_INTERNET, MGMT_OPEN, MGMT_RANGE, SERVICE_INTERNET, SERVICE_LOCAL, DNS_INTERNET,
       AZURE_PROBE, VNET_WIDENED, MGMT_EGRESS, IPV6_BYPASS)
