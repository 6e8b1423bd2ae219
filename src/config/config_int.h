/* config: private declarations shared by the files of src/config. */
#pragma once

#include "config/config.h"

/* A value check of one key: 0, or -EINVAL with err saying why (without the
 * key's name, which the caller adds with where the value came from). */
typedef int (*config_check_fn)(const char *v, struct err *err);

/** An absolute path. */
int config_check_abs_path(const char *v, struct err *err);
/** An absolute path, or "" (the feature off). */
int config_check_abs_path_or_empty(const char *v, struct err *err);
/** A unix socket path: absolute and short enough for sockaddr_un. */
int config_check_socket_path(const char *v, struct err *err);
/** A program: a bare name (looked up later) or an absolute path. */
int config_check_program(const char *v, struct err *err);
/** A cgroup parent: an absolute cgroupfs path without '..' or a systemd
 *  slice name ("kubepods.slice"). */
int config_check_cgroup_parent(const char *v, struct err *err);
/** An IPv4 or IPv6 subnet in CIDR notation ("10.88.0.0/16"). */
int config_check_cidr(const char *v, struct err *err);
/** A network interface name (at most 15 bytes, no '/', ':' or blanks). */
int config_check_ifname(const char *v, struct err *err);
/** An IPv4 or IPv6 address literal. */
int config_check_ip(const char *v, struct err *err);
