/* ocic info: CRI Status (verbose) plus the daemon's GET /info. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "api.pb-c.h"
#include "ocic.h"

/* A verbose-info value is JSON by the CRI's convention; one that is not
 * (the CRI allows any string) is shown as the string it is. */
static json_t *info_value(const char *v)
{
	json_t *j = NULL;

	if (js_load("info", v, strlen(v), SIZE_MAX, &j, NULL) < 0)
		return json_string(v);
	return j;
}

static json_t *status_json(const Runtime__V1__StatusResponse *resp)
{
	json_t *conds = json_array(), *info = json_object(), *handlers = json_array();

	for (size_t i = 0; resp->status && i < resp->status->n_conditions; i++) {
		const Runtime__V1__RuntimeCondition *c = resp->status->conditions[i];

		json_array_append_new(conds, json_pack("{s:s, s:b, s:s, s:s}", "type", c->type,
						       "status", c->status, "reason", c->reason,
						       "message", c->message));
	}
	for (size_t i = 0; i < resp->n_info; i++)
		json_object_set_new(info, resp->info[i]->key, info_value(resp->info[i]->value));
	for (size_t i = 0; i < resp->n_runtime_handlers; i++) {
		const Runtime__V1__RuntimeHandler *h = resp->runtime_handlers[i];
		const Runtime__V1__RuntimeHandlerFeatures *f = h->features;

		json_array_append_new(handlers,
				      json_pack("{s:s, s:{s:b, s:b}}", "name", h->name, "features",
						"recursiveReadOnlyMounts",
						f && f->recursive_read_only_mounts,
						"userNamespaces", f && f->user_namespaces));
	}
	return json_pack("{s:{s:o}, s:o, s:o}", "status", "conditions", conds, "runtimeHandlers",
			 handlers, "info", info);
}

static void print_conditions(const json_t *conds)
{
	size_t i;
	json_t *c;

	printf("Conditions:\n");
	json_array_foreach(conds, i, c)
	{
		const char *reason = json_string_value(json_object_get(c, "reason"));
		const char *msg = json_string_value(json_object_get(c, "message"));

		printf("  %-16s %s", json_string_value(json_object_get(c, "type")),
		       json_is_true(json_object_get(c, "status")) ? "true" : "false");
		if (!str_empty(reason))
			printf("  %s", reason);
		if (!str_empty(msg))
			printf("  %s", msg);
		putchar('\n');
	}
}

/* One "key: value" line per member; objects and arrays compact JSON. */
static void print_object(const char *title, const json_t *obj)
{
	const char *key;
	json_t *v;

	printf("%s:\n", title);
	json_object_foreach((json_t *)obj, key, v)
	{
		cleanup_free char *text = json_is_string(v)
					      ? xstrdup(json_string_value(v))
					      : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

		printf("  %s: %s\n", key, text ? text : "");
	}
}

static int info_run(int argc, char **argv)
{
	Runtime__V1__StatusRequest req = RUNTIME__V1__STATUS_REQUEST__INIT;
	Runtime__V1__StatusResponse *resp = NULL;
	json_t *out, *daemon = NULL;
	int r = ocic_parse(argc, argv, &ocic_cmd_info, NULL, NULL, NULL);

	if (r < 0)
		return r == -2 ? OCIC_EXIT_OK : OCIC_EXIT_USAGE;
	if (r < argc)
		return ocic_usage_error(&ocic_cmd_info, "unexpected argument '%s'", argv[r]);
	req.verbose = true;
	r = ocic_call(OCIC_RUNTIME_SERVICE "Status", &req.base,
		      &runtime__v1__status_response__descriptor, (ProtobufCMessage **)&resp);
	if (r != 0)
		return r;
	out = status_json(resp);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	/* On failure the reason is printed; still show what Status said. */
	r = ocic_http_json("GET", "/info", NULL, &daemon);
	json_object_set_new(out, "daemon", daemon ? daemon : json_null());
	if (arg_output == OCIC_OUTPUT_JSON) {
		ocic_print_json(out);
	} else {
		json_t *st = json_object_get(out, "status");
		size_t i;
		json_t *v;

		print_conditions(json_object_get(st, "conditions"));
		printf("Runtime handlers:\n");
		json_array_foreach(json_object_get(out, "runtimeHandlers"), i, v)
		    printf("  %s\n", str_empty(json_string_value(json_object_get(v, "name")))
					 ? "(default)"
					 : json_string_value(json_object_get(v, "name")));
		print_object("Info", json_object_get(out, "info"));
		if (daemon)
			print_object("Daemon", daemon);
	}
	json_decref(out);
	return r;
}

const struct ocic_cmd ocic_cmd_info = {
	.name = "info",
	.usage = "",
	.summary =
	    "Print the runtime's status conditions, its verbose info and the daemon's /info.",
	.run = info_run,
};
