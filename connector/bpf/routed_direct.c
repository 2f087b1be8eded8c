// SPDX-License-Identifier: GPL-2.0
/* The routed fast path: tc ingress on a routed connector's service interface.
 *
 * Direct. The kernel's nftables rules decide each connection on its first packets,
 * as without this program (connector/io/nft_render.py): Direct is accept, then SNAT
 * to the service address. A later UDP datagram in the original direction of a
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
 * (connector/io/routed_fast_path.py).
 *
 * ZIA. A UDP flow user space sent into a UDP ZIA tunnel (an entry of `zia_flows`, its
 * 5-tuple as it arrives, written by connector/io/routed_fast_path.py) never meets the
 * TUN again while its connection is the one the rules sent to user space (conntrack's
 * entry: confirmed, the user-space mark without Direct, this packet its original
 * direction; its timeout renewed as for Direct): its TTL lowered as the kernel's
 * forwarding to the TUN lowers it, it is framed as user space frames it (zia_frame.h:
 * the flow's packet count as sequence) and sent to the next hop towards the edge;
 * counted in the entry. User space removes every entry when an edge dies or a
 * transport changes, and a flow's entry when the flow expires.
 *
 * DNS. A repeated plain query user space let the kernel answer (dns_answer.h) is
 * answered here, before anything else. Which of the parts run is the `switches`
 * entry's (connector/io/routed_fast_path.py): Direct and ZIA with
 * runtime.routed_fast_path, DNS with runtime.dns_fast_path; none before it is written. */
#include <linux/if_packet.h>
#include "dns_answer.h"

#define SWITCH_CARRY 0x1 /* Direct and ZIA: routed_fast_path.CARRY */
#define SWITCH_DNS 0x2 /* DNS answers: routed_fast_path.DNS */

#define USER_MARK 0x200 /* nft_render.USER_MARK: the rules sent it to user space */
#define ZIA_DECIDED (DIRECT_MARK | USER_MARK)
#define INNER_TTL_AT (ETH_HLEN + sizeof(struct zia_outer) + offsetof(struct iphdr, ttl))
#define INNER_CSUM_AT (ETH_HLEN + sizeof(struct zia_outer) + offsetof(struct iphdr, check))

struct zia_key {
	__be32 src;
	__be32 dst;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 pad[3];
};

struct zia_flow {
	__u64 packets;
	__u64 octets;
	__u64 last_ns;
	struct zia_target zia;
	__u32 unused;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct carried);
} carried SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} switches SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct zia_key);
	__type(value, struct zia_flow);
} zia_flows SEC(".maps");

/* Is this datagram's connection one the rules sent to user space, and this its original
 * direction? Its timeout renewed if so. */
static __always_inline int sent_up(struct __sk_buff *skb, struct iphdr *ip,
				   struct udphdr *udp)
{
	struct nf_conn *ct = ct_original(skb, ip, udp);
	if (!ct)
		return 0;
	unsigned long status = ct->status;
	int ok = (ct->mark & ZIA_DECIDED) == USER_MARK && status & IPS_CONFIRMED;
	if (ok)
		renew_udp(ct, status);
	bpf_ct_release(ct);
	return ok;
}

/* The datagram at skb's start sent into its flow's ZIA tunnel if it has an entry: 1 and
 * the verdict in *verdict; 0 if the kernel's way must take it (nothing changed then). */
static __always_inline int carry_zia(struct __sk_buff *skb, int *verdict)
{
	struct iphdr *ip = plain_udp(skb);
	if (!ip)
		return 0;
	struct udphdr *udp = (void *)(ip + 1);
	__u32 total = bpf_ntohs(ip->tot_len);
	if (total != skb->len - ETH_HLEN)
		return 0;
	struct zia_key key = {
		.src = ip->saddr,
		.dst = ip->daddr,
		.sport = udp->source,
		.dport = udp->dest,
		.proto = IPPROTO_UDP,
	};
	struct zia_flow *flow = bpf_map_lookup_elem(&zia_flows, &key);
	if (!flow || !sent_up(skb, ip, udp))
		return 0;
	__u16 old_ttl = *(__u16 *)&ip->ttl; /* ttl and protocol: one checksum word */
	int framed = frame_to_zia(skb, &flow->zia, (__u32)flow->packets, 0, total);
	if (framed == TC_ACT_OK)
		return 0;
	*verdict = TC_ACT_SHOT;
	if (framed != TC_ACT_REDIRECT)
		return 1;
	__u8 ttl = (old_ttl & 0xff) - 1; /* the first byte of the word, in memory order */
	if (bpf_skb_store_bytes(skb, INNER_TTL_AT, &ttl, 1, 0))
		return 1;
	__u16 new_ttl = (old_ttl & 0xff00) | ttl;
	if (bpf_l3_csum_replace(skb, INNER_CSUM_AT, old_ttl, new_ttl, 2))
		return 1;
	__sync_fetch_and_add(&flow->packets, 1);
	__sync_fetch_and_add(&flow->octets, total);
	flow->last_ns = bpf_ktime_get_ns();
	*verdict = TC_ACT_REDIRECT;
	return 1;
}

SEC("tc")
int routed_direct(struct __sk_buff *skb)
{
	__u32 first = 0;
	int verdict;

	if (skb->pkt_type != PACKET_HOST)
		return TC_ACT_OK;
	__u32 *on = bpf_map_lookup_elem(&switches, &first);
	if (!on)
		return TC_ACT_OK;
	if (*on & SWITCH_DNS && answer_dns(skb, &verdict))
		return verdict;
	if (!(*on & SWITCH_CARRY))
		return TC_ACT_OK;
	if (carry_zia(skb, &verdict))
		return verdict;
	if (carry_direct(skb, bpf_map_lookup_elem(&carried, &first), &verdict))
		return verdict;
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
