/* config: the table of runtime handlers ([runtimes.<name>]), what a pod's
 * runtime_handler (Kubernetes RuntimeClass) names. Without a table the one
 * `runtime` key is the only handler, named after its program ("runc"). */
#include "config/config_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void runtime_done(struct config_runtime *rt)
{
	free(rt->name);
	free(rt->path);
	free(rt->root);
	free(rt->type);
	strv_free(rt->args);
	strv_free(rt->monitor_env);
	strv_free(rt->allowed_annotations);
	*rt = (struct config_runtime){ 0 };
}

void config_runtimes_done(struct config *cfg)
{
	for (size_t i = 0; i < cfg->n_runtimes; i++)
		runtime_done(&cfg->runtimes[i]);
	free(cfg->runtimes);
	cfg->runtimes = NULL;
	cfg->n_runtimes = 0;
}

/* A handler name as Kubernetes allows one in a RuntimeClass (a DNS label). */
static int check_name(const char *n, struct err *err)
{
	size_t len = strlen(n);
	if (len == 0 || len > 63 || n[0] == '-' || n[len - 1] == '-' ||
	    strspn(n, "abcdefghijklmnopqrstuvwxyz0123456789-") != len)
		return err_msg(err, -EINVAL,
			       "'%s' is not a handler name (1-63 of a-z, 0-9 and '-', "
			       "not starting or ending with '-')",
			       n);
	return 0;
}

static int get_str(const struct toml *v, char **ret, struct err *err)
{
	if (toml_type(v) != TOML_STRING || strlen(toml_string(v)) != toml_string_len(v))
		return err_msg(err, -EINVAL, "expected a string, got %s",
			       toml_type(v) == TOML_STRING ? "a string with a NUL byte"
							   : toml_type_name(toml_type(v)));
	free(*ret);
	*ret = xstrdup(toml_string(v));
	return 0;
}

static int get_list(const struct toml *v, char ***ret, struct err *err)
{
	if (toml_type(v) != TOML_ARRAY)
		return err_msg(err, -EINVAL, "expected an array of strings, got %s",
			       toml_type_name(toml_type(v)));
	cleanup(strv_free) char **l = xzalloc(sizeof(char *));
	for (size_t i = 0; i < toml_len(v); i++) {
		cleanup_free char *s = NULL;
		int r = get_str(toml_at(v, i), &s, err);
		if (r < 0)
			return r;
		strv_push(&l, s);
	}
	strv_free(*ret);
	*ret = TAKE_PTR(l);
	return 0;
}

static int get_bool(const struct toml *v, bool *ret, struct err *err)
{
	if (toml_type(v) != TOML_BOOL)
		return err_msg(err, -EINVAL, "expected true or false, got %s",
			       toml_type_name(toml_type(v)));
	*ret = toml_bool(v);
	return 0;
}

/* One key of a handler's table. 1 = not a key of ours. */
static int apply_key(struct config_runtime *rt, const char *k, const struct toml *v,
		     struct err *err)
{
	int r;
	if (strcmp(k, "path") == 0) {
		r = get_str(v, &rt->path, err);
		return r < 0 ? r : config_check_program(rt->path, err);
	}
	if (strcmp(k, "root") == 0) {
		r = get_str(v, &rt->root, err);
		return r < 0 ? r : config_check_abs_path_or_empty(rt->root, err);
	}
	if (strcmp(k, "type") == 0 || strcmp(k, "runtime_type") == 0) {
		r = get_str(v, &rt->type, err);
		if (r >= 0 && strcmp(rt->type, "oci") != 0)
			return err_msg(err, -EINVAL, "'%s' is not supported (only \"oci\")",
				       rt->type);
		return r;
	}
	if (strcmp(k, "args") == 0)
		return get_list(v, &rt->args, err);
	if (strcmp(k, "monitor_env") == 0) {
		r = get_list(v, &rt->monitor_env, err);
		for (size_t i = 0; r >= 0 && rt->monitor_env[i]; i++)
			if (!strchr(rt->monitor_env[i], '=') || rt->monitor_env[i][0] == '=')
				return err_msg(err, -EINVAL, "'%s' is not NAME=VALUE",
					       rt->monitor_env[i]);
		return r;
	}
	if (strcmp(k, "allowed_annotations") == 0)
		return get_list(v, &rt->allowed_annotations, err);
	if (strcmp(k, "privileged_without_host_devices") == 0)
		return get_bool(v, &rt->privileged_without_host_devices, err);
	if (strcmp(k, "no_pivot_root") == 0)
		return get_bool(v, &rt->no_pivot_root, err);
	if (strcmp(k, "exec_fifo_start") == 0)
		return get_bool(v, &rt->exec_fifo_start, err);
	return 1;
}

/* allowed_annotations when a handler does not say: CDI devices named by
 * annotations (device plugins write them) work out of the box. */
static char **default_allowed(void)
{
	char **v = xzalloc(sizeof(char *));
	strv_push(&v, "cdi.k8s.io/");
	return v;
}

/* [runtimes.<name>] of a later file replaces the handler of that name. */
static struct config_runtime *slot(struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_runtimes; i++)
		if (strcmp(cfg->runtimes[i].name, name) == 0) {
			runtime_done(&cfg->runtimes[i]);
			cfg->runtimes[i].name = xstrdup(name);
			return &cfg->runtimes[i];
		}
	cfg->runtimes = xrealloc(cfg->runtimes, (cfg->n_runtimes + 1) * sizeof(*cfg->runtimes));
	struct config_runtime *rt = &cfg->runtimes[cfg->n_runtimes++];
	*rt = (struct config_runtime){ .name = xstrdup(name) };
	return rt;
}

static int apply_one(struct config *cfg, const char *file, const char *name, const struct toml *t,
		     struct err *err)
{
	int r = check_name(name, err);
	if (r >= 0 && toml_type(t) != TOML_TABLE)
		r = err_msg(err, -EINVAL, "expected a table, got %s", toml_type_name(toml_type(t)));
	if (r < 0)
		return err_wrap(err, "%s:%u:%u: runtimes", file, toml_line(t), toml_col(t));
	struct config_runtime *rt = slot(cfg, name);
	rt->type = xstrdup("oci");
	rt->root = xstrdup("");
	rt->args = xzalloc(sizeof(char *));
	rt->monitor_env = xzalloc(sizeof(char *));
	rt->allowed_annotations = default_allowed();
	for (size_t i = 0; i < toml_len(t); i++) {
		const char *k = toml_key_at(t, i);
		const struct toml *v = toml_at(t, i);
		r = apply_key(rt, k, v, err);
		if (r < 0)
			return err_wrap(err, "%s:%u:%u: runtimes.%s.%s", file, toml_line(v),
					toml_col(v), name, k);
		if (r > 0)
			log_warn("unknown configuration key ignored", "key=%s at=%s:%u", log_q(k),
				 log_q(file), toml_line(v));
	}
	if (!rt->path)
		rt->path = xstrdup(name);
	return 0;
}

int config_runtimes_apply(struct config *cfg, const char *file, const struct toml *t,
			  struct err *err)
{
	if (toml_type(t) != TOML_TABLE)
		return err_msg(err, -EINVAL, "%s:%u:%u: runtimes: expected a table, got %s", file,
			       toml_line(t), toml_col(t), toml_type_name(toml_type(t)));
	for (size_t i = 0; i < toml_len(t); i++) {
		int r = apply_one(cfg, file, toml_key_at(t, i), toml_at(t, i), err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The last part of a path ("runc" of "/usr/bin/runc"). */
static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

/* The container manager's own runtime (its features probe, containers
 * from before handlers) is `runtime` under <runroot>/runtime, started as
 * exec_fifo_start says: with a table, those follow the default handler.
 * Containers run under their pod's handler. */
static void follow_default(struct config *cfg)
{
	const struct config_runtime *d = config_runtime_find(cfg, NULL);
	if (!d || d->implied) /* never NULL: the caller checked */
		return;
	free(cfg->runtime);
	cfg->runtime = xstrdup(d->path);
	cfg->exec_fifo_start = d->exec_fifo_start;
}

int config_runtimes_finish(struct config *cfg, struct err *err)
{
	/* An implied handler of an earlier finish goes: the keys may have changed. */
	if (cfg->n_runtimes && cfg->runtimes[0].implied)
		config_runtimes_done(cfg);
	for (size_t i = 0; i < cfg->n_runtimes; i++) {
		char *p = fs_find_program(cfg->runtimes[i].path, NULL);
		if (p) {
			free(cfg->runtimes[i].path);
			cfg->runtimes[i].path = p;
		}
	}
	if (cfg->n_runtimes == 0) {
		/* Today's single `runtime`: runc's exec fifo as exec_fifo_start says. */
		const char *name = base_name(cfg->runtime);
		struct err ignore = ERR_INIT;
		if (check_name(name, &ignore) < 0)
			name = "default";
		err_done(&ignore);
		struct config_runtime *rt = slot(cfg, name);
		rt->path = xstrdup(cfg->runtime);
		rt->root = xstrdup("");
		rt->type = xstrdup("oci");
		rt->args = xzalloc(sizeof(char *));
		rt->monitor_env = xzalloc(sizeof(char *));
		rt->allowed_annotations = default_allowed();
		rt->exec_fifo_start = cfg->exec_fifo_start;
		rt->implied = true;
	}
	if (str_empty(cfg->default_runtime)) {
		/* The handler that is today's `runtime`, else the first. */
		const struct config_runtime *d = &cfg->runtimes[0];
		for (size_t i = 0; i < cfg->n_runtimes; i++)
			if (strcmp(cfg->runtimes[i].path, cfg->runtime) == 0) {
				d = &cfg->runtimes[i];
				break;
			}
		free(cfg->default_runtime);
		cfg->default_runtime = xstrdup(d->name);
	}
	if (!config_runtime_find(cfg, cfg->default_runtime)) {
		cleanup_free char *names = config_runtime_names(cfg);
		return err_msg(err, -EINVAL,
			       "default_runtime '%s' is not a configured handler (%s)",
			       cfg->default_runtime, names);
	}
	follow_default(cfg);
	return 0;
}

const struct config_runtime *config_runtime_find(const struct config *cfg, const char *handler)
{
	if (str_empty(handler))
		handler = cfg->default_runtime;
	for (size_t i = 0; handler && i < cfg->n_runtimes; i++)
		if (strcmp(cfg->runtimes[i].name, handler) == 0)
			return &cfg->runtimes[i];
	return NULL;
}

char *config_runtime_names(const struct config *cfg)
{
	char *s = xstrdup("");
	for (size_t i = 0; i < cfg->n_runtimes; i++) {
		char *n = xasprintf("%s%s'%s'", s, i ? ", " : "", cfg->runtimes[i].name);
		free(s);
		s = n;
	}
	return s;
}

char *config_runtimes_to_toml(const struct config *cfg)
{
	char *out = xstrdup(
	    "\n# Runtime handlers (a pod's runtime_handler, Kubernetes RuntimeClass): path, root\n"
	    "# (\"\" = <runroot>/runtime for the default handler, <runroot>/runtime-<name> else),\n"
	    "# type (\"oci\"), args (global flags before the verb), monitor_env,\n"
	    "# allowed_annotations, privileged_without_host_devices, no_pivot_root,\n"
	    "# exec_fifo_start (runc's exec fifo for start). Without a table, `runtime` is the\n"
	    "# one handler, named after its program.\n");
	for (size_t i = 0; i < cfg->n_runtimes; i++) {
		const struct config_runtime *rt = &cfg->runtimes[i];
		cleanup_free char *path = toml_quote(rt->path), *root = toml_quote(rt->root),
				  *type = toml_quote(rt->type), *args = config_list_toml(rt->args),
				  *env = config_list_toml(rt->monitor_env),
				  *ann = config_list_toml(rt->allowed_annotations);
		char *n = xasprintf(
		    "%s\n%s[runtimes.%s]\n%spath = %s\n%sroot = %s\n%stype = %s\n%sargs = %s\n"
		    "%smonitor_env = %s\n%sallowed_annotations = %s\n"
		    "%sprivileged_without_host_devices = %s\n%sno_pivot_root = %s\n"
		    "%sexec_fifo_start = %s\n",
		    out, rt->implied ? "# (implied by runtime)\n# " : "", rt->name,
		    rt->implied ? "# " : "", path, rt->implied ? "# " : "", root,
		    rt->implied ? "# " : "", type, rt->implied ? "# " : "", args,
		    rt->implied ? "# " : "", env, rt->implied ? "# " : "", ann,
		    rt->implied ? "# " : "", rt->privileged_without_host_devices ? "true" : "false",
		    rt->implied ? "# " : "", rt->no_pivot_root ? "true" : "false",
		    rt->implied ? "# " : "", rt->exec_fifo_start ? "true" : "false");
		free(out);
		out = n;
	}
	return out;
}
