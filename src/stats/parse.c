/* Pure parsers of the kernel's cgroup and /proc/net/dev text files. */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "base/base.h"
#include "stats/stats.h"
#include "stats/stats_int.h"

/* Limits of v1 at or above this are "no limit" (the kernel reports
 * PAGE_COUNTER_MAX pages rounded to its page size, just under 2^63). */
#define V1_UNLIMITED_FLOOR (UINT64_C(1) << 62)

#define NET_DEV_MAX_IFACES 4096

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Parse a decimal number of `n` bytes at `s` (no sign, no spaces). */
static int parse_dec(const char *s, size_t n, uint64_t *ret)
{
	uint64_t v = 0;
	if (n == 0)
		return -EBADMSG;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EBADMSG;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -EBADMSG;
		v = v * 10 + d;
	}
	*ret = v;
	return 0;
}

int stats_parse_u64(const char *buf, size_t len, uint64_t *ret)
{
	while (len > 0 && is_space(buf[len - 1]))
		len--;
	if (len == 3 && memcmp(buf, "max", 3) == 0) {
		*ret = STATS_UNLIMITED;
		return 0;
	}
	return parse_dec(buf, len, ret);
}

/* Next line of buf[*pos..len): start and length without the '\n'. */
static bool next_line(const char *buf, size_t len, size_t *pos, const char **line, size_t *n)
{
	if (*pos >= len)
		return false;
	const char *start = buf + *pos;
	const char *nl = memchr(start, '\n', len - *pos);
	*n = nl ? (size_t)(nl - start) : len - *pos;
	*line = start;
	*pos += *n + (nl ? 1 : 0);
	return true;
}

int stats_kv_parse(const char *buf, size_t len, const struct stats_kv_key *keys, size_t n_keys,
		   void *base, uint64_t *ret_seen)
{
	size_t pos = 0, n;
	const char *line;
	uint64_t seen = 0;
	while (next_line(buf, len, &pos, &line, &n)) {
		while (n > 0 && is_space(line[n - 1]))
			n--;
		if (n == 0)
			continue;
		const char *sp = memchr(line, ' ', n);
		if (!sp || sp == line)
			return -EBADMSG;
		size_t klen = (size_t)(sp - line);
		for (size_t i = 0; i < n_keys; i++) {
			if (strlen(keys[i].name) == klen && memcmp(keys[i].name, line, klen) == 0) {
				uint64_t v;
				if (parse_dec(sp + 1, n - klen - 1, &v) < 0)
					return -EBADMSG;
				*(uint64_t *)((char *)base + keys[i].offset) = v;
				seen |= UINT64_C(1) << i;
				break;
			}
		}
	}
	if (ret_seen)
		*ret_seen = seen;
	return 0;
}

#define MS_KEY(f)                                         \
	{                                                 \
#f, offsetof(struct stats_memory_stat, f) \
	}

int stats_parse_memory_stat(const char *buf, size_t len, struct stats_memory_stat *ret)
{
	static const struct stats_kv_key keys[] = {
		MS_KEY(rss),
		MS_KEY(total_rss),
		MS_KEY(inactive_file),
		MS_KEY(pgfault),
		MS_KEY(pgmajfault),
		MS_KEY(hierarchical_memory_limit),
		MS_KEY(anon),
		MS_KEY(file),
		MS_KEY(total_inactive_file),
		MS_KEY(total_pgfault),
		MS_KEY(total_pgmajfault),
	};
	uint64_t seen;
	*ret = (struct stats_memory_stat){ 0 };
	int r = stats_kv_parse(buf, len, keys, ARRAY_SIZE(keys), ret, &seen);
	if (r < 0)
		return r;
	/* total_rss (1) or one of the last three keys */
	ret->has_total = (seen & ((UINT64_C(1) << 1) | (UINT64_C(7) << 8))) != 0;
	return 0;
}

/* Raw cpu.stat fields of both versions, converted afterwards. */
struct cpu_stat_raw {
	uint64_t usage_usec, user_usec, system_usec;
	uint64_t nr_periods, nr_throttled, throttled_time, throttled_usec;
};

#define CS_KEY(f)                                    \
	{                                            \
#f, offsetof(struct cpu_stat_raw, f) \
	}

static uint64_t usec_to_ns(uint64_t us)
{
	return us > UINT64_MAX / 1000 ? UINT64_MAX : us * 1000;
}

int stats_parse_cpu_stat(const char *buf, size_t len, struct stats_cpu *ret)
{
	static const struct stats_kv_key keys[] = {
		CS_KEY(usage_usec),	CS_KEY(user_usec),    CS_KEY(system_usec),
		CS_KEY(nr_periods),	CS_KEY(nr_throttled), CS_KEY(throttled_time),
		CS_KEY(throttled_usec),
	};
	struct cpu_stat_raw raw = { 0 };
	uint64_t seen;
	int r = stats_kv_parse(buf, len, keys, ARRAY_SIZE(keys), &raw, &seen);
	if (r < 0)
		return r;
	*ret = (struct stats_cpu){
		.usage_ns = usec_to_ns(raw.usage_usec),
		.user_ns = usec_to_ns(raw.user_usec),
		.system_ns = usec_to_ns(raw.system_usec),
		.has_throttling = (seen & (UINT64_C(1) << 3)) != 0,
		.nr_periods = raw.nr_periods,
		.nr_throttled = raw.nr_throttled,
		.throttled_ns = (seen & (UINT64_C(1) << 6)) ? usec_to_ns(raw.throttled_usec)
							    : raw.throttled_time,
	};
	return 0;
}

int stats_parse_memory_events(const char *buf, size_t len, uint64_t *ret_oom_kills)
{
	static const struct stats_kv_key keys[] = { { "oom_kill", 0 } };
	*ret_oom_kills = 0;
	return stats_kv_parse(buf, len, keys, ARRAY_SIZE(keys), ret_oom_kills, NULL);
}

/* Split the next whitespace-separated field of line[*pos..n). */
static bool next_field(const char *line, size_t n, size_t *pos, const char **f, size_t *flen)
{
	while (*pos < n && is_space(line[*pos]))
		(*pos)++;
	if (*pos >= n)
		return false;
	size_t start = *pos;
	while (*pos < n && !is_space(line[*pos]))
		(*pos)++;
	*f = line + start;
	*flen = *pos - start;
	return true;
}

/* One interface line "  eth0: 1 2 ... 16". 1 = parsed, 0 = "lo", <0 bad. */
static int parse_net_line(const char *line, size_t n, struct stats_net_iface *ifc)
{
	const char *colon = memchr(line, ':', n);
	if (!colon)
		return -EBADMSG;
	size_t p = 0, nlen;
	const char *name;
	if (!next_field(line, (size_t)(colon - line), &p, &name, &nlen) || nlen >= IF_NAMESIZE)
		return -EBADMSG;
	if (p != (size_t)(colon - line))
		return -EBADMSG; /* a space inside the name */
	uint64_t v[16];
	p = (size_t)(colon - line) + 1;
	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		const char *f;
		size_t flen;
		if (!next_field(line, n, &p, &f, &flen) || parse_dec(f, flen, &v[i]) < 0)
			return -EBADMSG;
	}
	if (nlen == 2 && memcmp(name, "lo", 2) == 0)
		return 0;
	*ifc = (struct stats_net_iface){
		.rx_bytes = v[0],
		.rx_packets = v[1],
		.rx_errors = v[2],
		.rx_dropped = v[3],
		.tx_bytes = v[8],
		.tx_packets = v[9],
		.tx_errors = v[10],
		.tx_dropped = v[11],
	};
	memcpy(ifc->name, name, nlen);
	ifc->name[nlen] = '\0';
	return 1;
}

int stats_parse_net_dev(const char *buf, size_t len, struct stats_net *ret)
{
	size_t pos = 0, n, cap = 0, count = 0;
	const char *line;
	cleanup_free struct stats_net_iface *v = NULL;
	for (int hdr = 0; hdr < 2; hdr++)
		if (!next_line(buf, len, &pos, &line, &n) || !memchr(line, '|', n))
			return -EBADMSG;
	while (next_line(buf, len, &pos, &line, &n)) {
		if (n == 0)
			continue;
		if (count == cap) {
			if (cap >= NET_DEV_MAX_IFACES)
				return -EBADMSG;
			cap = cap ? cap * 2 : 4;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		int r = parse_net_line(line, n, &v[count]);
		if (r < 0)
			return r;
		count += (size_t)r;
	}
	ret->ifaces = TAKE_PTR(v);
	ret->n_ifaces = count;
	return 0;
}

void stats_net_done(struct stats_net *n)
{
	if (!n)
		return;
	free(n->ifaces);
	n->ifaces = NULL;
	n->n_ifaces = 0;
}

void stats_net_total(const struct stats_net *n, struct stats_net_iface *ret)
{
	*ret = (struct stats_net_iface){ .name = "" };
	for (size_t i = 0; i < n->n_ifaces; i++) {
		const struct stats_net_iface *f = &n->ifaces[i];
		ret->rx_bytes += f->rx_bytes;
		ret->rx_packets += f->rx_packets;
		ret->rx_errors += f->rx_errors;
		ret->rx_dropped += f->rx_dropped;
		ret->tx_bytes += f->tx_bytes;
		ret->tx_packets += f->tx_packets;
		ret->tx_errors += f->tx_errors;
		ret->tx_dropped += f->tx_dropped;
	}
}

void stats_memory_compute(uint64_t usage, uint64_t limit, const struct stats_memory_stat *ms,
			  bool v2, struct stats_memory *ret)
{
	uint64_t inactive = v2 || !ms->has_total ? ms->inactive_file : ms->total_inactive_file;
	if (!v2 && limit >= V1_UNLIMITED_FLOOR)
		limit = STATS_UNLIMITED;
	ret->usage_bytes = usage;
	ret->working_set_bytes = usage > inactive ? usage - inactive : 0;
	if (v2) {
		ret->rss_bytes = ms->anon;
		ret->page_faults = ms->pgfault;
		ret->major_page_faults = ms->pgmajfault;
	} else {
		ret->rss_bytes = ms->has_total ? ms->total_rss : ms->rss;
		ret->page_faults = ms->has_total ? ms->total_pgfault : ms->pgfault;
		ret->major_page_faults = ms->has_total ? ms->total_pgmajfault : ms->pgmajfault;
	}
	ret->limit_bytes = limit;
	ret->available_bytes = 0;
	if (limit != STATS_UNLIMITED && limit > ret->working_set_bytes)
		ret->available_bytes = limit - ret->working_set_bytes;
}
