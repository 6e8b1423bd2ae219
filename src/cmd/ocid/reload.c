/* SIGHUP: reload the config files and report what changed. */
#include <stdio.h>
#include <string.h>

#include "cmd/ocid/ocid.h"

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

/* Settings bound at start-up keep their running value until a restart. */
static void keep_startup_settings(struct config *fresh, struct config *running)
{
	char **fields[][2] = {
		{ &fresh->root, &running->root },
		{ &fresh->runroot, &running->runroot },
		{ &fresh->listen, &running->listen },
	};
	static const char *const names[] = { "root", "runroot", "listen" };
	for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
		if (strcmp(*fields[i][0], *fields[i][1]) != 0)
			log_warn("setting changes only at restart", "key=%s old=%s new=%s",
				 names[i], log_q(*fields[i][1]), log_q(*fields[i][0]));
		char *t = *fields[i][0];
		*fields[i][0] = *fields[i][1];
		*fields[i][1] = t;
	}
	if (fresh->workers != running->workers)
		log_warn("setting changes only at restart", "key=workers old=%u new=%u",
			 running->workers, fresh->workers);
	fresh->workers = running->workers;
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
	/* Only this thread writes the config, so reading it unlocked is fine. */
	log_level_set(d->cfg.log_level);
	rpc_server_set_limits(d->srv, d->cfg.max_recv_msg_size, d->cfg.max_send_msg_size);
	if (changes)
		log_info("configuration reloaded", "%s", changes);
	else
		log_info("configuration reloaded, nothing changed", NULL);
}
