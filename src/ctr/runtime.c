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
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctr/ctr_int.h"
#include "proc/proc.h"

#define RUNTIME_TIMEOUT_MS 120000
#define RUNTIME_ERR_MAX 65536

struct call {
	int in_w, err_r, pidfd;
	const char *input;
	size_t input_len, input_off;
	char err[RUNTIME_ERR_MAX + 1];
	size_t err_len;
};

/* posix_spawn rather than proc_run's fork: these calls sit on the
 * StartContainer path. The child has stdin (the input pipe or /dev/null),
 * stdout on /dev/null and stderr on the error pipe. */
static int spawn(char **argv, int in_r, int err_w, pid_t *ret)
{
	static char *const env[] = {
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		NULL,
	};
	const int fds[] = { in_r, -1, err_w };
	return proc_spawn_fds(argv, env, fds, 3, ret);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		(void)close(*fd);
	*fd = -1;
}

/* Feed the input and collect stderr (bounded) until the runtime has
 * exited and what it wrote is read (not until EOF: something it started
 * may hold stderr open). 0, -ETIMEDOUT or -errno. */
static int pump(struct call *c)
{
	uint64_t deadline = now_ms() + RUNTIME_TIMEOUT_MS;
	bool exited = false;
	while (c->err_r >= 0 || !exited) {
		struct pollfd p[3] = {
			{ .fd = c->in_w, .events = POLLOUT },
			{ .fd = c->err_r, .events = POLLIN },
			{ .fd = exited ? -1 : c->pidfd, .events = POLLIN },
		};
		uint64_t t = now_ms();
		if (t >= deadline)
			return -ETIMEDOUT;
		int n = poll(p, 3, exited ? 0 : (int)(deadline - t));
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n == 0 && exited)
			break;
		if (n <= 0)
			continue;
		if (p[0].revents) {
			ssize_t w =
			    write(c->in_w, c->input + c->input_off, c->input_len - c->input_off);
			if (w > 0)
				c->input_off += (size_t)w;
			if ((w < 0 && errno != EAGAIN && errno != EINTR) ||
			    c->input_off == c->input_len)
				close_fd(&c->in_w);
		}
		if (p[1].revents) {
			char tmp[4096];
			ssize_t k = read(c->err_r, tmp, sizeof(tmp));
			if (k < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (k <= 0) {
				close_fd(&c->err_r);
				continue;
			}
			size_t take = (size_t)k;
			if (take > RUNTIME_ERR_MAX - c->err_len)
				take = RUNTIME_ERR_MAX - c->err_len;
			memcpy(c->err + c->err_len, tmp, take);
			c->err_len += take;
		}
		if (p[2].revents)
			exited = true;
	}
	return 0;
}

/* Run it; the exit status, or -errno with err set. */
static int run(char **argv, const char *input, size_t input_len, struct call *c, struct err *err)
{
	int in[2] = { -1, -1 }, er[2] = { -1, -1 };
	pid_t pid = -1;
	int r = 0;
	if ((input_len && pipe2(in, O_CLOEXEC | O_NONBLOCK) < 0) ||
	    pipe2(er, O_CLOEXEC | O_NONBLOCK) < 0)
		r = err_set(err, -errno, "pipe");
	if (r >= 0 && (r = spawn(argv, in[0], er[1], &pid)) < 0)
		r = err_set(err, r, "exec %s", argv[0]);
	close_fd(&in[0]);
	close_fd(&er[1]);
	c->in_w = in[1];
	c->err_r = er[0];
	if (r >= 0 && (c->pidfd = (int)pidfd_open(pid, 0)) < 0)
		r = err_set(err, -errno, "pidfd_open");
	c->input = input;
	c->input_len = input_len;
	int p = r < 0 ? r : pump(c);
	if (pid > 0 && p < 0)
		(void)kill(pid, SIGKILL); /* not reaped yet: the pid is still its */
	int st = 0;
	while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	close_fd(&c->in_w);
	close_fd(&c->err_r);
	close_fd(&c->pidfd);
	if (r >= 0 && p == -ETIMEDOUT)
		r = err_msg(err, p, "%s: timed out after %d ms", argv[0], RUNTIME_TIMEOUT_MS);
	else if (r >= 0 && p < 0)
		r = err_set(err, p, "%s: read its errors", argv[0]);
	if (r < 0)
		return r;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

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
	struct call *c = xcalloc(1, sizeof(*c));
	c->pidfd = -1;
	int r = run(argv, input, input_len, c, err);
	if (r > 0) {
		/* Trim the runtime's trailing newline: the text becomes a status message. */
		size_t n = c->err_len;
		while (n && (c->err[n - 1] == '\n' || c->err[n - 1] == ' '))
			n--;
		c->err[n] = '\0';
		r = err_msg(err, -EIO, "%s %s: %s", m->runtime, args[0],
			    n ? c->err : "failed with no message");
	}
	free(c);
	strv_free(argv);
	return r < 0 ? r : 0;
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
