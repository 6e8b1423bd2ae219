/* Disk usage of a directory tree, like `du -sx --apparent-size=no`: every
 * inode once, symlinks not followed, other filesystems not entered, with a
 * bound on entries and depth. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base.h"
#include "stats/stats.h"
#include "stats/stats_int.h"

/* Open-addressing set of (dev, ino) of multiply-linked files. */
struct ino_set {
	struct ino_key {
		dev_t dev;
		ino_t ino;
	} * slots;
	size_t cap, n; /* cap is 0 or a power of two; slot ino 0 = empty */
};

static size_t ino_hash(dev_t dev, ino_t ino)
{
	uint64_t h = ((uint64_t)ino * UINT64_C(0x9E3779B97F4A7C15)) ^ (uint64_t)dev;
	return (size_t)(h ^ (h >> 29));
}

/* true when newly added, false when already there. */
static bool ino_set_add(struct ino_set *s, dev_t dev, ino_t ino);

static void ino_set_grow(struct ino_set *s)
{
	struct ino_set bigger = { .cap = s->cap ? s->cap * 2 : 64 };
	bigger.slots = xcalloc(bigger.cap, sizeof(*bigger.slots));
	for (size_t i = 0; i < s->cap; i++)
		if (s->slots[i].ino)
			(void)ino_set_add(&bigger, s->slots[i].dev, s->slots[i].ino);
	free(s->slots);
	*s = bigger;
}

static bool ino_set_add(struct ino_set *s, dev_t dev, ino_t ino)
{
	if (ino == 0)
		return true; /* never a real file's inode; do not confuse with empty */
	if ((s->n + 1) * 2 > s->cap)
		ino_set_grow(s);
	size_t i = ino_hash(dev, ino) & (s->cap - 1);
	while (s->slots[i].ino) {
		if (s->slots[i].ino == ino && s->slots[i].dev == dev)
			return false;
		i = (i + 1) & (s->cap - 1);
	}
	s->slots[i] = (struct ino_key){ dev, ino };
	s->n++;
	return true;
}

struct walk {
	dev_t dev;     /* the top directory's filesystem */
	uint64_t left; /* entries still allowed */
	struct ino_set links;
	struct stats_fs_usage *u;
};

static void account(struct walk *w, const struct stat *st)
{
	if (!S_ISDIR(st->st_mode) && st->st_nlink > 1 &&
	    !ino_set_add(&w->links, st->st_dev, st->st_ino))
		return;
	w->u->bytes += (uint64_t)st->st_blocks * 512;
	w->u->inodes++;
}

static void closedirp(DIR **d)
{
	if (*d)
		(void)closedir(*d);
}

/* Walk the directory open at `fd` (taken). Errors inside the tree (an entry
 * vanishing, a permission problem) are skipped: usage is best effort. */
static void walk_dir(struct walk *w, int fd, unsigned depth)
{
	__attribute__((__cleanup__(closedirp))) DIR *d = fdopendir(fd);
	if (!d) {
		(void)close(fd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (w->left == 0) {
			w->u->truncated = true;
			return;
		}
		w->left--;
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		account(w, &st);
		if (!S_ISDIR(st.st_mode) || st.st_dev != w->dev)
			continue;
		if (depth + 1 >= STATS_FS_MAX_DEPTH) {
			w->u->truncated = true;
			continue;
		}
		int sub =
		    openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub >= 0)
			walk_dir(w, sub, depth + 1);
	}
}

int stats_fs_usage(const char *path, uint64_t max_entries, struct stats_fs_usage *ret,
		   struct err *err)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, -errno, "open '%s'", path);
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int r = err_set(err, -errno, "stat '%s'", path);
		(void)close(fd);
		return r;
	}
	*ret = (struct stats_fs_usage){ .timestamp_ns = (uint64_t)wall_ns() };
	struct walk w = {
		.dev = st.st_dev,
		.left = max_entries ? max_entries : STATS_FS_MAX_ENTRIES,
		.u = ret,
	};
	account(&w, &st);
	walk_dir(&w, fd, 0);
	free(w.links.slots);
	return 0;
}
