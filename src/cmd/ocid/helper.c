/* Where ocid finds its helper programs, ocimon and ocid-pause. */
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/ocid/ocid.h"

char *ocid_helper_path(const char *name)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return xasprintf("%s/%s", OCID_LIBEXECDIR, name);
	exe[n] = '\0';
	char *dir = dirname(exe);
	/* An installed ocid probes nothing: its helpers are where meson
	 * installed them. Anywhere else it may be run from the build tree
	 * (src/cmd/ocid/ocid), whose helpers are the sibling targets: a
	 * build never runs the helpers of an installed, other version. */
	if (strcmp(dir, OCID_BINDIR) != 0) {
		char *p = xasprintf("%s/%s/%s", dirname(dir), name, name);
		if (access(p, X_OK) == 0)
			return p;
		free(p);
	}
	return xasprintf("%s/%s", OCID_LIBEXECDIR, name);
}
