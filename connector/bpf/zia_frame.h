// SPDX-License-Identifier: GPL-2.0
/* Framing a packet into the connector's UDP ZIA tunnel, in the kernel, as
 * connector/io/zia_frame.py frames it: IPv4 from the service address, UDP from the
 * tunnel port to the edge's (checksum 0: none, as IPv4 allows), "ZT", version 1,
 * DATA, the tunnel's id and a sequence; the packet itself unchanged behind it.
 * Included by geneve_direct.c (a decapsulated GENEVE packet) and routed_direct.c (a
 * routed packet as it arrived). docs/decisions.md, "Into the ZIA tunnel". */
#ifndef CCLAB_ZIA_FRAME_H
#define CCLAB_ZIA_FRAME_H

#include "direct_nat.h"

#define ZIA_PORT 6789 /* connector/io/zia_frame.py ZIA_TUNNEL_PORT */
#define ZIA_VERSION 1
#define ZIA_DATA 1
#define ZIA_TTL 64
#define IP_DF 0x4000

/* Where a flow's packets go: the tunnel's source (the service address), the edge, the
 * tunnel's id; all in network order. */
struct zia_target {
	__be32 src;
	__be32 edge;
	__be32 tunnel_id;
};

/* What a packet gets in front of it: the tunnel's IPv4, UDP and frame header. */
struct zia_outer {
	struct iphdr ip;
	struct udphdr udp;
	__u8 magic[2];
	__u8 version;
	__u8 type;
	__be32 tunnel_id;
	__be32 seq;
};
_Static_assert(sizeof(struct zia_outer) == 40, "IPv4 20, UDP 8, frame header 12");

static __always_inline __u16 fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	return ~((sum & 0xffff) + (sum >> 16));
}

/* The packet, behind `outer_len` bytes after its Ethernet header (a GENEVE outer; 0 for
 * a routed packet), put into the tunnel to `to->edge` with sequence `seq`: the verdict,
 * TC_ACT_REDIRECT to the next hop; TC_ACT_OK, untouched, if the edge has no route or
 * neighbour or the frame would not fit its route (user space takes the packet);
 * TC_ACT_SHOT if it failed half done. */
static __always_inline int frame_to_zia(struct __sk_buff *skb, const struct zia_target *to,
					__u32 seq, __u32 outer_len, __u32 inner_len)
{
	struct zia_outer head = {};
	__u32 total = sizeof(head) + inner_len;

	struct bpf_fib_lookup fib = {
		.family = AF_INET,
		.l4_protocol = IPPROTO_UDP,
		.sport = bpf_htons(ZIA_PORT),
		.dport = bpf_htons(ZIA_PORT),
		.tot_len = total,
		.ipv4_src = to->src,
		.ipv4_dst = to->edge,
		.ifindex = skb->ingress_ifindex,
	};
	/* Looked up as a packet arriving on the ingress interface would be: the OUTPUT
	 * lookup takes `ifindex` as the device to leave by, which is right only when the
	 * edge is reached through the interface the packet came in on. */
	if (bpf_fib_lookup(skb, &fib, sizeof(fib), 0) != BPF_FIB_LKUP_RET_SUCCESS)
		return TC_ACT_OK;
	if (bpf_skb_adjust_room(skb, (__s32)sizeof(head) - (__s32)outer_len, BPF_ADJ_ROOM_MAC, 0))
		return TC_ACT_OK;

	head.ip.version = 4;
	head.ip.ihl = 5;
	head.ip.tot_len = bpf_htons(total);
	head.ip.frag_off = bpf_htons(IP_DF);
	head.ip.ttl = ZIA_TTL;
	head.ip.protocol = IPPROTO_UDP;
	head.ip.saddr = to->src;
	head.ip.daddr = to->edge;
	head.ip.check = fold(bpf_csum_diff(0, 0, (__be32 *)&head.ip, sizeof(head.ip), 0));
	head.udp.source = bpf_htons(ZIA_PORT);
	head.udp.dest = bpf_htons(ZIA_PORT);
	head.udp.len = bpf_htons(total - sizeof(head.ip));
	head.magic[0] = 'Z';
	head.magic[1] = 'T';
	head.version = ZIA_VERSION;
	head.type = ZIA_DATA;
	head.tunnel_id = to->tunnel_id;
	head.seq = bpf_htonl(seq);
	if (bpf_skb_store_bytes(skb, ETH_HLEN, &head, sizeof(head), 0) ||
	    bpf_skb_store_bytes(skb, 0, fib.dmac, ETH_ALEN, 0) ||
	    bpf_skb_store_bytes(skb, ETH_ALEN, fib.smac, ETH_ALEN, 0))
		return TC_ACT_SHOT;
	return bpf_redirect(fib.ifindex, 0);
}

#endif
