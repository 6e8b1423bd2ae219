/* Volumes ocid mounts itself before the runtime runs: image volumes
 * (KEP-4639: an image of the store, read-only, an overlay of its layers,
 * nothing copied) and CRI mounts with uid/gid mappings (idmapped binds,
 * which runc 1.1 cannot make). Each is mounted on
 * <root>/containers/<id>/vol/<n> and handed to the spec as a plain bind of
 * that path. That directory is the record of what to unmount, so a
 * restart of ocid forgets nothing; the images in use are in the
 * container's row ("image_volumes"), their layers among its layers. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctr/ctr_int.h"
#include "proc/proc.h"
#include "storage/storage.h"

/* More would not say anything kubelet sends: it maps a pod's volumes with
 * the pod's one range. */
#define MAPPINGS_MAX 1

/* <root>/containers/<id>/vol/<i>: a directory, or a file when the source
 * is one. In a user namespace the runtime's init reaches it as "others". */
static int make_target(struct ctr_mgr *m, const char *id, const struct ctr_pod *pod, size_t i,
		       bool file, char **ret, struct err *err)
{
	cleanup_free char *dir = ctr_path_root(m, id, "vol");
	mode_t mode = pod->userns ? 0711 : 0700;
	if (mkdir(dir, mode) < 0 && errno != EEXIST)
		return err_set(err, -errno, "mkdir '%s'", dir);
	if (pod->userns && chmod(dir, mode) < 0)
		return err_set(err, -errno, "chmod '%s'", dir);
	char *p = xasprintf("%s/%zu", dir, i);
	int r = file ? open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644) : mkdir(p, 0755);
	if (r < 0) {
		r = err_set(err, -errno, "create mount point '%s'", p);
		free(p);
		return r;
	}
	if (file)
		close(r);
	*ret = p;
	return 0;
}

static int open_userns(const struct ctr_pod *pod, struct err *err)
{
	if (!pod->userns)
		return -1;
	int fd = open(pod->userns, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? err_set(err, -errno, "open the pod's user namespace '%s'", pod->userns)
		      : fd;
}

/* The host path of `sub` inside the image mounted on `root`: resolved
 * beneath it, so neither ".." nor a symlink of the image leads out. */
static int sub_path(const char *root, const char *sub, const char *image, char **ret,
		    struct err *err)
{
	cleanup_free char *clean = NULL;
	if (sub[0] == '/')
		return err_msg(err, -EINVAL, "image sub path '%s' must be relative", sub);
	if (fs_path_clean(sub, &clean) < 0)
		return err_msg(err, -EINVAL, "image sub path '%s' must not contain '..'", sub);
	cleanup_close int dfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return err_set(err, -errno, "open '%s'", root);
	cleanup_err struct err e = ERR_INIT;
	cleanup_close int fd = fs_open_beneath(dfd, clean, O_PATH, 0, &e);
	if (fd == -ENOENT || fd == -ENOTDIR)
		return err_msg(err, -ENOENT, "image sub path '%s' does not exist in image %s", sub,
			       image);
	if (fd == -EXDEV || fd == -ELOOP)
		return err_msg(err, -EINVAL,
			       "image sub path '%s' leads out of image %s (through a symlink)", sub,
			       image);
	if (fd < 0)
		return err_move(err, &e);
	char link[64], buf[4096];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t len = readlink(link, buf, sizeof(buf) - 1);
	if (len < 0 || (size_t)len >= sizeof(buf) - 1)
		return err_set(err, len < 0 ? -errno : -ENAMETOOLONG, "resolve image sub path '%s'",
			       sub);
	buf[len] = '\0';
	size_t rl = strlen(root);
	if (strncmp(buf, root, rl) != 0 || (buf[rl] != '/' && buf[rl] != '\0'))
		return err_msg(err, -EINVAL, "image sub path '%s' leads out of image %s", sub,
			       image);
	*ret = xstrdup(buf);
	return 0;
}

static int image_volume(struct ctr_mgr *m, const char *id, const struct ctr_pod *pod, size_t i,
			const struct ctr_mount_extra *x, struct ctr_volumes *v, struct err *err)
{
	struct oci_mount *mt = &v->mounts[i];
	if (!str_empty(mt->host_path))
		return err_msg(err, -EINVAL, "host_path '%s' and image %s exclude each other",
			       mt->host_path, x->image);
	struct ctr_image img;
	int r = ctr_image_resolve(m->db, m->images, x->image, &img, err);
	if (r < 0)
		return r == -ENOENT
			   ? err_msg(
				 err, -ENOENT,
				 "image %s not found: an image volume's image must be pulled first",
				 x->image)
			   : r;
	cleanup_free char *target = NULL;
	cleanup_close int ufd = open_userns(pod, err);
	r = pod->userns && ufd < 0 ? ufd : make_target(m, id, pod, i, false, &target, err);
	if (r >= 0)
		r = storage_mount_image_ro(m->storage, (const char *const *)img.layers,
					   img.n_layers, target, ufd, err);
	char *path = NULL;
	if (r >= 0 && !str_empty(x->image_sub_path))
		r = sub_path(target, x->image_sub_path, x->image, &path, err);
	if (r >= 0) {
		if (!path)
			path = TAKE_PTR(target);
		strv_push(&v->paths, path);
		free(path);
		mt->host_path = v->paths[strv_len(v->paths) - 1];
		mt->readonly = true; /* what KEP-4639 promises */
		if (!v->record)
			v->record = json_array();
		json_array_append_new(
		    v->record, json_pack("{s:s,s:s}", "image", img.id, "path", mt->container_path));
		for (size_t k = 0; k < img.n_layers; k++)
			strv_push(&v->layers, img.layers[k]);
	}
	ctr_image_done(&img);
	return r;
}

static int check_range(const char *what, const struct oci_idmap *x, const struct oci_idmap *pod,
		       struct err *err)
{
	uint64_t c_end = (uint64_t)x->container_id + x->length;
	uint64_t h_end = (uint64_t)x->host_id + x->length;
	if (x->length == 0 || c_end > UINT32_MAX || h_end > UINT32_MAX)
		return err_msg(err, -EINVAL, "%s mapping %u:%u:%u is empty or out of range", what,
			       x->container_id, x->host_id, x->length);
	if (x->host_id < pod->host_id || h_end > (uint64_t)pod->host_id + pod->length)
		return err_msg(
		    err, -EINVAL,
		    "%s mapping %u:%u:%u maps to host ids outside the pod's user namespace (%u-%llu)",
		    what, x->container_id, x->host_id, x->length, pod->host_id,
		    (unsigned long long)pod->host_id + pod->length - 1);
	return 0;
}

static int idmapped_volume(struct ctr_mgr *m, const char *id, const struct ctr_pod *pod, size_t i,
			   const struct ctr_mount_extra *x, struct ctr_volumes *v, struct err *err)
{
	struct oci_mount *mt = &v->mounts[i];
	if (!pod->userns)
		return err_msg(err, -EINVAL,
			       "uid/gid mappings need a pod with its own user namespace");
	if (x->n_uids != MAPPINGS_MAX || x->n_gids != MAPPINGS_MAX)
		return err_msg(
		    err, -EINVAL,
		    "an idmapped mount takes exactly one uid and one gid mapping (%zu and %zu given)",
		    x->n_uids, x->n_gids);
	if (mt->propagation != OCI_PROPAGATION_PRIVATE)
		return err_msg(err, -EINVAL, "an idmapped mount takes PRIVATE propagation only");
	int r = check_range("uid", &x->uids[0], &pod->uid_map, err);
	if (r >= 0)
		r = check_range("gid", &x->gids[0], &pod->gid_map, err);
	if (r < 0)
		return r;
	cleanup_free char *src = NULL;
	struct stat st;
	if (str_empty(mt->host_path) || mt->host_path[0] != '/' ||
	    fs_path_clean(mt->host_path, &src) < 0)
		return err_msg(err, -EINVAL, "host path '%s' must be absolute, without '..'",
			       mt->host_path ? mt->host_path : "");
	if (stat(src, &st) < 0)
		return err_set(err, -errno, "host path '%s'", src);
	struct proc_idmap u = { x->uids[0].container_id, x->uids[0].host_id, x->uids[0].length };
	struct proc_idmap g = { x->gids[0].container_id, x->gids[0].host_id, x->gids[0].length };
	cleanup_close int ufd = proc_userns_new(&u, &g, err);
	if (ufd < 0)
		return ufd;
	cleanup_free char *target = NULL;
	r = make_target(m, id, pod, i, !S_ISDIR(st.st_mode), &target, err);
	if (r >= 0)
		r = storage_bind_idmapped(src, target, mt->readonly, ufd, err);
	if (r < 0)
		return r;
	strv_push(&v->paths, target);
	mt->host_path = v->paths[strv_len(v->paths) - 1];
	return 0;
}

int ctr_volumes_prepare(struct ctr_mgr *m, const char *id, const struct ctr_pod *pod,
			const struct oci_mount *mounts, size_t n,
			const struct ctr_mount_extra *extras, struct ctr_volumes *ret,
			struct err *err)
{
	memset(ret, 0, sizeof(*ret));
	ret->mounts = xcalloc(n + 1, sizeof(*ret->mounts));
	if (n)
		memcpy(ret->mounts, mounts, n * sizeof(*mounts));
	ret->n_mounts = n;
	for (size_t i = 0; extras && i < n; i++) {
		const struct ctr_mount_extra *x = &extras[i];
		const char *cp = mounts[i].container_path ? mounts[i].container_path : "";
		bool idmap = x->n_uids || x->n_gids;
		int r = 0;
		if (str_empty(x->image) && !str_empty(x->image_sub_path))
			r = err_msg(err, -EINVAL, "image_sub_path '%s' without an image",
				    x->image_sub_path);
		else if (!str_empty(x->image) && idmap)
			r = err_msg(err, -EINVAL,
				    "uid/gid mappings do not apply to an image volume");
		else if (!str_empty(x->image))
			r = image_volume(m, id, pod, i, x, ret, err);
		else if (idmap)
			r = idmapped_volume(m, id, pod, i, x, ret, err);
		if (r < 0)
			return err_wrap(err, "mount '%s'", cp);
	}
	return 0;
}

void ctr_volumes_done(struct ctr_volumes *v)
{
	free(v->mounts);
	json_decref(v->record);
	strv_free(v->layers);
	strv_free(v->paths);
	memset(v, 0, sizeof(*v));
}

void ctr_volumes_unmount(struct ctr_mgr *m, const char *id)
{
	cleanup_free char *dir = ctr_path_root(m, id, "vol");
	cleanup(strv_free) char **names = NULL;
	if (fs_list_dir(dir, &names) < 0)
		return;
	for (size_t i = 0; names[i]; i++) {
		cleanup_free char *p = xasprintf("%s/%s", dir, names[i]);
		(void)umount2(p, MNT_DETACH | UMOUNT_NOFOLLOW);
	}
}

int ctr_image_check_unused(struct ctr_mgr *m, const char *image_id, struct err *err)
{
	size_t n = 0;
	struct ctr **v = ctr_index_all(&m->index, &n);
	int r = 0;
	for (size_t i = 0; i < n && r >= 0; i++) {
		struct ctr *c = v[i];
		pthread_mutex_lock(&c->st);
		json_t *extra = NULL;
		if (!c->removed && c->row.extra &&
		    js_load("extra", c->row.extra, strlen(c->row.extra), SIZE_MAX, &extra, err) <
			0) {
			r = err_wrap(err, "container %s", c->id);
			pthread_mutex_unlock(&c->st);
			break;
		}
		json_t *vols = json_object_get(extra, "image_volumes");
		size_t k;
		json_t *e;
		json_array_foreach(vols, k, e)
		{
			const char *img = json_string_value(json_object_get(e, "image"));
			if (img && strcmp(img, image_id) == 0) {
				r = err_msg(
				    err, -EBUSY,
				    "image %s is in use: container %s (%s) mounts it at %s as an image volume",
				    image_id, c->id, c->row.name ? c->row.name : "",
				    json_string_value(json_object_get(e, "path")));
				break;
			}
		}
		json_decref(extra);
		pthread_mutex_unlock(&c->st);
	}
	ctr_refs_free(v, n);
	return r;
}
