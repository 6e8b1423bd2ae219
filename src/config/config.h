/* config: ocid's effective configuration. Compiled-in defaults, then
 * /etc/ocid/ocid.conf, then the *.conf files of /etc/ocid/ocid.conf.d in lexical order,
 * then command-line flags. Every flag is also a config key (same name with
 * '-' as '_'). No config file at all is the normal case. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/base.h"

/* A runtime handler: [runtimes.<name>] of ocid.conf, what a pod's
 * runtime_handler (Kubernetes RuntimeClass) names. */
struct config_runtime {
	char *name;		    /* a DNS label: "runc", "runsc" */
	char *path;		    /* the OCI runtime program (resolved on PATH; default: name) */
	char *root;		    /* its --root; "" = ocid's choice under runroot */
	char *type;		    /* "oci" (the only kind) */
	char **args;		    /* global flags before the verb ("--ignore-cgroups") */
	char **monitor_env;	    /* NAME=VALUE for the runtime's environment */
	char **allowed_annotations; /* prefixes of acting annotations its pods may use */
	bool privileged_without_host_devices; /* privileged containers get no host /dev */
	bool no_pivot_root;		      /* `create --no-pivot` */
	bool exec_fifo_start; /* start by opening runc's exec fifo, not `<runtime> start` */
	bool implied;	      /* made from `runtime`: no [runtimes] table was given */
};

struct config {
	char *config_file;	  /* --config, default /etc/ocid/ocid.conf */
	char *config_dir;	  /* --config-dir, default /etc/ocid/ocid.conf.d */
	char *root;		  /* --root, default /var/lib/ocid */
	char *runroot;		  /* --runroot, default /run/ocid */
	char *listen;		  /* --listen, default /run/ocid/ocid.sock */
	enum log_level log_level; /* --log-level, default info */
	char *runtime;		  /* --runtime, default "runc" resolved on PATH */
	char *cni_config_dir;	  /* --cni-config-dir, default /etc/cni/net.d */
	char *
	    *cni_plugin_dirs;  /* --cni-plugin-dir, colon list, default /opt/cni/bin:/usr/lib/cni */
	char *registries_conf; /* --registries-conf, default /etc/containers/registries.conf */
	char *signature_policy;	    /* --signature-policy, default /etc/containers/policy.json */
	char *signature_policy_dir; /* <pod namespace>.json here wins over signature_policy */
	char *registries_d;	    /* containers-registries.d(5): where signatures are */
	char *stream_address;	    /* --stream-address, default 127.0.0.1 */
	unsigned stream_port;	    /* --stream-port, default 0 (an ephemeral port) */
	uint64_t stream_idle_timeout_s; /* --stream-idle-timeout, default 4 h; 0 = never */
	unsigned stream_max_sessions;	/* --stream-max-sessions, default 256 */
	char *stream_tls_cert, *stream_tls_key,
	    *stream_tls_ca;		  /* "" = plain HTTP, no client certs */
	uint64_t pull_progress_timeout_s; /* --pull-progress-timeout, seconds, default 0 = off */
	char **hooks_dirs;		  /* --hooks-dir: oci-hooks(5) directories, a colon list */
	char **cdi_spec_dirs;		  /* --cdi-spec-dirs: CDI spec directories, a colon list */
	char *metrics_address;		  /* --metrics-address, default 127.0.0.1 */
	unsigned metrics_port;		  /* --metrics-port, default 0 = no TCP endpoint */
	char *metrics_socket;		  /* --metrics-socket, default "" = none */
	char *global_auth_file; /* --global-auth-file, default /run/containers/0/auth.json */
	unsigned max_parallel_downloads; /* layers downloaded at once per pull, default 6 */
	char *image_volumes;		 /* "mkdir" (default) or "ignore" */
	bool layer_sync;		 /* syncfs each layer before commit, default true */
	bool exec_fifo_start;		 /* start via runc's exec fifo, default true */
	char **pinned_images; /* names or globs reported as pinned (a comma list), default none */
	uint64_t max_recv_msg_size;    /* default 16 MiB */
	uint64_t max_send_msg_size;    /* default 80 MiB */
	unsigned workers;	       /* rpc worker threads (short calls), default 16 */
	unsigned long_workers;	       /* rpc worker threads for long calls, default 32 */
	unsigned max_concurrent_pulls; /* pulls at once (their own pool), default 8 */
	uint64_t shutdown_grace_ms;    /* in-flight calls get this long on SIGTERM, default 3 s */
	bool enable_debug_rpc; /* registers /ocid.debug.Debug/Sleep for tests, default false */
	char *cgroup_parent;   /* --cgroup-parent: pods' default parent cgroup, default /ocid */
	uint64_t shm_size;     /* --shm-size: each pod's /dev/shm tmpfs, default 64 MiB */
	char *
	    pause_binary; /* --pause-binary: default "ocid-pause", a bare name = in ocid's libexec dir */
	char *cni_default_bridge; /* --cni-default-bridge: built-in network's bridge, ocid0 */
	char *cni_default_subnet; /* --cni-default-subnet: built-in network, 10.88.0.0/16 */
	/* Every value is checked as it is set: paths (root, runroot, listen, the
	 * CNI dirs, registries_conf, signature_policy, global_auth_file) must be
	 * absolute; runtime and pause_binary a bare name or an absolute path;
	 * cgroup_parent an absolute path or a systemd slice; cni_default_subnet a
	 * CIDR; cni_default_bridge an interface name; stream_address an IP. */
	char **flags;	       /* copy of the flags given to config_load (for config_reload) */
	char *default_runtime; /* the handler of an empty runtime_handler */
	struct config_runtime *runtimes; /* after config_load: at least one */
	size_t n_runtimes;
};

/** The handler named `handler` ("" or NULL: default_runtime), NULL when none
 *  is configured. Borrowed from cfg. */
const struct config_runtime *config_runtime_find(const struct config *cfg, const char *handler);
/** "'runc', 'runsc'": the configured handlers, for messages. malloc'd. */
char *config_runtime_names(const struct config *cfg);

/** Fill `cfg` with the compiled-in defaults. */
void config_init(struct config *cfg);
/** Free what cfg owns. Accepts NULL. */
void config_done(struct config *cfg);

/** Build the effective configuration on top of `cfg` (as left by
 *  config_init; a zeroed struct is initialised first):
 *  flags are checked and applied once to learn --config/--config-dir, then
 *  the main file, then every *.conf of the drop-in dir in lexical order
 *  (hidden files and directories skipped), then the flags again, so flags
 *  win. A missing main file or drop-in dir is fine (logged at info level
 *  when --config names a file that does not exist). Keys may be top-level or
 *  inside an [ocid] table, not both in one file. Unknown keys are logged as
 *  warnings naming file:line and otherwise ignored. A runtime given as a bare name is then
 *  resolved on PATH (kept as is when not found).
 *  Flags: "--key value" or "--key=value" for every key ('_' or '-'); a
 *  boolean flag not followed by a value (the end, or another flag) means
 *  true; a list flag (pinned_images) may be repeated, each adding entries. `argv` holds only flags (the subcommand is
 *  removed by the caller); "--help" is not handled here.
 *  Errors (-EINVAL, err set): "FILE:LINE:COL: ..." for broken TOML or a bad
 *  value ("FILE:LINE:COL: key: why"), a key given twice in one file,
 *  "unknown flag --foo", "flag --x: why", "flag --x needs a value",
 *  "unexpected argument 'x'", a --config-dir that is not a directory;
 *  other read errors of a file (e.g. -EACCES) as they come.
 *  On success cfg->flags holds a copy of argv (for config_reload). */
int config_load(struct config *cfg, int argc, char **argv, struct err *err);

/** For SIGHUP: config_init(fresh), then config_load with the running
 *  config's flags, so the files are re-read and the flags still win.
 *  `fresh` is always initialised, so config_done(fresh) is right on failure. */
int config_reload(const struct config *running, struct config *fresh, struct err *err);

/** The effective configuration as TOML with a comment line above each key
 *  (--config and --config-dir appear as comments only: they are flags, not
 *  keys). Parsing the output as a config file gives the same configuration.
 *  malloc'd. */
char *config_to_toml(const struct config *cfg);

/** Print the flags and their help text to `out` (for --help). */
void config_usage(FILE *out);

/** Apply TOML `text` (named `name` in messages) on top of `cfg`, as if it
 *  were a config file. Same errors and warnings as config_load. */
int config_load_text(struct config *cfg, const char *name, const char *text, size_t len,
		     struct err *err);

/** Parse a duration into milliseconds: whole seconds ("90") or Go-style
 *  units h, m, s, ms ("1h30m", "45s", "1500ms"). -EINVAL when malformed or
 *  on overflow. */
int config_parse_duration_ms(const char *s, uint64_t *ret_ms);

/** The value of `key` as config_to_toml writes it (malloc'd), NULL for an
 *  unknown key. Two values are the same setting when these are equal. */
char *config_key_value(const struct config *cfg, const char *key);

/** Set `key` of `dst` to its value in `src` (for settings that change only
 *  at restart). `key` must be a known key. */
void config_key_copy(struct config *dst, const struct config *src, const char *key);

/** Parse a byte size: "1048576", or with a binary suffix K/KB/KiB, M/MB/MiB,
 *  G/GB/GiB, T/TiB ("16MiB" = 16 << 20). -EINVAL when malformed or on overflow. */
int config_parse_size(const char *s, uint64_t *ret_bytes);
