/* CDI (the Container Device Interface): spec files naming devices of a
 * kind ("vendor.com/class=name") and the edits that give a container one
 * -- device nodes, mounts, environment, hooks -- applied to config.json. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "base/base.h"
#include "base/json.h"
#include "oci/oci_int.h"

#define CDI_FILE_MAX (1u << 20)
#define CDI_FILES_MAX 256

struct cdi_device {
	char *name;    /* fully qualified: kind=name */
	json_t *edits; /* the spec's containerEdits, then the device's */
};

struct oci_cdi {
	struct cdi_device *v;
	size_t n;
};

struct oci_cdi *oci_cdi_new(void)
{
	return xcalloc(1, sizeof(struct oci_cdi));
}

void oci_cdi_free(struct oci_cdi *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free(c->v[i].name);
		json_decref(c->v[i].edits);
	}
	free(c->v);
	free(c);
}

/* "vendor.com/class": a domain-ish vendor, a slash, a class name. */
static bool kind_ok(const char *k)
{
	const char *slash = strchr(k, '/');
	if (!slash || slash == k || !slash[1] || strchr(slash + 1, '/'))
		return false;
	for (const char *p = k; *p; p++)
		if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') &&
		    !(*p >= '0' && *p <= '9') && !strchr("._-/", *p))
			return false;
	return true;
}

static bool name_ok(const char *n)
{
	if (!*n)
		return false;
	for (const char *p = n; *p; p++)
		if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') &&
		    !(*p >= '0' && *p <= '9') && !strchr("._-:", *p))
			return false;
	return true;
}

static int check_abs(const json_t *o, const char *path, const char *key, bool required,
		     struct err *err)
{
	const char *s = NULL;
	int r = js_get_str(o, path, key, NULL, &s, err);
	if (r >= 0 && s && s[0] != '/')
		return err_msg(err, -EINVAL, "%s.%s: '%s' is not an absolute path", path, key, s);
	if (r >= 0 && !s && required)
		return err_msg(err, -EINVAL, "%s.%s: missing", path, key);
	return r;
}

/* Each element of edits.<key> is an object checked by `one`. */
static int check_list(const json_t *edits, const char *path, const char *key,
		      int (*one)(const json_t *, const char *, struct err *), struct err *err)
{
	const json_t *a = NULL;
	int r = js_get(edits, path, key, JSON_ARRAY, false, &a, err);
	size_t i;
	json_t *v;
	json_array_foreach((json_t *)a, i, v)
	{
		cleanup_free char *kp = js_path_key(path, key);
		cleanup_free char *ip = js_path_index(kp, i);
		if (!json_is_object(v))
			return err_msg(err, -EINVAL, "%s: expected an object", ip);
		r = one(v, ip, err);
		if (r < 0)
			return r;
	}
	return r;
}

static int check_node(const json_t *n, const char *path, struct err *err)
{
	const char *type = NULL, *perms = NULL;
	int r = check_abs(n, path, "path", true, err);
	if (r >= 0)
		r = check_abs(n, path, "hostPath", false, err);
	if (r >= 0)
		r = js_get_str(n, path, "type", NULL, &type, err);
	if (r >= 0 && type && strcmp(type, "c") != 0 && strcmp(type, "b") != 0 &&
	    strcmp(type, "u") != 0 && strcmp(type, "p") != 0)
		r = err_msg(err, -EINVAL, "%s.type: '%s' is not c, b, u or p", path, type);
	if (r >= 0)
		r = js_get_str(n, path, "permissions", NULL, &perms, err);
	if (r >= 0 && perms && (!*perms || strspn(perms, "rwm") != strlen(perms)))
		r = err_msg(err, -EINVAL, "%s.permissions: '%s' is not a subset of rwm", path,
			    perms);
	uint64_t u;
	static const char *const nums[] = { "major", "minor", "fileMode", "uid", "gid" };
	for (size_t i = 0; r >= 0 && i < ARRAY_SIZE(nums); i++)
		r = js_get_uint(n, path, nums[i], 0, &u, err);
	return r;
}

static int check_mount(const json_t *m, const char *path, struct err *err)
{
	const char *type = NULL;
	int r = check_abs(m, path, "hostPath", true, err);
	if (r >= 0)
		r = check_abs(m, path, "containerPath", true, err);
	if (r >= 0)
		r = js_get_str(m, path, "type", NULL, &type, err);
	if (r >= 0)
		r = js_get_str_array(m, path, "options", 0, NULL, err);
	return r;
}

static int check_hook(const json_t *h, const char *path, struct err *err)
{
	const char *name = NULL;
	int r = js_get_str(h, path, "hookName", NULL, &name, err);
	if (r >= 0 && (!name || !oci_hook_stage_valid(name)))
		r = err_msg(err, -EINVAL, "%s.hookName: '%s' is not a hook stage", path,
			    name ? name : "(missing)");
	if (r >= 0)
		r = check_abs(h, path, "path", true, err);
	if (r >= 0)
		r = js_get_str_array(h, path, "args", 0, NULL, err);
	if (r >= 0)
		r = js_get_str_array(h, path, "env", JS_STRV_ENV, NULL, err);
	return r;
}

static int check_edits(const json_t *e, const char *path, struct err *err)
{
	if (!e)
		return 0;
	if (!json_is_object(e))
		return err_msg(err, -EINVAL, "%s: expected an object", path);
	int r = js_get_str_array(e, path, "env", JS_STRV_ENV, NULL, err);
	if (r >= 0)
		r = check_list(e, path, "deviceNodes", check_node, err);
	if (r >= 0)
		r = check_list(e, path, "mounts", check_mount, err);
	if (r >= 0)
		r = check_list(e, path, "hooks", check_hook, err);
	return r;
}

/* Versions up to 0.8.0 (what Debian's tools and nvidia-ctk write); the
 * fields used here have kept their meaning across them. */
static bool version_ok(const char *v)
{
	static const char *const ok[] = { "0.3.0", "0.4.0", "0.5.0", "0.6.0", "0.7.0", "0.8.0" };
	for (size_t i = 0; v && i < ARRAY_SIZE(ok); i++)
		if (strcmp(v, ok[i]) == 0)
			return true;
	return false;
}

/* A device's edits: the spec-wide ones, then its own (a new array each). */
static json_t *merge_edits(const json_t *common, const json_t *own)
{
	json_t *out = json_object();
	static const char *const keys[] = { "env", "deviceNodes", "mounts", "hooks" };
	for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
		json_t *a = json_array();
		json_array_extend(a, json_object_get(common, keys[k]));
		json_array_extend(a, json_object_get(own, keys[k]));
		json_object_set_new(out, keys[k], a);
	}
	return out;
}

/* devices[i] of a spec: its name and its own edits, checked. */
static int device_check(const json_t *d, size_t i, const char **ret_name, const json_t **ret_own,
			struct err *err)
{
	cleanup_free char *path = js_path_index("devices", i);
	if (!json_is_object(d))
		return err_msg(err, -EINVAL, "%s: expected an object", path);
	const char *dn = NULL;
	int r = js_get_str(d, path, "name", NULL, &dn, err);
	if (r >= 0 && (!dn || !name_ok(dn)))
		r = err_msg(err, -EINVAL, "%s.name: '%s' is not a device name", path,
			    dn ? dn : "(missing)");
	cleanup_free char *ep = js_path_key(path, "containerEdits");
	if (r >= 0)
		r = js_get(d, path, "containerEdits", JSON_OBJECT, true, ret_own, err);
	if (r >= 0)
		r = check_edits(*ret_own, ep, err);
	*ret_name = dn;
	return r;
}

int oci_cdi_spec_parse(const char *name, const char *text, size_t len, struct oci_cdi *into,
		       struct err *err)
{
	json_t *doc = NULL;
	int r = js_load(name, text, len, CDI_FILE_MAX, &doc, err);
	if (r < 0)
		return r;
	const char *version = NULL, *kind = NULL;
	const json_t *devs = NULL, *common = NULL;
	if (!json_is_object(doc))
		r = err_msg(err, -EINVAL, "expected a JSON object");
	if (r >= 0)
		r = js_get_str(doc, "", "cdiVersion", NULL, &version, err);
	if (r >= 0 && !version_ok(version))
		r = err_msg(err, -EINVAL, "cdiVersion: '%s' is not supported (0.3.0 to 0.8.0)",
			    version ? version : "(missing)");
	if (r >= 0)
		r = js_get_str(doc, "", "kind", NULL, &kind, err);
	if (r >= 0 && (!kind || !kind_ok(kind)))
		r = err_msg(err, -EINVAL, "kind: '%s' is not vendor/class",
			    kind ? kind : "(missing)");
	if (r >= 0)
		r = js_get(doc, "", "containerEdits", JSON_OBJECT, false, &common, err);
	if (r >= 0)
		r = check_edits(common, "containerEdits", err);
	if (r >= 0)
		r = js_get(doc, "", "devices", JSON_ARRAY, true, &devs, err);
	size_t i, first = into->n;
	json_t *d;
	json_array_foreach((json_t *)(r >= 0 ? devs : NULL), i, d)
	{
		const char *dn = NULL;
		const json_t *own = NULL;
		r = device_check(d, i, &dn, &own, err);
		if (r < 0)
			break;
		into->v = xrealloc(into->v, (into->n + 1) * sizeof(*into->v));
		into->v[into->n++] =
		    (struct cdi_device){ xasprintf("%s=%s", kind, dn), merge_edits(common, own) };
	}
	json_decref(doc);
	if (r < 0) {
		while (into->n > first) {
			into->n--;
			free(into->v[into->n].name);
			json_decref(into->v[into->n].edits);
		}
		return err_wrap(err, "%s", name);
	}
	return 0;
}

static int read_file(int dfd, const char *dir, const char *name, char **ret, size_t *ret_len,
		     struct err *err)
{
	cleanup_close int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return err_set(err, -errno, "%s/%s", dir, name);
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > CDI_FILE_MAX)
		return err_msg(err, -EINVAL, "%s/%s: not a regular file of at most %u bytes", dir,
			       name, CDI_FILE_MAX);
	char *buf = xmalloc((size_t)st.st_size + 1);
	ssize_t n = read(fd, buf, (size_t)st.st_size + 1);
	if (n < 0) {
		free(buf);
		return err_set(err, -errno, "%s/%s", dir, name);
	}
	*ret = buf;
	*ret_len = (size_t)n;
	return 0;
}

struct oci_cdi *oci_cdi_load(char *const *dirs, char ***ret_warnings)
{
	struct oci_cdi *c = oci_cdi_new();
	/* Later directories win: they are read first, and a name is resolved
	 * to its first entry. */
	size_t nd = strv_len(dirs);
	for (size_t k = nd; k-- > 0;) {
		DIR *d = opendir(dirs[k]);
		if (!d)
			continue;
		struct dirent *e;
		size_t seen = 0;
		while ((e = readdir(d)) && seen < CDI_FILES_MAX) {
			bool yaml =
			    str_has_suffix(e->d_name, ".yaml") || str_has_suffix(e->d_name, ".yml");
			if (e->d_name[0] == '.' || (!yaml && !str_has_suffix(e->d_name, ".json")))
				continue;
			seen++;
			cleanup_err struct err err = ERR_INIT;
			cleanup_free char *buf = NULL;
			size_t len = 0;
			cleanup_free char *label = xasprintf("%s/%s", dirs[k], e->d_name);
			int r = read_file(dirfd(d), dirs[k], e->d_name, &buf, &len, &err);
			if (r >= 0 && yaml) {
				char *text = NULL;
				r = oci_cdi_yaml_to_json(label, buf, len, &text, &err);
				if (r >= 0) {
					free(buf);
					buf = text;
					len = strlen(text);
				}
			}
			if (r < 0 || oci_cdi_spec_parse(label, buf, len, c, &err) < 0)
				strv_push(ret_warnings, err_str(&err));
		}
		closedir(d);
	}
	return c;
}

size_t oci_cdi_count(const struct oci_cdi *c)
{
	return c ? c->n : 0;
}

static const json_t *find(const struct oci_cdi *c, const char *name)
{
	for (size_t i = 0; c && i < c->n; i++)
		if (strcmp(c->v[i].name, name) == 0)
			return c->v[i].edits;
	return NULL;
}

static json_t *array_of(json_t *o, const char *key)
{
	json_t *a = json_object_get(o, key);
	if (!json_is_array(a)) {
		a = json_array();
		json_object_set_new(o, key, a);
	}
	return a;
}

/* linux.devices entry and its cgroup rule; type and numbers from the host
 * node when the spec gives none. */
static int add_node(json_t *spec, const json_t *n, struct err *err)
{
	const char *path = json_string_value(json_object_get(n, "path"));
	const char *host = json_string_value(json_object_get(n, "hostPath"));
	const char *type = json_string_value(json_object_get(n, "type"));
	const char *perms = json_string_value(json_object_get(n, "permissions"));
	json_t *major = json_object_get(n, "major"), *minor = json_object_get(n, "minor");
	json_t *dev = json_pack("{s:s}", "path", path);
	if (!type || !major) {
		struct stat st;
		const char *src = host ? host : path;
		if (stat(src, &st) < 0) {
			json_decref(dev);
			return err_set(err, -errno, "CDI device node '%s'", src);
		}
		if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)) {
			json_decref(dev);
			return err_msg(err, -EINVAL, "CDI device node '%s' is not a device", src);
		}
		type = S_ISBLK(st.st_mode) ? "b" : "c";
		json_object_set_new(dev, "major", json_integer(major(st.st_rdev)));
		json_object_set_new(dev, "minor", json_integer(minor(st.st_rdev)));
	} else {
		json_object_set(dev, "major", major);
		json_object_set(dev, "minor", minor ? minor : json_integer(0));
	}
	json_object_set_new(dev, "type", json_string(type));
	static const char *const copy[] = { "fileMode", "uid", "gid" };
	for (size_t i = 0; i < ARRAY_SIZE(copy); i++)
		if (json_object_get(n, copy[i]))
			json_object_set(dev, copy[i], json_object_get(n, copy[i]));
	json_t *linux = json_object_get(spec, "linux");
	if (!json_is_object(linux)) {
		linux = json_object();
		json_object_set_new(spec, "linux", linux);
	}
	json_t *rule = json_pack("{s:b,s:s,s:O,s:O,s:s}", "allow", 1, "type", type, "major",
				 json_object_get(dev, "major"), "minor",
				 json_object_get(dev, "minor"), "access", perms ? perms : "rwm");
	json_array_append_new(array_of(linux, "devices"), dev);
	json_t *res = json_object_get(linux, "resources");
	if (!json_is_object(res)) {
		res = json_object();
		json_object_set_new(linux, "resources", res);
	}
	json_array_append_new(array_of(res, "devices"), rule);
	return 0;
}

/* An env entry replaces one of the same name. */
static void add_env(json_t *spec, const char *kv)
{
	json_t *proc = json_object_get(spec, "process");
	if (!json_is_object(proc))
		return;
	json_t *env = array_of(proc, "env");
	size_t klen = (size_t)(strchr(kv, '=') - kv) + 1;
	size_t i;
	json_t *v;
	json_array_foreach(env, i, v)
	{
		const char *s = json_string_value(v);
		if (s && strncmp(s, kv, klen) == 0) {
			json_array_set_new(env, i, json_string(kv));
			return;
		}
	}
	json_array_append_new(env, json_string(kv));
}

static void add_mount(json_t *spec, const json_t *m)
{
	const char *type = json_string_value(json_object_get(m, "type"));
	json_t *opts = json_object_get(m, "options");
	json_t *o = json_pack("{s:s,s:s,s:s}", "destination",
			      json_string_value(json_object_get(m, "containerPath")), "source",
			      json_string_value(json_object_get(m, "hostPath")), "type",
			      type ? type : "bind");
	json_object_set_new(o, "options",
			    json_array_size(opts) ? json_deep_copy(opts)
						  : json_pack("[s,s]", "rbind", "rprivate"));
	json_array_append_new(array_of(spec, "mounts"), o);
}

static void add_hook(json_t *spec, const json_t *h)
{
	json_t *hooks = json_object_get(spec, "hooks");
	if (!json_is_object(hooks)) {
		hooks = json_object();
		json_object_set_new(spec, "hooks", hooks);
	}
	json_t *o = json_deep_copy(h);
	json_object_del(o, "hookName");
	json_array_append_new(array_of(hooks, json_string_value(json_object_get(h, "hookName"))),
			      o);
}

int oci_cdi_apply(const struct oci_cdi *c, json_t *spec, char *const *names, struct err *err)
{
	for (size_t i = 0; names && names[i]; i++)
		if (!find(c, names[i]))
			return err_msg(
			    err, -EINVAL,
			    "CDI device '%s' is not defined by any spec in the CDI directories (a name is vendor/class=device)",
			    names[i]);
	for (size_t i = 0; names && names[i]; i++) {
		const json_t *e = find(c, names[i]);
		size_t k;
		json_t *v;
		json_array_foreach(json_object_get(e, "deviceNodes"), k, v)
		{
			int r = add_node(spec, v, err);
			if (r < 0)
				return err_wrap(err, "%s", names[i]);
		}
		json_array_foreach(json_object_get(e, "env"), k, v)
		    add_env(spec, json_string_value(v));
		json_array_foreach(json_object_get(e, "mounts"), k, v) add_mount(spec, v);
		json_array_foreach(json_object_get(e, "hooks"), k, v) add_hook(spec, v);
	}
	return 0;
}

int oci_cdi_yaml_to_json(const char *name, const char *text, size_t len, char **ret,
			 struct err *err)
{
	json_t *doc = NULL;
	int r = js_load_yaml(name, text, len, JS_YAML_TYPED, &doc, err);
	if (r >= 0 && json_is_null(doc))
		r = err_msg(err, -EINVAL, "%s: an empty document", name);
	if (r >= 0)
		*ret = js_dump(doc, 0);
	json_decref(doc);
	return r;
}
