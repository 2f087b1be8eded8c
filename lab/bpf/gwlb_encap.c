// SPDX-License-Identifier: GPL-2.0
/* The lab GWLB's fast path: tc ingress on each interface the GWLB takes workload
 * packets on.
 *
 * A flow's first packet goes the user-space way (routed into the GWLB's TUN, a
 * target picked, `gwlb.flow` written, sent in GENEVE). lab/nodes/gwlb_fast.py then
 * writes the flow into `flows`, keyed by the ingress interface and the inner IPv4
 * 5-tuple (UDP or TCP), with the outer addresses, the exact GENEVE header user
 * space sent and the interface towards the target. A later packet of that flow is
 * carried here as the user-space way would: its TTL lowered as the kernel's
 * forwarding into the TUN lowers it, the outer IPv4, UDP (port 6081 both ways,
 * checksum 0) and GENEVE headers put in front, and handed to the neighbour
 * towards the target (bpf_redirect_neigh). Anything else (IPv6, IP options, a
 * fragment, a packet above 1,500 bytes, no entry) goes the user-space way.
 * Packets carried are counted in the entry. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define GENEVE_PORT 6081
#define MAX_HEADER 64
#define MAX_INNER 1500 /* larger (a GSO aggregate) goes the user-space way */
#define OUTER_LEN (sizeof(struct iphdr) + sizeof(struct udphdr))

struct flow_key {
	__u32 ifindex; /* the interface it came in on (a GWLB endpoint) */
	__u32 src;
	__u32 dst;
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u8 pad[3];
};

struct flow_value {
	__u32 outer_src;
	__u32 outer_dst;
	__u32 out_ifindex;
	__u32 header_len;
	__u8 header[MAX_HEADER];
	__u64 packets;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 131072);
	__type(key, struct flow_key);
	__type(value, struct flow_value);
} flows SEC(".maps");

struct ports {
	__be16 sport;
	__be16 dport;
};

static __always_inline __u16 fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

static __always_inline __u16 ip_checksum(struct iphdr *ip)
{
	__u16 *words = (__u16 *)ip;
	__u32 sum = 0;
#pragma unroll
	for (int i = 0; i < (int)(sizeof(*ip) / 2); i++)
		sum += words[i];
	return fold(sum);
}

SEC("tc")
int gwlb_encap(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + ETH_HLEN;
	struct ports *l4 = data + ETH_HLEN + sizeof(*ip);

	if ((void *)(l4 + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	if (ip->ihl != 5 || ip->frag_off & bpf_htons(0x3fff) || ip->ttl <= 1 ||
	    (ip->protocol != IPPROTO_UDP && ip->protocol != IPPROTO_TCP) ||
	    skb->len - ETH_HLEN > MAX_INNER)
		return TC_ACT_OK;

	struct flow_key key = {
		.ifindex = skb->ingress_ifindex,
		.src = ip->saddr,
		.dst = ip->daddr,
		.sport = l4->sport,
		.dport = l4->dport,
		.proto = ip->protocol,
	};
	struct flow_value *flow = bpf_map_lookup_elem(&flows, &key);
	if (!flow)
		return TC_ACT_OK;
	__u32 header_len = flow->header_len;
	if (header_len < 8 || header_len > MAX_HEADER)
		return TC_ACT_OK;

	/* the forwarding the kernel would do on the way into the TUN: TTL - 1 */
	__u16 old_ttl = *(__u16 *)&ip->ttl;
	ip->ttl -= 1;
	bpf_l3_csum_replace(skb, ETH_HLEN + offsetof(struct iphdr, check), old_ttl,
			    *(__u16 *)&ip->ttl, 2);
	__u32 inner_len = skb->len - ETH_HLEN;

	if (bpf_skb_adjust_room(skb, OUTER_LEN + header_len, BPF_ADJ_ROOM_MAC, 0))
		return TC_ACT_SHOT;
	struct {
		struct iphdr ip;
		struct udphdr udp;
	} outer = {};
	outer.ip.version = 4;
	outer.ip.ihl = 5;
	outer.ip.tot_len = bpf_htons(OUTER_LEN + header_len + inner_len);
	outer.ip.frag_off = bpf_htons(0x4000); /* DF, as the node's UDP socket sends */
	outer.ip.ttl = 64;
	outer.ip.protocol = IPPROTO_UDP;
	outer.ip.saddr = flow->outer_src;
	outer.ip.daddr = flow->outer_dst;
	outer.ip.check = ip_checksum(&outer.ip);
	outer.udp.source = bpf_htons(GENEVE_PORT);
	outer.udp.dest = bpf_htons(GENEVE_PORT);
	outer.udp.len = bpf_htons(sizeof(struct udphdr) + header_len + inner_len);
	if (bpf_skb_store_bytes(skb, ETH_HLEN, &outer, sizeof(outer), 0) ||
	    bpf_skb_store_bytes(skb, ETH_HLEN + OUTER_LEN, flow->header, header_len, 0))
		return TC_ACT_SHOT;
	__sync_fetch_and_add(&flow->packets, 1);
	return bpf_redirect_neigh(flow->out_ifindex, NULL, 0, 0);
}

char LICENSE[] SEC("license") = "GPL";
