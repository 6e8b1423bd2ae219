/* The spec's "process": args (kubelet's override rules), env, user, cwd,
 * capabilities, rlimits, oom_score_adj. */
#include <errno.h>
#include <string.h>

#include "base/base.h"
#include "oci/oci.h"
#include "oci/oci_int.h"

static void strv_extend(char ***v, char *const *src)
{
	for (size_t i = 0; src && src[i]; i++)
		strv_push(v, src[i]);
}

int oci_args_compose(char *const *img_entrypoint, char *const *img_cmd, char *const *command,
		     char *const *args, char ***ret, struct err *err)
{
	char **v = NULL;
	if (strv_len(command) > 0) {
		strv_extend(&v, command);
		strv_extend(&v, args);
	} else if (strv_len(args) > 0) {
		strv_extend(&v, img_entrypoint);
		strv_extend(&v, args);
	} else {
		strv_extend(&v, img_entrypoint);
		strv_extend(&v, img_cmd);
	}
	if (!v || str_empty(v[0])) {
		strv_free(v);
		return err_msg(
		    err, -EINVAL,
		    "no command to run: the container config has no command and the image has no Entrypoint or Cmd");
	}
	*ret = v;
	return 0;
}

/* Length of the key of "KEY=value" (the whole string when there is no '='). */
static size_t env_key_len(const char *e)
{
	return strcspn(e, "=");
}

static ssize_t env_find(char *const *env, const char *key, size_t klen)
{
	for (size_t i = 0; env && env[i]; i++)
		if (env_key_len(env[i]) == klen && strncmp(env[i], key, klen) == 0)
			return (ssize_t)i;
	return -1;
}

/* Set (replace in place, or append) one "KEY=value" entry. */
static void env_set(char ***env, const char *entry)
{
	ssize_t i = env_find(*env, entry, env_key_len(entry));
	if (i < 0) {
		strv_push(env, entry);
		return;
	}
	free((*env)[i]);
	(*env)[i] = xstrdup(entry);
}

char **oci_env_merge(char *const *img_env, char *const *cri_envs)
{
	char **v = NULL;
	for (size_t i = 0; img_env && img_env[i]; i++)
		if (*img_env[i] != '=' && *img_env[i])
			env_set(&v, img_env[i]);
	for (size_t i = 0; cri_envs && cri_envs[i]; i++)
		if (*cri_envs[i] != '=' && *cri_envs[i])
			env_set(&v, cri_envs[i]);
	if (env_find(v, "PATH", 4) < 0)
		strv_push(&v, "PATH=" OCI_DEFAULT_PATH);
	if (!v)
		v = xcalloc(1, sizeof(*v));
	return v;
}

/* Add "KEY=value" only when KEY is not set yet. */
static void env_default(char ***env, const char *key, const char *value)
{
	if (env_find(*env, key, strlen(key)) >= 0)
		return;
	strv_push_take(env, xasprintf("%s=%s", key, value));
}

static json_t *strv_json(char *const *v)
{
	json_t *a = json_array();
	for (size_t i = 0; v && v[i]; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static json_t *caps_json(uint64_t mask)
{
	json_t *a = json_array();
	for (unsigned i = 0; i < 64; i++)
		if ((mask & (UINT64_C(1) << i)) && oci_cap_name(i))
			json_array_append_new(a, json_string(oci_cap_name(i)));
	return a;
}

static json_t *user_json(const struct oci_user *u)
{
	json_t *g = json_array();
	for (size_t i = 0; i < u->n_groups; i++)
		json_array_append_new(g, json_integer(u->groups[i]));
	return json_pack("{s:I,s:I,s:o}", "uid", (json_int_t)u->uid, "gid", (json_int_t)u->gid,
			 "additionalGids", g);
}

static json_t *rlimits_json(const struct oci_host *h)
{
	uint64_t n = OCI_NOFILE_DEFAULT;
	if (h->nofile_hard < n)
		n = h->nofile_hard;
	return json_pack("[{s:s,s:I,s:I}]", "type", "RLIMIT_NOFILE", "hard", (json_int_t)n, "soft",
			 (json_int_t)n);
}

int oci_process_build(const struct oci_ctr_config *c, const struct oci_host *h,
		      const struct oci_user *u, const char *cwd, json_t **ret, struct err *err)
{
	char **args = NULL;
	int r =
	    oci_args_compose(c->image.entrypoint, c->image.cmd, c->command, c->args, &args, err);
	if (r < 0)
		return r;
	cleanup(strv_free) char **env = oci_env_merge(c->image.env, c->envs);
	env_default(&env, "HOME", u->home && *u->home ? u->home : "/");
	if (!str_empty(c->hostname))
		env_default(&env, "HOSTNAME", c->hostname);
	if (c->tty)
		env_default(&env, "TERM", "xterm");
	uint64_t caps;
	r = oci_caps_compute(c, h->cap_bounding, &caps, err);
	if (r < 0) {
		strv_free(args);
		return r;
	}
	int64_t oom = c->resources.oom_score_adj;
	if (oom < h->oom_score_adj_min)
		oom = h->oom_score_adj_min;
	if (oom > 1000)
		oom = 1000;
	json_t *capj =
	    json_pack("{s:o,s:o,s:o,s:[],s:[]}", "bounding", caps_json(caps), "effective",
		      caps_json(caps), "permitted", caps_json(caps), "inheritable", "ambient");
	*ret = json_pack("{s:b,s:o,s:o,s:o,s:s,s:o,s:o,s:b,s:I}", "terminal", c->tty, "user",
			 user_json(u), "args", strv_json(args), "env", strv_json(env), "cwd", cwd,
			 "capabilities", capj, "rlimits", rlimits_json(h), "noNewPrivileges",
			 c->no_new_privs, "oomScoreAdj", (json_int_t)oom);
	strv_free(args);
	return 0;
}
