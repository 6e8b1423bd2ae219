/* config: value checks, so that a bad path, subnet or cgroup is refused at
 * start-up (and on reload) instead of failing every RunPodSandbox, and
 * before anything is created from it. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "config/config_int.h"

int config_check_abs_path(const char *v, struct err *err)
{
	if (v[0] != '/')
		return err_msg(err, -EINVAL, "'%s' is not an absolute path", v);
	return 0;
}

int config_check_abs_path_or_empty(const char *v, struct err *err)
{
	return *v ? config_check_abs_path(v, err) : 0;
}

int config_check_socket_path(const char *v, struct err *err)
{
	int r = config_check_abs_path(v, err);
	if (r < 0)
		return r;
	/* The socket is bound as "<path>.<pid>.tmp" then renamed into place. */
	size_t max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1 - strlen(".4194304.tmp");
	if (strlen(v) > max)
		return err_msg(err, -EINVAL, "socket path '%s' is too long (at most %zu bytes)", v,
			       max);
	return 0;
}

int config_check_program(const char *v, struct err *err)
{
	if (strchr(v, '/') && v[0] != '/')
		return err_msg(err, -EINVAL,
			       "'%s' is neither a bare program name nor an absolute path", v);
	return 0;
}

int config_check_cgroup_parent(const char *v, struct err *err)
{
	if (v[0] == '/') {
		cleanup_free char *clean = NULL;
		if (fs_path_clean(v, &clean) < 0)
			return err_msg(err, -EINVAL, "cgroup path '%s' must not contain '..'", v);
		return 0;
	}
	if (str_has_suffix(v, ".slice") && strlen(v) > strlen(".slice") && !strpbrk(v, "/: \t"))
		return 0;
	return err_msg(
	    err, -EINVAL,
	    "'%s' is neither an absolute cgroup path (cgroupfs, e.g. /ocid) nor a systemd slice name (e.g. kubepods.slice)",
	    v);
}

int config_check_cidr(const char *v, struct err *err)
{
	const char *slash = strchr(v, '/');
	size_t alen = slash ? (size_t)(slash - v) : 0;
	char addr[INET6_ADDRSTRLEN];
	unsigned char buf[sizeof(struct in6_addr)];
	int max = -1;
	if (slash && alen > 0 && alen < sizeof(addr)) {
		memcpy(addr, v, alen);
		addr[alen] = '\0';
		if (inet_pton(AF_INET, addr, buf) == 1)
			max = 32;
		else if (inet_pton(AF_INET6, addr, buf) == 1)
			max = 128;
	}
	const char *p = slash ? slash + 1 : "";
	char *end = NULL;
	long bits = *p >= '0' && *p <= '9' && strlen(p) <= 3 ? strtol(p, &end, 10) : -1;
	if (max < 0 || !end || *end || bits < 1 || bits > max)
		return err_msg(err, -EINVAL,
			       "'%s' is not a subnet in CIDR notation (e.g. 10.88.0.0/16)", v);
	return 0;
}

int config_check_ifname(const char *v, struct err *err)
{
	if (strlen(v) >= IFNAMSIZ || strpbrk(v, "/: \t\n") || strcmp(v, ".") == 0 ||
	    strcmp(v, "..") == 0)
		return err_msg(
		    err, -EINVAL,
		    "'%s' is not a network interface name (at most %d bytes, no '/', ':' or blanks)",
		    v, IFNAMSIZ - 1);
	return 0;
}

int config_check_ip(const char *v, struct err *err)
{
	unsigned char buf[sizeof(struct in6_addr)];
	if (inet_pton(AF_INET, v, buf) == 1 || inet_pton(AF_INET6, v, buf) == 1)
		return 0;
	return err_msg(err, -EINVAL, "'%s' is not an IPv4 or IPv6 address", v);
}
