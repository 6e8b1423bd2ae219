/* ocic inspect, pause, unpause: the daemon's container inspect API
 * (GET /containers/<id>, POST /pause/<id>, POST /unpause/<id>). */
#include <stdio.h>
#include <string.h>

#include "ocic.h"

/* The one ID operand of `cmd`, or NULL after a usage error in *ret_code. */
static const char *one_id(const struct ocic_cmd *cmd, int argc, char **argv, int *ret_code)
{
	int r = ocic_parse(argc, argv, cmd, NULL, NULL, NULL);

	if (r < 0) {
		*ret_code = r == -2 ? OCIC_EXIT_OK : OCIC_EXIT_USAGE;
		return NULL;
	}
	if (r >= argc) {
		*ret_code = ocic_usage_error(cmd, "a container ID is required");
		return NULL;
	}
	if (r + 1 < argc) {
		*ret_code = ocic_usage_error(cmd, "unexpected argument '%s'", argv[r + 1]);
		return NULL;
	}
	/* The daemon checks the id; refusing a '/' or '?' here keeps it one
	 * path segment. */
	if (argv[r][0] == '\0' || strpbrk(argv[r], "/?#% ")) {
		*ret_code = ocic_usage_error(cmd, "'%s' is not a container ID", argv[r]);
		return NULL;
	}
	return argv[r];
}

static void print_value(const char *key, const json_t *v)
{
	cleanup_free char *text = json_is_string(v) ? xstrdup(json_string_value(v))
				  : json_is_null(v) ? xstrdup("")
						    : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

	printf("%-10s %s\n", key, text ? text : "");
}

static int inspect_run(int argc, char **argv)
{
	static const char *const order[] = { "id",	"name",	  "state", "paused",   "pid",
					     "sandbox", "ip",	  "image", "image_id", "log_path",
					     "root",	"bundle", NULL };
	int code = 0;
	const char *id = one_id(&ocic_cmd_inspect, argc, argv, &code);
	json_t *j = NULL;

	if (!id)
		return code;
	cleanup_free char *path = xasprintf("/containers/%s", id);
	if (ocic_http_json("GET", path, NULL, &j) != 0)
		return OCIC_EXIT_FAIL;
	if (arg_output == OCIC_OUTPUT_JSON) {
		ocic_print_json(j);
	} else {
		for (const char *const *k = order; *k; k++)
			print_value(*k, json_object_get(j, *k));
	}
	json_decref(j);
	return OCIC_EXIT_OK;
}

static int freeze_run(const struct ocic_cmd *cmd, const char *prefix, int argc, char **argv)
{
	int code = 0;
	const char *id = one_id(cmd, argc, argv, &code);
	json_t *j = NULL;

	if (!id)
		return code;
	cleanup_free char *path = xasprintf("%s%s", prefix, id);
	if (ocic_http_json("POST", path, NULL, &j) != 0)
		return OCIC_EXIT_FAIL;
	json_decref(j);
	printf("%s\n", id);
	return OCIC_EXIT_OK;
}

static int pause_run(int argc, char **argv)
{
	return freeze_run(&ocic_cmd_pause, "/pause/", argc, argv);
}

static int unpause_run(int argc, char **argv)
{
	return freeze_run(&ocic_cmd_unpause, "/unpause/", argc, argv);
}

const struct ocic_cmd ocic_cmd_inspect = {
	.name = "inspect",
	.usage = "ID",
	.summary = "Show a container as the daemon sees it: pid, image, pod, IP, log, rootfs.",
	.run = inspect_run,
};

const struct ocic_cmd ocic_cmd_pause = {
	.name = "pause",
	.usage = "ID",
	.summary = "Freeze a running container's processes (the cgroup freezer).",
	.run = pause_run,
};

const struct ocic_cmd ocic_cmd_unpause = {
	.name = "unpause",
	.usage = "ID",
	.summary = "Thaw a container frozen by pause.",
	.run = unpause_run,
};
