/* OCI runtime CLI calls (runc and compatible), signal names, the resources
 * document of `<runtime> update`. */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ctr/ctr_int.h"
#include "proc/proc.h"

#define RUNTIME_TIMEOUT_MS 120000

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
