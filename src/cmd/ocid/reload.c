/* SIGHUP: reload the config files and report what changed. */
#include <stdio.h>
#include <string.h>

#include "cmd/ocid/ocid.h"
#include "cni/cni.h"
#include "image/image.h"

/* The "key = value" lines of a TOML rendering, "table.key" inside tables. */
static char **toml_pairs(const char *toml)
{
	char **out = NULL;
	cleanup(strv_free) char **lines = strv_split(toml, '\n');
	cleanup_free char *table = NULL;
	for (size_t i = 0; lines && lines[i]; i++) {
		const char *l = lines[i];
		if (l[0] == '[') {
			free(table);
			table = strndup(l + 1, strcspn(l + 1, "]"));
			continue;
		}
		const char *eq = strstr(l, " = ");
		if (l[0] == '#' || !eq)
			continue;
		strv_push_take(&out, xasprintf("%s%s%.*s\t%s", table ? table : "", table ? "." : "",
					       (int)(eq - l), l, eq + 3));
	}
	return out;
}

static const char *pair_value(char **pairs, const char *key, size_t klen)
{
	for (size_t i = 0; pairs && pairs[i]; i++)
		if (strncmp(pairs[i], key, klen) == 0 && pairs[i][klen] == '\t')
			return pairs[i] + klen + 1;
	return NULL;
}

/* A TOML basic string without its quotes, for the log (thread-local). */
static const char *unquote(const char *v)
{
	static __thread char buf[2][512];
	static __thread int n;
	size_t len = strlen(v);
	if (len < 2 || v[0] != '"' || v[len - 1] != '"')
		return v;
	char *b = buf[n++ % 2];
	snprintf(b, sizeof(buf[0]), "%.*s", (int)(len - 2), v + 1);
	return b;
}

/* "k=old->new k2=..." for every key whose rendering differs. */
static char *describe_changes(const struct config *old, const struct config *fresh)
{
	cleanup_free char *a = config_to_toml(old);
	cleanup_free char *b = config_to_toml(fresh);
	cleanup(strv_free) char **pa = toml_pairs(a);
	cleanup(strv_free) char **pb = toml_pairs(b);
	cleanup(strv_free) char **changes = NULL;
	for (size_t i = 0; pb && pb[i]; i++) {
		size_t klen = strcspn(pb[i], "\t");
		const char *nv = pb[i] + klen + 1;
		const char *ov = pair_value(pa, pb[i], klen);
		if (ov && strcmp(ov, nv) == 0)
			continue;
		cleanup_free char *change = xasprintf("%s->%s", ov ? unquote(ov) : "", unquote(nv));
		strv_push_take(&changes, xasprintf("%.*s=%s", (int)klen, pb[i], log_q(change)));
	}
	return changes ? strv_join(changes, " ") : NULL;
}

/* Settings that objects built at start-up copied (the socket, the worker
 * pool, the pod and container managers, CNI, storage): a reload cannot
 * change them, so they keep their running value -- also in /config, which
 * shows what is in effect -- until a restart. */
static const char *const restart_only[] = {
	"root",
	"runroot",
	"listen",
	"workers",
	"long_workers",
	"max_concurrent_pulls",
	"runtime",
	"exec_fifo_start",
	"layer_sync",
	"cgroup_parent",
	"shm_size",
	"pause_binary",
	"cni_config_dir",
	"cni_plugin_dir",
	"cni_default_bridge",
	"cni_default_subnet",
	"stream_address",
	"stream_port",
	"stream_idle_timeout",
	"stream_max_sessions",
	"stream_tls_cert",
	"stream_tls_key",
	"stream_tls_ca",
	"metrics_address",
	"metrics_port",
	"metrics_socket",
};

static void keep_startup_settings(struct config *fresh, const struct config *running)
{
	for (size_t i = 0; i < ARRAY_SIZE(restart_only); i++) {
		cleanup_free char *old = config_key_value(running, restart_only[i]);
		cleanup_free char *new = config_key_value(fresh, restart_only[i]);
		if (strcmp(old, new) == 0)
			continue;
		log_warn("setting changes only at restart, keeping the running value",
			 "key=%s running=%s new=%s", restart_only[i], log_q(unquote(old)),
			 log_q(unquote(new)));
		config_key_copy(fresh, running, restart_only[i]);
	}
}

enum oci_volumes_mode ocid_image_volumes(const struct config *cfg)
{
	return strcmp(cfg->image_volumes, "ignore") == 0 ? OCI_VOLUMES_IGNORE : OCI_VOLUMES_MKDIR;
}

void ocid_image_configure(struct image_service *images, const struct config *cfg)
{
	struct image_settings s = {
		.registries_conf = cfg->registries_conf,
		.policy = cfg->signature_policy,
		.policy_dir = cfg->signature_policy_dir,
		.registries_d = cfg->registries_d,
		.auth_file = cfg->global_auth_file,
		.pinned = cfg->pinned_images,
		.max_parallel = cfg->max_parallel_downloads,
		.progress_timeout_s = cfg->pull_progress_timeout_s,
	};
	image_service_configure(images, &s);
}

void ocid_reload(struct daemon *d)
{
	struct config fresh;
	cleanup_err struct err err = ERR_INIT;
	if (config_reload(&d->cfg, &fresh, &err) < 0) {
		log_error("reload failed, keeping the running configuration", "error=%s",
			  log_q(err_str(&err)));
		config_done(&fresh);
		return;
	}
	keep_startup_settings(&fresh, &d->cfg);
	cleanup_free char *changes = describe_changes(&d->cfg, &fresh);
	pthread_rwlock_wrlock(&d->cfg_lock);
	struct config old = d->cfg;
	d->cfg = fresh;
	pthread_rwlock_unlock(&d->cfg_lock);
	config_done(&old);
	/* Logged at warn, before the new level applies: a reload that raises
	 * the level (info -> warn) must not hide its own report. */
	if (changes)
		log_warn("configuration reloaded", "%s", changes);
	else
		log_info("configuration reloaded, nothing changed", NULL);
	/* Only this thread writes the config, so reading it unlocked is fine. */
	log_level_set(d->cfg.log_level);
	rpc_server_set_limits(d->srv, d->cfg.max_recv_msg_size, d->cfg.max_send_msg_size);
	ocid_image_configure(d->images, &d->cfg);
	if (d->ctrs)
		ctr_mgr_set_image_volumes(d->ctrs, ocid_image_volumes(&d->cfg));
	if (d->cni)
		cni_masq_recheck(d->cni);
	ocid_cri_configure(d);
}
