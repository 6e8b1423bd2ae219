/* The layer store on disk:
 *   <root>/layers/<chain-hex>/diff   unpacked layer
 *   <root>/layers/<chain-hex>/link   its short name
 *   <root>/layers/l/<short>          -> ../<chain-hex>/diff
 *   <root>/tmp/                      work in progress, emptied at start-up
 * A layer becomes visible by one rename, after every check passed. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "base/base.h"
#include "base/fs.h"
#include "storage/storage_int.h"
#include "storage/store_int.h"

#define SHORT_LEN STORE_SHORT_LEN

static int mkdir_open(int dirfd, const char *name, int *ret, const char *root, struct err *err)
{
	if (mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST)
		return err_set(err, -errno, "mkdir '%s/%s'", root, name);
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, -errno, "open '%s/%s'", root, name);
	*ret = fd;
	return 0;
}

int storage_new(const char *root, struct storage **ret_store, struct err *err)
{
	struct storage *s = xnew(struct storage);
	s->root = xstrdup(root);
	s->rootfd = s->layersfd = s->linksfd = s->tmpfd = -1;
	int r = 0;
	if (mkdir(root, 0700) < 0 && errno != EEXIST)
		r = err_set(err, -errno, "mkdir '%s'", root);
	if (r >= 0 && (s->rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		r = err_set(err, -errno, "open '%s'", root);
	if (r >= 0)
		r = mkdir_open(s->rootfd, "layers", &s->layersfd, root, err);
	if (r >= 0)
		r = mkdir_open(s->rootfd, "layers/l", &s->linksfd, root, err);
	if (r >= 0)
		r = mkdir_open(s->rootfd, "tmp", &s->tmpfd, root, err);
	if (r < 0) {
		storage_free(s);
		return r;
	}
	*ret_store = s;
	return 0;
}

void storage_set_layer_sync(struct storage *s, bool on)
{
	s->no_sync = !on;
}

void storage_free(struct storage *s)
{
	if (!s)
		return;
	cleanup_closep(&s->rootfd);
	cleanup_closep(&s->layersfd);
	cleanup_closep(&s->linksfd);
	cleanup_closep(&s->tmpfd);
	free(s->root);
	free(s);
}

const char *storage_root(const struct storage *s)
{
	return s->root;
}

int storage_tmp_clean(struct storage *s, struct err *err)
{
	int r = fsu_rm_contents(s->tmpfd);
	if (r < 0)
		return err_set(err, r, "clean '%s/tmp'", s->root);
	/* Short links whose layer never got renamed into place. */
	int fd = fcntl(s->linksfd, F_DUPFD_CLOEXEC, 3);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		return err_set(err, r, "open '%s/layers/l'", s->root);
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		struct stat st;
		if (de->d_name[0] == '.' || fstatat(s->linksfd, de->d_name, &st, 0) == 0)
			continue;
		if (errno == ENOENT)
			(void)unlinkat(s->linksfd, de->d_name, 0);
	}
	closedir(d);
	return 0;
}

int storage_chain_id(const char *parent, const char *diff_id, char **ret, struct err *err)
{
	if (!digest_valid(diff_id))
		return err_msg(err, -EINVAL, "invalid diffID '%s'", diff_id ? diff_id : "");
	if (!parent) {
		*ret = xstrdup(diff_id);
		return 0;
	}
	if (!digest_valid(parent))
		return err_msg(err, -EINVAL, "invalid parent chain id '%s'", parent);
	EVP_MD_CTX *md = md_new();
	(void)EVP_DigestUpdate(md, parent, strlen(parent));
	(void)EVP_DigestUpdate(md, " ", 1);
	(void)EVP_DigestUpdate(md, diff_id, strlen(diff_id));
	char *out = xmalloc(STORAGE_DIGEST_LEN + 1);
	md_final_hex(md, out);
	EVP_MD_CTX_free(md);
	*ret = out;
	return 0;
}

int storage_layer_exists(struct storage *s, const char *chain_id)
{
	if (!digest_valid(chain_id))
		return -EINVAL;
	char path[STORAGE_DIGEST_LEN + 8];
	snprintf(path, sizeof(path), "%s/diff", chain_id + 7);
	struct stat st;
	return fstatat(s->layersfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

static bool hex64(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
			return false;
	return n == 64;
}

int storage_layer_list(struct storage *s, char ***ret, struct err *err)
{
	/* A fresh open: the layers fd's offset is shared with other walks. */
	int fd = openat(s->layersfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		int r = -errno;
		if (fd >= 0)
			close(fd);
		return err_set(err, r, "list '%s/layers'", s->root);
	}
	char **out = NULL;
	struct dirent *de;
	while ((de = readdir(d)))
		if (hex64(de->d_name))
			strv_push_take(&out, xasprintf("sha256:%s", de->d_name));
	closedir(d);
	*ret = out;
	return 0;
}

int storage_layer_path(struct storage *s, const char *chain_id, char **ret, struct err *err)
{
	int r = storage_layer_exists(s, chain_id);
	if (r < 0)
		return err_msg(err, r, "invalid chain id '%s'", chain_id ? chain_id : "");
	if (r == 0)
		return err_msg(err, -ENOENT, "layer %s not found", chain_id);
	*ret = xasprintf("%s/layers/%s/diff", s->root, chain_id + 7);
	return 0;
}

int store_read_link(struct storage *s, const char *chain_id, char *out, struct err *err)
{
	char path[STORAGE_DIGEST_LEN + 8];
	snprintf(path, sizeof(path), "%s/link", chain_id + 7);
	cleanup_close int fd = openat(s->layersfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, -errno, "layer %s: open link", chain_id);
	ssize_t n = read(fd, out, SHORT_LEN + 1);
	if (n != SHORT_LEN)
		return err_msg(err, -EIO, "layer %s: malformed link file", chain_id);
	out[SHORT_LEN] = '\0';
	return 0;
}

int storage_layer_delete(struct storage *s, const char *chain_id, struct err *err)
{
	int r = storage_layer_exists(s, chain_id);
	if (r <= 0)
		return r < 0 ? err_msg(err, r, "invalid chain id '%s'", chain_id) : 0;
	char short_name[SHORT_LEN + 1], tmp[SHORT_LEN + 5] = "del-";
	if (store_read_link(s, chain_id, short_name, NULL) == 0)
		(void)unlinkat(s->linksfd, short_name, 0);
	/* Rename away first: the layer vanishes at once, the rest is cleanup
	 * that storage_tmp_clean finishes after a crash. */
	(void)fsu_random_name(tmp + 4, SHORT_LEN);
	if (renameat(s->layersfd, chain_id + 7, s->tmpfd, tmp) < 0)
		return err_set(err, -errno, "delete layer %s", chain_id);
	r = fs_rm_rf_at(s->tmpfd, tmp, err);
	return r < 0 ? err_wrap(err, "delete layer %s", chain_id) : 0;
}
