// SPDX-License-Identifier: GPL-2.0
/* Carrying a datagram of a connection the kernel's nftables rules decided Direct, past
 * the netfilter hooks: what conntrack's entry says (its mark, its SNAT), done here.
 * Included by routed_direct.c (a routed connector's service interface) and
 * geneve_direct.c (after decapsulation). docs/decisions.md, "The routed Direct fast
 * path". */
#ifndef CCLAB_DIRECT_NAT_H
#define CCLAB_DIRECT_NAT_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define AF_INET 2
#define DIRECT_MARK 0x1
#define DECIDED_MASK 0xa01 /* Direct, user space, fail-open: nft_render.DECIDED_DIRECT */
#define IPS_SEEN_REPLY (1UL << 1)
#define IPS_CONFIRMED (1UL << 3)
#define IPS_SRC_NAT_DONE (1UL << 7)
#define UDP_UNREPLIED_MS 30000 /* nf_conntrack_udp_timeout */
#define UDP_STREAM_MS 120000 /* nf_conntrack_udp_timeout_stream */
#define IP_CSUM_AT (ETH_HLEN + offsetof(struct iphdr, check))
#define IP_TTL_AT (ETH_HLEN + offsetof(struct iphdr, ttl))
#define IP_SRC_AT (ETH_HLEN + offsetof(struct iphdr, saddr))
#define UDP_AT (ETH_HLEN + sizeof(struct iphdr))
#define UDP_CSUM_AT (UDP_AT + offsetof(struct udphdr, check))
#define UDP_SPORT_AT (UDP_AT + offsetof(struct udphdr, source))

/* The kernel's conntrack entry, only the fields read here: CO-RE places them. */
union nf_inet_addr {
	__u32 all[4];
	__be32 ip;
} __attribute__((preserve_access_index));

union nf_conntrack_man_proto {
	__be16 all;
} __attribute__((preserve_access_index));

struct nf_conntrack_man {
	union nf_inet_addr u3;
	union nf_conntrack_man_proto u;
} __attribute__((preserve_access_index));

struct nf_conntrack_tuple {
	struct nf_conntrack_man src;
	struct {
		union nf_inet_addr u3;
		union {
			__be16 all;
		} u;
	} dst;
} __attribute__((preserve_access_index));

struct nf_conntrack_tuple_hash {
	struct nf_conntrack_tuple tuple;
} __attribute__((preserve_access_index));

struct nf_conn {
	struct nf_conntrack_tuple_hash tuplehash[2];
	unsigned long status;
	__u32 mark;
} __attribute__((preserve_access_index));

struct bpf_ct_opts {
	__s32 netns_id;
	__s32 error;
	__u8 l4proto;
	__u8 dir;
	__u8 reserved[2];
};

extern struct nf_conn *bpf_skb_ct_lookup(struct __sk_buff *skb, struct bpf_sock_tuple *tuple,
					 __u32 tuple__sz, struct bpf_ct_opts *opts,
					 __u32 opts__sz) __ksym;
extern void bpf_ct_release(struct nf_conn *ct) __ksym;
extern int bpf_ct_change_timeout(struct nf_conn *ct, __u32 timeout) __ksym;

struct carried {
	__u64 packets;
	__u64 octets;
};

/* conntrack's entry for this datagram's connection if the datagram is its original
 * direction (the caller releases it), else NULL. */
static __always_inline struct nf_conn *ct_original(struct __sk_buff *skb, struct iphdr *ip,
						   struct udphdr *udp)
{
	struct bpf_sock_tuple tuple = {};
	struct bpf_ct_opts opts = {.netns_id = -1, .l4proto = IPPROTO_UDP};

	tuple.ipv4.saddr = ip->saddr;
	tuple.ipv4.daddr = ip->daddr;
	tuple.ipv4.sport = udp->source;
	tuple.ipv4.dport = udp->dest;
	struct nf_conn *ct = bpf_skb_ct_lookup(skb, &tuple, sizeof(tuple.ipv4), &opts,
					       sizeof(opts));
	if (ct && (ct->tuplehash[0].tuple.src.u3.ip != tuple.ipv4.saddr ||
		   ct->tuplehash[0].tuple.src.u.all != tuple.ipv4.sport)) {
		bpf_ct_release(ct);
		return NULL;
	}
	return ct;
}

/* A UDP connection's timeout renewed as conntrack renews it on a packet. */
static __always_inline void renew_udp(struct nf_conn *ct, unsigned long status)
{
	bpf_ct_change_timeout(ct, status & IPS_SEEN_REPLY ? UDP_STREAM_MS : UDP_UNREPLIED_MS);
}

/* The SNAT conntrack gave a Direct connection this packet is the original direction
 * of: (new source, new source port) in network order; false if the kernel keeps it. */
static __always_inline int direct_nat(struct __sk_buff *skb, struct iphdr *ip,
				      struct udphdr *udp, __be32 *src, __be16 *sport)
{
	struct nf_conn *ct = ct_original(skb, ip, udp);
	if (!ct)
		return 0;
	unsigned long status = ct->status;
	int ok = (ct->mark & DECIDED_MASK) == DIRECT_MARK &&
		 (status & (IPS_CONFIRMED | IPS_SRC_NAT_DONE)) ==
			 (IPS_CONFIRMED | IPS_SRC_NAT_DONE);
	if (ok) {
		*src = ct->tuplehash[1].tuple.dst.u3.ip;
		*sport = ct->tuplehash[1].tuple.dst.u.all;
		renew_udp(ct, status);
	}
	bpf_ct_release(ct);
	return ok;
}

/* The IPv4 header of the plain UDP datagram at skb's start (Ethernet, IPv4 without
 * options, UDP; not a fragment; TTL above 1), its UDP header checked to follow; or NULL. */
static __always_inline struct iphdr *plain_udp(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + ETH_HLEN;
	struct udphdr *udp = data + UDP_AT;

	if ((void *)(udp + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return NULL;
	if (ip->ihl != 5 || ip->protocol != IPPROTO_UDP || ip->frag_off & bpf_htons(0x3fff) ||
	    ip->ttl <= 1)
		return NULL;
	return ip;
}

/* The datagram at skb's start (Ethernet, IPv4, UDP) carried to its next hop if its
 * connection is a decided Direct one: 1 and the verdict in *verdict, which counts it in
 * `count`; 0 if the kernel's rules must take it (nothing was changed then). */
static __always_inline int carry_direct(struct __sk_buff *skb, struct carried *count,
					int *verdict)
{
	struct iphdr *ip = plain_udp(skb);
	if (!ip)
		return 0;
	struct udphdr *udp = (void *)(ip + 1);
	__be32 src;
	__be16 sport;
	if (!direct_nat(skb, ip, udp, &src, &sport))
		return 0;

	struct bpf_fib_lookup fib = {
		.family = AF_INET,
		.tos = ip->tos,
		.l4_protocol = IPPROTO_UDP,
		.sport = sport,
		.dport = udp->dest,
		.tot_len = bpf_ntohs(ip->tot_len),
		.ipv4_src = src,
		.ipv4_dst = ip->daddr,
		.ifindex = skb->ingress_ifindex,
	};
	if (bpf_fib_lookup(skb, &fib, sizeof(fib), 0) != BPF_FIB_LKUP_RET_SUCCESS)
		return 0;

	__be32 old_src = ip->saddr;
	__be16 old_sport = udp->source;
	__u16 old_ttl = *(__u16 *)&ip->ttl; /* ttl and protocol: one checksum word */
	__u8 ttl = ip->ttl - 1;
	__u32 length = skb->len;
	*verdict = TC_ACT_SHOT; /* from here a failure has changed the packet */
	if (bpf_skb_store_bytes(skb, IP_TTL_AT, &ttl, 1, 0))
		return 1;
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	ip = data + ETH_HLEN;
	if ((void *)(ip + 1) > end)
		return 1;
	__u16 new_ttl = *(__u16 *)&ip->ttl;
	if (bpf_l3_csum_replace(skb, IP_CSUM_AT, old_ttl, new_ttl, 2) ||
	    bpf_l4_csum_replace(skb, UDP_CSUM_AT, old_src, src,
				BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0 | 4) ||
	    bpf_l4_csum_replace(skb, UDP_CSUM_AT, old_sport, sport,
				BPF_F_MARK_MANGLED_0 | 2) ||
	    bpf_l3_csum_replace(skb, IP_CSUM_AT, old_src, src, 4) ||
	    bpf_skb_store_bytes(skb, IP_SRC_AT, &src, 4, 0) ||
	    bpf_skb_store_bytes(skb, UDP_SPORT_AT, &sport, 2, 0) ||
	    bpf_skb_store_bytes(skb, 0, fib.dmac, ETH_ALEN, 0) ||
	    bpf_skb_store_bytes(skb, ETH_ALEN, fib.smac, ETH_ALEN, 0))
		return 1;
	if (count) {
		count->packets++;
		count->octets += length;
	}
	*verdict = bpf_redirect(fib.ifindex, 0);
	return 1;
}

#endif
