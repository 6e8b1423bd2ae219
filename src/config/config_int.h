/* config: private declarations shared by the files of src/config. */
#pragma once

#include "config/config.h"

#define DEFAULT_CONFIG_FILE "/etc/ocid/ocid.conf"
#define DEFAULT_CONFIG_DIR "/etc/ocid/ocid.conf.d"

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

/* ---- keys.c: the table of keys ---- */

/* KT_PATHLIST: a colon list (or a TOML array); KT_LIST: a comma list (or a
 * TOML array), whose flag may also be repeated -- for values such as image
 * references, which hold colons. KT_DURATION counts whole seconds (a
 * sub-second rest is rounded up), KT_DURATION_MS milliseconds. */
enum ktype {
	KT_STR,
	KT_PATHLIST,
	KT_LIST,
	KT_LOGLEVEL,
	KT_UINT,
	KT_SIZE,
	KT_DURATION,
	KT_DURATION_MS,
	KT_BOOL
};

struct key {
	const char *name; /* TOML key; the flag is this with '_' as '-' */
	enum ktype type;
	size_t off, size; /* of the field in struct config */
	const char *def;  /* default, in flag syntax */
	uint64_t min, max;
	bool flag_only;
	const char *help;
	const char *const *choices; /* KT_STR: the values allowed; NULL = any */
	config_check_fn check;	    /* KT_STR, KT_PATHLIST (each entry): NULL = any */
};

/* Every key, in the order of `ocid config` and --help. */
extern const struct key config_keys[];
extern const size_t config_n_keys;
/** The key of this TOML name, or NULL. */
const struct key *config_key_find(const char *name);
/** Where key `k`'s value lives in `cfg`. */
void *config_key_field(struct config *cfg, const struct key *k);
const void *config_key_cfield(const struct config *cfg, const struct key *k);

/* ---- runtimes.c: the [runtimes.<name>] handler table ---- */

/** Apply the [runtimes] table `t` of file `file`: each [runtimes.<name>]
 *  replaces a handler of that name from an earlier file. -EINVAL with
 *  "FILE:LINE:COL: runtimes.<name>.<key>: why" for a bad value. */
/* A TOML array of strings: ["a", "b"] (NULL is []). */
char *config_list_toml(char *const *l);

int config_runtimes_apply(struct config *cfg, const char *file, const struct toml *t,
			  struct err *err);
/** After all files and flags: handler paths resolved on PATH, the implied
 *  handler of `runtime` when no table was given, default_runtime filled in
 *  or checked (-EINVAL naming the handlers when it names none). */
int config_runtimes_finish(struct config *cfg, struct err *err);
/** Free the handler table. */
void config_runtimes_done(struct config *cfg);
/** The [runtimes.*] tables as TOML (the implied handler as comments). malloc'd. */
char *config_runtimes_to_toml(const struct config *cfg);
