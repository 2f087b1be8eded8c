// SPDX-License-Identifier: GPL-2.0
/* The routed Direct fast path: tc ingress on a routed connector's service interface.
 *
 * The kernel's nftables rules decide each connection on its first packets, as
 * without this program (connector/io/nft_render.py): Direct is accept, then SNAT to
 * the service address. A later UDP datagram in the original direction of a
 * connection conntrack already holds, confirmed, decided Direct by the rules (its
 * mark: the Direct bit without the user-space or the fail-open bit) and SNATed, is
 * carried here instead (direct_nat.h): its source address and port rewritten as
 * conntrack's NAT says, its TTL lowered, and sent to the next hop the kernel's routing
 * (policy rules included) gives, whose neighbour must be known. The connection's
 * timeout is renewed as conntrack renews it for a UDP flow (30 s, 120 s once
 * answered: the kernel's defaults). Everything else goes the kernel's way: TCP
 * (conntrack's window tracking needs every segment), replies, other protocols, IPv6,
 * options, fragments, TTL 1, a packet the route cannot take whole, a frame for
 * another host, a connection not yet decided, one sent to user space, one a
 * fail-open gateway sent Direct. Carried packets and octets are counted in `carried`
 * (connector/io/routed_fast_path.py). */
#include <linux/if_packet.h>
#include "direct_nat.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct carried);
} carried SEC(".maps");

SEC("tc")
int routed_direct(struct __sk_buff *skb)
{
	__u32 first = 0;
	int verdict;

	if (skb->pkt_type != PACKET_HOST)
		return TC_ACT_OK;
	if (carry_direct(skb, bpf_map_lookup_elem(&carried, &first), &verdict))
		return verdict;
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
