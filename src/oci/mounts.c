/* The spec's mounts: the defaults every container gets, the pod's files,
 * CRI mounts (validated, host dirs created, propagation checked) and image
 * VOLUMEs; plus mkdir inside a rootfs that an image controls. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base.h"
#include "oci/oci.h"
#include "oci/oci_int.h"

/* Open `len` bytes of `path` as a directory (O_PATH) inside the rootfs. */
static int open_prefix(int rootfd, const char *path, size_t len, struct err *err)
{
	cleanup_free char *p = len ? xstrndup(path, len) : xstrdup("/");
	return fs_open_in_root(rootfd, p, O_PATH | O_DIRECTORY, 0, err);
}

/* Create the last component of path[0..end) under its parent. */
static int mkdir_component(int rootfd, const char *path, size_t start, size_t end, uid_t uid,
			   gid_t gid, struct err *err)
{
	cleanup_close int parent = open_prefix(rootfd, path, start, err);
	if (parent < 0)
		return parent;
	cleanup_free char *name = xstrndup(path + start, end - start);
	if (mkdirat(parent, name, 0755) < 0)
		return errno == EEXIST
			   ? 0
			   : err_set(err, -errno, "mkdir '%.*s' in the rootfs", (int)end, path);
	/* O_NOFOLLOW: if something swapped in a symlink since mkdirat, this
	 * fails instead of chowning what it points at. */
	cleanup_close int fd = openat(parent, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, -errno, "open new directory '%.*s' in the rootfs", (int)end,
			       path);
	if (fchownat(fd, "", uid, gid, AT_EMPTY_PATH) < 0)
		return err_set(err, -errno, "chown '%.*s' in the rootfs", (int)end, path);
	return 0;
}

int oci_mkdir_in_root(int rootfd, const char *path, uid_t uid, gid_t gid, struct err *err)
{
	cleanup_free char *p = NULL;
	if (fs_path_clean(path, &p) < 0)
		return err_msg(err, -EINVAL, "directory '%s' in the rootfs must not contain '..'",
			       path);
	size_t start = p[0] == '/' ? 1 : 0;
	if (strcmp(p, ".") == 0 || strcmp(p, "/") == 0)
		return 0;
	while (p[start]) {
		size_t end = start + strcspn(p + start, "/");
		cleanup_err struct err e = ERR_INIT;
		cleanup_close int fd = open_prefix(rootfd, p, end, &e);
		if (fd == -ENOENT) {
			int r = mkdir_component(rootfd, p, start, end, uid, gid, err);
			if (r < 0)
				return r;
			err_done(&e);
			fd = open_prefix(rootfd, p, end, &e);
		}
		if (fd == -ENOTDIR)
			return err_msg(err, -ENOTDIR,
				       "'%.*s' exists in the rootfs and is not a directory",
				       (int)end, p);
		if (fd < 0)
			return err_move(err, &e);
		start = p[end] ? end + 1 : end;
	}
	return 0;
}

/* mkdir -p of a host path (a CRI mount source, controlled by kubelet). */
static int host_mkdir_p(const char *path, struct err *err)
{
	cleanup_free char *p = xstrdup(path);
	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s)
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return err_set(err, -errno, "create missing mount source '%s'", p);
		*s = c;
		if (!c)
			return 0;
	}
}

static json_t *mount_json(const char *dest, const char *type, const char *src, const char *opts)
{
	cleanup(strv_free) char **o = strv_split(opts, ',');
	json_t *a = json_array();
	for (size_t i = 0; o && o[i]; i++)
		json_array_append_new(a, json_string(o[i]));
	return json_pack("{s:s,s:s,s:s,s:o}", "destination", dest, "type", type, "source", src,
			 "options", a);
}

struct cri_mount {
	char *dest; /* cleaned */
	const struct oci_mount *m;
};

static bool covered(const struct cri_mount *v, size_t n, const char *dest)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].dest, dest) == 0)
			return true;
	return false;
}

static void add_default(json_t *a, const struct cri_mount *v, size_t n, const char *dest,
			const char *type, const char *src, const char *opts)
{
	if (!covered(v, n, dest))
		json_array_append_new(a, mount_json(dest, type, src, opts));
}

static void add_defaults(const struct oci_ctr_config *c, json_t *a, const struct cri_mount *v,
			 size_t n)
{
	const struct oci_pod_files *pf = &c->pod_files;
	const char *bind = c->readonly_rootfs ? "rbind,rprivate,ro" : "rbind,rprivate";
	add_default(a, v, n, "/proc", "proc", "proc", "nosuid,noexec,nodev");
	add_default(a, v, n, "/dev", "tmpfs", "tmpfs", "nosuid,strictatime,mode=755,size=65536k");
	add_default(a, v, n, "/dev/pts", "devpts", "devpts",
		    "nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5");
	add_default(a, v, n, "/dev/mqueue", "mqueue", "mqueue", "nosuid,noexec,nodev");
	add_default(a, v, n, "/sys", "sysfs", "sysfs",
		    c->privileged ? "nosuid,noexec,nodev,rw" : "nosuid,noexec,nodev,ro");
	add_default(a, v, n, "/sys/fs/cgroup", "cgroup", "cgroup",
		    c->privileged ? "nosuid,noexec,nodev,relatime,rw"
				  : "nosuid,noexec,nodev,relatime,ro");
	if (!str_empty(pf->shm))
		add_default(a, v, n, "/dev/shm", "bind", pf->shm,
			    "rbind,rprivate,nosuid,noexec,nodev");
	else
		add_default(a, v, n, "/dev/shm", "tmpfs", "shm",
			    "nosuid,noexec,nodev,mode=1777,size=65536k");
	if (!str_empty(pf->hosts))
		add_default(a, v, n, "/etc/hosts", "bind", pf->hosts, bind);
	if (!str_empty(pf->resolv_conf))
		add_default(a, v, n, "/etc/resolv.conf", "bind", pf->resolv_conf, bind);
	if (!str_empty(pf->hostname))
		add_default(a, v, n, "/etc/hostname", "bind", pf->hostname, bind);
}

/* The CRI's rules for recursive_read_only, as kubelet and the CRI
 * validation suite have them. */
static int rro_validate(const struct oci_mount *m, const char *cp, const struct oci_host *h,
			struct err *err)
{
	if (!m->recursive_readonly)
		return 0;
	if (!m->readonly)
		return err_msg(err, -EINVAL,
			       "mount '%s': recursive_read_only needs readonly to be true as well",
			       cp);
	if (m->propagation != OCI_PROPAGATION_PRIVATE)
		return err_msg(
		    err, -EINVAL,
		    "mount '%s': recursive_read_only needs propagation PRIVATE, not %s", cp,
		    m->propagation == OCI_PROPAGATION_BIDIRECTIONAL ? "BIDIRECTIONAL"
								    : "HOST_TO_CONTAINER");
	if (!h->rro)
		return err_msg(
		    err, -EINVAL,
		    "mount '%s': recursive_read_only is not supported on this node (%s)", cp,
		    h->mount_setattr ? "the OCI runtime has no 'rro' mount option"
				     : "the kernel has no mount_setattr, 5.12 or later needed");
	return 0;
}

/* Check one CRI mount's paths and options; nothing is created here. */
static int cri_mount_validate(const struct oci_mount *m, const struct oci_host *h, char **ret_dest,
			      struct err *err)
{
	const char *cp = m->container_path ? m->container_path : "";
	if (cp[0] != '/')
		return err_msg(
		    err, -EINVAL,
		    "mount container path '%s' is relative: container paths must be absolute", cp);
	int r = rro_validate(m, cp, h, err);
	if (r < 0)
		return r;
	if (str_empty(m->host_path) || m->host_path[0] != '/')
		return err_msg(err, -EINVAL,
			       "mount host path '%s' (for '%s') must be an absolute path",
			       m->host_path ? m->host_path : "", cp);
	cleanup_free char *hp = NULL;
	if (fs_path_clean(m->host_path, &hp) < 0)
		return err_msg(err, -EINVAL, "mount host path '%s' must not contain '..'",
			       m->host_path);
	if (fs_path_clean(cp, ret_dest) < 0)
		return err_msg(err, -EINVAL, "mount container path '%s' must not contain '..'", cp);
	return 0;
}

/* Existing sources first: their propagation is checked before any missing
 * source is created, so a refused request leaves nothing behind when it can. */
static int cri_mounts_prepare(const struct oci_mount *m, size_t n, struct err *err)
{
	struct stat st;
	for (size_t i = 0; i < n; i++) {
		if (stat(m[i].host_path, &st) < 0) {
			if (errno != ENOENT)
				return err_set(err, -errno, "mount source '%s'", m[i].host_path);
			continue;
		}
		int r = oci_mount_check_propagation(m[i].host_path, m[i].propagation, err);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < n; i++) {
		if (stat(m[i].host_path, &st) == 0)
			continue;
		int r = host_mkdir_p(m[i].host_path, err);
		if (r >= 0)
			r = oci_mount_check_propagation(m[i].host_path, m[i].propagation, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static size_t depth(const char *p)
{
	size_t n = 0;
	for (; *p; p++)
		n += *p == '/';
	return n;
}

static int by_depth(const void *a, const void *b)
{
	const struct cri_mount *x = a, *y = b;
	size_t dx = depth(x->dest), dy = depth(y->dest);
	if (dx != dy)
		return dx < dy ? -1 : 1;
	/* Keep the request's order between equals: qsort is not stable. */
	return x->m < y->m ? -1 : x->m > y->m;
}

static void free_cri_mounts(struct cri_mount *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].dest);
	free(v);
}

static int add_volumes(const struct oci_ctr_config *c, int rootfd, const struct oci_user *u,
		       const struct cri_mount *v, size_t n, struct err *err)
{
	if (c->volumes == OCI_VOLUMES_IGNORE)
		return 0;
	for (size_t i = 0; c->image.volumes && c->image.volumes[i]; i++) {
		cleanup_free char *d = NULL;
		const char *vol = c->image.volumes[i];
		if (fs_path_clean(vol, &d) < 0 || d[0] != '/')
			continue; /* not a path a runtime would use */
		if (covered(v, n, d))
			continue;
		int r = oci_mkdir_in_root(rootfd, d, u->uid, u->gid, err);
		if (r < 0)
			return err_wrap(err, "image volume '%s'", vol);
	}
	return 0;
}

static const char *propagation_opt(enum oci_propagation p)
{
	return p == OCI_PROPAGATION_BIDIRECTIONAL	? "rshared"
	       : p == OCI_PROPAGATION_HOST_TO_CONTAINER ? "rslave"
							: "rprivate";
}

int oci_mounts_build(const struct oci_ctr_config *c, const struct oci_host *h, int rootfd,
		     const struct oci_user *u, json_t **ret, const char **ret_rootfs_propagation,
		     struct err *err)
{
	size_t n = c->n_mounts;
	struct cri_mount *v = xcalloc(n + 1, sizeof(*v));
	int r = 0;
	for (size_t i = 0; i < n && r >= 0; i++) {
		v[i].m = &c->mounts[i];
		r = cri_mount_validate(&c->mounts[i], h, &v[i].dest, err);
		if (r >= 0 && covered(v, i, v[i].dest))
			r = err_msg(err, -EINVAL, "duplicate mount container path '%s'", v[i].dest);
	}
	if (r >= 0)
		r = cri_mounts_prepare(c->mounts, n, err);
	if (r >= 0)
		r = add_volumes(c, rootfd, u, v, n, err);
	if (r < 0) {
		free_cri_mounts(v, n);
		return r;
	}
	qsort(v, n, sizeof(*v), by_depth);
	json_t *a = json_array();
	add_defaults(c, a, v, n);
	int prop = OCI_PROPAGATION_PRIVATE;
	for (size_t i = 0; i < n; i++) {
		const struct oci_mount *m = v[i].m;
		cleanup_free char *opts =
		    xasprintf("rbind,%s%s%s", propagation_opt(m->propagation),
			      m->readonly ? ",ro" : "", m->recursive_readonly ? ",rro" : "");
		json_array_append_new(a, mount_json(v[i].dest, "bind", m->host_path, opts));
		if (m->propagation == OCI_PROPAGATION_BIDIRECTIONAL ||
		    (m->propagation == OCI_PROPAGATION_HOST_TO_CONTAINER &&
		     prop == OCI_PROPAGATION_PRIVATE))
			prop = (int)m->propagation;
	}
	free_cri_mounts(v, n);
	/* Propagation into or out of the container only works when its root
	 * mount is not private. */
	*ret_rootfs_propagation = prop == OCI_PROPAGATION_BIDIRECTIONAL	      ? "rshared"
				  : prop == OCI_PROPAGATION_HOST_TO_CONTAINER ? "rslave"
									      : NULL;
	*ret = a;
	return 0;
}
