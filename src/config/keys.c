/* config: the table of keys, which drives defaults, files, flags, TOML
 * output and usage (config.c). */
#include "config/config_int.h"

#include <stddef.h>
#include <string.h>

#define FIELD(f) offsetof(struct config, f), sizeof(((struct config *)0)->f)
#define MIB (UINT64_C(1) << 20)

static const char *const volume_modes[] = { "mkdir", "ignore", NULL };

const struct key config_keys[] = {
	{ "config", KT_STR, FIELD(config_file), DEFAULT_CONFIG_FILE, 0, 0, true,
	  "Main configuration file (a missing file is fine).", NULL, NULL },
	{ "config_dir", KT_STR, FIELD(config_dir), DEFAULT_CONFIG_DIR, 0, 0, true,
	  "Directory of drop-in *.conf files, applied in lexical order after the main file.", NULL,
	  NULL },
	{ "root", KT_STR, FIELD(root), "/var/lib/ocid", 0, 0, false,
	  "Persistent state: metadata database, image layers, container layers.", NULL,
	  config_check_abs_path },
	{ "runroot", KT_STR, FIELD(runroot), "/run/ocid", 0, 0, false,
	  "Volatile state: pod namespaces, container bundles, monitor sockets.", NULL,
	  config_check_abs_path },
	{ "listen", KT_STR, FIELD(listen), "/run/ocid/ocid.sock", 0, 0, false,
	  "Unix socket serving CRI gRPC and the HTTP/1.1 status API.", NULL,
	  config_check_socket_path },
	{ "log_level", KT_LOGLEVEL, FIELD(log_level), "info", 0, 0, false,
	  "Log level: error, warn, info, debug or trace.", NULL, NULL },
	{ "runtime", KT_STR, FIELD(runtime), "runc", 0, 0, false,
	  "OCI runtime binary; a name without '/' is looked up on PATH at start-up.", NULL,
	  config_check_program },
	{ "cni_config_dir", KT_STR, FIELD(cni_config_dir), "/etc/cni/net.d", 0, 0, false,
	  "Directory of CNI network configurations.", NULL, config_check_abs_path },
	{ "cni_plugin_dir", KT_PATHLIST, FIELD(cni_plugin_dirs), "/opt/cni/bin:/usr/lib/cni", 0, 0,
	  false, "Directories searched for CNI plugins (a colon list or a TOML array).", NULL,
	  config_check_abs_path },
	{ "registries_conf", KT_STR, FIELD(registries_conf), "/etc/containers/registries.conf", 0,
	  0, false, "Registries configuration, see containers-registries.conf(5).", NULL,
	  config_check_abs_path },
	{ "signature_policy", KT_STR, FIELD(signature_policy), "/etc/containers/policy.json", 0, 0,
	  false, "Image signature policy, see containers-policy.json(5).", NULL,
	  config_check_abs_path },
	{ "signature_policy_dir", KT_STR, FIELD(signature_policy_dir), "/etc/containers/policy.d",
	  0, 0, false,
	  "Per-namespace signature policies: <pod namespace>.json here applies instead of signature_policy to that namespace's pulls.",
	  NULL, config_check_abs_path },
	{ "registries_d", KT_STR, FIELD(registries_d), "/etc/containers/registries.d", 0, 0, false,
	  "Where image signatures are found (lookaside stores, sigstore attachments), see containers-registries.d(5).",
	  NULL, config_check_abs_path },
	{ "stream_address", KT_STR, FIELD(stream_address), "127.0.0.1", 0, 0, false,
	  "Address of the exec/attach/port-forward streaming server.", NULL, config_check_ip },
	{ "stream_port", KT_UINT, FIELD(stream_port), "0", 0, 65535, false,
	  "Port of the streaming server; 0 picks an ephemeral port.", NULL, NULL },
	{ "stream_idle_timeout", KT_DURATION, FIELD(stream_idle_timeout_s), "4h", 0,
	  UINT64_C(1) << 32, false,
	  "Close an exec, attach or port-forward session with no traffic for this long (\"30s\", \"5m\", \"4h\"); 0 never.",
	  NULL, NULL },
	{ "stream_tls_cert", KT_STR, FIELD(stream_tls_cert), "", 0, 0, false,
	  "PEM certificate (chain) of the streaming server: with it, the server speaks HTTPS (TLS 1.2 or newer) and its URLs are https.",
	  NULL, config_check_abs_path_or_empty },
	{ "stream_tls_key", KT_STR, FIELD(stream_tls_key), "", 0, 0, false,
	  "PEM private key of stream_tls_cert.", NULL, config_check_abs_path_or_empty },
	{ "stream_tls_ca", KT_STR, FIELD(stream_tls_ca), "", 0, 0, false,
	  "PEM CA file: streaming clients must present a certificate it signed (kubelet's client certificate).",
	  NULL, config_check_abs_path_or_empty },
	{ "stream_max_sessions", KT_UINT, FIELD(stream_max_sessions), "256", 1, 65535, false,
	  "Exec, attach and port-forward sessions served at once; more are answered 503.", NULL,
	  NULL },
	{ "hooks_dir", KT_PATHLIST, FIELD(hooks_dirs),
	  "/usr/share/containers/oci/hooks.d:/etc/containers/oci/hooks.d", 0, 0, false,
	  "Directories of OCI hook files (oci-hooks(5)), read at each CreateContainer; a file in a later directory replaces the same-named one of an earlier directory.",
	  NULL, config_check_abs_path },
	{ "cdi_spec_dirs", KT_PATHLIST, FIELD(cdi_spec_dirs), "/etc/cdi:/var/run/cdi", 0, 0, false,
	  "Directories of CDI spec files (JSON or YAML) defining the devices CDIDevices and cdi.k8s.io/ annotations name; a later directory wins.",
	  NULL, config_check_abs_path },
	{ "metrics_address", KT_STR, FIELD(metrics_address), "127.0.0.1", 0, 0, false,
	  "Address of the Prometheus metrics endpoint (GET /metrics), when metrics_port is set.",
	  NULL, config_check_ip },
	{ "metrics_port", KT_UINT, FIELD(metrics_port), "0", 0, 65535, false,
	  "Port of the Prometheus metrics endpoint; 0 turns it off (unless metrics_socket is set).",
	  NULL, NULL },
	{ "metrics_socket", KT_STR, FIELD(metrics_socket), "", 0, 0, false,
	  "Unix socket serving the Prometheus metrics endpoint instead of metrics_address:metrics_port; \"\" for none.",
	  NULL, config_check_abs_path_or_empty },
	{ "pull_progress_timeout", KT_DURATION, FIELD(pull_progress_timeout_s), "0", 0,
	  UINT64_C(1) << 40, false,
	  "Cancel an image pull that makes no progress for this long (seconds, or \"30s\", \"5m\", \"1h\"; rounded up to whole seconds); 0 disables.",
	  NULL, NULL },
	{ "global_auth_file", KT_STR, FIELD(global_auth_file), "/run/containers/0/auth.json", 0, 0,
	  false,
	  "Registry credentials (containers-auth.json(5)); when it has none for a registry, /root/.docker/config.json is tried.",
	  NULL, config_check_abs_path },
	{ "max_parallel_downloads", KT_UINT, FIELD(max_parallel_downloads), "6", 1, 64, false,
	  "Layers of one image pull downloaded at once.", NULL, NULL },
	{ "layer_sync", KT_BOOL, FIELD(layer_sync), "true", 0, 0, false,
	  "Flush each unpacked layer to disk before it is committed, so a power loss never leaves a layer with files cut short (slower pulls by the disk's write time).",
	  NULL, NULL },
	{ "default_runtime", KT_STR, FIELD(default_runtime), "", 0, 0, false,
	  "The runtime handler ([runtimes.<name>]) of pods whose runtime_handler is empty; \"\" = the one that is runtime, else the first.",
	  NULL, NULL },
	{ "exec_fifo_start", KT_BOOL, FIELD(exec_fifo_start), "true", 0, 0, false,
	  "StartContainer releases a runc-created container by opening its exec fifo, as `runc start` does, instead of running `<runtime> start` (one runtime process less per start); false always runs the runtime.",
	  NULL, NULL },
	{ "image_volumes", KT_STR, FIELD(image_volumes), "mkdir", 0, 0, false,
	  "What an image's VOLUMEs not covered by a CRI mount become: \"mkdir\" (an empty directory in the container's rootfs) or \"ignore\".",
	  volume_modes, NULL },
	{ "pinned_images", KT_LIST, FIELD(pinned_images), "", 0, 0, false,
	  "Images never garbage-collected by kubelet: exact names or globs (a TOML array or a comma-separated string; as a flag, comma-separated or repeated).",
	  NULL, NULL },
	{ "max_recv_msg_size", KT_SIZE, FIELD(max_recv_msg_size), "16777216", 1024, 1024 * MIB,
	  false, "Largest gRPC message accepted, in bytes (or \"16MiB\").", NULL, NULL },
	{ "max_send_msg_size", KT_SIZE, FIELD(max_send_msg_size), "83886080", 1024, 1024 * MIB,
	  false, "Largest gRPC message sent, in bytes (or \"80MiB\").", NULL, NULL },
	{ "workers", KT_UINT, FIELD(workers), "16", 1, 1024, false,
	  "Worker threads running short RPCs (Version, Status, lists, statuses, stats) and feeding event streams.",
	  NULL, NULL },
	{ "long_workers", KT_UINT, FIELD(long_workers), "32", 1, 1024, false,
	  "Worker threads running long RPCs (create, start, stop, remove, ExecSync, RemoveImage, image import); short ones never wait for them.",
	  NULL, NULL },
	{ "max_concurrent_pulls", KT_UINT, FIELD(max_concurrent_pulls), "8", 1, 256, false,
	  "Image pulls run at once (kubelet's maxParallelImagePulls); more wait their turn, on no thread.",
	  NULL, NULL },
	{ "shutdown_grace", KT_DURATION_MS, FIELD(shutdown_grace_ms), "3", 0, 3600000, false,
	  "On SIGTERM, in-flight calls get this long to finish, then ocid exits anyway (seconds, or \"10s\", \"500ms\").",
	  NULL, NULL },
	{ "enable_debug_rpc", KT_BOOL, FIELD(enable_debug_rpc), "false", 0, 0, false,
	  "Register /ocid.debug.Debug/Sleep (for tests only).", NULL, NULL },
	{ "cgroup_parent", KT_STR, FIELD(cgroup_parent), "/ocid", 0, 0, false,
	  "Parent cgroup of pods that name none (cgroupfs: an absolute path; systemd: a slice).",
	  NULL, config_check_cgroup_parent },
	{ "shm_size", KT_SIZE, FIELD(shm_size), "67108864", 4096, 1024 * 1024 * MIB, false,
	  "Size of each pod's /dev/shm tmpfs, in bytes (or \"64MiB\").", NULL, NULL },
	{ "pause_binary", KT_STR, FIELD(pause_binary), "ocid-pause", 0, 0, false,
	  "ocid-pause, PID 1 of pods that share a PID namespace; a bare name is found in ocid's libexec directory (`ocid version` prints it).",
	  NULL, config_check_program },
	{ "cni_default_bridge", KT_STR, FIELD(cni_default_bridge), "ocid0", 0, 0, false,
	  "Bridge of the built-in network, used when the CNI config dir holds no network.", NULL,
	  config_check_ifname },
	{ "cni_default_subnet", KT_STR, FIELD(cni_default_subnet), "10.88.0.0/16", 0, 0, false,
	  "Subnet of the built-in network (host-local IPAM).", NULL, config_check_cidr },
};

const size_t config_n_keys = ARRAY_SIZE(config_keys);

void *config_key_field(struct config *cfg, const struct key *k)
{
	return (char *)cfg + k->off;
}

const void *config_key_cfield(const struct config *cfg, const struct key *k)
{
	return (const char *)cfg + k->off;
}

const struct key *config_key_find(const char *name)
{
	for (size_t i = 0; i < config_n_keys; i++)
		if (strcmp(config_keys[i].name, name) == 0)
			return &config_keys[i];
	return NULL;
}
