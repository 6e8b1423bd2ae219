/* [LOCAL:]REMOTE port operands (see portspec.h). */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "portspec.h"

/* n decimal digits of s (1..5 of them) as a number <= 65535; -1 else. */
static long port_num(const char *s, size_t n)
{
	long v = 0;

	if (n == 0 || n > 5)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v <= 65535 ? v : -1;
}

int ocic_portspec_parse(const char *s, struct ocic_portspec *ret)
{
	const char *colon = strchr(s, ':');
	long local, remote;

	if (!colon) {
		remote = port_num(s, strlen(s));
		local = remote;
	} else {
		remote = port_num(colon + 1, strlen(colon + 1));
		/* kubectl: an empty LOCAL is 0, a port of the kernel's choice. */
		local = colon == s ? 0 : port_num(s, (size_t)(colon - s));
	}
	if (remote < 1 || local < 0)
		return -EINVAL;
	ret->local = (uint16_t)local;
	ret->remote = (uint16_t)remote;
	return 0;
}
