/* The text of a pod's hostname, hosts and resolv.conf files. */
#include <errno.h>
#include <string.h>

#include "base/base.h"
#include "pod/pod.h"

#define DNS_ENTRY_MAX 253
#define DNS_ENTRIES_MAX 32

struct buf {
	char *s;
	size_t len, cap;
};

static void buf_add(struct buf *b, const char *s)
{
	size_t n = strlen(s);
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->s = xrealloc(b->s, b->cap);
	}
	memcpy(b->s + b->len, s, n + 1);
	b->len += n;
}

static int entries_check(const char *what, char *const *v, bool spaces_ok, struct err *err)
{
	size_t n = strv_len(v);
	if (n > DNS_ENTRIES_MAX)
		return err_msg(err, -EINVAL, "dns_config: more than %d %s", DNS_ENTRIES_MAX, what);
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(v[i]);
		if (len == 0 || len > DNS_ENTRY_MAX)
			return err_msg(err, -EINVAL,
				       "dns_config: %s entry %zu is empty or too long", what, i);
		for (size_t j = 0; j < len; j++) {
			unsigned char c = (unsigned char)v[i][j];
			if (c < 0x21 || c == 0x7f) {
				if (spaces_ok && c == ' ')
					continue;
				return err_msg(
				    err, -EINVAL,
				    "dns_config: %s entry '%s' holds whitespace or a control character",
				    what, v[i]);
			}
		}
	}
	return 0;
}

static void add_line(struct buf *b, const char *key, char *const *v)
{
	if (!v || !v[0])
		return;
	buf_add(b, key);
	for (size_t i = 0; v[i]; i++) {
		buf_add(b, " ");
		buf_add(b, v[i]);
	}
	buf_add(b, "\n");
}

int pod_resolv_render(const struct pod_dns *dns, char **ret, struct err *err)
{
	int r = entries_check("servers", dns->servers, false, err);
	if (r >= 0)
		r = entries_check("searches", dns->searches, false, err);
	if (r >= 0)
		r = entries_check("options", dns->options, false, err);
	if (r < 0)
		return r;
	struct buf b = { 0 };
	buf_add(&b, "");
	for (size_t i = 0; dns->servers && dns->servers[i]; i++) {
		buf_add(&b, "nameserver ");
		buf_add(&b, dns->servers[i]);
		buf_add(&b, "\n");
	}
	add_line(&b, "search", dns->searches);
	add_line(&b, "options", dns->options);
	*ret = b.s;
	return 0;
}

char *pod_hosts_render(const char *hostname, char *const *ips)
{
	struct buf b = { 0 };
	buf_add(&b, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
	for (size_t i = 0; ips && ips[i] && hostname && *hostname; i++) {
		buf_add(&b, ips[i]);
		buf_add(&b, "\t");
		buf_add(&b, hostname);
		buf_add(&b, "\n");
	}
	return b.s;
}

int pod_hostname_check(const char *h, struct err *err)
{
	size_t len = h ? strlen(h) : 0;
	if (len == 0 || len > 64)
		return err_msg(err, -EINVAL, "hostname must be 1 to 64 characters");
	for (size_t i = 0; i < len; i++) {
		char c = h[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.'))
			return err_msg(
			    err, -EINVAL,
			    "hostname '%s': only letters, digits, '-' and '.' are allowed", h);
	}
	return 0;
}
