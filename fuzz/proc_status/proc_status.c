/* Fuzz the /proc/PID/status reader (NSpid, SigCgt, SigBlk). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/base.h"
#include "proc/proc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = xstrndup((const char *)data, size);
	struct proc_sig_status st;
	int r = proc_status_parse(text, &st);
	if (r != 0 && r != -EBADMSG)
		__builtin_trap();
	free(text);
	return 0;
}
