/* ocic pod create|status|stop|remove|list: pod sandboxes. */
#include <stdio.h>
#include <string.h>

#include "api.pb-c.h"
#include "ocic.h"

static const struct ocic_opt id_opts[] = {
	{ "id", 0, OCIC_OPT_STR, true, "ID", "the pod sandbox id" },
	{ 0 },
};

static int id_request(const struct ocic_args *a, json_t *req)
{
	json_object_set_new(req, "pod_sandbox_id", json_string(ocic_arg(a, "id")));
	return 0;
}

static int create_request(const struct ocic_args *a, json_t *req)
{
	json_t *config;
	int r = ocic_load_config(ocic_arg(a, "config"),
				 &runtime__v1__pod_sandbox_config__descriptor, &config);

	if (r != 0)
		return r;
	json_object_set_new(req, "config", config);
	if (ocic_arg(a, "runtime"))
		json_object_set_new(req, "runtime_handler", json_string(ocic_arg(a, "runtime")));
	return 0;
}

static void create_table(const struct ocic_args *a, const ProtobufCMessage *resp)
{
	printf("%s\n", ((const Runtime__V1__RunPodSandboxResponse *)resp)->pod_sandbox_id);
}

static const char *state_name(Runtime__V1__PodSandboxState s)
{
	return s == RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY ? "Ready" : "NotReady";
}

static int status_request(const struct ocic_args *a, json_t *req)
{
	id_request(a, req);
	json_object_set_new(req, "verbose", json_boolean(ocic_arg_set(a, "verbose")));
	return 0;
}

static void print_info(size_t n, Runtime__V1__PodSandboxStatusResponse__InfoEntry *const *info)
{
	if (n)
		printf("Info:\n");
	for (size_t i = 0; i < n; i++)
		printf("  %s: %s\n", info[i]->key, info[i]->value);
}

static void status_table(const struct ocic_args *a, const ProtobufCMessage *resp)
{
	const Runtime__V1__PodSandboxStatusResponse *r = (const void *)resp;
	const Runtime__V1__PodSandboxStatus *s = r->status;
	const Runtime__V1__PodSandboxMetadata *m = s ? s->metadata : NULL;
	cleanup_free char *labels = s ? ocic_map_str(s->n_labels, (void *)s->labels) : NULL;
	cleanup_free char *annos =
	    s ? ocic_map_str(s->n_annotations, (void *)s->annotations) : NULL;
	cleanup_free char *attempt = m ? xasprintf("%u", m->attempt) : NULL;
	cleanup_free char *ips = xstrdup("");
	char created[40];

	for (size_t i = 0; s && s->network && i < s->network->n_additional_ips; i++) {
		char *t = xasprintf("%s%s%s", ips, i ? "," : "", s->network->additional_ips[i]->ip);

		free(ips);
		ips = t;
	}
	if (s) {
		const char *kv[] = { "ID",
				     s->id,
				     "Name",
				     m ? m->name : "",
				     "UID",
				     m ? m->uid : "",
				     "Namespace",
				     m ? m->namespace_ : "",
				     "Attempt",
				     attempt,
				     "State",
				     state_name(s->state),
				     "Created",
				     ocic_time_str(s->created_at, created, sizeof(created)),
				     "IP",
				     s->network ? s->network->ip : "",
				     "Additional IPs",
				     ips,
				     "Runtime handler",
				     s->runtime_handler,
				     "Labels",
				     labels,
				     "Annotations",
				     annos,
				     NULL };

		ocic_print_kv(0, kv);
	}
	print_info(r->n_info, r->info);
}

static int list_request(const struct ocic_args *a, json_t *req)
{
	static const struct ocic_word states[] = {
		{ "ready", "SANDBOX_READY" },
		{ "notready", "SANDBOX_NOTREADY" },
		{ 0 },
	};
	json_t *filter;
	int r = ocic_filter_json(a, states, &filter);

	if (r == 0)
		json_object_set_new(req, "filter", filter);
	return r;
}

static void list_table(const struct ocic_args *a, const ProtobufCMessage *resp)
{
	const Runtime__V1__ListPodSandboxResponse *r = (const void *)resp;
	static const char *const head[] = { "POD ID",	 "CREATED", "STATE",   "NAME",
					    "NAMESPACE", "ATTEMPT", "RUNTIME", NULL };
	struct ocic_table *t = ocic_table_new(head);

	for (size_t i = 0; i < r->n_items; i++) {
		const Runtime__V1__PodSandbox *p = r->items[i];
		char created[40], attempt[16];
		const char *row[] = { p->id,
				      ocic_time_str(p->created_at, created, sizeof(created)),
				      state_name(p->state),
				      p->metadata ? p->metadata->name : "",
				      p->metadata ? p->metadata->namespace_ : "",
				      attempt,
				      str_empty(p->runtime_handler) ? "(default)"
								    : p->runtime_handler };

		snprintf(attempt, sizeof(attempt), "%u", p->metadata ? p->metadata->attempt : 0);
		ocic_table_row(t, row);
	}
	ocic_table_print_free(t);
}

static const struct ocic_opt create_opts[] = {
	{ "config", 0, OCIC_OPT_STR, true, "FILE",
	  "PodSandboxConfig as JSON (as crictl runp reads it)" },
	{ "runtime", 'r', OCIC_OPT_STR, false, "HANDLER",
	  "runtime handler (default: the default one)" },
	{ 0 },
};

static const struct ocic_opt status_opts[] = {
	{ "id", 0, OCIC_OPT_STR, true, "ID", "the pod sandbox id" },
	{ "verbose", 'v', OCIC_OPT_FLAG, false, NULL, "also print the runtime's verbose info" },
	{ 0 },
};

static const struct ocic_opt list_opts[] = {
	{ "id", 0, OCIC_OPT_STR, false, "ID", "only the pod with this id (or unique id prefix)" },
	{ "label", 'l', OCIC_OPT_LIST, false, "KEY=VALUE",
	  "only pods with this label (repeatable)" },
	{ "state", 's', OCIC_OPT_STR, false, "STATE",
	  "only pods in this state: ready or notready" },
	{ 0 },
};

static const struct ocic_sub pod_create = {
	.name = "create",
	.summary = "Create and start a pod sandbox (RunPodSandbox); prints its id.",
	.opts = create_opts,
	OCIC_CRI_METHOD(OCIC_RUNTIME_SERVICE, RunPodSandbox, run_pod_sandbox),
	.request = create_request,
	.table = create_table,
};

static const struct ocic_sub pod_status = {
	.name = "status",
	.summary = "Print the status of a pod sandbox (PodSandboxStatus).",
	.opts = status_opts,
	OCIC_CRI_METHOD(OCIC_RUNTIME_SERVICE, PodSandboxStatus, pod_sandbox_status),
	.request = status_request,
	.table = status_table,
};

static const struct ocic_sub pod_stop = {
	.name = "stop",
	.summary = "Stop a pod sandbox and its containers (StopPodSandbox); prints its id.",
	.opts = id_opts,
	OCIC_CRI_METHOD(OCIC_RUNTIME_SERVICE, StopPodSandbox, stop_pod_sandbox),
	.request = id_request,
	.table = ocic_print_id_arg,
};

static const struct ocic_sub pod_remove = {
	.name = "remove",
	.summary = "Remove a pod sandbox and its containers (RemovePodSandbox); prints its id.",
	.opts = id_opts,
	OCIC_CRI_METHOD(OCIC_RUNTIME_SERVICE, RemovePodSandbox, remove_pod_sandbox),
	.request = id_request,
	.table = ocic_print_id_arg,
};

static const struct ocic_sub pod_list = {
	.name = "list",
	.summary = "List pod sandboxes (ListPodSandbox).",
	.opts = list_opts,
	OCIC_CRI_METHOD(OCIC_RUNTIME_SERVICE, ListPodSandbox, list_pod_sandbox),
	.request = list_request,
	.table = list_table,
};

static const struct ocic_sub *const pod_subs[] = {
	&pod_create, &pod_status, &pod_stop, &pod_remove, &pod_list, &ocic_pod_port_forward, NULL,
};

static const struct ocic_group pod_group = { .subs = pod_subs };

const struct ocic_cmd ocic_cmd_pod = {
	.name = "pod",
	.usage = "COMMAND [FLAGS]",
	.summary = "Pod sandboxes: create, status, stop, remove, list, port-forward.",
	.group = &pod_group,
};
