// SPDX-License-Identifier: GPL-2.0
/* The lab GWLB's fast path: tc ingress on each interface the GWLB takes workload
 * packets on.
 *
 * A flow's first packet goes the user-space way (routed into the GWLB's TUN, a
 * target picked, `gwlb.flow` written, sent in GENEVE). lab/nodes/gwlb_fast.py then
 * writes the flow into `flows`, keyed by the ingress interface and the inner IPv4
 * or IPv6 5-tuple (UDP or TCP), with the outer addresses, the exact GENEVE header
 * user space sent and the interface towards the target. A later packet of that
 * flow is carried here as the user-space way would: its TTL (IPv6: hop limit)
 * lowered as the kernel's forwarding into the TUN lowers it, the outer IPv4, UDP
 * (port 6081 both ways, checksum 0) and GENEVE headers put in front (an IPv6
 * packet rides the IPv4 outer as user space sends it, spec G3), and handed to the
 * neighbour towards the target (bpf_redirect_neigh). Anything else (IP options or
 * IPv6 extension headers, a fragment, a packet above 1,500 bytes, no entry) goes
 * the user-space way. Packets carried are counted in the entry. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
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
	__u32 src[4]; /* IPv4: the first word, the others zero */
	__u32 dst[4];
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u8 family; /* 4 or 6 */
	__u8 pad[2];
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

#define TTL_AT (ETH_HLEN + offsetof(struct iphdr, ttl))
#define IP_CSUM_AT (ETH_HLEN + offsetof(struct iphdr, check))
#define HOP_LIMIT_AT (ETH_HLEN + offsetof(struct ipv6hdr, hop_limit))

/* The forwarding the kernel would do on the way into the TUN: TTL (IPv6: hop limit)
 * lowered by one, the IPv4 header's checksum with it; nonzero if a write failed. */
static __always_inline int lower_ttl(struct __sk_buff *skb, int family)
{
	__u8 hops;
	if (family == 6) {
		if (bpf_skb_load_bytes(skb, HOP_LIMIT_AT, &hops, 1))
			return -1;
		hops -= 1;
		return bpf_skb_store_bytes(skb, HOP_LIMIT_AT, &hops, 1, 0);
	}
	__u16 old_word, new_word; /* ttl and protocol: one checksum word */
	if (bpf_skb_load_bytes(skb, TTL_AT, &old_word, 2))
		return -1;
	new_word = old_word;
	*(__u8 *)&new_word -= 1;
	return bpf_skb_store_bytes(skb, TTL_AT, &new_word, 1, 0) ||
	       bpf_l3_csum_replace(skb, IP_CSUM_AT, old_word, new_word, 2);
}

/* The packet (of `family`, with an entry) put behind the flow's outer headers and sent
 * towards its target, its TTL lowered; TC_ACT_OK, untouched, if the entry's header does
 * not fit. An IPv6 packet rides the IPv4 outer too: the flags tell the kernel, which
 * then takes the packet for IPv4 (the neighbour's output goes by that). */
static __always_inline int encapsulate(struct __sk_buff *skb, struct flow_value *flow,
				       int family)
{
	__u32 header_len = flow->header_len;
	if (header_len < 8 || header_len > MAX_HEADER)
		return TC_ACT_OK;
	__u32 inner_len = skb->len - ETH_HLEN;
	__u64 flags = family == 6 ? BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 | BPF_F_ADJ_ROOM_ENCAP_L4_UDP : 0;

	if (lower_ttl(skb, family) ||
	    bpf_skb_adjust_room(skb, OUTER_LEN + header_len, BPF_ADJ_ROOM_MAC, flags))
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

static __always_inline int carry_ipv4(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct iphdr *ip = data + ETH_HLEN;
	struct ports *l4 = data + ETH_HLEN + sizeof(*ip);

	if ((void *)(l4 + 1) > end)
		return TC_ACT_OK;
	if (ip->ihl != 5 || ip->frag_off & bpf_htons(0x3fff) || ip->ttl <= 1 ||
	    (ip->protocol != IPPROTO_UDP && ip->protocol != IPPROTO_TCP) ||
	    skb->len - ETH_HLEN > MAX_INNER)
		return TC_ACT_OK;

	struct flow_key key = {
		.ifindex = skb->ingress_ifindex,
		.src = {ip->saddr},
		.dst = {ip->daddr},
		.sport = l4->sport,
		.dport = l4->dport,
		.proto = ip->protocol,
		.family = 4,
	};
	struct flow_value *flow = bpf_map_lookup_elem(&flows, &key);
	return flow ? encapsulate(skb, flow, 4) : TC_ACT_OK;
}

static __always_inline int carry_ipv6(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ipv6hdr *ip6 = data + ETH_HLEN;
	struct ports *l4 = data + ETH_HLEN + sizeof(*ip6);

	if ((void *)(l4 + 1) > end)
		return TC_ACT_OK;
	if ((ip6->nexthdr != IPPROTO_UDP && ip6->nexthdr != IPPROTO_TCP) ||
	    ip6->hop_limit <= 1 || skb->len - ETH_HLEN > MAX_INNER)
		return TC_ACT_OK;

	struct flow_key key = {
		.ifindex = skb->ingress_ifindex,
		.sport = l4->sport,
		.dport = l4->dport,
		.proto = ip6->nexthdr,
		.family = 6,
	};
	__builtin_memcpy(key.src, &ip6->saddr, sizeof(key.src));
	__builtin_memcpy(key.dst, &ip6->daddr, sizeof(key.dst));
	struct flow_value *flow = bpf_map_lookup_elem(&flows, &key);
	return flow ? encapsulate(skb, flow, 6) : TC_ACT_OK;
}

SEC("tc")
int gwlb_encap(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > end)
		return TC_ACT_OK;
	if (eth->h_proto == bpf_htons(ETH_P_IP))
		return carry_ipv4(skb);
	if (eth->h_proto == bpf_htons(ETH_P_IPV6))
		return carry_ipv6(skb);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
