/* The port operands of ocic pod port-forward, kubectl's [LOCAL:]REMOTE.
 * Pure: built into tests/unit/ocic too. */
#pragma once

#include <stdint.h>

struct ocic_portspec {
	uint16_t local;	 /* 0: a free port the kernel picks */
	uint16_t remote; /* 1..65535 */
};

/** Parse "REMOTE" (local the same port), "LOCAL:REMOTE", ":REMOTE" or
 *  "0:REMOTE" (local a free port). Ports are decimal digits only (at most
 *  five), REMOTE 1..65535, LOCAL 0..65535. 0, or -EINVAL. */
int ocic_portspec_parse(const char *s, struct ocic_portspec *ret);
