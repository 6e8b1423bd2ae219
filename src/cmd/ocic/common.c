/* ocic helpers shared by the commands: flags, errors, calls, printing. */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ocic.h"

#define OCIC_HTTP_MAX_BODY (16u << 20)

static struct rpc_client *client;

int ocic_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("ocic: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return OCIC_EXIT_FAIL;
}

int ocic_usage_error(const struct ocic_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fputs("ocic: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'ocic %s%s--help'.\n", cmd ? cmd->name : "", cmd ? " " : "");
	return OCIC_EXIT_USAGE;
}

void ocic_cmd_help(const struct ocic_cmd *cmd)
{
	printf("Usage: ocic [GLOBAL FLAGS] %s %s\n\n%s\n\n", cmd->name, cmd->usage, cmd->summary);
	if (cmd->group) {
		printf("Commands:\n");
		for (const struct ocic_sub *const *s = cmd->group->subs; *s; s++)
			printf("  %-8s %s\n", (*s)->name, (*s)->summary);
		printf("\n'ocic %s COMMAND --help' shows the flags of one command.\n\n", cmd->name);
	}
	printf("Global flags: --socket PATH, -o/--output table|json, --timeout DURATION.\n");
}

int ocic_output_parse(const char *s, enum ocic_output *ret)
{
	if (strcmp(s, "table") == 0)
		*ret = OCIC_OUTPUT_TABLE;
	else if (strcmp(s, "json") == 0)
		*ret = OCIC_OUTPUT_JSON;
	else
		return -EINVAL;
	return 0;
}

int ocic_duration_parse(const char *s, uint64_t *ret_ms)
{
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = { { "", 1000 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 } };
	char *end;
	unsigned long long n;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno || n > 1000000000ull)
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		if (strcmp(end, units[i].unit) == 0) {
			*ret_ms = n * units[i].ms;
			return 0;
		}
	}
	return -EINVAL;
}

/* Handle a global flag met after the command name. Returns 1 when handled,
 * 0 when not a global flag, -1 on a bad value (printed). */
static int global_opt(const struct ocic_cmd *cmd, int opt, const char *arg)
{
	switch (opt) {
	case 'o':
		if (ocic_output_parse(arg, &arg_output) < 0)
			return ocic_usage_error(cmd, "unknown output format '%s'", arg), -1;
		return 1;
	case 'S':
		arg_socket = arg;
		return 1;
	case 'T':
		if (ocic_duration_parse(arg, &arg_timeout_ms) < 0 || arg_timeout_ms == 0)
			return ocic_usage_error(cmd, "bad timeout '%s'", arg), -1;
		arg_timeout_given = true;
		return 1;
	default:
		return 0;
	}
}

int ocic_parse(int argc, char **argv, const struct ocic_cmd *cmd, const char *shortopts,
	       const struct option *longopts, int (*on_opt)(int opt, const char *arg))
{
	static const struct option globals[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "output", required_argument, NULL, 'o' },
		{ "socket", required_argument, NULL, 'S' },
		{ "timeout", required_argument, NULL, 'T' },
	};
	struct option all[32];
	size_t n = 0;
	cleanup_free char *shorts = xasprintf("+ho:%s", shortopts ? shortopts : "");
	int opt;

	for (const struct option *o = longopts; o && o->name; o++) {
		assert(n < ARRAY_SIZE(all) - ARRAY_SIZE(globals) - 1);
		all[n++] = *o;
	}
	for (size_t i = 0; i < ARRAY_SIZE(globals); i++)
		all[n++] = globals[i];
	all[n] = (struct option){ 0 };
	optind = 0; /* full re-initialisation of getopt for this argv */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, shorts, all, NULL)) != -1) {
		int r;

		if (opt == 'h') {
			if (cmd)
				ocic_cmd_help(cmd);
			return -2;
		}
		if (opt == '?' || opt == ':')
			return ocic_usage_error(cmd, "bad option '%s'", argv[optind - 1]), -1;
		r = global_opt(cmd, opt, optarg);
		if (r < 0)
			return -1;
		if (r == 0)
			r = on_opt ? on_opt(opt, optarg) : -1;
		if (r == -2)
			return -1;
		if (r < 0)
			return ocic_usage_error(cmd, "bad option '%s'", argv[optind - 1]), -1;
	}
	return optind;
}

/* --socket also takes crictl's form, unix:///run/ocid/ocid.sock. */
const char *ocic_socket_path(void)
{
	return str_has_prefix(arg_socket, "unix://") ? arg_socket + strlen("unix://") : arg_socket;
}

static int connect_daemon(void)
{
	cleanup_err struct err err = ERR_INIT;
	int r;

	if (client)
		return 0;
	r = rpc_client_new(ocic_socket_path(), &client, &err);
	if (r == -ENOENT || r == -ECONNREFUSED)
		return ocic_fail("%s (is ocid running?)", err_str(&err));
	if (r < 0)
		return ocic_fail("%s", err_str(&err));
	return 0;
}

void ocic_disconnect(void)
{
	rpc_client_free(client);
	client = NULL;
}

/* Connect if needed, pack `req` and make the call (unary when on_msg is
 * NULL). Returns 0 with the status in *reply, or an exit code (printed). */
static int call(const char *method, const ProtobufCMessage *req, uint64_t timeout_ms,
		rpc_client_msg_fn on_msg, void *data, struct rpc_client_reply *reply)
{
	cleanup_err struct err err = ERR_INIT;
	size_t len = protobuf_c_message_get_packed_size(req);
	cleanup_free uint8_t *buf = xmalloc(len ? len : 1);
	int r = connect_daemon();

	if (r != 0)
		return r;
	(void)protobuf_c_message_pack(req, buf);
	if (on_msg)
		(void)rpc_client_call_stream(client, method, buf, len, timeout_ms, on_msg, data,
					     reply, &err);
	else
		(void)rpc_client_call(client, method, buf, len, timeout_ms, reply, &err);
	return 0;
}

static int fail_status(const struct rpc_client_reply *reply)
{
	return ocic_fail("%s: %s", rpc_code_name(reply->code),
			 reply->message ? reply->message : "(no message)");
}

int ocic_call(const char *method, const ProtobufCMessage *req,
	      const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **ret)
{
	struct rpc_client_reply reply = { 0 };
	int r = call(method, req, arg_timeout_ms, NULL, NULL, &reply);

	if (r == 0 && reply.code != RPC_OK)
		r = fail_status(&reply);
	if (r == 0) {
		*ret = protobuf_c_message_unpack(resp_desc, NULL, reply.len, reply.data);
		if (!*ret)
			r = ocic_fail("%s: cannot decode the reply as %s", method, resp_desc->name);
	}
	rpc_client_reply_done(&reply);
	return r;
}

/* A server-streaming call: each message is unpacked and handed on. */
struct stream_ctx {
	const ProtobufCMessageDescriptor *desc;
	int (*on_msg)(void *data, const ProtobufCMessage *msg);
	void *data;
};

static int stream_msg(void *data, const uint8_t *msg, size_t len)
{
	struct stream_ctx *s = data;
	ProtobufCMessage *m = protobuf_c_message_unpack(s->desc, NULL, len, msg);
	int r;

	if (!m)
		return ocic_fail("cannot decode a stream message as %s", s->desc->name), -EPROTO;
	r = s->on_msg(s->data, m);
	protobuf_c_message_free_unpacked(m, NULL);
	return r;
}

int ocic_call_stream(const char *method, const ProtobufCMessage *req,
		     const ProtobufCMessageDescriptor *msg_desc,
		     int (*on_msg)(void *data, const ProtobufCMessage *msg), void *data)
{
	struct rpc_client_reply reply = { 0 };
	struct stream_ctx ctx = { msg_desc, on_msg, data };
	int r = call(method, req, 0, stream_msg, &ctx, &reply);

	/* CANCELLED: on_msg asked to stop (and printed why, if it failed). */
	if (r == 0 && reply.code == RPC_CANCELLED)
		r = OCIC_EXIT_FAIL;
	else if (r == 0 && reply.code != RPC_OK)
		r = fail_status(&reply);
	rpc_client_reply_done(&reply);
	return r;
}

int ocic_http_json(const char *method, const char *path, const json_t *body, json_t **ret)
{
	cleanup_err struct err err = ERR_INIT;
	cleanup_free char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	struct rpc_client_http_reply reply = { 0 };
	struct rpc_client_http_req req = {
		.method = method,
		.path = path,
		.content_type = text ? "application/json" : NULL,
		.body = text,
		.body_len = text ? strlen(text) : 0,
		.timeout_ms = arg_timeout_ms,
		.max_body = OCIC_HTTP_MAX_BODY,
	};
	int r;

	r = rpc_client_http(ocic_socket_path(), &req, &reply, &err);
	if (r == -ENOENT || r == -ECONNREFUSED)
		return ocic_fail("%s (is ocid running?)", err_str(&err));
	if (r < 0)
		return ocic_fail("%s", err_str(&err));
	if (reply.status < 200 || reply.status > 299) {
		/* The daemon's errors are {"error": "..."}: print the sentence. */
		json_t *e = NULL;
		/* not {"error": ...}: the raw body is printed instead */
		(void)js_load("reply", reply.body, reply.body_len, SIZE_MAX, &e, NULL);
		const char *msg = json_string_value(json_object_get(e, "error"));
		if (msg)
			r = ocic_fail("%s (HTTP %d)", msg, reply.status);
		else
			r = ocic_fail("%s %s: HTTP %d: %.200s", method, path, reply.status,
				      reply.body);
		json_decref(e);
		rpc_client_http_reply_done(&reply);
		return r;
	}
	r = js_load("reply", reply.body, reply.body_len, SIZE_MAX, ret, &err);
	rpc_client_http_reply_done(&reply);
	if (r < 0)
		return ocic_fail("%s %s: %s", method, path, err_str(&err));
	return 0;
}

void ocic_print_json(const json_t *j)
{
	(void)json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
}

void ocic_print_kv(unsigned indent, const char *const *kv)
{
	size_t width = 0;

	for (const char *const *p = kv; p[0]; p += 2) {
		if (strlen(p[0]) > width)
			width = strlen(p[0]);
	}
	for (const char *const *p = kv; p[0]; p += 2)
		printf("%*s%s:%*s %s\n", (int)indent, "", p[0], (int)(width - strlen(p[0])), "",
		       p[1] ? p[1] : "");
}

void ocic_print_id_arg(const struct ocic_args *a, const ProtobufCMessage *resp)
{
	printf("%s\n", ocic_arg(a, "id"));
}
