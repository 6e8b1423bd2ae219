/* Fuzz the /proc/net/dev parser of stats. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "stats/stats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct stats_net n = { 0 };
	if (stats_parse_net_dev((const char *)data, size, &n) == 0) {
		struct stats_net_iface total;
		stats_net_total(&n, &total);
		for (size_t i = 0; i < n.n_ifaces; i++)
			if (strlen(n.ifaces[i].name) >= sizeof(n.ifaces[i].name))
				__builtin_trap();
		stats_net_done(&n);
	}
	return 0;
}
