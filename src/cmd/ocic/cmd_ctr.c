/* ocic ctr create|start|stop|remove|status|list: containers. */
#include <stdio.h>
#include <string.h>

#include "api.pb-c.h"
#include "ocic.h"

/* The reply of StopContainer may take the whole grace period: the call's
 * deadline is at least the grace period plus this. */
#define STOP_DEADLINE_SLACK_MS 30000

static const struct ocic_opt id_opts[] = {
	{ "id", 0, OCIC_OPT_STR, true, "ID", "the container id" },
	{ 0 },
};

static int id_request(const struct ocic_args *a, json_t *req)
{
	json_object_set_new(req, "container_id", json_string(ocic_arg(a, "id")));
	return 0;
}

static int create_request(const struct ocic_args *a, json_t *req)
{
	json_t *config, *pod_config;
	int r = ocic_load_config(ocic_arg(a, "config"), &runtime__v1__container_config__descriptor,
				 &config);

	if (r != 0)
		return r;
	json_object_set_new(req, "config", config);
	json_object_set_new(req, "pod_sandbox_id", json_string(ocic_arg(a, "pod")));
	if (!ocic_arg(a, "pod-config"))
		return 0;
	r = ocic_load_config(ocic_arg(a, "pod-config"),
			     &runtime__v1__pod_sandbox_config__descriptor, &pod_config);
	if (r == 0)
		json_object_set_new(req, "sandbox_config", pod_config);
	return r;
}

static void create_table(const struct ocic_args *a, const ProtobufCMessage *resp)
{
	printf("%s\n", ((const Runtime__V1__CreateContainerResponse *)resp)->container_id);
}

static int stop_request(const struct ocic_args *a, json_t *req)
{
	int64_t secs;
	int r = ocic_timeout_secs(a, STOP_DEADLINE_SLACK_MS, &secs);

	if (r != 0)
		return r;
	json_object_set_new(req, "timeout", json_integer((json_int_t)secs));
	return id_request(a, req);
}

static const char *state_name(Runtime__V1__ContainerState s)
{
	switch (s) {
	case RUNTIME__V1__CONTAINER_STATE__CONTAINER_CREATED:
		return "Created";
	case RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING:
		return "Running";
	case RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED:
		return "Exited";
	default:
		return "Unknown";
	}
}

static int status_request(const struct ocic_args *a, json_t *req)
{
	json_object_set_new(req, "verbose", json_boolean(ocic_arg_set(a, "verbose")));
	return id_request(a, req);
}

static char *mounts_str(const Runtime__V1__ContainerStatus *s)
{
	char *out = xstrdup(""), *t;

	for (size_t i = 0; i < s->n_mounts; i++) {
		const Runtime__V1__Mount *m = s->mounts[i];

		t = xasprintf("%s%s%s:%s%s", out, i ? "," : "", m->host_path, m->container_path,
			      m->readonly ? ":ro" : "");
		free(out);
		out = t;
	}
	return out;
}

static void status_kv(const Runtime__V1__ContainerStatus *s)
{
	const Runtime__V1__ContainerMetadata *m = s->metadata;
	cleanup_free char *labels = ocic_map_str(s->n_labels, (void *)s->labels);
	cleanup_free char *annos = ocic_map_str(s->n_annotations, (void *)s->annotations);
	cleanup_free char *mounts = mounts_str(s);
	cleanup_free char *attempt = xasprintf("%u", m ? m->attempt : 0);
	cleanup_free char *code = xasprintf("%d", s->exit_code);
	char created[40], started[40], finished[40];
	const char *kv[] = { "ID",
			     s->id,
			     "Name",
			     m ? m->name : "",
			     "Attempt",
			     attempt,
			     "State",
			     state_name(s->state),
			     "Created",
			     ocic_time_str(s->created_at, created, sizeof(created)),
			     "Started",
			     ocic_time_str(s->started_at, started, sizeof(started)),
			     "Finished",
			     ocic_time_str(s->finished_at, finished, sizeof(finished)),
			     "Exit code",
			     s->state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED ? code : "",
			     "Reason",
			     s->reason,
			     "Message",
			     s->message,
			     "Image",
			     s->image ? s->image->image : "",
			     "Image ref",
			     s->image_ref,
			     "Log path",
			     s->log_path,
			     "Mounts",
			     mounts,
			     "Labels",
			     labels,
			     "Annotations",
			     annos,
			     NULL };

	ocic_print_kv(0, kv);
}

static void status_table(const struct ocic_args *a, const ProtobufCMessage *resp)
{
	const Runtime__V1__ContainerStatusResponse *r = (const void *)resp;

	if (r->status)
		status_kv(r->status);
	if (r->n_info)
		printf("Info:\n");
	for (size_t i = 0; i < r->n_info; i++)
		printf("  %s: %s\n", r->info[i]->key, r->info[i]->value);
}

static int list_request(const struct ocic_args *a, json_t *req)
{
	static const struct ocic_word states[] = {
		{ "created", "CONTAINER_CREATED" },
		{ "running", "CONTAINER_RUNNING" },
		{ "exited", "CONTAINER_EXITED" },
		{ "unknown", "CONTAINER_UNKNOWN" },
		{ 0 },
	};
	json_t *filter;
	int r = ocic_filter_json(a, states, &filter);

	if (r != 0)
		return r;
	json_object_set_new(req, "filter", filter);
	return 0;
}

static void list_table(const struct ocic_args *a, const ProtobufCMessage *resp)
{
	const Runtime__V1__ListContainersResponse *r = (const void *)resp;
	static const char *const head[] = { "CONTAINER", "IMAGE",   "CREATED", "STATE",
					    "NAME",	 "ATTEMPT", "POD ID",  NULL };
	struct ocic_table *t = ocic_table_new(head);

	for (size_t i = 0; i < r->n_containers; i++) {
		const Runtime__V1__Container *c = r->containers[i];
		char created[40], attempt[16];
		const char *row[] = { c->id,
				      c->image ? c->image->image : "",
				      ocic_time_str(c->created_at, created, sizeof(created)),
				      state_name(c->state),
				      c->metadata ? c->metadata->name : "",
				      attempt,
				      c->pod_sandbox_id };

		snprintf(attempt, sizeof(attempt), "%u", c->metadata ? c->metadata->attempt : 0);
		ocic_table_row(t, row);
	}
	ocic_table_print_free(t);
}

static const struct ocic_opt create_opts[] = {
	{ "pod", 'p', OCIC_OPT_STR, true, "ID", "the pod sandbox to create it in" },
	{ "config", 0, OCIC_OPT_STR, true, "FILE",
	  "ContainerConfig as JSON (as crictl create reads it)" },
	{ "pod-config", 0, OCIC_OPT_STR, false, "FILE", "the pod's PodSandboxConfig as JSON" },
	{ 0 },
};

static const struct ocic_opt stop_opts[] = {
	{ "id", 0, OCIC_OPT_STR, true, "ID", "the container id" },
	{ "timeout", 't', OCIC_OPT_STR, false, "SECONDS",
	  "grace period before SIGKILL (default 0)" },
	{ 0 },
};

static const struct ocic_opt status_opts[] = {
	{ "id", 0, OCIC_OPT_STR, true, "ID", "the container id" },
	{ "verbose", 'v', OCIC_OPT_FLAG, false, NULL, "also print the runtime's verbose info" },
	{ 0 },
};

static const struct ocic_opt list_opts[] = {
	{ "id", 0, OCIC_OPT_STR, false, "ID",
	  "only the container with this id (or unique prefix)" },
	{ "pod", 'p', OCIC_OPT_STR, false, "ID", "only containers of this pod sandbox" },
	{ "label", 'l', OCIC_OPT_LIST, false, "KEY=VALUE",
	  "only containers with this label (repeatable)" },
	{ "state", 's', OCIC_OPT_STR, false, "STATE", "created, running, exited or unknown" },
	{ 0 },
};

static const struct ocic_sub ctr_create = {
	.name = "create",
	.summary = "Create a container in a pod sandbox (CreateContainer); prints its id.",
	.opts = create_opts,
	OCIC_CRI_METHOD(OCIC_RUNTIME_SERVICE, CreateContainer, create_container),
	.request = create_request,
	.table = create_table,
};

static const struct ocic_sub ctr_start = {
	.name = "start",
	.summary = "Start a created container (StartContainer); prints its id.",
	.opts = id_opts,
	OCIC_CRI_METHOD(OCIC_RUNTIME_SERVICE, StartContainer, start_container),
	.request = id_request,
	.table = ocic_print_id_arg,
};

static const struct ocic_sub ctr_stop = {
	.name = "stop",
	.summary = "Stop a container: stop signal, grace period, SIGKILL (StopContainer).",
	.opts = stop_opts,
	OCIC_CRI_METHOD(OCIC_RUNTIME_SERVICE, StopContainer, stop_container),
	.request = stop_request,
	.table = ocic_print_id_arg,
};

static const struct ocic_sub ctr_remove = {
	.name = "remove",
	.summary = "Remove a container, stopping it first (RemoveContainer); prints its id.",
	.opts = id_opts,
	OCIC_CRI_METHOD(OCIC_RUNTIME_SERVICE, RemoveContainer, remove_container),
	.request = id_request,
	.table = ocic_print_id_arg,
};

static const struct ocic_sub ctr_status = {
	.name = "status",
	.summary = "Print the status of a container (ContainerStatus).",
	.opts = status_opts,
	OCIC_CRI_METHOD(OCIC_RUNTIME_SERVICE, ContainerStatus, container_status),
	.request = status_request,
	.table = status_table,
};

static const struct ocic_sub ctr_list = {
	.name = "list",
	.summary = "List containers (ListContainers).",
	.opts = list_opts,
	OCIC_CRI_METHOD(OCIC_RUNTIME_SERVICE, ListContainers, list_containers),
	.request = list_request,
	.table = list_table,
};

static const struct ocic_sub *const ctr_subs[] = {
	&ctr_create,	&ctr_start,	 &ctr_stop,	   &ctr_remove,
	&ctr_status,	&ctr_list,	 &ocic_ctr_exec,   &ocic_ctr_attach,
	&ocic_ctr_logs, &ocic_ctr_stats, &ocic_ctr_update, NULL,
};

static const struct ocic_group ctr_group = { .subs = ctr_subs };

const struct ocic_cmd ocic_cmd_ctr = {
	.name = "ctr",
	.usage = "COMMAND [FLAGS]",
	.summary =
	    "Containers: create, start, stop, remove, status, list, exec, attach, logs, stats, update.",
	.group = &ctr_group,
};
