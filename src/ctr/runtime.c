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
#include "proc/proc.h"

#define RUNTIME_TIMEOUT_MS 120000
#define EXEC_WAIT_MS 5000

int ctr_runtime_run(const struct ctr_mgr *m, char *const *args, const char *input, size_t input_len,
		    struct err *err)
{
	char **argv = NULL;
	strv_push(&argv, m->runtime);
	strv_push(&argv, "--root");
	strv_push(&argv, m->runtime_root);
	if (strcmp(m->cgroup_driver, "systemd") == 0)
		strv_push(&argv, "--systemd-cgroup");
	for (size_t i = 0; args[i]; i++)
		strv_push(&argv, args[i]);
	static char *const env[] = {
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		NULL,
	};
	struct proc_opts o = {
		.argv = argv,
		.env = env,
		.input = input,
		.input_len = input_len,
		.max_output = 1 << 20,
		.timeout_ms = RUNTIME_TIMEOUT_MS,
	};
	struct proc_result res = { 0 };
	int r = proc_run(&o, &res, err);
	if (r >= 0 && res.status != 0) {
		/* Trim the runtime's trailing newline: the text becomes a status message. */
		size_t n = res.err_len;
		while (n && (res.errout[n - 1] == '\n' || res.errout[n - 1] == ' '))
			res.errout[--n] = '\0';
		r = err_msg(err, -EIO, "%s %s: %s", m->runtime, args[0],
			    n ? res.errout : "failed with no message");
	}
	proc_result_done(&res);
	strv_free(argv);
	return r;
}

/* The fifo's side of a start. runc create leaves the container's init
 * blocked opening the fifo for writing; once a reader has it open, the
 * init writes a byte and closes its end on its way to exec the program
 * (the exec itself finishes later: see ctr_runtime_start). Data then end
 * of file means released; the init gone without writing means the
 * container died before it could start. */
static int read_exec_fifo(int fd, pid_t pid, const char *id, struct err *err)
{
	cleanup_close int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0 || !ctr_pid_is(pid, id))
		return err_msg(err, -ESRCH, "container %s: its process is already dead", id);
	bool got = false;
	uint64_t deadline = mono_ms() + RUNTIME_TIMEOUT_MS;
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
				       RUNTIME_TIMEOUT_MS);
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

int ctr_runtime_start(const struct ctr_mgr *m, const char *id, pid_t pid, struct err *err)
{
	cleanup_free char *fifo = xasprintf("%s/%s/exec.fifo", m->runtime_root, id);
	/* The init, still waiting, as it is before its exec. */
	size_t len = 0;
	cleanup_free char *auxv = pid > 0 ? proc_auxv(pid, &len) : NULL;
	cleanup_close int fd = -1;
	struct stat st;
	if (m->exec_fifo_start)
		fd = open(fifo, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	int r;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode)) {
		char *args[] = { "start", (char *)id, NULL };
		r = ctr_runtime_run(m, args, NULL, 0, err);
	} else {
		r = read_exec_fifo(fd, pid, id, err);
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

int ctr_signal_parse(const char *s)
{
	if (!s || !*s)
		return 0;
	char *end;
	long n = strtol(s, &end, 10);
	if (*end == '\0')
		return n > 0 && n < NSIG ? (int)n : 0;
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (int i = 1; i < NSIG; i++) {
		const char *name = sigabbrev_np(i);
		if (name && strcasecmp(name, s) == 0)
			return i;
	}
	return 0;
}

static void set_int(json_t *o, const char *key, int64_t v)
{
	if (v)
		json_object_set_new(o, key, json_integer(v));
}

static void set_obj(json_t *parent, const char *key, json_t *o)
{
	if (json_object_size(o))
		json_object_set_new(parent, key, o);
	else
		json_decref(o);
}

char *ctr_resources_json(const struct oci_resources *r)
{
	json_t *res = json_object();
	json_t *cpu = json_object();
	set_int(cpu, "shares", r->cpu_shares);
	set_int(cpu, "quota", r->cpu_quota);
	set_int(cpu, "period", r->cpu_period);
	if (r->cpuset_cpus && *r->cpuset_cpus)
		json_object_set_new(cpu, "cpus", json_string(r->cpuset_cpus));
	if (r->cpuset_mems && *r->cpuset_mems)
		json_object_set_new(cpu, "mems", json_string(r->cpuset_mems));
	set_obj(res, "cpu", cpu);
	json_t *mem = json_object();
	set_int(mem, "limit", r->memory_limit_in_bytes);
	set_int(mem, "swap", r->memory_swap_limit_in_bytes);
	set_obj(res, "memory", mem);
	if (r->pids_limit) {
		json_t *pids = json_object();
		json_object_set_new(pids, "limit", json_integer(r->pids_limit));
		json_object_set_new(res, "pids", pids);
	}
	if (r->n_hugepages) {
		json_t *hp = json_array();
		for (size_t i = 0; i < r->n_hugepages; i++)
			json_array_append_new(hp, json_pack("{s:s, s:I}", "pageSize",
							    r->hugepages[i].page_size, "limit",
							    (json_int_t)r->hugepages[i].limit));
		json_object_set_new(res, "hugepageLimits", hp);
	}
	if (r->n_unified) {
		json_t *u = json_object();
		for (size_t i = 0; i < r->n_unified; i++)
			json_object_set_new(u, r->unified[i].key, json_string(r->unified[i].value));
		json_object_set_new(res, "unified", u);
	}
	char *s = json_dumps(res, JSON_COMPACT);
	json_decref(res);
	if (!s)
		abort();
	return s;
}
