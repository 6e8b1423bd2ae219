/* The handle: the config directory (reloaded when its files change) and the
 * built-in network. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base.h"
#include "base/json.h"
#include "cni/cni.h"
#include "cni/cni_int.h"

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool conf_name(const char *n)
{
	return n[0] != '.' && (str_has_suffix(n, ".conflist") || str_has_suffix(n, ".conf") ||
			       str_has_suffix(n, ".json"));
}

/* Sorted config file names of the dir and a signature of their identity
 * and mtimes; both NULL/"" when the dir is missing or has none. */
static void scan(const char *dir, char ***ret_names, char **ret_sig)
{
	char **names = NULL;
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (conf_name(e->d_name))
			strv_push(&names, e->d_name);
	if (d)
		closedir(d);
	size_t n = strv_len(names);
	if (names && n)
		qsort(names, n, sizeof(*names), cmp_str);
	char *sig = xstrdup("");
	for (size_t i = 0; names && i < n; i++) {
		struct stat st;
		cleanup_free char *p = fs_path_join(dir, names[i]);
		if (stat(p, &st) < 0)
			memset(&st, 0, sizeof(st));
		char *s = xasprintf("%s%s:%llu:%lld.%ld:%lld;", sig, names[i],
				    (unsigned long long)st.st_ino, (long long)st.st_mtim.tv_sec,
				    st.st_mtim.tv_nsec, (long long)st.st_size);
		free(sig);
		sig = s;
	}
	*ret_names = names;
	*ret_sig = sig;
}

static int load_first(const struct cni *c, char **names, struct cni_net **ret, struct err *err)
{
	int r = -ENOENT;
	cleanup_err struct err first = ERR_INIT;
	for (size_t i = 0; names && names[i]; i++) {
		cleanup_free char *p = fs_path_join(c->conf_dir, names[i]);
		cleanup_free char *text = NULL;
		size_t len = 0;
		cleanup_err struct err e = ERR_INIT;
		r = fs_read_file(AT_FDCWD, p, 1 << 20, &text, &len, &e);
		if (r >= 0)
			r = cni_conf_parse(p, text, len, str_has_suffix(names[i], ".conflist"), ret,
					   &e);
		if (r >= 0) {
			(*ret)->source = TAKE_PTR(p);
			return 0;
		}
		if (!first.msg)
			err_move(&first, &e);
	}
	/* Files exist but none is valid: report the first problem. */
	return err_move(err, &first);
}

/* Called with c->lock held. */
static int refresh(struct cni *c, struct err *err)
{
	cleanup(strv_free) char **names = NULL;
	cleanup_free char *sig = NULL;
	scan(c->conf_dir, &names, &sig);
	if (c->sig && strcmp(sig, c->sig) == 0 && (c->net || c->load_err.msg))
		return c->net ? 0 : err_msg(err, c->load_err.code, "%s", c->load_err.msg);
	free(c->sig);
	c->sig = TAKE_PTR(sig);
	cni_net_free(c->net);
	c->net = NULL;
	err_done(&c->load_err);
	int r;
	if (!names) {
		cleanup_free char *text =
		    cni_default_conflist(c->default_bridge, c->default_subnet, c->default_data_dir);
		r = cni_conf_parse("built-in network", text, strlen(text), true, &c->net,
				   &c->load_err);
	} else {
		r = load_first(c, names, &c->net, &c->load_err);
	}
	if (r < 0)
		return err_msg(err, r, "%s", err_str(&c->load_err));
	return 0;
}

int cni_find_plugin(const struct cni *c, const char *type, char **ret, struct err *err)
{
	for (size_t i = 0; c->plugin_dirs && c->plugin_dirs[i]; i++) {
		char *p = fs_path_join(c->plugin_dirs[i], type);
		if (access(p, X_OK) == 0) {
			*ret = p;
			return 0;
		}
		free(p);
	}
	cleanup_free char *dirs = strv_join(c->plugin_dirs, ":");
	return err_msg(err, -ENOENT, "CNI plugin '%s' not found in %s", type, dirs ? dirs : "");
}

int cni_current(struct cni *c, struct cni_net **ret, struct err *err)
{
	pthread_mutex_lock(&c->lock);
	int r = refresh(c, err);
	if (r >= 0) {
		struct cni_net *n = xnew(struct cni_net);
		n->name = xstrdup(c->net->name);
		n->version = xstrdup(c->net->version);
		n->plugins = json_deep_copy(c->net->plugins);
		n->source = c->net->source ? xstrdup(c->net->source) : NULL;
		n->text = xstrdup(c->net->text);
		n->disable_check = c->net->disable_check;
		*ret = n;
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

int cni_status(struct cni *c, char **ret_name, struct err *err)
{
	struct cni_net *n = NULL;
	int r = cni_current(c, &n, err);
	if (r < 0)
		return r;
	size_t i;
	json_t *p;
	json_array_foreach(n->plugins, i, p)
	{
		cleanup_free char *path = NULL;
		r = cni_find_plugin(c, json_string_value(json_object_get(p, "type")), &path, err);
		if (r < 0) {
			err_wrap(err, "network %s", n->name);
			break;
		}
	}
	if (r >= 0 && ret_name)
		*ret_name = xstrdup(n->name);
	cni_net_free(n);
	return r;
}

int cni_new(const struct cni_opts *o, struct cni **ret, struct err *err)
{
	struct cni *c = xnew(struct cni);
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->masq_lock, NULL);
	c->masq_want = 1; /* masq_made 0: not made yet */
	c->conf_dir = xstrdup(o->conf_dir ? o->conf_dir : "/etc/cni/net.d");
	for (size_t i = 0; o->plugin_dirs && o->plugin_dirs[i]; i++)
		strv_push(&c->plugin_dirs, o->plugin_dirs[i]);
	if (!o->cache_dir || o->cache_dir[0] != '/' || !o->cache_dir[1]) {
		cni_free(c);
		return err_msg(err, -EINVAL, "CNI cache dir must be an absolute path");
	}
	c->cache_dir = xstrdup(o->cache_dir);
	c->default_bridge = xstrdup(o->default_bridge ? o->default_bridge : CNI_DEFAULT_BRIDGE);
	c->default_subnet = xstrdup(o->default_subnet ? o->default_subnet : CNI_DEFAULT_SUBNET);
	c->default_data_dir = o->default_data_dir ? xstrdup(o->default_data_dir) : NULL;
	c->timeout_ms = o->timeout_ms ? o->timeout_ms : 60000;
	*ret = c;
	return 0;
}

void cni_free(struct cni *c)
{
	if (!c)
		return;
	cni_net_free(c->net);
	err_done(&c->load_err);
	free(c->sig);
	free(c->conf_dir);
	strv_free(c->plugin_dirs);
	free(c->cache_dir);
	free(c->default_bridge);
	free(c->default_subnet);
	free(c->default_data_dir);
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->masq_lock);
	free(c);
}
