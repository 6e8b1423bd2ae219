/* ocic ctr update: UpdateContainerResources with the LinuxContainerResources
 * fields given as flags (only those given are sent; the daemon applies them
 * to the container's cgroup). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api.pb-c.h"
#include "ocic.h"

/* An integer flag and the LinuxContainerResources field it fills. */
struct int_flag {
	const char *flag, *field;
	int64_t min, max;
	bool size; /* takes a size suffix (k, m, g, t) */
};

static const struct int_flag int_flags[] = {
	{ "cpu-shares", "cpu_shares", 0, 262144, false },
	{ "cpu-quota", "cpu_quota", -1, INT64_MAX, false },
	{ "cpu-period", "cpu_period", 0, INT64_MAX, false },
	{ "memory", "memory_limit_in_bytes", 0, INT64_MAX, true },
	{ "memory-swap", "memory_swap_limit_in_bytes", -1, INT64_MAX, true },
	{ "oom-score-adj", "oom_score_adj", -1000, 1000, false },
};

/* "512", "512k", "64m", "64Mi", "64MiB", "1g", "1GB" (powers of 1024, as
 * docker reads --memory); -EINVAL when malformed, -ERANGE when too large. */
static int parse_int(const char *s, bool size, int64_t *ret)
{
	static const char *const suffixes = "kmgt";
	long long n;
	char *end;
	int shift = 0;

	errno = 0;
	n = strtoll(s, &end, 10);
	if (end == s || (*s != '-' && (*s < '0' || *s > '9')))
		return -EINVAL;
	if (errno)
		return -ERANGE;
	if (*end && size) {
		const char *u = strchr(suffixes, end[0] | 0x20);

		if (!u)
			return -EINVAL;
		shift = 10 * (int)(u - suffixes + 1);
		end++;
		if (strcasecmp(end, "i") == 0 || strcasecmp(end, "ib") == 0 ||
		    strcasecmp(end, "b") == 0)
			end += strlen(end);
	}
	if (*end)
		return -EINVAL;
	if (shift && (n < 0 || n > (INT64_MAX >> shift)))
		return -ERANGE;
	*ret = (int64_t)n * ((int64_t)1 << shift);
	return 0;
}

static int int_fields(const struct ocic_args *a, json_t *linux_res)
{
	for (size_t i = 0; i < ARRAY_SIZE(int_flags); i++) {
		const struct int_flag *f = &int_flags[i];
		const char *v = ocic_arg(a, f->flag);
		int64_t n;

		if (!v)
			continue;
		if (parse_int(v, f->size, &n) < 0 || n < f->min || n > f->max)
			return ocic_usage_error(a->cmd, "bad --%s '%s' (%s)", f->flag, v,
						f->size ? "bytes, or with a suffix k, m, g or t"
							: "an integer in range");
		json_object_set_new(linux_res, f->field, json_integer((json_int_t)n));
	}
	return 0;
}

static int unified_field(const struct ocic_args *a, json_t *linux_res)
{
	json_t *unified = json_object();

	for (char *const *v = ocic_arg_list(a, "unified"); v && *v; v++) {
		const char *eq = strchr(*v, '=');
		cleanup_free char *key = eq ? xstrndup(*v, (size_t)(eq - *v)) : NULL;

		if (!eq || eq == *v) {
			json_decref(unified);
			return ocic_usage_error(a->cmd, "--unified wants FILE=VALUE, got '%s'", *v);
		}
		json_object_set_new(unified, key, json_string(eq + 1));
	}
	if (json_object_size(unified))
		json_object_set_new(linux_res, "unified", unified);
	else
		json_decref(unified);
	return 0;
}

static int update_request(const struct ocic_args *a, json_t *req)
{
	json_t *linux_res = json_object();
	int r = int_fields(a, linux_res);

	if (r == 0)
		r = unified_field(a, linux_res);
	if (r == 0 && ocic_arg(a, "cpuset-cpus"))
		json_object_set_new(linux_res, "cpuset_cpus",
				    json_string(ocic_arg(a, "cpuset-cpus")));
	if (r == 0 && ocic_arg(a, "cpuset-mems"))
		json_object_set_new(linux_res, "cpuset_mems",
				    json_string(ocic_arg(a, "cpuset-mems")));
	if (r == 0 && json_object_size(linux_res) == 0)
		r = ocic_usage_error(a->cmd, "nothing to update: give at least one resource flag");
	if (r != 0) {
		json_decref(linux_res);
		return r;
	}
	json_object_set_new(req, "container_id", json_string(ocic_arg(a, "id")));
	json_object_set_new(req, "linux", linux_res);
	return 0;
}

static const struct ocic_opt update_opts[] = {
	{ "id", 0, OCIC_OPT_STR, true, "ID", "the container id" },
	{ "cpu-shares", 0, OCIC_OPT_STR, false, "N", "CPU shares (relative weight)" },
	{ "cpu-quota", 0, OCIC_OPT_STR, false, "US", "CPU time per period, microseconds" },
	{ "cpu-period", 0, OCIC_OPT_STR, false, "US", "CFS period, microseconds" },
	{ "cpuset-cpus", 0, OCIC_OPT_STR, false, "LIST", "CPUs it may use (\"0-2,4\")" },
	{ "cpuset-mems", 0, OCIC_OPT_STR, false, "LIST", "memory nodes it may use" },
	{ "memory", 'm', OCIC_OPT_STR, false, "SIZE", "memory limit (bytes, or 512m, 1g, ...)" },
	{ "memory-swap", 0, OCIC_OPT_STR, false, "SIZE", "memory plus swap limit (-1: no limit)" },
	{ "oom-score-adj", 0, OCIC_OPT_STR, false, "N", "OOM score adjustment (-1000..1000)" },
	{ "unified", 'u', OCIC_OPT_LIST, false, "FILE=VALUE",
	  "a cgroup v2 file to set (repeatable)" },
	{ 0 },
};

const struct ocic_sub ocic_ctr_update = {
	.name = "update",
	.summary = "Change the resource limits of a container (UpdateContainerResources).",
	.opts = update_opts,
	OCIC_CRI_METHOD(OCIC_RUNTIME_SERVICE, UpdateContainerResources, update_container_resources),
	.request = update_request,
	.table = ocic_print_id_arg,
};
