/* OCI hooks as oci-hooks(5) describes them (version 1.0.0): JSON files in
 * hook directories naming a program, the container stages it runs at and
 * the conditions (`when`) under which it is injected into a container's
 * config.json. The runtime runs the hooks; we only choose them. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base.h"
#include "base/json.h"
#include "oci/oci_int.h"

#define HOOK_FILE_MAX (64u * 1024u)
#define HOOK_FILES_MAX 256
#define HOOK_PATTERNS_MAX 64
#define HOOK_PATTERN_LEN_MAX 1024

static const char *const stage_names[OCI_HOOK_STAGES] = {
	[OCI_HOOK_PRESTART] = "prestart",
	[OCI_HOOK_CREATE_RUNTIME] = "createRuntime",
	[OCI_HOOK_CREATE_CONTAINER] = "createContainer",
	[OCI_HOOK_START_CONTAINER] = "startContainer",
	[OCI_HOOK_POSTSTART] = "poststart",
	[OCI_HOOK_POSTSTOP] = "poststop",
};

struct pattern_pair {
	regex_t key, value;
};

struct oci_hook_rule {
	char *name;	 /* the file name, for ordering and messages */
	json_t *hook;	 /* {"path", "args", "env", "timeout"} as the runtime wants it */
	unsigned stages; /* 1 << enum oci_hook_stage */
	int always;	 /* -1 unset, 0 false, 1 true */
	int bind_mounts; /* likewise */
	struct pattern_pair *ann;
	size_t n_ann;
	regex_t *cmds;
	size_t n_cmds;
};

struct oci_hooks {
	struct oci_hook_rule **v;
	size_t n;
};

const char *oci_hook_stage_name(enum oci_hook_stage s)
{
	return s < OCI_HOOK_STAGES ? stage_names[s] : NULL;
}

bool oci_hook_stage_valid(const char *name)
{
	for (unsigned k = 0; k < OCI_HOOK_STAGES; k++)
		if (strcmp(name, stage_names[k]) == 0)
			return true;
	return false;
}

void oci_hook_rule_free(struct oci_hook_rule *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_ann; i++) {
		regfree(&r->ann[i].key);
		regfree(&r->ann[i].value);
	}
	for (size_t i = 0; i < r->n_cmds; i++)
		regfree(&r->cmds[i]);
	free(r->ann);
	free(r->cmds);
	json_decref(r->hook);
	free(r->name);
	free(r);
}

/* Only the keys a format defines: a misspelt "hasbindmounts" is an error,
 * not a condition silently dropped. */
static int only_keys(const json_t *o, const char *path, const char *const *allowed, struct err *err)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)o, k, v)
	{
		bool ok = false;
		for (const char *const *a = allowed; *a && !ok; a++)
			ok = strcmp(*a, k) == 0;
		if (!ok)
			return err_msg(err, -EINVAL, "%s%s%s: unknown key", path, *path ? "." : "",
				       k);
	}
	return 0;
}

static int compile(regex_t *re, const char *pattern, const char *path, struct err *err)
{
	if (strlen(pattern) > HOOK_PATTERN_LEN_MAX)
		return err_msg(err, -EINVAL, "%s: a pattern longer than %u bytes", path,
			       HOOK_PATTERN_LEN_MAX);
	int rc = regcomp(re, pattern, REG_EXTENDED | REG_NOSUB);
	if (rc != 0) {
		char msg[128];
		regerror(rc, re, msg, sizeof(msg));
		return err_msg(err, -EINVAL, "%s: bad regular expression '%s': %s", path, pattern,
			       msg);
	}
	return 0;
}

/* A list of strings, copied into the hook object under `key`. */
static int str_array(const json_t *from, const char *path, const char *key, json_t *to, bool env,
		     struct err *err)
{
	const json_t *a = NULL;
	int r = js_get_str_array(from, path, key, env ? JS_STRV_ENV : 0, &a, err);
	if (r >= 0 && a)
		json_object_set_new(to, key, json_deep_copy(a));
	return r;
}

static int parse_hook(const json_t *doc, struct oci_hook_rule *r, struct err *err)
{
	static const char *const keys[] = { "path", "args", "env", "timeout", NULL };
	const json_t *h = NULL;
	const char *p = NULL;
	int64_t timeout = 0;
	int rc = js_get(doc, "", "hook", JSON_OBJECT, true, &h, err);
	if (rc >= 0)
		rc = only_keys(h, "hook", keys, err);
	if (rc >= 0)
		rc = js_get_str(h, "hook", "path", NULL, &p, err);
	if (rc >= 0 && (!p || p[0] != '/'))
		rc = err_msg(err, -EINVAL, "hook.path: an absolute path is required");
	if (rc >= 0)
		rc = js_get_int(h, "hook", "timeout", 0, &timeout, err);
	if (rc >= 0 && (timeout < 0 || timeout > 3600))
		rc = err_msg(err, -EINVAL, "hook.timeout: %lld is not 1 to 3600 seconds",
			     (long long)timeout);
	if (rc < 0)
		return rc;
	r->hook = json_object();
	json_object_set_new(r->hook, "path", json_string(p));
	rc = str_array(h, "hook", "args", r->hook, false, err);
	if (rc >= 0)
		rc = str_array(h, "hook", "env", r->hook, true, err);
	if (rc >= 0 && timeout > 0)
		json_object_set_new(r->hook, "timeout", json_integer(timeout));
	return rc;
}

static int parse_tristate(const json_t *w, const char *key, int *ret, struct err *err)
{
	const json_t *v = json_object_get(w, key);
	if (!v || json_is_null(v))
		*ret = -1;
	else if (json_is_boolean(v))
		*ret = json_is_true(v);
	else
		return err_msg(err, -EINVAL, "when.%s: expected true or false", key);
	return 0;
}

/* when.annotations: each key and value a pattern (r->ann is sized). */
static int compile_annotations(const json_t *ann, struct oci_hook_rule *r, struct err *err)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)ann, k, v)
	{
		cleanup_free char *path = js_path_key("when.annotations", k);
		if (!json_is_string(v))
			return err_msg(err, -EINVAL, "%s: expected a string", path);
		int rc = compile(&r->ann[r->n_ann].key, k, path, err);
		if (rc < 0)
			return rc;
		rc = compile(&r->ann[r->n_ann].value, json_string_value(v), path, err);
		if (rc < 0) {
			regfree(&r->ann[r->n_ann].key);
			return rc;
		}
		r->n_ann++;
	}
	return 0;
}

/* when.commands: each a pattern (r->cmds is sized). */
static int compile_commands(const json_t *cmds, struct oci_hook_rule *r, struct err *err)
{
	size_t i;
	json_t *v;
	json_array_foreach((json_t *)cmds, i, v)
	{
		cleanup_free char *path = js_path_index("when.commands", i);
		if (!json_is_string(v))
			return err_msg(err, -EINVAL, "%s: expected a string", path);
		int rc = compile(&r->cmds[r->n_cmds], json_string_value(v), path, err);
		if (rc < 0)
			return rc;
		r->n_cmds++;
	}
	return 0;
}

static int parse_when(const json_t *doc, struct oci_hook_rule *r, struct err *err)
{
	static const char *const keys[] = { "always", "annotations", "commands", "hasBindMounts",
					    NULL };
	const json_t *w = NULL, *ann = NULL, *cmds = NULL;
	int rc = js_get(doc, "", "when", JSON_OBJECT, true, &w, err);
	if (rc >= 0)
		rc = only_keys(w, "when", keys, err);
	if (rc >= 0)
		rc = parse_tristate(w, "always", &r->always, err);
	if (rc >= 0)
		rc = parse_tristate(w, "hasBindMounts", &r->bind_mounts, err);
	if (rc >= 0)
		rc = js_get(w, "when", "annotations", JSON_OBJECT, false, &ann, err);
	if (rc >= 0)
		rc = js_get(w, "when", "commands", JSON_ARRAY, false, &cmds, err);
	if (rc < 0)
		return rc;
	size_t n_ann = ann ? json_object_size(ann) : 0, n_cmds = cmds ? json_array_size(cmds) : 0;
	if (n_ann + n_cmds > HOOK_PATTERNS_MAX)
		return err_msg(err, -EINVAL, "when: more than %u patterns", HOOK_PATTERNS_MAX);
	if (r->always < 0 && r->bind_mounts < 0 && n_ann == 0 && n_cmds == 0)
		return err_msg(
		    err, -EINVAL,
		    "when: at least one of always, annotations, commands, hasBindMounts is required");
	r->ann = xcalloc(n_ann ? n_ann : 1, sizeof(*r->ann));
	r->cmds = xcalloc(n_cmds ? n_cmds : 1, sizeof(*r->cmds));
	rc = compile_annotations(ann, r, err);
	return rc < 0 ? rc : compile_commands(cmds, r, err);
}

static int parse_stages(const json_t *doc, struct oci_hook_rule *r, struct err *err)
{
	const json_t *a = NULL;
	int rc = js_get(doc, "", "stages", JSON_ARRAY, true, &a, err);
	if (rc < 0)
		return rc;
	if (json_array_size(a) == 0)
		return err_msg(err, -EINVAL, "stages: at least one stage is required");
	size_t i;
	json_t *v;
	json_array_foreach((json_t *)a, i, v)
	{
		const char *s = json_string_value(v);
		unsigned st = OCI_HOOK_STAGES;
		for (unsigned k = 0; s && k < OCI_HOOK_STAGES; k++)
			if (strcmp(s, stage_names[k]) == 0)
				st = k;
		if (st == OCI_HOOK_STAGES)
			return err_msg(
			    err, -EINVAL,
			    "stages[%zu]: '%s' is not a stage (prestart, createRuntime, createContainer, startContainer, poststart, poststop)",
			    i, s ? s : "(not a string)");
		r->stages |= 1u << st;
	}
	return 0;
}

int oci_hook_parse(const char *name, const char *text, size_t len, struct oci_hook_rule **ret,
		   struct err *err)
{
	static const char *const keys[] = { "version", "hook", "when", "stages", NULL };
	json_t *doc = NULL;
	int rc = js_load(name, text, len, HOOK_FILE_MAX, &doc, err);
	if (rc < 0)
		return rc;
	struct oci_hook_rule *r = xcalloc(1, sizeof(*r));
	r->name = xstrdup(name);
	const char *version = NULL;
	if (!json_is_object(doc))
		rc = err_msg(err, -EINVAL, "expected a JSON object");
	if (rc >= 0)
		rc = only_keys(doc, "", keys, err);
	if (rc >= 0)
		rc = js_get_str(doc, "", "version", NULL, &version, err);
	if (rc >= 0 && (!version || strcmp(version, "1.0.0") != 0))
		rc = err_msg(err, -EINVAL, "version: '%s' is not supported (only 1.0.0)",
			     version ? version : "(missing)");
	if (rc >= 0)
		rc = parse_hook(doc, r, err);
	if (rc >= 0)
		rc = parse_when(doc, r, err);
	if (rc >= 0)
		rc = parse_stages(doc, r, err);
	json_decref(doc);
	if (rc < 0) {
		oci_hook_rule_free(r);
		return err_wrap(err, "%s", name);
	}
	*ret = r;
	return 0;
}

static bool search(const regex_t *re, const char *s)
{
	return regexec(re, s, 0, NULL, 0) == 0;
}

/* Every condition set must hold, and at least one is set (the parser made
 * sure): `always: false` never matches. */
bool oci_hook_rule_matches(const struct oci_hook_rule *r, const char *arg0,
			   const struct oci_kv *annotations, size_t n_annotations,
			   bool has_bind_mounts)
{
	if (r->always == 0)
		return false;
	if (r->bind_mounts == 0 || (r->bind_mounts == 1 && !has_bind_mounts))
		return false;
	for (size_t i = 0; i < r->n_ann; i++) {
		bool hit = false;
		for (size_t k = 0; k < n_annotations && !hit; k++)
			hit = search(&r->ann[i].key, annotations[k].key) &&
			      search(&r->ann[i].value, annotations[k].value);
		if (!hit)
			return false;
	}
	if (r->n_cmds) {
		bool hit = false;
		for (size_t i = 0; i < r->n_cmds && !hit; i++)
			hit = arg0 && search(&r->cmds[i], arg0);
		if (!hit)
			return false;
	}
	return true;
}

unsigned oci_hook_rule_stages(const struct oci_hook_rule *r)
{
	return r->stages;
}

void oci_hooks_free(struct oci_hooks *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->n; i++)
		oci_hook_rule_free(h->v[i]);
	free(h->v);
	free(h);
}

static int by_name(const void *a, const void *b)
{
	return strcmp((*(struct oci_hook_rule *const *)a)->name,
		      (*(struct oci_hook_rule *const *)b)->name);
}

/* Read one file (regular, bounded) of directory fd `dfd`. */
static int read_hook_file(int dfd, const char *dir, const char *name, struct oci_hook_rule **ret,
			  struct err *err)
{
	cleanup_close int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return err_set(err, -errno, "%s/%s", dir, name);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return err_set(err, -errno, "%s/%s", dir, name);
	if (!S_ISREG(st.st_mode))
		return err_msg(err, -EINVAL, "%s/%s: not a regular file", dir, name);
	if ((uint64_t)st.st_size > HOOK_FILE_MAX)
		return err_msg(err, -EFBIG, "%s/%s: larger than %u bytes", dir, name,
			       HOOK_FILE_MAX);
	cleanup_free char *buf = xmalloc((size_t)st.st_size + 1);
	ssize_t n = read(fd, buf, (size_t)st.st_size + 1);
	if (n < 0)
		return err_set(err, -errno, "%s/%s", dir, name);
	cleanup_free char *label = xasprintf("%s/%s", dir, name);
	int r = oci_hook_parse(label, buf, (size_t)n, ret, err);
	if (r >= 0) {
		free((*ret)->name);
		(*ret)->name = xstrdup(name);
	}
	return r;
}

/* Replace (a later directory overrides a file of the same name) or add. */
static void put(struct oci_hooks *h, struct oci_hook_rule *r)
{
	for (size_t i = 0; i < h->n; i++)
		if (strcmp(h->v[i]->name, r->name) == 0) {
			oci_hook_rule_free(h->v[i]);
			h->v[i] = r;
			return;
		}
	h->v = xrealloc(h->v, (h->n + 1) * sizeof(*h->v));
	h->v[h->n++] = r;
}

/* A file that fails in a later directory still overrides (hides) the one
 * of the same name before it: an administrator's broken override must not
 * quietly bring back the packaged hook. */
static void drop(struct oci_hooks *h, const char *name)
{
	for (size_t i = 0; i < h->n; i++)
		if (strcmp(h->v[i]->name, name) == 0) {
			oci_hook_rule_free(h->v[i]);
			h->v[i] = h->v[--h->n];
			return;
		}
}

static void load_dir(struct oci_hooks *h, const char *dir, char ***warnings)
{
	DIR *d = opendir(dir);
	if (!d) {
		if (errno != ENOENT)
			strv_push_take(warnings, xasprintf("%s: %s", dir, strerror(errno)));
		return;
	}
	struct dirent *e;
	size_t seen = 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || !str_has_suffix(e->d_name, ".json"))
			continue;
		if (++seen > HOOK_FILES_MAX) {
			strv_push_take(
			    warnings, xasprintf("%s: more than %u hook files; the rest are ignored",
						dir, HOOK_FILES_MAX));
			break;
		}
		struct oci_hook_rule *r = NULL;
		cleanup_err struct err err = ERR_INIT;
		if (read_hook_file(dirfd(d), dir, e->d_name, &r, &err) < 0 || !r) {
			drop(h, e->d_name);
			strv_push(warnings, err_str(&err));
			continue;
		}
		put(h, r);
	}
	closedir(d);
}

struct oci_hooks *oci_hooks_load(char *const *dirs, char ***ret_warnings)
{
	struct oci_hooks *h = xcalloc(1, sizeof(*h));
	for (size_t i = 0; dirs && dirs[i]; i++)
		load_dir(h, dirs[i], ret_warnings);
	if (h->n > 1)
		qsort(h->v, h->n, sizeof(*h->v), by_name);
	return h;
}

size_t oci_hooks_count(const struct oci_hooks *h)
{
	return h ? h->n : 0;
}

int oci_hooks_inject(const struct oci_hooks *h, json_t *spec, const struct oci_kv *annotations,
		     size_t n_annotations, bool has_bind_mounts)
{
	json_t *args = json_object_get(json_object_get(spec, "process"), "args");
	const char *arg0 = json_string_value(json_array_get(args, 0));
	int n = 0;
	for (size_t i = 0; h && i < h->n; i++) {
		const struct oci_hook_rule *r = h->v[i];
		if (!oci_hook_rule_matches(r, arg0, annotations, n_annotations, has_bind_mounts))
			continue;
		json_t *hooks = json_object_get(spec, "hooks");
		if (!json_is_object(hooks)) {
			hooks = json_object();
			json_object_set_new(spec, "hooks", hooks);
		}
		for (unsigned s = 0; s < OCI_HOOK_STAGES; s++) {
			if (!(r->stages & (1u << s)))
				continue;
			json_t *list = json_object_get(hooks, stage_names[s]);
			if (!json_is_array(list)) {
				list = json_array();
				json_object_set_new(hooks, stage_names[s], list);
			}
			json_array_append_new(list, json_deep_copy(r->hook));
		}
		n++;
	}
	return n;
}
