/* The CRI adapter's settings from the config: hook and CDI directories and
 * the runtime handlers, each with the features its program reports
 * (`<program> features`, asked once at start and on each reload, not per
 * Status call).
 *
 * At start the programs are asked here, before the socket serves, so the
 * first Status already has their features. On a reload (SIGHUP, on the
 * loop thread) a program that hangs must not stall every RPC for its 10 s
 * timeout: a thread of its own asks them, from copies of what it needs, and
 * the loop swaps the new settings in when it is done. Until then the calls
 * keep the settings they had. A later reload wins over an earlier one still
 * asking: each reload has a generation, and only the newest applies. When
 * ocid stops, the programs still being asked are killed, not left behind. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "cmd/ocid/ocid.h"
#include "oci/oci.h"
#include "proc/proc.h"

/* How long a stop waits for a round to end once its program is killed. */
#define STOP_WAIT_MS 5000

/* What asking one handler's program needs, copied from the config. */
struct probe_rt {
	char *name, *path, *root;
	char **args, **env;
};

/* One round of asking: inputs copied on the loop thread, the features
 * written by the asking thread, read by the loop once `done` is set. */
struct probe_job {
	int refs; /* atomic: the asking thread and the loop */
	struct daemon *d;
	unsigned gen;
	int fds[2];		/* the thread closes fds[1] when done: fds[0] reads EOF */
	struct ctr_features mf; /* the container manager's, found at start */
	struct oci_host host;
	char *mgr_runtime, *runroot;
	struct probe_rt *rts;
	size_t n;
	struct ctr_features *features; /* [n] */
	struct proc_cancel *cancel;    /* fired at stop: the program is killed */
	bool done;		       /* atomic */
	struct probe_job *next;	       /* in d->probes while the loop waits for it */
};

static void job_unref(struct probe_job *j)
{
	if (!j || __atomic_sub_fetch(&j->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	for (size_t i = 0; i < j->n; i++) {
		free(j->rts[i].name);
		free(j->rts[i].path);
		free(j->rts[i].root);
		strv_free(j->rts[i].args);
		strv_free(j->rts[i].env);
	}
	free(j->rts);
	free(j->features);
	free(j->mgr_runtime);
	free(j->runroot);
	if (j->fds[0] >= 0)
		(void)close(j->fds[0]);
	if (j->fds[1] >= 0)
		(void)close(j->fds[1]);
	proc_cancel_free(j->cancel);
	free(j);
}

/* A job for d->cfg as it is now (loop thread). */
static struct probe_job *job_new(struct daemon *d)
{
	const struct config *cfg = &d->cfg;
	struct probe_job *j = xzalloc(sizeof(*j));
	j->refs = 1;
	j->d = d;
	j->gen = ++d->cri_gen;
	j->fds[0] = j->fds[1] = -1;
	if (d->ctrs)
		ctr_mgr_features(d->ctrs, &j->mf);
	cleanup_err struct err err = ERR_INIT;
	if (oci_host_probe(&j->host, &err) < 0)
		log_warn("cannot read the host's facts", "error=%s", log_q(err_str(&err)));
	j->mgr_runtime = xstrdup(cfg->runtime);
	j->runroot = xstrdup(cfg->runroot);
	j->n = cfg->n_runtimes;
	j->rts = xcalloc(j->n ? j->n : 1, sizeof(*j->rts));
	j->features = xcalloc(j->n ? j->n : 1, sizeof(*j->features));
	for (size_t i = 0; i < j->n; i++) {
		const struct config_runtime *rt = &cfg->runtimes[i];
		j->rts[i] = (struct probe_rt){ .name = xstrdup(rt->name),
					       .path = xstrdup(rt->path),
					       .root = xstrdup(rt->root ? rt->root : ""),
					       .args = strv_copy(rt->args),
					       .env = strv_copy(rt->monitor_env) };
	}
	return j;
}

/* What handler `rt` can do. The container manager's own program (no extra
 * flags) has what the manager found at start, kernel and host checks
 * included; another program is asked, and gets a feature only where the
 * kernel has what it needs: rro needs mount_setattr, and pods in user
 * namespaces need the host checks the manager made with its program. */
static bool is_mgr_program(const struct probe_job *j, const struct probe_rt *rt)
{
	return strcmp(rt->path, j->mgr_runtime) == 0 && !rt->args[0];
}

static struct ctr_features probe(const struct probe_job *j, const struct probe_rt *rt)
{
	if (is_mgr_program(j, rt))
		return j->mf;
	cleanup_free char *root = !str_empty(rt->root)
				      ? xstrdup(rt->root)
				      : xasprintf("%s/runtime-%s", j->runroot, rt->name);
	cleanup(strv_free) char **argv = NULL;
	strv_push(&argv, rt->path);
	strv_push(&argv, "--root");
	strv_push(&argv, root);
	for (size_t i = 0; rt->args[i]; i++)
		strv_push(&argv, rt->args[i]);
	strv_push(&argv, "features");
	cleanup(strv_free) char **env = NULL;
	strv_push(&env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	for (size_t i = 0; rt->env[i]; i++)
		strv_push(&env, rt->env[i]);
	struct proc_opts o = { .argv = argv,
			       .env = env,
			       .max_output = 1 << 20,
			       .timeout_ms = 10000,
			       .cancel = j->cancel };
	struct proc_result res = { 0 };
	struct oci_runtime_features f = { 0 };
	cleanup_err struct err err = ERR_INIT;
	int r = proc_run(&o, &res, &err);
	if (r >= 0 && res.status == 0)
		r = oci_runtime_features_parse(res.out, res.out_len, &f, &err);
	else if (r >= 0)
		r = err_msg(&err, -EOPNOTSUPP, "%s features: exit status %d", rt->path, res.status);
	proc_result_done(&res);
	if (r < 0) {
		/* A program without the command has none of the features. */
		log_info("runtime handler's features unknown", "handler=%s path=%s error=%s",
			 rt->name, log_q(rt->path), log_q(err_str(&err)));
		return (struct ctr_features){ 0 };
	}
	struct ctr_features out = {
		.recursive_read_only = f.rro && j->host.mount_setattr,
		.user_namespaces = f.userns && j->mf.user_namespaces,
	};
	log_info("runtime handler's features", "handler=%s rro=%d userns=%d", rt->name,
		 out.recursive_read_only, out.user_namespaces);
	return out;
}

static void probe_all(struct probe_job *j)
{
	for (size_t i = 0; i < j->n; i++)
		j->features[i] = probe(j, &j->rts[i]);
	__atomic_store_n(&j->done, true, __ATOMIC_RELEASE);
}

/* Give the CRI adapter d->cfg's settings with the features `j` found
 * (loop thread; d->cfg is the config `j` was made from). */
static void apply(struct daemon *d, const struct probe_job *j)
{
	const struct config *cfg = &d->cfg;
	struct cri_handler *hs = xcalloc(cfg->n_runtimes ? cfg->n_runtimes : 1, sizeof(*hs));
	for (size_t i = 0; i < cfg->n_runtimes; i++) {
		const struct config_runtime *rt = &cfg->runtimes[i];
		hs[i] = (struct cri_handler){
			.h = { .name = rt->name,
			       .path = rt->path,
			       .root = rt->root,
			       .args = rt->args,
			       .monitor_env = rt->monitor_env,
			       .no_pivot_root = rt->no_pivot_root,
			       .exec_fifo_start = rt->exec_fifo_start },
			.allowed_annotations = rt->allowed_annotations,
			.privileged_without_host_devices = rt->privileged_without_host_devices,
			.features = i < j->n ? j->features[i] : (struct ctr_features){ 0 },
		};
	}
	struct cri_settings s = {
		.hooks_dirs = cfg->hooks_dirs,
		.cdi_dirs = cfg->cdi_spec_dirs,
		.default_handler = cfg->default_runtime,
		.handlers = hs,
		.n_handlers = cfg->n_runtimes,
	};
	cri_configure(&d->cri, &s);
	free(hs);
}

static void *probe_main(void *data)
{
	struct probe_job *j = data;
	probe_all(j);
	/* EOF on fds[0] tells the loop; the loop alone touches the daemon. */
	int fd = j->fds[1];
	j->fds[1] = -1;
	(void)close(fd);
	job_unref(j);
	return NULL;
}

/* Take j off d->probes (loop thread). */
static void unlist(struct probe_job *j)
{
	for (struct probe_job **p = &j->d->probes; *p; p = &(*p)->next)
		if (*p == j) {
			*p = j->next;
			break;
		}
}

static void probe_done(struct ev_loop *loop, int fd, uint32_t events, void *data)
{
	struct probe_job *j = data;
	ev_fd_del(loop, fd);
	unlist(j);
	if (!__atomic_load_n(&j->done, __ATOMIC_ACQUIRE)) {
		/* Cannot be: fds[1] is closed only after the features are in. */
		log_error("runtime handler probe ended without an answer", NULL);
	} else if (j->gen != j->d->cri_gen) {
		log_info("runtime handler features of an earlier reload dropped", "generation=%u",
			 j->gen);
	} else {
		apply(j->d, j);
		log_info("runtime handlers configured", "generation=%u handlers=%zu", j->gen, j->n);
	}
	job_unref(j);
}

/* Ask on a thread of its own; the loop applies what it found. -errno when
 * no thread could be started. */
static int probe_async(struct probe_job *j, struct err *err)
{
	int r = proc_cancel_new(&j->cancel, err);
	if (r < 0)
		return r;
	if (pipe2(j->fds, O_CLOEXEC) < 0)
		return err_set(err, -errno, "pipe2");
	r = ev_fd_add(j->d->loop, j->fds[0], EPOLLIN, probe_done, j, err);
	if (r < 0)
		return r;
	j->refs++; /* the thread's */
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_t t;
	r = pthread_create(&t, &attr, probe_main, j);
	pthread_attr_destroy(&attr);
	if (r != 0) {
		j->refs--;
		ev_fd_del(j->d->loop, j->fds[0]);
		return err_set(err, -r, "pthread_create");
	}
	j->next = j->d->probes;
	j->d->probes = j;
	return 0;
}

/* Whether some handler's program has to be run to know its features. */
static bool runs_programs(const struct probe_job *j)
{
	for (size_t i = 0; i < j->n; i++)
		if (!is_mgr_program(j, &j->rts[i]))
			return true;
	return false;
}

void ocid_cri_configure(struct daemon *d)
{
	struct probe_job *j = job_new(d);
	/* At start nothing serves yet and the first Status must know the
	 * features: ask here. So too when no program has to be run. */
	if (d->cri.conf && d->loop && runs_programs(j)) {
		cleanup_err struct err err = ERR_INIT;
		if (probe_async(j, &err) == 0)
			return;
		log_warn("cannot ask the runtime handlers apart, asking on the loop thread",
			 "error=%s", log_q(err_str(&err)));
	}
	probe_all(j);
	apply(d, j);
	job_unref(j);
}

void ocid_cri_cancel(struct daemon *d)
{
	for (struct probe_job *j = d->probes; j; j = j->next)
		proc_cancel_fire(j->cancel);
	/* The thread closes fds[1] once its run has ended: the program is
	 * killed and reaped by then. One deadline for all rounds. */
	uint64_t end = mono_ms() + STOP_WAIT_MS;
	for (struct probe_job *j = d->probes; j; j = j->next) {
		struct pollfd p = { .fd = j->fds[0], .events = POLLIN };
		for (uint64_t now = mono_ms(); now < end; now = mono_ms())
			if (poll(&p, 1, (int)(end - now)) >= 0 || errno != EINTR)
				break;
	}
}

void ocid_cri_stop(struct daemon *d)
{
	while (d->probes) {
		struct probe_job *j = d->probes;
		d->probes = j->next;
		if (d->loop)
			ev_fd_del(d->loop, j->fds[0]);
		job_unref(j);
	}
}
