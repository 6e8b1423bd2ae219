/* Unpacking a layer into the store: temp dir, stream, verify, rename. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base.h"
#include "base/fs.h"
#include "storage/storage_int.h"
#include "storage/store_int.h"

struct work {
	struct storage *s;
	char tmp[STORE_SHORT_LEN + 1];
	char short_name[STORE_SHORT_LEN + 1];
	int tdirfd;
	bool linked;
};

static int check_opts(struct storage *s, const struct storage_layer_opts *o, struct err *err)
{
	if (!digest_valid(o->digest))
		return err_msg(err, -EINVAL, "invalid layer digest '%s'",
			       o->digest ? o->digest : "");
	if (!digest_valid(o->diff_id))
		return err_msg(err, -EINVAL, "invalid layer diffID '%s'",
			       o->diff_id ? o->diff_id : "");
	if (o->parent_chain_id && !o->before_commit &&
	    storage_layer_exists(s, o->parent_chain_id) != 1)
		return err_msg(err, -ENOENT, "parent layer '%s' not found", o->parent_chain_id);
	return 0;
}

static int verify(const struct storage_layer_opts *o, const struct unpack_result *r,
		  struct err *err)
{
	if (o->size >= 0 && r->size != (uint64_t)o->size)
		return err_msg(err, -EINVAL, "layer size mismatch: expected %lld bytes, got %llu",
			       (long long)o->size, (unsigned long long)r->size);
	if (strcmp(o->digest, r->digest) != 0)
		return err_msg(err, -EINVAL, "layer digest mismatch: expected %s, got %s",
			       o->digest, r->digest);
	if (strcmp(o->diff_id, r->diff_id) != 0)
		return err_msg(err, -EINVAL, "layer diffID mismatch: expected %s, got %s",
			       o->diff_id, r->diff_id);
	return 0;
}

static int work_begin(struct work *w, int *ret_diffd, struct err *err)
{
	struct storage *s = w->s;
	(void)fsu_random_name(w->tmp, STORE_SHORT_LEN);
	if (mkdirat(s->tmpfd, w->tmp, 0700) < 0)
		return err_set(err, -errno, "mkdir '%s/tmp/%s'", s->root, w->tmp);
	w->tdirfd = openat(s->tmpfd, w->tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (w->tdirfd < 0)
		return err_set(err, -errno, "open '%s/tmp/%s'", s->root, w->tmp);
	if (mkdirat(w->tdirfd, "diff", 0755) < 0)
		return err_set(err, -errno, "mkdir '%s/tmp/%s/diff'", s->root, w->tmp);
	*ret_diffd = openat(w->tdirfd, "diff", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*ret_diffd < 0)
		return err_set(err, -errno, "open '%s/tmp/%s/diff'", s->root, w->tmp);
	return 0;
}

/* Short link and link file, then one rename makes the layer visible. */
static int work_commit(struct work *w, const char *chain_id, struct err *err)
{
	struct storage *s = w->s;
	char target[STORAGE_DIGEST_LEN + 8];
	snprintf(target, sizeof(target), "../%s/diff", chain_id + 7);
	for (int tries = 0;; tries++) {
		(void)fsu_random_name(w->short_name, STORE_SHORT_LEN);
		if (symlinkat(target, s->linksfd, w->short_name) == 0)
			break;
		if (errno != EEXIST || tries > 8)
			return err_set(err, -errno, "short link for layer %s", chain_id);
	}
	w->linked = true;
	cleanup_close int fd =
	    openat(w->tdirfd, "link", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, w->short_name, STORE_SHORT_LEN) != STORE_SHORT_LEN)
		return err_set(err, fd < 0 ? -errno : -EIO, "write link file of layer %s",
			       chain_id);
	/* The layer must be on disk before its name is. */
	if (!s->no_sync && syncfs(w->tdirfd) < 0)
		return err_set(err, -errno, "sync layer %s", chain_id);
	if (renameat(s->tmpfd, w->tmp, s->layersfd, chain_id + 7) < 0) {
		if (errno == EEXIST || errno == ENOTEMPTY)
			return 1; /* a concurrent unpack of the same layer won */
		return err_set(err, -errno, "rename layer %s into place", chain_id);
	}
	w->linked = false;
	w->tmp[0] = '\0';
	return 0;
}

static void work_abort(struct work *w)
{
	if (w->linked)
		(void)unlinkat(w->s->linksfd, w->short_name, 0);
	if (w->tmp[0])
		(void)fs_rm_rf_at(w->s->tmpfd, w->tmp, NULL);
	cleanup_closep(&w->tdirfd);
}

int storage_layer_unpack(struct storage *s, const struct storage_layer_opts *opts,
			 storage_read_fn fn, void *opaque, char **ret_chain_id, struct err *err)
{
	cleanup_free char *chain = NULL;
	int r = check_opts(s, opts, err);
	if (r >= 0)
		r = storage_chain_id(opts->parent_chain_id, opts->diff_id, &chain, err);
	if (r < 0)
		return r;

	struct work w = { .s = s, .tdirfd = -1 };
	cleanup_close int diffd = -1;
	struct unpack_result res = { 0 };
	r = work_begin(&w, &diffd, err);
	if (r >= 0) {
		r = unpack_stream(diffd, fn, opaque, opts->size, opts->no_isal, &res, err);
		if (r < 0)
			(void)err_wrap(err, "layer %s", opts->digest);
	}
	if (r >= 0)
		r = verify(opts, &res, err);
	if (r >= 0 && opts->before_commit) {
		r = opts->before_commit(opts->before_commit_opaque, err);
		if (r >= 0 && opts->parent_chain_id &&
		    storage_layer_exists(s, opts->parent_chain_id) != 1)
			r = err_msg(err, -ENOENT, "parent layer '%s' not found",
				    opts->parent_chain_id);
	}
	if (r >= 0 && storage_layer_exists(s, chain) != 1)
		r = work_commit(&w, chain, err);
	work_abort(&w);
	if (r < 0)
		return r;
	*ret_chain_id = TAKE_PTR(chain);
	return 0;
}

static ssize_t fd_read(void *opaque, void *buf, size_t len)
{
	ssize_t n = read(*(int *)opaque, buf, len);
	return n < 0 ? -errno : n;
}

int storage_layer_unpack_fd(struct storage *s, const struct storage_layer_opts *opts, int fd,
			    char **ret_chain_id, struct err *err)
{
	return storage_layer_unpack(s, opts, fd_read, &fd, ret_chain_id, err);
}
