/* Sub-commands described by tables (struct ocic_sub): flag parsing, help,
 * the request built as protobuf JSON and decoded by pbjson, one CRI call,
 * and the reply printed as a table or as JSON. The cmd_<noun>.c files only
 * hold their tables, request builders and table printers. */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/json.h"
#include "ocic.h"
#include "pbjson.h"

/* getopt values of the long flags of a sub-command: OPT_BASE + index. */
#define OPT_BASE 0x1000

/* The run being parsed: ocic_parse's callback has no context argument. */
static struct ocic_args *cur;

static int opt_index(const struct ocic_sub *sub, const char *name)
{
	for (int i = 0; sub->opts && sub->opts[i].name; i++) {
		if (strcmp(sub->opts[i].name, name) == 0)
			return i;
	}
	return -1;
}

const char *ocic_arg(const struct ocic_args *a, const char *name)
{
	int i = opt_index(a->sub, name);

	return i >= 0 ? a->val[i] : NULL;
}

bool ocic_arg_set(const struct ocic_args *a, const char *name)
{
	int i = opt_index(a->sub, name);

	return i >= 0 && a->set[i];
}

char *const *ocic_arg_list(const struct ocic_args *a, const char *name)
{
	int i = opt_index(a->sub, name);

	return i >= 0 ? a->list[i] : NULL;
}

/* "ocic pod create --help" text, and the name used in usage errors. */
static struct ocic_cmd sub_cmd(const struct ocic_cmd *group, const struct ocic_sub *sub,
			       char **ret_name, char **ret_usage, char **ret_summary)
{
	char *usage = xstrdup(""), *summary = xasprintf("%s\n\nFlags:", sub->summary), *t;

	for (const struct ocic_opt *o = sub->opts; o && o->name; o++) {
		cleanup_free char *flag = o->kind == OCIC_OPT_FLAG
					      ? xasprintf("--%s", o->name)
					      : xasprintf("--%s %s", o->name, o->arg);
		cleanup_free char *both = o->short_name ? xasprintf("-%c, %s", o->short_name, flag)
							: xasprintf("    %s", flag);

		t = xasprintf("%s%s%s%s%s", usage, *usage ? " " : "", o->required ? "" : "[", flag,
			      o->required ? "" : (o->kind == OCIC_OPT_LIST ? "]..." : "]"));
		free(usage);
		usage = t;
		t = xasprintf("%s\n  %-24s %s", summary, both, o->help);
		free(summary);
		summary = t;
	}
	if (!sub->opts || !sub->opts[0].name) {
		t = xasprintf("%s\n  (none)", summary);
		free(summary);
		summary = t;
	}
	if (sub->operands) {
		t = xasprintf("%s%s%s", usage, *usage ? " " : "", sub->operands);
		free(usage);
		usage = t;
	}
	*ret_name = xasprintf("%s %s", group->name, sub->name);
	*ret_usage = usage;
	*ret_summary = summary;
	return (struct ocic_cmd){ .name = *ret_name, .usage = usage, .summary = summary };
}

static int on_opt(int opt, const char *arg)
{
	const struct ocic_opt *opts = cur->sub->opts;
	int i = -1;

	if (opt >= OPT_BASE) {
		i = opt - OPT_BASE;
	} else {
		for (int k = 0; opts && opts[k].name; k++) {
			if (opts[k].short_name == opt)
				i = k;
		}
	}
	if (i < 0)
		return -1;
	if (opts[i].kind == OCIC_OPT_STR && cur->set[i]) {
		(void)ocic_usage_error(cur->cmd, "--%s given twice", opts[i].name);
		return -2; /* reported */
	}
	cur->set[i] = true;
	if (opts[i].kind == OCIC_OPT_LIST)
		strv_push(&cur->list[i], arg);
	else
		cur->val[i] = arg;
	return 0;
}

/* Flags anywhere between operands (before the first one with flags_first);
 * everything after "--" is an operand. */
static int parse_args(const struct ocic_cmd *c, int argc, char **argv, struct ocic_args *a)
{
	const struct ocic_sub *sub = a->sub;
	struct option longs[OCIC_MAX_OPTS + 1] = { { 0 } };
	char shorts[2 * OCIC_MAX_OPTS + 1] = "";
	int pos = 0, n = 0, r;

	for (const struct ocic_opt *o = sub->opts; o && o->name; o++, n++) {
		assert(n < OCIC_MAX_OPTS);
		longs[n] =
		    (struct option){ o->name,
				     o->kind == OCIC_OPT_FLAG ? no_argument : required_argument,
				     NULL, OPT_BASE + n };
		if (o->short_name) {
			size_t l = strlen(shorts);

			shorts[l] = o->short_name;
			shorts[l + 1] = o->kind == OCIC_OPT_FLAG ? '\0' : ':';
			shorts[l + 2] = '\0';
		}
	}
	cur = a;
	a->cmd = c;
	for (;;) {
		r = ocic_parse(argc - pos, argv + pos, c, shorts, longs, on_opt);
		if (r < 0)
			return r;
		r += pos;
		if (r >= argc)
			break;
		if (strcmp(argv[r - 1], "--") == 0 && r - 1 > pos) {
			for (; r < argc; r++)
				strv_push(&a->operands, argv[r]);
			break;
		}
		if (sub->flags_first) {
			for (; r < argc; r++)
				strv_push(&a->operands, argv[r]);
			break;
		}
		strv_push(&a->operands, argv[r]);
		pos = r;
	}
	a->n_operands = (int)strv_len(a->operands);
	return 0;
}

static int check_args(const struct ocic_cmd *c, const struct ocic_args *a)
{
	const struct ocic_sub *sub = a->sub;

	for (int i = 0; sub->opts && sub->opts[i].name; i++) {
		if (sub->opts[i].required && !a->set[i])
			return ocic_usage_error(c, "missing --%s %s", sub->opts[i].name,
						sub->opts[i].arg);
	}
	if (a->n_operands < sub->min_operands)
		return ocic_usage_error(c, "missing %s", sub->operands);
	if (a->n_operands > sub->max_operands)
		return ocic_usage_error(c, "unexpected argument '%s'",
					a->operands[sub->max_operands]);
	return 0;
}

/* Verbose "info" maps hold JSON documents as strings: show them as JSON. */
static void expand_info(json_t *reply)
{
	json_t *info = json_object_get(reply, "info");
	const char *key;
	json_t *v;

	json_object_foreach(info, key, v)
	{
		json_t *j = NULL;

		/* a value that is no JSON (the CRI allows any string) stays a string */
		if (json_is_string(v) && js_load(key, json_string_value(v), json_string_length(v),
						 SIZE_MAX, &j, NULL) >= 0)
			json_object_set_new(info, key, j);
	}
}

int ocic_sub_fetch(const struct ocic_args *a, ProtobufCMessage **ret)
{
	const struct ocic_sub *sub = a->sub;
	cleanup_err struct err err = ERR_INIT;
	ProtobufCMessage *req = NULL;
	json_t *j = json_object();
	int r = sub->request ? sub->request(a, j) : 0;

	if (r == 0 && pbjson_decode(sub->req_desc, j, &req, &err) < 0)
		r = ocic_fail("bad %s request: %s", sub->req_desc->name, err_str(&err));
	json_decref(j);
	if (r == 0)
		r = ocic_call(sub->method, req, sub->resp_desc, ret);
	if (req)
		protobuf_c_message_free_unpacked(req, NULL);
	return r;
}

int ocic_sub_call(const struct ocic_args *a)
{
	const struct ocic_sub *sub = a->sub;
	ProtobufCMessage *resp = NULL;
	int r = ocic_sub_fetch(a, &resp);

	if (r == 0 && sub->check)
		r = sub->check(a, resp);
	if (r == 0 && arg_output == OCIC_OUTPUT_JSON) {
		json_t *out = pbjson_encode(resp);

		expand_info(out);
		ocic_print_json(out);
		json_decref(out);
	} else if (r == 0 && sub->table) {
		sub->table(a, resp);
	}
	if (resp)
		protobuf_c_message_free_unpacked(resp, NULL);
	return r;
}

static const struct ocic_sub *find_sub(const struct ocic_group *g, const char *name)
{
	for (const struct ocic_sub *const *s = g->subs; *s; s++) {
		if (strcmp((*s)->name, name) == 0)
			return *s;
	}
	return NULL;
}

int ocic_group_run(const struct ocic_cmd *cmd, int argc, char **argv)
{
	struct ocic_args a = { 0 };
	cleanup_free char *name = NULL, *usage = NULL, *summary = NULL;
	struct ocic_cmd c;
	int first = ocic_parse(argc, argv, cmd, NULL, NULL, NULL), r;

	if (first < 0)
		return first == -2 ? OCIC_EXIT_OK : OCIC_EXIT_USAGE;
	if (first >= argc)
		return ocic_usage_error(cmd, "missing command");
	if (strcmp(argv[first], "help") == 0) {
		ocic_cmd_help(cmd);
		return OCIC_EXIT_OK;
	}
	a.sub = find_sub(cmd->group, argv[first]);
	if (!a.sub)
		return ocic_usage_error(cmd, "unknown command '%s %s'", cmd->name, argv[first]);
	c = sub_cmd(cmd, a.sub, &name, &usage, &summary);
	r = parse_args(&c, argc - first, argv + first, &a);
	if (r == 0)
		r = check_args(&c, &a);
	if (r == 0)
		r = a.sub->run ? a.sub->run(&a) : ocic_sub_call(&a);
	else
		r = r == -2 ? OCIC_EXIT_OK : r == -1 ? OCIC_EXIT_USAGE : r;
	for (int i = 0; i < OCIC_MAX_OPTS; i++)
		strv_free(a.list[i]);
	strv_free(a.operands);
	return r;
}

int ocic_load_config(const char *path, const ProtobufCMessageDescriptor *desc, json_t **ret)
{
	cleanup_err struct err err = ERR_INIT;
	ProtobufCMessage *m = NULL;

	if (pbjson_load_file(desc, path, &m, &err) < 0)
		return ocic_fail("%s", err_str(&err));
	/* Re-encoded: what the file said in one name style (the request is
	 * decoded once more as a whole). */
	*ret = pbjson_encode(m);
	protobuf_c_message_free_unpacked(m, NULL);
	return 0;
}

int ocic_timeout_secs(const struct ocic_args *a, uint64_t slack_ms, int64_t *ret_secs)
{
	const char *timeout = ocic_arg(a, "timeout");
	uint64_t ms = 0, secs;

	if (timeout && ocic_duration_parse(timeout, &ms) < 0)
		return ocic_usage_error(a->cmd, "bad --timeout '%s'", timeout);
	secs = (ms + 999) / 1000;
	if (secs && arg_timeout_ms < secs * 1000 + slack_ms)
		arg_timeout_ms = secs * 1000 + slack_ms;
	*ret_secs = (int64_t)secs;
	return 0;
}

static int labels_json(const struct ocic_args *a, json_t *obj)
{
	for (char *const *v = ocic_arg_list(a, "label"); v && *v; v++) {
		const char *eq = strchr(*v, '=');
		cleanup_free char *key = eq ? xstrndup(*v, (size_t)(eq - *v)) : NULL;

		if (!eq || eq == *v)
			return ocic_usage_error(a->cmd, "--label wants KEY=VALUE, got '%s'", *v);
		json_object_set_new(obj, key, json_string(eq + 1));
	}
	return 0;
}

static int state_json(const struct ocic_args *a, const struct ocic_word *states, json_t *filter)
{
	const char *state = ocic_arg(a, "state");
	cleanup_free char *words = xstrdup("");

	if (!state)
		return 0;
	for (const struct ocic_word *w = states; w->word; w++) {
		char *t;

		if (strcmp(w->word, state) == 0) {
			json_object_set_new(filter, "state", json_pack("{s:s}", "state", w->value));
			return 0;
		}
		t = xasprintf("%s%s%s", words, *words ? ", " : "", w->word);
		free(words);
		words = t;
	}
	return ocic_usage_error(a->cmd, "--state wants one of %s, got '%s'", words, state);
}

int ocic_filter_json(const struct ocic_args *a, const struct ocic_word *states, json_t **ret)
{
	json_t *filter = json_object(), *labels = json_object();
	int r = labels_json(a, labels);

	json_object_set_new(filter, "label_selector", labels);
	if (r == 0)
		r = state_json(a, states, filter);
	if (r != 0) {
		json_decref(filter);
		return r;
	}
	if (ocic_arg(a, "id"))
		json_object_set_new(filter, "id", json_string(ocic_arg(a, "id")));
	if (ocic_arg(a, "pod"))
		json_object_set_new(filter, "pod_sandbox_id", json_string(ocic_arg(a, "pod")));
	*ret = filter;
	return 0;
}
