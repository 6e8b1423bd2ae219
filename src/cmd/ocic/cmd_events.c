/* ocic events: the GetContainerEvents stream, one line per event (or one
 * JSON object per line with -o json) until the daemon ends it or Ctrl-C. */
#include <stdio.h>
#include <string.h>

#include "api.pb-c.h"
#include "mon/mon.h"
#include "ocic.h"
#include "pbjson.h"

static const char *arg_id;

static const char *event_name(Runtime__V1__ContainerEventType t)
{
	switch (t) {
	case RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_CREATED_EVENT:
		return "created";
	case RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_STARTED_EVENT:
		return "started";
	case RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_STOPPED_EVENT:
		return "stopped";
	case RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_DELETED_EVENT:
		return "deleted";
	default:
		return "unknown";
	}
}

static int on_event(void *data, const ProtobufCMessage *msg)
{
	const Runtime__V1__ContainerEventResponse *e = (const void *)msg;
	const char *pod = e->pod_sandbox_status ? e->pod_sandbox_status->id : "";
	char when[40];

	if (arg_id && !str_has_prefix(e->container_id, arg_id))
		return 0;
	if (arg_output == OCIC_OUTPUT_JSON) {
		json_t *j = pbjson_encode(msg);

		(void)json_dumpf(j, stdout, JSON_COMPACT);
		fputc('\n', stdout);
		json_decref(j);
	} else {
		/* Nanoseconds too (RFC3339Nano, as in CRI logs): events of one
		 * container often share a second. */
		if (mon_log_timestamp(e->created_at, when, sizeof(when)) < 0)
			snprintf(when, sizeof(when), "-");
		printf("%s  %-8s %s  %s\n", when, event_name(e->container_event_type),
		       e->container_id, pod);
	}
	/* A reader on a pipe sees each event as it comes. */
	(void)fflush(stdout);
	return 0;
}

static int on_opt(int opt, const char *arg)
{
	if (opt != 'i')
		return -1;
	arg_id = arg;
	return 0;
}

static int events_run(int argc, char **argv)
{
	static const struct option longs[] = { { "id", required_argument, NULL, 'i' }, { 0 } };
	Runtime__V1__GetEventsRequest req = RUNTIME__V1__GET_EVENTS_REQUEST__INIT;
	int r = ocic_parse(argc, argv, &ocic_cmd_events, NULL, longs, on_opt);

	if (r < 0)
		return r == -2 ? OCIC_EXIT_OK : OCIC_EXIT_USAGE;
	if (r < argc)
		return ocic_usage_error(&ocic_cmd_events, "unexpected argument '%s'", argv[r]);
	return ocic_call_stream(OCIC_RUNTIME_SERVICE "GetContainerEvents", &req.base,
				&runtime__v1__container_event_response__descriptor, on_event, NULL);
}

const struct ocic_cmd ocic_cmd_events = {
	.name = "events",
	.usage = "[--id ID]",
	.summary = "Print container events (GetContainerEvents) as they happen: time, type "
		   "(created, started, stopped, deleted), container id, pod id; --id keeps "
		   "those of one container (or id prefix). Runs until Ctrl-C.",
	.run = events_run,
};
