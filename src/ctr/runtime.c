/* OCI runtime CLI calls (runc and compatible), signal names, the resources
 * document of `<runtime> update`. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ctr/ctr_int.h"
#include "ev/ev.h"
#include "proc/proc.h"

#define RUNTIME_TIMEOUT_MS 120000
#define EXEC_WAIT_MS 5000

unsigned ctr_deadline_budget_ms(uint64_t deadline_ns, unsigned dflt_ms)
{
	if (!deadline_ns)
		return dflt_ms;
	uint64_t now = ev_now_ns();
	uint64_t left = deadline_ns > now ? (deadline_ns - now) / 1000000 : 0;
	/* Keep a quarter (at most a second) to undo what was made and answer. */
	uint64_t keep = left / 4 < 1000 ? left / 4 : 1000;
	uint64_t ms = left - keep;
	return ms < 1 ? 1 : ms < dflt_ms ? (unsigned)ms : dflt_ms;
}

struct ctr_rt *ctr_rt_new(const struct ctr_mgr *m, const struct ctr_handler *h)
{
	struct ctr_rt *rt = xzalloc(sizeof(*rt));
	if (!h) {
		const char *slash = strrchr(m->runtime, '/');
		rt->name = xstrdup(slash ? slash + 1 : m->runtime);
		rt->path = xstrdup(m->runtime);
		rt->root = xstrdup(m->runtime_root);
		rt->exec_fifo = m->exec_fifo_start;
		return rt;
	}
	rt->name = xstrdup(h->name ? h->name : "");
	rt->path = xstrdup(h->path);
	/* Without a root of its own, the manager's program shares the
	 * manager's root (container ids are unique); another program gets one
	 * of its own. */
	rt->root = !str_empty(h->root) ? xstrdup(h->root)
		   : strcmp(h->path, m->runtime) == 0
		       ? xstrdup(m->runtime_root)
		       : xasprintf("%s/runtime-%s", m->runroot, rt->name);
	for (size_t i = 0; h->args && h->args[i]; i++)
		strv_push(&rt->args, h->args[i]);
	for (size_t i = 0; h->monitor_env && h->monitor_env[i]; i++)
		strv_push(&rt->env, h->monitor_env[i]);
	rt->no_pivot = h->no_pivot_root;
	rt->exec_fifo = h->exec_fifo_start;
	return rt;
}

void ctr_rt_free(struct ctr_rt *rt)
{
	if (!rt)
		return;
	free(rt->name);
	free(rt->path);
	free(rt->root);
	strv_free(rt->args);
	strv_free(rt->env);
	free(rt);
}

static json_t *strv_json(char *const *v)
{
	json_t *a = json_array();
	for (size_t i = 0; v && v[i]; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

json_t *ctr_rt_json(const struct ctr_rt *rt)
{
	return json_pack("{s:s, s:s, s:s, s:o, s:o, s:b, s:b}", "name", rt->name, "path", rt->path,
			 "root", rt->root, "args", strv_json(rt->args), "env", strv_json(rt->env),
			 "no_pivot", rt->no_pivot, "exec_fifo", rt->exec_fifo);
}

static char **json_strv(const json_t *a)
{
	char **v = NULL;
	size_t i;
	json_t *e;
	json_array_foreach(a, i, e) if (json_is_string(e)) strv_push(&v, json_string_value(e));
	return v;
}

struct ctr_rt *ctr_rt_load(const struct ctr_mgr *m, const json_t *j)
{
	const char *path = json_string_value(json_object_get(j, "path"));
	const char *root = json_string_value(json_object_get(j, "root"));
	if (str_empty(path) || str_empty(root))
		return ctr_rt_new(m, NULL);
	struct ctr_rt *rt = xzalloc(sizeof(*rt));
	const char *name = json_string_value(json_object_get(j, "name"));
	rt->name = xstrdup(name ? name : "");
	rt->path = xstrdup(path);
	rt->root = xstrdup(root);
	rt->args = json_strv(json_object_get(j, "args"));
	rt->env = json_strv(json_object_get(j, "env"));
	rt->no_pivot = json_is_true(json_object_get(j, "no_pivot"));
	rt->exec_fifo = json_is_true(json_object_get(j, "exec_fifo"));
	return rt;
}

bool ctr_rt_sandboxed(const struct ctr_rt *rt)
{
	const char *slash = strrchr(rt->path, '/');
	return strncmp(slash ? slash + 1 : rt->path, "runsc", 5) == 0;
}

void ctr_rt_argv(const struct ctr_rt *rt, char ***argv)
{
	strv_push(argv, rt->path);
	strv_push(argv, "--root");
	strv_push(argv, rt->root);
	for (size_t i = 0; rt->args && rt->args[i]; i++)
		strv_push(argv, rt->args[i]);
}

char **ctr_rt_env(const struct ctr_rt *rt)
{
	char **env = NULL;
	strv_push(&env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	for (size_t i = 0; rt->env && rt->env[i]; i++)
		strv_push(&env, rt->env[i]);
	return env;
}

int ctr_runtime_run(const struct ctr_mgr *m, const struct ctr_rt *rt, char *const *args,
		    const char *input, size_t input_len, struct err *err)
{
	return ctr_runtime_run_for(m, rt, args, input, input_len, RUNTIME_TIMEOUT_MS, err);
}

int ctr_runtime_run_for(const struct ctr_mgr *m, const struct ctr_rt *rt, char *const *args,
			const char *input, size_t input_len, unsigned timeout_ms, struct err *err)
{
	return ctr_runtime_output(m, rt, args, input, input_len, timeout_ms, NULL, err);
}

int ctr_runtime_output(const struct ctr_mgr *m, const struct ctr_rt *rt, char *const *args,
		       const char *input, size_t input_len, unsigned timeout_ms, char **ret_out,
		       struct err *err)
{
	char **argv = NULL;
	ctr_rt_argv(rt, &argv);
	if (strcmp(m->cgroup_driver, "systemd") == 0)
		strv_push(&argv, "--systemd-cgroup");
	for (size_t i = 0; args[i]; i++)
		strv_push(&argv, args[i]);
	char **env = ctr_rt_env(rt);
	struct proc_opts o = {
		.argv = argv,
		.env = env,
		.input = input,
		.input_len = input_len,
		.max_output = 1 << 20,
		.timeout_ms = timeout_ms,
	};
	struct proc_result res = { 0 };
	int r = proc_run(&o, &res, err);
	if (r == -ETIMEDOUT)
		r = err_msg(err, r, "%s %s: no answer within %u ms (killed)", rt->path, args[0],
			    timeout_ms);
	if (r >= 0 && res.status != 0) {
		/* Trim the runtime's trailing newline: the text becomes a status message. */
		size_t n = res.err_len;
		while (n && (res.errout[n - 1] == '\n' || res.errout[n - 1] == ' '))
			res.errout[--n] = '\0';
		/* The runtime's failure, not ocid's: -ECHILD (gRPC UNKNOWN). */
		r = err_msg(err, -ECHILD, "runtime handler '%s' (%s) %s: %s", rt->name, rt->path,
			    args[0], n ? res.errout : "failed with no message");
	}
	if (r >= 0 && ret_out)
		*ret_out = TAKE_PTR(res.out);
	proc_result_done(&res);
	strv_free(argv);
	strv_free(env);
	return r;
}

void ctr_runtime_features_probe(struct ctr_mgr *m)
{
	/* --root as every other call has it (wrappers and logs expect it). */
	char *argv[] = { m->runtime, "--root", m->runtime_root, "features", NULL };
	static char *const env[] = {
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		NULL,
	};
	struct proc_opts o = {
		.argv = argv, .env = env, .max_output = 1 << 20, .timeout_ms = 10000
	};
	struct proc_result res = { 0 };
	cleanup_err struct err err = ERR_INIT;
	m->features = (struct oci_runtime_features){ 0 };
	/* A runtime without the command (or with a broken one) has none of
	 * the features: they stay unreported and refused. */
	int r = proc_run(&o, &res, &err);
	if (r >= 0 && res.status == 0)
		r = oci_runtime_features_parse(res.out, res.out_len, &m->features, &err);
	else if (r >= 0)
		r = err_msg(&err, -EOPNOTSUPP, "%s features: exit status %d", m->runtime,
			    res.status);
	if (r < 0)
		log_info("OCI runtime features unknown", "runtime=%s error=%s", m->runtime,
			 log_q(err_str(&err)));
	proc_result_done(&res);
	m->host.rro = m->host.mount_setattr && m->features.rro;
	log_info("OCI runtime features", "runtime=%s rro=%d mount_setattr=%d", m->runtime,
		 m->features.rro, m->host.mount_setattr);
}

/* The fifo's side of a start. runc create leaves the container's init
 * blocked opening the fifo for writing; once a reader has it open, the
 * init writes a byte and closes its end on its way to exec the program
 * (the exec itself finishes later: see ctr_runtime_start). Data then end
 * of file means released; the init gone without writing means the
 * container died before it could start. */
static int read_exec_fifo(int fd, pid_t pid, const char *id, unsigned timeout_ms, struct err *err)
{
	cleanup_close int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0 || !ctr_pid_is(pid, id)) {
		/* Opening the fifo released the init: a program that exits at
		 * once may be gone (a zombie, or reaped) by now. It started
		 * if the init wrote first. */
		char b[64];
		if (read(fd, b, sizeof(b)) > 0)
			return 0;
		return err_msg(err, -ESRCH, "container %s: its process is already dead", id);
	}
	bool got = false;
	uint64_t deadline = mono_ms() + timeout_ms;
	for (;;) {
		char buf[64];
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n > 0) {
			got = true;
			continue;
		}
		/* Before a writer ever came, an empty fifo reads as end of file too. */
		if (n == 0 && got)
			return 0;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return err_set(err, -errno, "container %s: read its exec fifo", id);
		uint64_t now = mono_ms();
		if (now >= deadline)
			return err_msg(err, -ETIMEDOUT,
				       "container %s: its init did not exec within %u ms", id,
				       timeout_ms);
		struct pollfd p[2] = { { .fd = fd, .events = POLLIN },
				       { .fd = pidfd, .events = POLLIN } };
		if (poll(p, 2, (int)(deadline - now)) < 0 && errno != EINTR)
			return err_set(err, -errno, "poll");
		if (p[1].revents) {
			/* Gone: started (and already done) only if it wrote first. */
			if (read(fd, buf, sizeof(buf)) > 0 || got)
				return 0;
			return err_msg(err, -ESRCH, "container %s: its process is already dead",
				       id);
		}
	}
}

int ctr_runtime_start(const struct ctr_mgr *m, const struct ctr_rt *rt, const char *id, pid_t pid,
		      unsigned timeout_ms, struct err *err)
{
	cleanup_free char *fifo = xasprintf("%s/%s/exec.fifo", rt->root, id);
	/* The init, still waiting, as it is before its exec. */
	size_t len = 0;
	cleanup_free char *auxv = pid > 0 ? proc_auxv(pid, &len) : NULL;
	cleanup_close int fd = -1;
	struct stat st;
	if (rt->exec_fifo)
		fd = open(fifo, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	int r;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode)) {
		char *args[] = { "start", (char *)id, NULL };
		r = ctr_runtime_run_for(m, rt, args, NULL, 0, timeout_ms, err);
	} else {
		r = read_exec_fifo(fd, pid, id, timeout_ms, err);
		/* As runc: without the fifo, the runtime reports it running. */
		if (r >= 0 && unlink(fifo) < 0 && errno != ENOENT)
			r = err_set(err, -errno, "remove '%s'", fifo);
	}
	/* Started means the program's own signal handling from now on: a
	 * stop signal sent mid-exec would be dropped (see proc_exec_wait). */
	if (r >= 0 && auxv && proc_exec_wait(pid, auxv, len, EXEC_WAIT_MS) < 0)
		log_warn("container program not exec'd yet", "id=%s pid=%d", id, (int)pid);
	return r;
}
