/* oci_spec_build: a whole config.json from one struct oci_ctr_config. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "base/base.h"
#include "oci/oci.h"
#include "oci/oci_int.h"

/* The working directory: CRI's, else the image's, else "/". A relative one
 * is taken from the root, as runtimes do. */
static char *working_dir(const struct oci_ctr_config *c)
{
	const char *w = !str_empty(c->working_dir)	   ? c->working_dir
			: !str_empty(c->image.working_dir) ? c->image.working_dir
							   : "/";
	cleanup_free char *abs = w[0] == '/' ? xstrdup(w) : xasprintf("/%s", w);
	char *clean = NULL;
	if (fs_path_clean(abs, &clean) < 0)
		return NULL;
	return clean;
}

static json_t *annotations_json(const struct oci_ctr_config *c)
{
	json_t *o = json_object();
	for (size_t i = 0; i < c->n_annotations; i++)
		if (c->annotations[i].key && c->annotations[i].value)
			json_object_set_new(o, c->annotations[i].key,
					    json_string(c->annotations[i].value));
	return o;
}

/* Everything that needs the rootfs open: user, cwd, process, mounts. */
static int build_in_root(const struct oci_ctr_config *c, const struct oci_host *h, int rootfd,
			 json_t *spec, struct err *err)
{
	struct oci_user u;
	int r = oci_user_resolve(rootfd, c, &u, err);
	if (r < 0)
		return r;
	cleanup_free char *cwd = working_dir(c);
	json_t *proc = NULL, *mounts = NULL;
	const char *rprop = NULL;
	if (!cwd)
		r = err_msg(err, -EINVAL, "working directory '%s' must not contain '..'",
			    !str_empty(c->working_dir) ? c->working_dir : c->image.working_dir);
	/* Everything that can be refused is checked before anything is
	 * created: process, then mounts (validated before sources are made),
	 * then the working directory. */
	if (r >= 0)
		r = oci_process_build(c, h, &u, cwd, &proc, err);
	/* Directories made for the container are owned by its user as the
	 * host sees it: in a user namespace, the mapped ids. */
	struct oci_user owner = u;
	if (c->ns.user.path) {
		owner.uid = oci_idmap_to_host(&c->ns.user.uid, u.uid);
		owner.gid = oci_idmap_to_host(&c->ns.user.gid, u.gid);
	}
	if (r >= 0)
		r = oci_mounts_build(c, h, rootfd, &owner, &mounts, &rprop, err);
	if (r >= 0 && (r = oci_mkdir_in_root(rootfd, cwd, owner.uid, owner.gid, err)) < 0)
		err_wrap(err, "working directory");
	oci_user_done(&u);
	if (r < 0) {
		json_decref(proc);
		json_decref(mounts);
		return r;
	}
	json_object_set_new(spec, "process", proc);
	json_object_set_new(spec, "mounts", mounts);
	if (rprop)
		json_object_set_new(json_object_get(spec, "linux"), "rootfsPropagation",
				    json_string(rprop));
	return 0;
}

/* Hooks are the administrator's: a broken file is skipped with a warning,
 * never a failed create. CRI mounts are the bind mounts hasBindMounts
 * means (those of the pod's files are ours). */
static void add_hooks(const struct oci_ctr_config *c, json_t *spec)
{
	char **warnings = NULL;
	cleanup(oci_hooks_free) struct oci_hooks *hooks = oci_hooks_load(c->hooks_dirs, &warnings);
	for (size_t i = 0; warnings && warnings[i]; i++)
		log_warn("hook file skipped", "error=%s", log_q(warnings[i]));
	strv_free(warnings);
	int n = oci_hooks_inject(hooks, spec, c->annotations, c->n_annotations, c->n_mounts > 0);
	if (n > 0)
		log_debug("hooks injected", "count=%d", n);
}

/* CDI devices named by the CRI config and by cdi.k8s.io/ annotations. */
static int add_cdi(const struct oci_ctr_config *c, json_t *spec, struct err *err)
{
	cleanup(strv_free) char **names = NULL;
	for (size_t i = 0; c->cdi_devices && c->cdi_devices[i]; i++)
		strv_push(&names, c->cdi_devices[i]);
	for (size_t i = 0; i < c->n_annotations; i++) {
		if (!str_has_prefix(c->annotations[i].key, "cdi.k8s.io/"))
			continue;
		cleanup(strv_free) char **v = strv_split(c->annotations[i].value, ',');
		for (size_t k = 0; v && v[k]; k++)
			strv_push(&names, v[k]);
	}
	if (!names)
		return 0;
	char **warnings = NULL;
	cleanup(oci_cdi_free) struct oci_cdi *cdi = oci_cdi_load(c->cdi_dirs, &warnings);
	for (size_t i = 0; warnings && warnings[i]; i++)
		log_warn("CDI spec file skipped", "error=%s", log_q(warnings[i]));
	strv_free(warnings);
	return oci_cdi_apply(cdi, spec, names, err);
}

int oci_spec_build(const struct oci_ctr_config *c, const struct oci_host *h, json_t **ret,
		   struct err *err)
{
	if (str_empty(c->rootfs) || c->rootfs[0] != '/')
		return err_msg(err, -EINVAL, "rootfs path '%s' must be absolute",
			       c->rootfs ? c->rootfs : "");
	uint64_t caps;
	int r = oci_caps_compute(c, h->cap_bounding, &caps, err);
	if (r < 0)
		return r;
	json_t *linux = NULL;
	r = oci_linux_build(c, h, caps, &linux, err);
	if (r < 0)
		return r;
	json_t *spec = json_pack("{s:s,s:{s:s,s:b},s:o,s:o}", "ociVersion", "1.0.2", "root", "path",
				 c->rootfs, "readonly", c->readonly_rootfs, "linux", linux,
				 "annotations", annotations_json(c));
	if (!str_empty(c->hostname) && c->ns.uts.mode != OCI_NS_NODE)
		json_object_set_new(spec, "hostname", json_string(c->hostname));
	cleanup_close int rootfd = open(c->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		r = err_set(err, -errno, "open rootfs '%s'", c->rootfs);
	else
		r = build_in_root(c, h, rootfd, spec, err);
	if (r < 0) {
		json_decref(spec);
		return r;
	}
	if (c->hooks_dirs)
		add_hooks(c, spec);
	r = add_cdi(c, spec, err);
	if (r < 0) {
		json_decref(spec);
		return r;
	}
	*ret = spec;
	return 0;
}
