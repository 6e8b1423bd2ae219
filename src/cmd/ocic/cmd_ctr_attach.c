/* ocic ctr attach: the running container's own stdio through a streaming
 * session (CRI Attach), as crictl attach and kubectl attach do. Whether it
 * is a terminal is the container's: ContainerStatus's verbose info says. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "api.pb-c.h"
#include "ocic.h"
#include "remote.h"

/* The container's state and whether it has a terminal (-1: not known, as
 * when the runtime's verbose info has no OCI spec). */
static int container_info(const char *id, bool *ret_running, int *ret_tty)
{
	Runtime__V1__ContainerStatusRequest req = RUNTIME__V1__CONTAINER_STATUS_REQUEST__INIT;
	Runtime__V1__ContainerStatusResponse *resp = NULL;
	int r;

	req.container_id = (char *)id;
	req.verbose = true;
	r = ocic_call(OCIC_RUNTIME_SERVICE "ContainerStatus", &req.base,
		      &runtime__v1__container_status_response__descriptor,
		      (ProtobufCMessage **)&resp);
	if (r != 0)
		return r;
	*ret_running =
	    resp->status && resp->status->state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING;
	*ret_tty = -1;
	for (size_t i = 0; i < resp->n_info; i++) {
		json_t *info = NULL, *terminal;
		cleanup_err struct err err = ERR_INIT;

		if (strcmp(resp->info[i]->key, "info") != 0)
			continue;
		const char *v = resp->info[i]->value;
		if (js_load("container status info", v, strlen(v), SIZE_MAX, &info, &err) < 0) {
			fprintf(stderr, "ocic: %s\n", err_str(&err));
			continue;
		}
		terminal = json_object_get(
		    json_object_get(json_object_get(info, "runtimeSpec"), "process"), "terminal");
		if (json_is_boolean(terminal))
			*ret_tty = json_is_true(terminal);
		else if (json_object_get(info, "runtimeSpec"))
			*ret_tty = 0; /* the spec leaves out a false terminal */
		json_decref(info);
	}
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return 0;
}

static int attach_run(const struct ocic_args *a)
{
	Runtime__V1__AttachRequest req = RUNTIME__V1__ATTACH_REQUEST__INIT;
	struct ocic_remote rem = { .in = ocic_arg_set(a, "stdin") };
	const char *id = ocic_arg(a, "id");
	bool running;
	int tty, r;

	r = container_info(id, &running, &tty);
	if (r != 0)
		return r;
	if (!running)
		return ocic_fail("container %s is not running", id);
	if (tty == 0 && ocic_arg_set(a, "tty"))
		fprintf(stderr, "ocic: container %s has no terminal: attaching without one\n", id);
	rem.tty = tty >= 0 ? tty : ocic_arg_set(a, "tty");
	req.container_id = (char *)id;
	req.stdin = rem.in;
	req.tty = rem.tty;
	req.stdout = true;
	req.stderr = !rem.tty;
	return ocic_remote_call(OCIC_RUNTIME_SERVICE "Attach", &req.base,
				&runtime__v1__attach_response__descriptor, &rem);
}

static const struct ocic_opt attach_opts[] = {
	{ "id", 0, OCIC_OPT_STR, true, "ID", "the container id" },
	{ "stdin", 'i', OCIC_OPT_FLAG, false, NULL, "pass our standard input to the container" },
	{ "tty", 't', OCIC_OPT_FLAG, false, NULL,
	  "attach to its terminal (the default when it has one; needed only when the runtime does not say)" },
	{ 0 },
};

const struct ocic_sub ocic_ctr_attach = {
	.name = "attach",
	.summary = "Attach to a running container's stdin, stdout and stderr (Attach).",
	.opts = attach_opts,
	.run = attach_run,
};
