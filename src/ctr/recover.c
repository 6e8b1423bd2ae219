/* Recovery at start: every container of the database is loaded and
 * reconciled with the host (an exit that happened while ocid was down is
 * taken, a lost monitor handled); half-done creates (a row without a pid,
 * directories without a row) are rolled back. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/json.h"
#include "ctr/ctr_int.h"
#include "mon/mon.h"

/* A container whose row says it runs: pick up an exit that happened while
 * we were away; a monitor that is gone without an exit file means the
 * container is lost (host reboot, monitor killed). */
static void reconcile(struct ctr_mgr *m, struct ctr *c)
{
	cleanup_err struct err err = ERR_INIT;
	if (c->row.state == CTR_EXITED)
		return;
	if (ctr_watch_add(m, c->id, &err) < 0)
		log_warn("cannot watch container", "id=%s error=%s", c->id, log_q(err_str(&err)));
	if (ctr_exit_check(m, c))
		return;
	if (ctr_pid_is(c->row.pid, c->id)) {
		/* Running: watch its monitor, or handle one that died while
		 * we were away. */
		pid_t mon = 0;
		int r = mon_ctl_peer_pid(c->ctl_path, &mon, &err);
		if (r >= 0)
			r = ctr_monitor_watch(m, c->id, mon, &err);
		if (r == -ENOENT || r == -ECONNREFUSED || r == -ESRCH)
			ctr_monitor_lost(m, c, mon);
		else if (r < 0)
			log_warn("cannot watch the container's monitor", "id=%s error=%s", c->id,
				 log_q(err_str(&err)));
		else
			ctr_pause_recover(m, c); /* frozen before the restart: still frozen */
		return;
	}
	pthread_mutex_lock(&c->st);
	struct mon_exit e = { .exit_code = 255, .finished_ns = wall_ns() };
	ctr_exit_apply(c, &e);
	free(c->row.message);
	c->row.message = xstrdup("the container's process and monitor are gone");
	ctr_save_state(m, c);
	pthread_mutex_unlock(&c->st);
}

/* A row written by a create that never learnt its container's pid (ocid
 * died in between): undo it; its directories go with the orphans. */
static void rollback_row(struct ctr_mgr *m, struct db_ctr *row)
{
	log_info("rolling back a half-done container create", "id=%s", row->id);
	json_t *extra = NULL;
	cleanup_err struct err jerr = ERR_INIT;
	/* A record that does not parse: the manager's runtime deletes it. */
	if (row->extra &&
	    js_load("extra", row->extra, strlen(row->extra), SIZE_MAX, &extra, &jerr) < 0)
		log_warn("a container's record does not parse; its defaults are used",
			 "id=%s error=%s", row->id, log_q(err_str(&jerr)));
	struct ctr_rt *rt = ctr_rt_load(m, json_object_get(extra, "handler"));
	json_decref(extra);
	char *args[] = { "delete", "--force", row->id, NULL };
	(void)ctr_runtime_run(m, rt, args, NULL, 0, NULL);
	ctr_rt_free(rt);
	cleanup_err struct err err = ERR_INIT;
	if (db_ctr_delete(m->db, row->id, &err) < 0)
		log_error("cannot delete container record", "id=%s error=%s", row->id,
			  log_q(err_str(&err)));
	db_ctr_free(row);
}

static void load_one(struct ctr_mgr *m, struct db_ctr *row)
{
	if (row->state == CTR_CREATED && row->pid <= 0) {
		rollback_row(m, row);
		return;
	}
	struct ctr *c = ctr_new(row->id);
	free(c->row.id);
	c->row = *row;
	free(row);
	ctr_kv_parse(c->row.labels, &c->labels, &c->n_labels);
	ctr_kv_parse(c->row.annotations, &c->annotations, &c->n_annotations);
	json_t *extra = NULL;
	cleanup_err struct err jerr = ERR_INIT;
	if (c->row.extra &&
	    js_load("extra", c->row.extra, strlen(c->row.extra), SIZE_MAX, &extra, &jerr) < 0)
		log_warn("a container's record does not parse; its defaults are used",
			 "id=%s error=%s", c->id, log_q(err_str(&jerr)));
	json_int_t sig = json_integer_value(json_object_get(extra, "stop_signal"));
	c->stop_signal = sig > 0 ? (int)sig : SIGTERM;
	const char *cg = json_string_value(json_object_get(extra, "cgroups_path"));
	c->cgroups_path = xstrdup(cg ? cg : "");
	const char *rd = json_string_value(json_object_get(extra, "repo_digest"));
	c->repo_digest = rd ? xstrdup(rd) : NULL; /* none from before it was kept */
	c->user = json_incref(json_object_get(extra, "user"));
	c->tty = json_is_true(json_object_get(extra, "tty"));
	c->stdin_once = json_is_true(json_object_get(extra, "stdin_once"));
	c->rt = ctr_rt_load(m, json_object_get(extra, "handler"));
	json_decref(extra);
	c->upper_dir = ctr_path_root(m, c->id, "upper");
	c->attach_path = ctr_path_sock(m, c->id, "attach");
	c->ctl_path = ctr_path_sock(m, c->id, "ctl");
	c->visible = true;
	cleanup_err struct err err = ERR_INIT;
	if (ctr_index_add(&m->index, c, &err) < 0)
		log_error("cannot load container", "id=%s error=%s", c->id, log_q(err_str(&err)));
	else
		reconcile(m, c);
	ctr_unref(c);
}

/* Directories of containers that have no row: a create that never
 * finished. */
static void rollback_orphans(struct ctr_mgr *m, const char *base)
{
	cleanup_free char *dir = xasprintf("%s/containers", base);
	DIR *d = opendir(dir);
	if (!d)
		return;
	char **orphans = NULL;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!id_valid(de->d_name))
			continue;
		struct ctr *c = NULL;
		if (ctr_index_get(&m->index, de->d_name, &c, NULL) == 0)
			ctr_unref(c);
		else
			strv_push(&orphans, de->d_name);
	}
	closedir(d);
	for (size_t i = 0; orphans && orphans[i]; i++) {
		log_info("rolling back a half-done container create", "id=%s", orphans[i]);
		ctr_cleanup_dirs(m, orphans[i]);
	}
	strv_free(orphans);
}

int ctr_recover(struct ctr_mgr *m, struct err *err)
{
	struct db_ctr **rows = NULL;
	size_t n = 0;
	int r = db_ctr_list(m->db, &rows, &n, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		load_one(m, rows[i]);
	free(rows);
	rollback_orphans(m, m->root);
	rollback_orphans(m, m->runroot);
	return 0;
}
