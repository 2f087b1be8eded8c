// SPDX-License-Identifier: GPL-2.0
/* Answering a repeated DNS question in the kernel, as the listener answers it.
 *
 * User space answers every question first (connector/service/dns_service.py). When
 * the answer is a synthetic A record of a ZPA name for a source the listener's guard
 * never limits (runtime.dns_exempt: a cloud resolver, a health probe), to a plain
 * query (one question, no EDNS), it writes an entry of `dns_answers`: the client, the
 * address asked and the question section exactly as sent, with the address, its TTL
 * and how long the kernel may answer (connector/io/dns_fast_path.py). A query whose
 * bytes match an entry is answered here: the same bytes user space sends
 * (connector/io/dns_plain.py synthetic_a: QR, RD echoed and RA with it, one answer
 * pointing at the question's name), from the address asked, to the next hop the
 * routing gives the client, which must be out of the interface the query came in on.
 * The UDP checksum is updated, not recomputed, so a query whose checksum the sender
 * left to the device (CHECKSUM_PARTIAL) is answered as one. Each answer puts a record
 * (the entry's ticket) in `dns_log`, which user space drains to
 * write the log line, count and hold the pool's address as for its own answers; when
 * the ring is full the query goes to user space, so no answer is ever unlogged.
 * Everything else goes the kernel's way: another shape, EDNS, TCP, an entry past its
 * time, a route through another interface. The query's checksum is not checked here
 * (the socket would): a corrupted question matches no entry, a corrupted id is
 * answered with it. docs/decisions.md, "DNS answered in the kernel". */
#ifndef CCLAB_DNS_ANSWER_H
#define CCLAB_DNS_ANSWER_H

#include "zia_frame.h"

#define DNS_PORT 53
#define DNS_AT (UDP_AT + sizeof(struct udphdr))
#define DNS_HEADER 12
#define QUESTION_AT (DNS_AT + DNS_HEADER)
#define QUESTION_MIN 5 /* the root name, type and class */
#define QUESTION_MAX 128 /* connector/io/dns_fast_path.py QUESTION_MAX */
#define DNS_QR 0x8000
#define DNS_RD 0x0100
#define DNS_RA 0x0080
#define DNS_PLAIN_FLAGS 0xfa00 /* QR, opcode, TC: dns_plain._PLAIN_FLAGS */
#define REPLY_TTL 64
#define FLAGS_AT (DNS_AT + 2)
#define ANCOUNT_AT (DNS_AT + 6)
#define UDP_LEN_AT (UDP_AT + offsetof(struct udphdr, len))

struct dns_key {
	__be32 client;
	__be32 dst;
	__u16 qlen;
	__u16 pad;
	__u8 question[QUESTION_MAX];
};

struct dns_entry {
	__be32 addr; /* the A record's address */
	__be32 ttl; /* its TTL */
	__u64 until_ns; /* answered here until (CLOCK_MONOTONIC) */
	__u64 answers; /* answered here since written */
	__u32 ticket; /* user space's name for the entry, in each record */
	__u32 unused;
};

struct dns_record {
	__u32 ticket; /* 4 bytes: tcbpf's RingReader.drain_words reads them in a stride */
};

struct a_record {
	__be16 name; /* a pointer to the question's name */
	__be16 type;
	__be16 class;
	__be32 ttl;
	__be16 rdlength;
	__be32 addr;
} __attribute__((packed));
_Static_assert(sizeof(struct a_record) == 16, "an A record after a pointer: 16 bytes");

struct dns_header {
	__be16 id;
	__be16 flags;
	__be16 qdcount;
	__be16 ancount;
	__be16 nscount;
	__be16 arcount;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct dns_key);
	__type(value, struct dns_entry);
} dns_answers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22); /* dns_fast_path.RING_BYTES: 4 MiB, 2^19 records */
} dns_log SEC(".maps");

/* What the query at skb's start is, if it may be answered here: its key filled and its
 * UDP length; 0 if not (nothing read beyond the headers then). */
static __always_inline __u32 plain_question(struct __sk_buff *skb, struct dns_key *key,
					    __be16 *flags)
{
	struct iphdr *ip = plain_udp(skb);
	if (!ip)
		return 0;
	struct udphdr *udp = (void *)(ip + 1);
	struct dns_header *dns = (void *)(udp + 1);
	if ((void *)(dns + 1) > (void *)(long)skb->data_end || udp->dest != bpf_htons(DNS_PORT))
		return 0;
	__u32 total = bpf_ntohs(ip->tot_len);
	__u32 udp_len = bpf_ntohs(udp->len);
	if (total != skb->len - ETH_HLEN || udp_len != total - sizeof(*ip))
		return 0;
	if (dns->flags & bpf_htons(DNS_PLAIN_FLAGS) || dns->qdcount != bpf_htons(1) ||
	    dns->ancount || dns->nscount || dns->arcount)
		return 0;
	__u32 qlen = udp_len - sizeof(*udp) - DNS_HEADER;
	if (qlen < QUESTION_MIN || qlen > QUESTION_MAX)
		return 0;
	key->client = ip->saddr;
	key->dst = ip->daddr;
	key->qlen = qlen;
	*flags = dns->flags;
	if (bpf_skb_load_bytes(skb, QUESTION_AT, key->question, qlen))
		return 0;
	return udp_len;
}

/* A 16-bit ones' complement sum of `data`, as it adds into a checksum at an odd offset
 * (bytes swapped) or an even one. */
static __always_inline __u32 partial_sum(void *data, __u32 size, int odd)
{
	__u32 sum = bpf_csum_diff(0, 0, data, size, 0);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return odd ? ((sum & 0xff) << 8) | (sum >> 8) : sum;
}

/* The query turned into its answer in place: 0, or nonzero if a write failed (the packet
 * is half changed then). */
static __always_inline int write_answer(struct __sk_buff *skb, const struct dns_key *key,
					const struct dns_entry *entry, __be16 query_flags,
					__u32 udp_len, struct bpf_fib_lookup *fib)
{
	const __u64 mangled = BPF_F_MARK_MANGLED_0;
	__u32 grown = udp_len + sizeof(struct a_record);
	__u16 rd = bpf_ntohs(query_flags) & DNS_RD;
	__be16 flags = bpf_htons(DNS_QR | rd | (rd ? DNS_RA : 0));
	__be16 one = bpf_htons(1);
	struct iphdr ip = {
		.version = 4,
		.ihl = 5,
		.tot_len = bpf_htons(grown + sizeof(ip)),
		.frag_off = bpf_htons(IP_DF),
		.ttl = REPLY_TTL,
		.protocol = IPPROTO_UDP,
		.saddr = key->dst,
		.daddr = key->client,
	};
	ip.check = fold(bpf_csum_diff(0, 0, (__be32 *)&ip, sizeof(ip), 0));
	struct a_record record = {
		.name = bpf_htons(0xc00c),
		.type = bpf_htons(1),
		.class = bpf_htons(1),
		.ttl = entry->ttl,
		.rdlength = bpf_htons(4),
		.addr = entry->addr,
	};
	__u32 record_at = QUESTION_AT + key->qlen;
	__u32 added = partial_sum(&record, sizeof(record), (record_at - UDP_AT) & 1);
	__be16 ports[2];

	if (bpf_skb_load_bytes(skb, UDP_AT, ports, sizeof(ports)) ||
	    bpf_skb_change_tail(skb, skb->len + sizeof(record), 0))
		return -1;
	__be16 swapped[2] = {ports[1], ports[0]}; /* the sum of the two is the same */
	__be16 old_len = bpf_htons(udp_len), new_len = bpf_htons(grown);
	/* the length is in the pseudo header and the UDP header: a full checksum sums both,
	 * one the device completes (CHECKSUM_PARTIAL) holds the pseudo header's alone */
	if (bpf_l4_csum_replace(skb, UDP_CSUM_AT, old_len, new_len,
				BPF_F_PSEUDO_HDR | mangled | 2) ||
	    bpf_l4_csum_replace(skb, UDP_CSUM_AT, old_len, new_len, mangled | 2) ||
	    bpf_l4_csum_replace(skb, UDP_CSUM_AT, query_flags, flags, mangled | 2) ||
	    bpf_l4_csum_replace(skb, UDP_CSUM_AT, 0, one, mangled | 2) ||
	    bpf_l4_csum_replace(skb, UDP_CSUM_AT, 0, added, mangled) ||
	    bpf_skb_store_bytes(skb, UDP_AT, swapped, sizeof(swapped), 0) ||
	    bpf_skb_store_bytes(skb, UDP_LEN_AT, &new_len, 2, 0) ||
	    bpf_skb_store_bytes(skb, FLAGS_AT, &flags, 2, 0) ||
	    bpf_skb_store_bytes(skb, ANCOUNT_AT, &one, 2, 0) ||
	    bpf_skb_store_bytes(skb, record_at, &record, sizeof(record), 0) ||
	    bpf_skb_store_bytes(skb, ETH_HLEN, &ip, sizeof(ip), 0) ||
	    bpf_skb_store_bytes(skb, 0, fib->dmac, ETH_ALEN, 0) ||
	    bpf_skb_store_bytes(skb, ETH_ALEN, fib->smac, ETH_ALEN, 0))
		return -1;
	return 0;
}

/* The query at skb's start answered if it has an entry: 1 and the verdict in *verdict;
 * 0 if the kernel's way must take it (nothing changed then). */
static __always_inline int answer_dns(struct __sk_buff *skb, int *verdict)
{
	struct dns_key key = {};
	__be16 flags;
	__u32 udp_len = plain_question(skb, &key, &flags);
	if (!udp_len)
		return 0;
	struct dns_entry *entry = bpf_map_lookup_elem(&dns_answers, &key);
	if (!entry || bpf_ktime_get_ns() >= entry->until_ns)
		return 0;
	__be16 sport;
	if (bpf_skb_load_bytes(skb, UDP_SPORT_AT, &sport, 2))
		return 0;
	struct bpf_fib_lookup fib = {
		.family = AF_INET,
		.l4_protocol = IPPROTO_UDP,
		.sport = bpf_htons(DNS_PORT),
		.dport = sport,
		.tot_len = udp_len + sizeof(struct a_record) + sizeof(struct iphdr),
		.ipv4_src = key.dst,
		.ipv4_dst = key.client,
		.ifindex = skb->ingress_ifindex,
	};
	if (bpf_fib_lookup(skb, &fib, sizeof(fib), 0) != BPF_FIB_LKUP_RET_SUCCESS ||
	    fib.ifindex != skb->ingress_ifindex)
		return 0;
	struct dns_record *record = bpf_ringbuf_reserve(&dns_log, sizeof(*record), 0);
	if (!record)
		return 0; /* user space answers, and logs, while the ring is full */
	if (write_answer(skb, &key, entry, flags, udp_len, &fib)) {
		bpf_ringbuf_discard(record, BPF_RB_NO_WAKEUP);
		*verdict = TC_ACT_SHOT;
		return 1;
	}
	record->ticket = entry->ticket;
	bpf_ringbuf_submit(record, BPF_RB_NO_WAKEUP);
	__sync_fetch_and_add(&entry->answers, 1);
	*verdict = bpf_redirect(fib.ifindex, 0);
	return 1;
}

#endif
