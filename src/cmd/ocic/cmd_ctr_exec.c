/* ocic ctr exec: run a command in a container and exit with its exit
 * code. --sync: ExecSync, the output copied when the command has ended.
 * Without: Exec, then a streaming session (remote.c) with our stdin (-i)
 * and a terminal (-t), as crictl exec and kubectl exec do. */
#include <stdio.h>

#include "api.pb-c.h"
#include "ocic.h"
#include "remote.h"

/* The call's deadline is at least the command's timeout plus this. */
#define EXEC_DEADLINE_SLACK_MS 10000

/* Exec: the URL of a session, then the session. */
static int exec_stream(const struct ocic_args *a)
{
	Runtime__V1__ExecRequest req = RUNTIME__V1__EXEC_REQUEST__INIT;
	struct ocic_remote rem = { .tty = ocic_arg_set(a, "tty"), .in = ocic_arg_set(a, "stdin") };

	if (ocic_arg(a, "timeout"))
		return ocic_usage_error(a->cmd, "--timeout is a flag of --sync");
	req.container_id = (char *)ocic_arg(a, "id");
	req.cmd = a->operands;
	req.n_cmd = (size_t)a->n_operands;
	req.tty = rem.tty;
	req.stdin = rem.in;
	req.stdout = true;
	/* A terminal has one output stream (kubelet refuses stderr with tty). */
	req.stderr = !rem.tty;
	return ocic_remote_call(OCIC_RUNTIME_SERVICE "Exec", &req.base,
				&runtime__v1__exec_response__descriptor, &rem);
}

static int exec_run(const struct ocic_args *a)
{
	Runtime__V1__ExecSyncRequest req = RUNTIME__V1__EXEC_SYNC_REQUEST__INIT;
	Runtime__V1__ExecSyncResponse *resp = NULL;
	int r;

	if (!ocic_arg_set(a, "sync"))
		return exec_stream(a);
	if (ocic_arg_set(a, "stdin") || ocic_arg_set(a, "tty"))
		return ocic_usage_error(a->cmd, "--sync takes no -i or -t");
	r = ocic_timeout_secs(a, EXEC_DEADLINE_SLACK_MS, &req.timeout);
	if (r != 0)
		return r;
	/* The call's deadline follows the command's: none without --timeout,
	 * unless the global --timeout asks for one. */
	if (!req.timeout && !arg_timeout_given)
		arg_timeout_ms = 0;
	req.container_id = (char *)ocic_arg(a, "id");
	req.cmd = a->operands;
	req.n_cmd = (size_t)a->n_operands;
	r = ocic_call(OCIC_RUNTIME_SERVICE "ExecSync", &req.base,
		      &runtime__v1__exec_sync_response__descriptor, (ProtobufCMessage **)&resp);
	if (r != 0)
		return r;
	/* An empty bytes field has no data pointer at all. */
	if (resp->stdout.len)
		(void)fwrite(resp->stdout.data, 1, resp->stdout.len, stdout);
	(void)fflush(stdout);
	if (resp->stderr.len)
		(void)fwrite(resp->stderr.data, 1, resp->stderr.len, stderr);
	/* Exit codes are 0..255; a negative or larger one still means failure. */
	r = resp->exit_code >= 0 && resp->exit_code <= 255 ? resp->exit_code : OCIC_EXIT_FAIL;
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return r;
}

static const struct ocic_opt exec_opts[] = {
	{ "id", 0, OCIC_OPT_STR, true, "ID", "the container id" },
	{ "stdin", 'i', OCIC_OPT_FLAG, false, NULL, "pass our standard input to the command" },
	{ "tty", 't', OCIC_OPT_FLAG, false, NULL,
	  "give the command a terminal (ours in raw mode with -i, when stdin is one)" },
	{ "sync", 's', OCIC_OPT_FLAG, false, NULL,
	  "run to completion, then print the output (ExecSync); no -i or -t" },
	{ "timeout", 0, OCIC_OPT_STR, false, "DURATION",
	  "with --sync: kill the command after this long; the call waits that long plus 10 s (default: no limit, unless the global --timeout sets one)" },
	{ 0 },
};

const struct ocic_sub ocic_ctr_exec = {
	.name = "exec",
	.summary =
	    "Run a command in a running container (Exec, or ExecSync with --sync) and exit with its exit code.",
	.opts = exec_opts,
	.operands = "[--] CMD [ARG]...",
	.min_operands = 1,
	.max_operands = 1 << 20,
	.flags_first = true,
	.run = exec_run,
};
