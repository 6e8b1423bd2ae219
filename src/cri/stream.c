/* Exec, Attach and PortForward: validate, then a URL of the streaming
 * server (stream/stream.h), which serves the session itself. */
#include <errno.h>
#include <stdlib.h>

#include "cri/cri_int.h"
#include "stream/stream.h"

#define RS "runtime.v1.RuntimeService"

static struct stream_server *server(struct cri_ctx *ctx, struct err *err)
{
	if (!ctx->deps->stream)
		(void)err_msg(err, -ENOSYS, "the streaming server is not running");
	return ctx->deps->stream;
}

static void reply_url(struct cri_ctx *ctx, const ProtobufCMessageDescriptor *d, char *url)
{
	/* Exec, Attach and PortForward responses are all { string url = 1; }. */
	Runtime__V1__ExecResponse resp = RUNTIME__V1__EXEC_RESPONSE__INIT;
	resp.base.descriptor = d;
	resp.url = url;
	cri_reply(ctx, &resp.base);
	free(url);
}

static int exec(struct cri_ctx *ctx, const ProtobufCMessage *reqm, struct err *err)
{
	const Runtime__V1__ExecRequest *req = (const Runtime__V1__ExecRequest *)reqm;
	struct stream_server *s = server(ctx, err);
	if (!s)
		return -ENOSYS;
	if (req->n_cmd == 0)
		return err_msg(err, -EINVAL, "exec: no command given");
	char **cmd = xcalloc(req->n_cmd + 1, sizeof(*cmd));
	for (size_t i = 0; i < req->n_cmd; i++)
		cmd[i] = req->cmd[i];
	struct stream_exec_req r = { .ctr_id = req->container_id,
				     .cmd = cmd,
				     .tty = req->tty,
				     .in = req->stdin,
				     .out = req->stdout,
				     .err = req->stderr };
	char *url = NULL;
	int rc = stream_exec_url(s, &r, &url, err);
	free(cmd);
	if (rc < 0)
		return rc;
	reply_url(ctx, &runtime__v1__exec_response__descriptor, url);
	return 0;
}

static int attach(struct cri_ctx *ctx, const ProtobufCMessage *reqm, struct err *err)
{
	const Runtime__V1__AttachRequest *req = (const Runtime__V1__AttachRequest *)reqm;
	struct stream_server *s = server(ctx, err);
	if (!s)
		return -ENOSYS;
	struct stream_exec_req r = { .ctr_id = req->container_id,
				     .tty = req->tty,
				     .in = req->stdin,
				     .out = req->stdout,
				     .err = req->stderr };
	char *url = NULL;
	int rc = stream_attach_url(s, &r, &url, err);
	if (rc < 0)
		return rc;
	reply_url(ctx, &runtime__v1__attach_response__descriptor, url);
	return 0;
}

static int port_forward(struct cri_ctx *ctx, const ProtobufCMessage *reqm, struct err *err)
{
	const Runtime__V1__PortForwardRequest *req = (const Runtime__V1__PortForwardRequest *)reqm;
	struct stream_server *s = server(ctx, err);
	if (!s)
		return -ENOSYS;
	char *url = NULL;
	int rc = stream_portforward_url(s, req->pod_sandbox_id, req->port, req->n_port, &url, err);
	if (rc < 0)
		return rc;
	reply_url(ctx, &runtime__v1__port_forward_response__descriptor, url);
	return 0;
}

const struct cri_impl cri_stream_impls[] = {
	{ RS, "Exec", exec },
	{ RS, "Attach", attach },
	{ RS, "PortForward", port_forward },
	{ NULL, NULL, NULL },
};
