// SPDX-License-Identifier: GPL-2.0
/* The GENEVE Direct fast path: tc ingress on the connector's service interface.
 *
 * A GENEVE packet (UDP 6081) whose outer addresses, exact GENEVE header and inner
 * IPv4 UDP or TCP 5-tuple match a flow user space already validated and decided Direct
 * (an entry of `flows`, written by connector/io/fast_path.py) is decapsulated here
 * and handed to that flow's TUN as if user space had written it there: the same
 * nftables rules, conntrack zone, mark and SNAT follow. Its packets, octets and
 * last time (CLOCK_MONOTONIC, as Python's time.monotonic) are counted in the entry;
 * user space folds them into its flow table. A TCP segment with SYN, FIN or RST
 * goes to user space (the flow table tracks a connection's start and end), as does
 * anything else, or any packet that fails a check user space's fast view makes.
 *
 * A decapsulated UDP datagram of a flow of the connector's own location (conntrack
 * zone 0) whose connection the nftables rules already decided Direct and SNATed
 * (its first packet, written by user space, went through them) is carried on past
 * the TUN, as the routed fast path carries one (direct_nat.h): SNATed as conntrack
 * says, TTL lowered, to the next hop; counted in `direct`. Others enter the TUN.
 *
 * A flow user space decided ZIA (an entry with `zia_dst`, its edge, written while the
 * edge answers UDP keepalives) never meets the TUN: its inner packet, unchanged, is
 * framed as connector/io/zia_frame.py frames it (ZT, version 1, DATA, the tunnel's id,
 * the flow's packet count as sequence) in UDP from the service address's tunnel port
 * to the edge's, and sent to the next hop towards the edge. User space removes every
 * ZIA entry when an edge dies or a transport changes, so a flow moves as in user
 * space, at the next packet after the keepalives noticed. */
#include "zia_frame.h"

#define GENEVE_PORT 6081
#define GENEVE_FIXED 8
#define MAX_HEADER 64 /* GENEVE header and options; AWS sends 40 */
#define OUTER (ETH_HLEN + sizeof(struct iphdr) + sizeof(struct udphdr))
#define TCP_FLAGS_AT 33 /* from the inner IPv4 header: 20, then byte 13 of TCP's */
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04

struct flow_key {
	__u32 outer_src;
	__u32 outer_dst;
	__u16 outer_sport;
	__u8 header_len;
	__u8 proto;
	__u32 inner_src;
	__u32 inner_dst;
	__u16 inner_sport;
	__u16 inner_dport;
	__u8 header[MAX_HEADER];
};

struct flow_value {
	__u32 ifindex; /* the flow's TUN */
	__u32 zone; /* its conntrack zone (0: the connector's own location) */
	__u64 packets;
	__u64 octets;
	__u64 last_ns;
	struct zia_target zia; /* ZIA: its tunnel (zia_frame.h); all zero: not ZIA */
	__u32 unused;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct flow_key);
	__type(value, struct flow_value);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct carried);
} direct SEC(".maps");

struct inner {
	struct iphdr ip;
	__be16 sport;
	__be16 dport;
};

SEC("tc")
int geneve_direct(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + ETH_HLEN;
	struct udphdr *udp = data + ETH_HLEN + sizeof(*ip);
	__u8 *geneve = data + OUTER;

	if ((void *)(geneve + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	if (ip->ihl != 5 || ip->protocol != IPPROTO_UDP || ip->frag_off & bpf_htons(0x3fff) ||
	    udp->dest != bpf_htons(GENEVE_PORT))
		return TC_ACT_OK;
	__u32 header_len = GENEVE_FIXED + (geneve[0] & 0x3f) * 4;
	if (header_len > MAX_HEADER)
		return TC_ACT_OK;

	struct flow_key key = {};
	if (bpf_skb_load_bytes(skb, OUTER, key.header, header_len))
		return TC_ACT_OK;
	__u32 at = OUTER + header_len;
	struct inner in;
	if (bpf_skb_load_bytes(skb, at, &in, sizeof(in)))
		return TC_ACT_OK;
	__u32 total = bpf_ntohs(in.ip.tot_len);
	if (in.ip.version != 4 || in.ip.ihl != 5 || in.ip.frag_off & bpf_htons(0x3fff) ||
	    total != skb->len - at)
		return TC_ACT_OK;
	if (in.ip.protocol == IPPROTO_TCP) {
		__u8 flags;
		if (total < 40 || bpf_skb_load_bytes(skb, at + TCP_FLAGS_AT, &flags, 1) ||
		    flags & (TCP_SYN | TCP_FIN | TCP_RST))
			return TC_ACT_OK;
	} else if (in.ip.protocol != IPPROTO_UDP) {
		return TC_ACT_OK;
	}

	key.outer_src = ip->saddr;
	key.outer_dst = ip->daddr;
	key.outer_sport = udp->source;
	key.header_len = header_len;
	key.proto = in.ip.protocol;
	key.inner_src = in.ip.saddr;
	key.inner_dst = in.ip.daddr;
	key.inner_sport = in.sport;
	key.inner_dport = in.dport;
	struct flow_value *flow = bpf_map_lookup_elem(&flows, &key);
	if (!flow)
		return TC_ACT_OK;
	if (flow->zia.edge) {
		int verdict = frame_to_zia(skb, &flow->zia, (__u32)flow->packets, at - ETH_HLEN,
					   total);
		if (verdict == TC_ACT_REDIRECT) {
			__sync_fetch_and_add(&flow->packets, 1);
			__sync_fetch_and_add(&flow->octets, total);
			flow->last_ns = bpf_ktime_get_ns();
		}
		return verdict;
	}

	if (bpf_skb_adjust_room(skb, -(__s32)(at - ETH_HLEN), BPF_ADJ_ROOM_MAC, 0))
		return TC_ACT_OK;
	__sync_fetch_and_add(&flow->packets, 1);
	__sync_fetch_and_add(&flow->octets, total);
	flow->last_ns = bpf_ktime_get_ns();
	__u32 first = 0;
	int verdict;
	if (flow->zone == 0 && key.proto == IPPROTO_UDP &&
	    carry_direct(skb, bpf_map_lookup_elem(&direct, &first), &verdict))
		return verdict;
	return bpf_redirect(flow->ifindex, BPF_F_INGRESS);
}

char LICENSE[] SEC("license") = "GPL";
