/* Lifecycle operations on existing containers: start, stop, remove,
 * status, list, update, reopen log, exec, and the pod-wide stop/remove. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/fs.h"
#include "ctr/ctr_int.h"
#include "ev/ev.h"
#include "mon/mon.h"
#include "proc/proc.h"

#define STOP_KILL_WAIT_MS 10000
#define START_TIMEOUT_MS 120000u

static enum ctr_state state_of(struct ctr *c)
{
	pthread_mutex_lock(&c->st);
	enum ctr_state s = (enum ctr_state)c->row.state;
	pthread_mutex_unlock(&c->st);
	return s;
}

int ctr_start(struct ctr_mgr *m, const char *id, uint64_t deadline_ns, struct err *err)
{
	struct ctr *c = NULL;
	int r = ctr_index_get(&m->index, id, &c, err);
	if (r < 0)
		return r;
	pthread_mutex_lock(&c->op);
	enum ctr_state s = state_of(c);
	if (s != CTR_CREATED) {
		r = err_msg(err, -EINVAL, "container %s is %s, not CREATED", c->id,
			    ctr_state_name(s));
		goto out;
	}
	pthread_mutex_lock(&c->st);
	pid_t pid = c->row.pid;
	pthread_mutex_unlock(&c->st);
	uint64_t t0 = ev_now_ns();
	r = ctr_runtime_start(m, c->rt, c->id, pid,
			      ctr_deadline_budget_ms(deadline_ns, START_TIMEOUT_MS), err);
	if (r < 0)
		goto out;
	uint64_t t1 = ev_now_ns();
	pthread_mutex_lock(&c->st);
	c->row.started_ns = wall_ns();
	if (ctr_state_can((enum ctr_state)c->row.state, CTR_RUNNING) && c->row.state == CTR_CREATED)
		c->row.state = CTR_RUNNING;
	ctr_save_state(m, c);
	pthread_cond_broadcast(&c->changed);
	pthread_mutex_unlock(&c->st);
	log_info("container started", "id=%s", c->id);
	log_debug("container start steps", "id=%s runtime_us=%llu state_us=%llu", c->id,
		  (unsigned long long)(t1 - t0) / 1000,
		  (unsigned long long)(ev_now_ns() - t1) / 1000);
	ctr_bus_publish(&m->bus, CTR_EVENT_STARTED, c->id, c->row.pod_id);
	(void)ctr_exit_check(m, c);
out:
	pthread_mutex_unlock(&c->op);
	ctr_unref(c);
	return r;
}

/* Wait until the exit file was seen (the watcher or we ourselves). */
static int wait_exited(struct ctr_mgr *m, struct ctr *c, uint64_t ms)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)(ms / 1000) + 1;
	for (;;) {
		if (ctr_exit_check(m, c))
			return 0;
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		if (now.tv_sec > until.tv_sec)
			return -ETIMEDOUT;
		struct timespec step = now;
		step.tv_nsec += 100000000L;
		if (step.tv_nsec >= 1000000000L) {
			step.tv_sec++;
			step.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&c->st);
		if (c->row.state != CTR_EXITED)
			(void)pthread_cond_timedwait(&c->changed, &c->st, &step);
		pthread_mutex_unlock(&c->st);
	}
}

/* Send `sig` to the container and wait up to `ms` for `pid` to go. runsc's
 * pid is its sandbox's: the container's process takes signals through
 * `runsc kill` (the sandbox then exits with its status). */
static int kill_wait(struct ctr_mgr *m, struct ctr *c, pid_t pid, int sig, uint64_t ms)
{
	if (!ctr_rt_sandboxed(c->rt))
		return proc_kill_wait(pid, sig, ms);
	char num[16];
	snprintf(num, sizeof(num), "%d", sig);
	char *args[] = { "kill", c->id, num, NULL };
	cleanup_err struct err err = ERR_INIT;
	if (ctr_runtime_run(m, c->rt, args, NULL, 0, &err) < 0)
		log_warn("runtime kill failed", "id=%s error=%s", c->id, log_q(err_str(&err)));
	return proc_kill_wait(pid, 0, ms);
}

/* Caller holds c->op. */
static int stop_locked(struct ctr_mgr *m, struct ctr *c, int64_t timeout_s, struct err *err)
{
	pthread_mutex_lock(&c->st);
	enum ctr_state s = (enum ctr_state)c->row.state;
	pid_t pid = c->row.pid;
	pthread_mutex_unlock(&c->st);
	if (s == CTR_EXITED || ctr_exit_check(m, c))
		return 0;
	if (pid <= 0)
		return err_msg(err, -EIO, "container %s has no process to stop", c->id);
	if (!ctr_pid_is(pid, c->id)) {
		/* Gone: its monitor is about to write the exit file, or died
		 * too. Never signal whatever process got its pid since. */
		if (wait_exited(m, c, 1000) == 0)
			return 0;
		pthread_mutex_lock(&c->st);
		c->row.state = CTR_EXITED;
		c->row.exit_code = 255;
		c->row.finished_ns = wall_ns();
		free(c->row.reason);
		c->row.reason = xstrdup("Error");
		ctr_save_state(m, c);
		pthread_cond_broadcast(&c->changed);
		pthread_mutex_unlock(&c->st);
		ctr_bus_publish(&m->bus, CTR_EVENT_STOPPED, c->id, c->row.pod_id);
		return 0;
	}
	int r = ctr_pause_undo(m, c, err);
	if (r < 0)
		return r;
	r = -ETIMEDOUT;
	/* A created container's process is the runtime's init waiting to exec:
	 * nothing there handles a polite signal. */
	if (timeout_s > 0 && s == CTR_RUNNING) {
		char sig[OCI_SIGNAL_NAME_MAX];
		log_info("stopping container", "id=%s signal=%s timeout=%llds", c->id,
			 oci_signal_name(c->stop_signal, sig), (long long)timeout_s);
		/* Right after start the program may not handle the signal yet:
		 * as its namespace's init it would lose it. */
		uint64_t grace = (uint64_t)timeout_s * 1000, t0 = ev_now_ns();
		r = proc_signal_wait_deliverable(pid, c->stop_signal, grace);
		uint64_t spent = (ev_now_ns() - t0) / 1000000;
		if (r == 0)
			r = kill_wait(m, c, pid, c->stop_signal, spent < grace ? grace - spent : 0);
	}
	if (r == -ETIMEDOUT)
		r = kill_wait(m, c, pid, SIGKILL, STOP_KILL_WAIT_MS);
	if (r < 0)
		return err_msg(err, r, "container %s (pid %d) did not die", c->id, (int)pid);
	/* The process is gone; ocimon writes the exit file right after. */
	if (wait_exited(m, c, STOP_KILL_WAIT_MS) < 0)
		return err_msg(err, -ETIMEDOUT, "container %s: its monitor reported no exit",
			       c->id);
	return 0;
}

int ctr_stop(struct ctr_mgr *m, const char *id, int64_t timeout_s, struct err *err)
{
	struct ctr *c = NULL;
	cleanup_err struct err e = ERR_INIT;
	int r = ctr_index_get(&m->index, id, &c, &e);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return err_move(err, &e);
	pthread_mutex_lock(&c->op);
	r = c->removed ? 0 : stop_locked(m, c, timeout_s, err);
	pthread_mutex_unlock(&c->op);
	ctr_unref(c);
	return r;
}

/* A poststop hook in the bundle's config.json (a plain search: a false
 * match only keeps the rootfs until the runtime's delete is done). */
static bool has_poststop_hooks(const char *spec_path)
{
	cleanup_free char *text = NULL;
	size_t len = 0;
	if (str_empty(spec_path) ||
	    fs_read_file(AT_FDCWD, spec_path, 16u << 20, &text, &len, NULL) < 0)
		return true;
	return strstr(text, "\"poststop\"") != NULL;
}

struct rootfs_job {
	struct ctr_mgr *m;
	const char *id;
	pthread_t thread;
};

static void *rootfs_job_run(void *arg)
{
	struct rootfs_job *j = arg;
	ctr_cleanup_rootfs(j->m, j->id);
	return NULL;
}

static int remove_locked(struct ctr_mgr *m, struct ctr *c, struct err *err)
{
	if (c->removed)
		return 0;
	int r = stop_locked(m, c, 0, err);
	if (r < 0)
		return err_wrap(err, "remove");
	uint64_t t0 = ev_now_ns();
	/* The rootfs goes while the runtime deletes its state, unless a
	 * poststop hook (which the runtime's delete runs) may still look at it. */
	struct rootfs_job job = { .m = m, .id = c->id };
	bool overlap = !has_poststop_hooks(c->row.spec_path) &&
		       pthread_create(&job.thread, NULL, rootfs_job_run, &job) == 0;
	char *args[] = { "delete", "--force", c->id, NULL };
	cleanup_err struct err derr = ERR_INIT;
	if (ctr_runtime_run(m, c->rt, args, NULL, 0, &derr) < 0 &&
	    !strstr(err_str(&derr), "not exist"))
		log_warn("runtime delete failed", "id=%s error=%s", c->id, log_q(err_str(&derr)));
	uint64_t t1 = ev_now_ns();
	ctr_watch_remove(m, c->id);
	if (overlap)
		(void)pthread_join(job.thread, NULL);
	else
		ctr_cleanup_rootfs(m, c->id);
	ctr_cleanup_run(m, c->id);
	if (m->stats)
		stats_forget(m->stats, c->id);
	uint64_t t2 = ev_now_ns();
	r = db_ctr_delete(m->db, c->id, err);
	if (r < 0)
		return r;
	log_debug("container remove steps", "id=%s runtime_us=%llu dirs_us=%llu db_us=%llu", c->id,
		  (unsigned long long)(t1 - t0) / 1000, (unsigned long long)(t2 - t1) / 1000,
		  (unsigned long long)(ev_now_ns() - t2) / 1000);
	pthread_mutex_lock(&c->st);
	c->removed = true;
	pthread_mutex_unlock(&c->st);
	ctr_index_remove(&m->index, c);
	log_info("container removed", "id=%s", c->id);
	ctr_bus_publish(&m->bus, CTR_EVENT_DELETED, c->id, c->row.pod_id);
	return 0;
}

int ctr_remove(struct ctr_mgr *m, const char *id, struct err *err)
{
	struct ctr *c = NULL;
	cleanup_err struct err e = ERR_INIT;
	int r = ctr_index_get(&m->index, id, &c, &e);
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		err_move(err, &e);
		return r;
	}
	pthread_mutex_lock(&c->op);
	r = remove_locked(m, c, err);
	pthread_mutex_unlock(&c->op);
	ctr_unref(c);
	return r;
}

int ctr_status(struct ctr_mgr *m, const char *id, struct ctr_info **ret, struct err *err)
{
	struct ctr *c = NULL;
	int r = ctr_index_get(&m->index, id, &c, err);
	if (r < 0)
		return r;
	pthread_mutex_lock(&c->st);
	struct ctr_info *i = ctr_snapshot(c, true);
	cleanup_free char *cfg = c->row.config ? xstrdup(c->row.config) : NULL;
	pthread_mutex_unlock(&c->st);
	if (cfg && (r = ctr_status_cfg_parse(cfg, strlen(cfg), &i->cfg, err)) < 0) {
		r = err_msg(err, -EIO, "container %s: its stored config: %s", c->id, err_str(err));
		ctr_info_free(i);
		i = NULL;
	}
	ctr_unref(c);
	*ret = i;
	return r < 0 ? r : 0;
}

int ctr_list(struct ctr_mgr *m, const struct ctr_filter *f, struct ctr_info ***ret, size_t *ret_n,
	     struct err *err)
{
	size_t n = 0, k = 0;
	struct ctr **all = ctr_index_all(&m->index, &n);
	struct ctr_info **out = xcalloc(n ? n : 1, sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		pthread_mutex_lock(&all[i]->st);
		if (ctr_matches(all[i], f))
			out[k++] = ctr_snapshot(all[i], false);
		pthread_mutex_unlock(&all[i]->st);
	}
	ctr_refs_free(all, n);
	*ret = out;
	*ret_n = k;
	return 0;
}

static int need_live(struct ctr *c, struct err *err)
{
	enum ctr_state s = state_of(c);
	if (s == CTR_RUNNING || s == CTR_CREATED)
		return 0;
	return err_msg(err, -EINVAL, "container %s is %s", c->id, ctr_state_name(s));
}

/* The status config after an update to `res`: the stored one's mounts
 * with `res`. JSON, malloc'd. Under c->op. */
static int updated_cfg(struct ctr *c, const struct oci_resources *res, char **ret, struct err *err)
{
	pthread_mutex_lock(&c->st);
	cleanup_free char *text = c->row.config ? xstrdup(c->row.config) : NULL;
	pthread_mutex_unlock(&c->st);
	struct ctr_status_cfg cfg = { 0 };
	if (text && ctr_status_cfg_parse(text, strlen(text), &cfg, err) < 0) {
		ctr_status_cfg_done(&cfg);
		return err_msg(err, -EIO, "container %s: its stored config: %s", c->id,
			       err_str(err));
	}
	struct ctr_status_cfg out = cfg;
	out.has_resources = true;
	out.resources = *res;
	*ret = ctr_status_cfg_to_json(&out);
	ctr_status_cfg_done(&cfg);
	return 0;
}

int ctr_update_resources(struct ctr_mgr *m, const char *id, const struct oci_resources *res,
			 struct err *err)
{
	struct ctr *c = NULL;
	int r = ctr_index_get(&m->index, id, &c, err);
	if (r < 0)
		return r;
	pthread_mutex_lock(&c->op);
	r = need_live(c, err);
	json_t *j = NULL;
	if (r >= 0)
		r = oci_resources_build(res, &m->host, &j, err);
	cleanup_free char *cfg = NULL;
	if (r >= 0)
		r = updated_cfg(c, res, &cfg, err);
	if (r >= 0) {
		cleanup_free char *doc = js_dump(j, 0);
		char *args[] = { "update", "--resources", "-", c->id, NULL };
		r = ctr_runtime_run(m, c->rt, args, doc, strlen(doc), err);
	}
	json_decref(j);
	if (r >= 0)
		r = db_ctr_put_config(m->db, c->id, cfg, err);
	if (r >= 0) {
		pthread_mutex_lock(&c->st);
		free(c->row.config);
		c->row.config = TAKE_PTR(cfg);
		pthread_mutex_unlock(&c->st);
	}
	pthread_mutex_unlock(&c->op);
	ctr_unref(c);
	return r;
}

int ctr_reopen_log(struct ctr_mgr *m, const char *id, struct err *err)
{
	struct ctr *c = NULL;
	int r = ctr_index_get(&m->index, id, &c, err);
	if (r < 0)
		return r;
	r = state_of(c) == CTR_RUNNING
		? 0
		: err_msg(err, -EINVAL, "container %s is not running", c->id);
	if (r >= 0) {
		cleanup_free char *ctl = ctr_path_sock(m, c->id, "ctl");
		r = mon_reopen_log(ctl, err);
	}
	ctr_unref(c);
	return r;
}

void ctr_exec_result_done(struct ctr_exec_result *r)
{
	if (!r)
		return;
	free(r->out);
	free(r->errout);
	memset(r, 0, sizeof(*r));
}

#define EXEC_BACKSTOP_MS 5000u

/* The ExecSync timeout. The exec'd process is killed while `runc exec`
 * still waits for it, so runc reaps it: killed after runc, it would be
 * reparented to the container's init, which may never reap it. */
struct exec_watch {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	const struct ctr_exec_target *target;
	uint64_t timeout_ms;
	bool done, fired;
};

static void *exec_watch_main(void *arg)
{
	struct exec_watch *w = arg;
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += (time_t)(w->timeout_ms / 1000);
	until.tv_nsec += (long)(w->timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&w->mu);
	while (!w->done && pthread_cond_timedwait(&w->cv, &w->mu, &until) != ETIMEDOUT)
		;
	bool fire = !w->done;
	w->fired = fire;
	pthread_mutex_unlock(&w->mu);
	if (fire)
		ctr_exec_target_kill(w->target);
	return NULL;
}

/* Both streams together within CTR_EXEC_OUTPUT_MAX, keeping the start of
 * each (what kubelet's probes read): a stream under half the bound keeps
 * all of it, the other gets the rest. */
static void exec_output_fit(struct proc_result *res, const char *id)
{
	size_t out = res->out_len, errl = res->err_len, max = CTR_EXEC_OUTPUT_MAX;
	if (out + errl <= max && !res->truncated)
		return;
	if (out + errl > max) {
		if (out <= max / 2)
			errl = max - out;
		else if (errl <= max / 2)
			out = max - errl;
		else {
			out = max / 2;
			errl = max - out;
		}
	}
	log_info("exec output truncated", "id=%s stdout=%zu stderr=%zu", id, out, errl);
	res->out_len = out;
	res->out[out] = '\0';
	res->err_len = errl;
	res->errout[errl] = '\0';
}

/* proc_run with a watcher that ends the command at timeout_s (> 0) inside
 * the container; *ret_fired says whether it did. */
static int run_watched(const struct proc_opts *o, const struct ctr_exec_target *t,
		       int64_t timeout_s, struct proc_result *res, bool *ret_fired, struct err *err)
{
	struct exec_watch w = { .target = t, .timeout_ms = (uint64_t)timeout_s * 1000 };
	pthread_mutex_init(&w.mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* the deadline is monotonic */
	pthread_cond_init(&w.cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_t watcher;
	bool watching = timeout_s > 0 && pthread_create(&watcher, NULL, exec_watch_main, &w) == 0;
	int r = proc_run(o, res, err);
	if (watching) {
		pthread_mutex_lock(&w.mu);
		w.done = true;
		pthread_cond_signal(&w.cv);
		pthread_mutex_unlock(&w.mu);
		pthread_join(watcher, NULL);
	}
	pthread_cond_destroy(&w.cv);
	pthread_mutex_destroy(&w.mu);
	*ret_fired = w.fired;
	return r;
}

int ctr_exec_sync(struct ctr_mgr *m, const char *id, char *const *cmd, int64_t timeout_s,
		  struct ctr_exec_result *ret, struct err *err)
{
	memset(ret, 0, sizeof(*ret));
	if (!cmd || !cmd[0])
		return err_msg(err, -EINVAL, "exec: no command given");
	struct ctr *c = NULL;
	int r = ctr_index_get(&m->index, id, &c, err);
	if (r < 0)
		return r;
	if (state_of(c) != CTR_RUNNING) {
		r = err_msg(err, -EINVAL, "container %s is not running", c->id);
		ctr_unref(c);
		return r;
	}
	struct ctr_exec_target *t = ctr_exec_target_new(m, c);
	char **argv = NULL;
	ctr_rt_argv(c->rt, &argv);
	strv_push(&argv, "exec");
	ctr_exec_target_args(t, &argv);
	strv_push(&argv, c->id);
	for (size_t i = 0; cmd[i]; i++)
		strv_push(&argv, cmd[i]);
	cleanup(strv_free) char **env = ctr_rt_env(c->rt);
	/* proc_run's own timeout is only a backstop should runc hang. */
	struct proc_opts o = {
		.argv = argv,
		.env = env,
		.max_output = CTR_EXEC_OUTPUT_MAX,
		.timeout_ms = timeout_s > 0 ? (uint64_t)timeout_s * 1000 + EXEC_BACKSTOP_MS : 0,
	};
	struct proc_result res = { 0 };
	bool fired = false;
	r = run_watched(&o, t, timeout_s, &res, &fired, err);
	if (r == -ETIMEDOUT || fired) {
		ctr_exec_target_kill(t);
		err_done(err);
		r = err_msg(err, -ETIMEDOUT, "command timed out after %llds", (long long)timeout_s);
	}
	if (r >= 0) {
		exec_output_fit(&res, c->id);
		ret->exit_code = res.status >= 0 ? res.status : 128 - res.status;
		ret->out = TAKE_PTR(res.out);
		ret->out_len = res.out_len;
		ret->errout = TAKE_PTR(res.errout);
		ret->err_len = res.err_len;
	}
	ctr_exec_target_free(t);
	proc_result_done(&res);
	strv_free(argv);
	ctr_unref(c);
	return r;
}

static int pod_each(struct ctr_mgr *m, const char *pod_id, bool remove, struct err *err)
{
	size_t n = 0;
	struct ctr **all = ctr_index_all(&m->index, &n);
	int r = 0;
	for (size_t i = 0; i < n && r >= 0; i++) {
		struct ctr *c = all[i];
		if (!c->visible || strcmp(c->row.pod_id, pod_id) != 0)
			continue;
		pthread_mutex_lock(&c->op);
		r = remove ? remove_locked(m, c, err)
			   : (c->removed ? 0 : stop_locked(m, c, 0, err));
		pthread_mutex_unlock(&c->op);
	}
	ctr_refs_free(all, n);
	return r;
}

int ctr_pod_stop(struct ctr_mgr *m, const char *pod_id, struct err *err)
{
	return pod_each(m, pod_id, false, err);
}

int ctr_pod_remove(struct ctr_mgr *m, const char *pod_id, struct err *err)
{
	return pod_each(m, pod_id, true, err);
}

int ctr_verbose_info(struct ctr_mgr *m, const struct ctr_info *i, char **ret, struct err *err)
{
	json_t *o = json_pack("{s:s,s:i,s:s,s:s}", "sandboxID", i->pod_id, "pid", (int)i->pid,
			      "name", i->name, "cgroupsPath", i->cgroups_path);
	char *text = NULL;
	size_t len = 0;
	json_t *spec = NULL;
	if (fs_read_file(AT_FDCWD, i->spec_path, 4u << 20, &text, &len, NULL) >= 0 &&
	    js_load(i->spec_path, text, len, 4u << 20, &spec, NULL) >= 0)
		json_object_set_new(o, "runtimeSpec", spec);
	free(text);
	*ret = js_dump(o, 0);
	json_decref(o);
	return 0;
}
