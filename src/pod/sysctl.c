/* Strict validation of a pod's sysctls: only the namespaced ones, only for
 * namespaces the pod owns, names of plain segments, values without anything
 * that could chain a second assignment (CVE-2022-0811). */
#include <errno.h>
#include <string.h>

#include "base/base.h"
#include "pod/pod.h"

static bool seg_char(char c, bool slashed)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
	       (slashed && c == '.');
}

/* Split `name` into segments; dotted form "a.b.c" or slashed form "a/b/c"
 * (where a '.' belongs to the segment, as in an interface "eth0.100").
 * Fills `dotted` with the name in dotted form for matching. */
static int name_check(const char *name, char *dotted, size_t cap, struct err *err)
{
	size_t len = strlen(name);
	if (len == 0 || len >= cap)
		return err_msg(err, -EINVAL, "sysctl name is empty or longer than %zu bytes",
			       cap - 1);
	bool slashed = strchr(name, '/') != NULL;
	char sep = slashed ? '/' : '.';
	size_t seg = 0;
	for (size_t i = 0; i <= len; i++) {
		char c = name[i];
		if (c == sep || c == 0) {
			if (seg == 0)
				return err_msg(err, -EINVAL, "sysctl '%s': empty name segment",
					       name);
			/* "." and ".." are never a segment (slashed form). */
			if ((seg == 1 && name[i - 1] == '.') ||
			    (seg == 2 && name[i - 1] == '.' && name[i - 2] == '.'))
				return err_msg(err, -EINVAL, "sysctl '%s': '.' or '..' segment",
					       name);
			seg = 0;
			dotted[i] = '.';
			continue;
		}
		if (!seg_char(c, slashed))
			return err_msg(
			    err, -EINVAL,
			    "sysctl '%s': invalid character (names are segments of [a-z0-9_-])",
			    name);
		seg++;
		dotted[i] = c;
	}
	dotted[len] = 0;
	if (strstr(name, ".."))
		return err_msg(err, -EINVAL, "sysctl '%s': '..' in name", name);
	return 0;
}

static int value_check(const char *name, const char *value, struct err *err)
{
	size_t len = strlen(value);
	if (len == 0 || len > POD_SYSCTL_VALUE_MAX)
		return err_msg(err, -EINVAL, "sysctl '%s': value is empty or longer than %d bytes",
			       name, POD_SYSCTL_VALUE_MAX);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)value[i];
		if (c == '=' || c == '+' || c == '\n' || c == '\r' || (c < 0x20 && c != '\t') ||
		    c >= 0x7f)
			return err_msg(err, -EINVAL,
				       "sysctl '%s': value holds a forbidden character (0x%02x)",
				       name, c);
	}
	return 0;
}

static size_t count_dots(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += *s == '.';
	return n;
}

/* Which namespace a dotted name belongs to; 0 when it is not namespaced. */
static unsigned namespace_of(const char *d)
{
	if (str_has_prefix(d, "net."))
		return POD_SYSCTL_NET;
	if (strcmp(d, "kernel.sem") == 0)
		return POD_SYSCTL_IPC;
	/* kernel.shm* and kernel.msg* are single names right under kernel. */
	if ((str_has_prefix(d, "kernel.shm") || str_has_prefix(d, "kernel.msg")) &&
	    strlen(d) > strlen("kernel.shm") && count_dots(d) == 1)
		return POD_SYSCTL_IPC;
	if (str_has_prefix(d, "fs.mqueue.") && count_dots(d) == 2)
		return POD_SYSCTL_IPC;
	return 0;
}

int pod_sysctl_check(const char *name, const char *value, unsigned owned, char **ret_path,
		     unsigned *ret_ns, struct err *err)
{
	char dotted[POD_SYSCTL_NAME_MAX + 1];
	if (!name || !value)
		return err_msg(err, -EINVAL, "sysctl without a name or value");
	int r = name_check(name, dotted, sizeof(dotted), err);
	if (r < 0)
		return r;
	r = value_check(name, value, err);
	if (r < 0)
		return r;
	unsigned ns = namespace_of(dotted);
	if (!ns)
		return err_msg(
		    err, -EINVAL,
		    "sysctl '%s' is not namespaced: only net.*, kernel.shm*, kernel.msg*, kernel.sem and fs.mqueue.* may be set for a pod",
		    name);
	if (!(owned & ns))
		return err_msg(
		    err, -EINVAL,
		    "sysctl '%s' needs the pod's own %s namespace, but the pod shares the host's",
		    name, ns == POD_SYSCTL_NET ? "network" : "IPC");
	if (ret_path) {
		char *p = xasprintf("/proc/sys/%s", name);
		if (!strchr(name, '/'))
			for (char *c = p + strlen("/proc/sys/"); *c; c++)
				if (*c == '.')
					*c = '/';
		*ret_path = p;
	}
	if (ret_ns)
		*ret_ns = ns;
	return 0;
}
