/* Fuzz the cgroup file parsers of stats: memory.stat, cpu.stat,
 * memory.events / memory.oom_control and single numbers, with the memory
 * numbers derived from whatever parsed. */
#include <stddef.h>
#include <stdint.h>

#include "stats/stats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct stats_memory_stat ms;
	struct stats_cpu cpu;
	struct stats_memory m;
	uint64_t v = 0, kills;
	(void)stats_parse_u64(buf, size, &v);
	if (stats_parse_memory_stat(buf, size, &ms) == 0) {
		stats_memory_compute(v, ms.hierarchical_memory_limit, &ms, false, &m);
		stats_memory_compute(v, ms.file, &ms, true, &m);
	}
	(void)stats_parse_cpu_stat(buf, size, &cpu);
	(void)stats_parse_memory_events(buf, size, &kills);
	return 0;
}
