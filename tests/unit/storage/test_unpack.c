/* Layer store tests: real unpacks into a store under /var/tmp, run as root
 * (device nodes, ownership, trusted xattrs, overlay mounts). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/base.h"
#include "storage/storage.h"
#include "tarbuild.h"

struct fx {
	char dir[64];
	struct storage *s;
};

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(p) < 0 ? -1 : 0;
}

static int setup(void **state)
{
	struct fx *f = xnew(struct fx);
	struct err err = ERR_INIT;
	strcpy(f->dir, "/var/tmp/ocid-storage-test-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	char *root = xasprintf("%s/root", f->dir);
	int r = storage_new(root, &f->s, &err);
	free(root);
	if (r < 0)
		fail_msg("storage_new: %s", err_str(&err));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	storage_free(f->s);
	(void)nftw(f->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static int count_entries(const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return -1;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

/* Nothing of a refused layer may remain: tmp/ empty, layers/ holds only l/, l/ empty. */
static void assert_store_empty(struct fx *f, const char *what)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/root/tmp", f->dir);
	if (count_entries(p) != 0)
		fail_msg("%s: tmp/ not empty", what);
	snprintf(p, sizeof(p), "%s/root/layers", f->dir);
	if (count_entries(p) != 1)
		fail_msg("%s: layers/ has %d entries", what, count_entries(p));
	snprintf(p, sizeof(p), "%s/root/layers/l", f->dir);
	if (count_entries(p) != 0)
		fail_msg("%s: layers/l not empty", what);
}

/* ---- the content layer ---- */

#define BIG_SIZE (1024 * 1024 + 12345)
#define NLINKS 60

/* vfs_cap_data v2, effective, CAP_NET_RAW permitted */
static const uint8_t cap_blob[20] = { 0x01, 0, 0, 0x02, 0, 0x20, 0, 0 };

static char *big_data(void)
{
	char *d = xmalloc(BIG_SIZE);
	uint32_t x = 12345;
	for (size_t i = 0; i < BIG_SIZE; i++) {
		x = x * 1103515245u + 12345u;
		d[i] = (char)(x >> 16);
	}
	return d;
}

static struct blob content_layer(void)
{
	cleanup_free char *big = big_data();
	struct tb *t = tb_new();
	tb_add(t, (struct ent){ .path = "./", .type = S_IFDIR, .mode = 0755 });
	tb_add(t, (struct ent){ .path = "./bin/", .type = S_IFDIR });
	tb_add(t, (struct ent){
		      .path = "./bin/busybox", .mode = 0755, .data = big, .size = BIG_SIZE });
	for (int i = 0; i < NLINKS; i++) {
		char name[32];
		snprintf(name, sizeof(name), "./bin/app%d", i);
		tb_add(t, (struct ent){ .path = name, .hardlink = "./bin/busybox" });
	}
	tb_add(t,
	       (struct ent){ .path = "usr/bin/env", .type = S_IFLNK, .link = "../../bin/busybox" });
	tb_add(t, (struct ent){ .path = "lib", .type = S_IFLNK, .link = "usr/lib" });
	tb_add(t, (struct ent){
		      .path = "dev/null", .type = S_IFCHR, .mode = 0666, .rdev = makedev(1, 3) });
	tb_add(t, (struct ent){ .path = "dev/sda",
				.type = S_IFBLK,
				.mode = 0660,
				.rdev = makedev(8, 0),
				.gid = 6 });
	tb_add(t, (struct ent){ .path = "run/fifo", .type = S_IFIFO, .mode = 0620 });
	tb_add(t, (struct ent){ .path = "usr/bin/su", .mode = 04755, .data = "su" });
	tb_add(t, (struct ent){ .path = "usr/bin/wall", .mode = 02755, .gid = 5, .data = "wall" });
	tb_add(t, (struct ent){ .path = "tmp", .type = S_IFDIR, .mode = 01777 });
	tb_add(t, (struct ent){ .path = "srv",
				.type = S_IFDIR,
				.mode = 0750,
				.mtime = 1111111111,
				.uid = 7,
				.gid = 8 });
	tb_add(t,
	       (struct ent){
		   .path = "srv/f", .data = "x", .uid = 1000, .gid = 1001, .mtime = 1234567890 });
	tb_add(t, (struct ent){ .path = "usr/bin/ping",
				.mode = 0755,
				.data = "ping",
				.xname = "security.capability",
				.xval = cap_blob,
				.xlen = sizeof(cap_blob) });
	tb_add(t,
	       (struct ent){
		   .path = "etc/x", .data = "x", .xname = "user.note", .xval = "hi", .xlen = 2 });
	return tb_finish(t);
}

static void check_stat(int dfd, const char *p, mode_t type, mode_t perm, uid_t uid, gid_t gid)
{
	struct stat st;
	if (fstatat(dfd, p, &st, AT_SYMLINK_NOFOLLOW) < 0)
		fail_msg("stat %s: %s", p, strerror(errno));
	if ((st.st_mode & S_IFMT) != type || (st.st_mode & 07777) != perm || st.st_uid != uid ||
	    st.st_gid != gid)
		fail_msg("%s: mode %o uid %u gid %u", p, st.st_mode, st.st_uid, st.st_gid);
}

static void check_content(const char *diff)
{
	cleanup_close int d = open(diff, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(d >= 0);
	struct stat st, st2;
	check_stat(d, "bin/busybox", S_IFREG, 0755, 0, 0);
	assert_int_equal(fstatat(d, "bin/busybox", &st, 0), 0);
	assert_int_equal(st.st_size, BIG_SIZE);
	assert_int_equal(st.st_nlink, NLINKS + 1);
	assert_int_equal(fstatat(d, "bin/app59", &st2, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(st.st_ino, st2.st_ino);
	{
		cleanup_free char *want = big_data();
		cleanup_free char *got = xmalloc(BIG_SIZE);
		cleanup_close int fd = openat(d, "bin/app7", O_RDONLY | O_CLOEXEC);
		assert_int_equal(pread(fd, got, BIG_SIZE, 0), BIG_SIZE);
		assert_memory_equal(got, want, BIG_SIZE);
	}
	char buf[64] = "";
	assert_int_equal(readlinkat(d, "usr/bin/env", buf, sizeof(buf)), 17);
	assert_string_equal(buf, "../../bin/busybox");
	check_stat(d, "lib", S_IFLNK, 0777, 0, 0);
	check_stat(d, "dev/null", S_IFCHR, 0666, 0, 0);
	assert_int_equal(fstatat(d, "dev/null", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(st.st_rdev, makedev(1, 3));
	check_stat(d, "dev/sda", S_IFBLK, 0660, 0, 6);
	check_stat(d, "run/fifo", S_IFIFO, 0620, 0, 0);
	check_stat(d, "usr/bin/su", S_IFREG, 04755, 0, 0);
	check_stat(d, "usr/bin/wall", S_IFREG, 02755, 0, 5);
	check_stat(d, "tmp", S_IFDIR, 01777, 0, 0);
	check_stat(d, "srv", S_IFDIR, 0750, 7, 8);
	check_stat(d, "srv/f", S_IFREG, 0644, 1000, 1001);
	assert_int_equal(fstatat(d, "srv/f", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(st.st_mtim.tv_sec, 1234567890);
	assert_int_equal(fstatat(d, "srv", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(st.st_mtim.tv_sec, 1111111111); /* survives srv/f being written */
	char path[PATH_MAX];
	uint8_t cap[64];
	snprintf(path, sizeof(path), "%s/usr/bin/ping", diff);
	assert_int_equal(getxattr(path, "security.capability", cap, sizeof(cap)), sizeof(cap_blob));
	assert_memory_equal(cap, cap_blob, sizeof(cap_blob));
	snprintf(path, sizeof(path), "%s/etc/x", diff);
	assert_int_equal(getxattr(path, "user.note", buf, sizeof(buf)), 2);
}

static void content_test(void **state, enum comp c, bool no_isal)
{
	struct fx *f = *state;
	cleanup_err struct err err = ERR_INIT;
	struct blob tar = content_layer();
	cleanup_free char *chain = NULL, *path = NULL;
	int r = unpack_blob(f->s, NULL, &tar, c, no_isal, &chain, &err);
	if (r < 0)
		fail_msg("unpack: %s", err_str(&err));
	char diff_id[72];
	digest_of(&tar, diff_id);
	assert_string_equal(chain, diff_id); /* first layer: chain id = diffID */
	assert_int_equal(storage_layer_exists(f->s, chain), 1);
	assert_int_equal(storage_layer_path(f->s, chain, &path, &err), 0);
	check_content(path);
	/* Unpacking it again is a no-op that still verifies. */
	cleanup_free char *again = NULL;
	assert_int_equal(unpack_blob(f->s, NULL, &tar, c, no_isal, &again, &err), 0);
	assert_string_equal(again, chain);
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/root/tmp", f->dir);
	assert_int_equal(count_entries(p), 0);
	struct storage_usage u;
	assert_int_equal(storage_usage(f->s, &u, &err), 0);
	assert_true(u.bytes >= BIG_SIZE);
	assert_true(u.inodes >= 15 && u.inodes < 40);
	assert_int_equal(storage_layer_delete(f->s, chain, &err), 0);
	assert_int_equal(storage_layer_exists(f->s, chain), 0);
	assert_store_empty(f, "after delete");
	blob_free(&tar);
}

static void test_content_gzip_isal(void **state)
{
	content_test(state, COMP_GZIP, false);
}

static void test_content_gzip_zlib(void **state)
{
	content_test(state, COMP_GZIP, true);
}

static void test_content_zstd(void **state)
{
	content_test(state, COMP_ZSTD, false);
}

static void test_content_plain(void **state)
{
	content_test(state, COMP_NONE, false);
}

/* ---- overlay: whiteouts and opaque directories in the merged view ---- */

static void walk(const char *base, const char *rel, char ***out)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", base, rel);
	DIR *d = opendir(p);
	assert_non_null(d);
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char r[PATH_MAX];
		snprintf(r, sizeof(r), "%s%s%s", rel, *rel ? "/" : "", de->d_name);
		strv_push(out, r);
		if (de->d_type == DT_DIR)
			walk(base, r, out);
	}
	closedir(d);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_overlay(void **state)
{
	struct fx *f = *state;
	cleanup_err struct err err = ERR_INIT;
	struct tb *t = tb_new();
	tb_add(t, (struct ent){ .path = "etc", .type = S_IFDIR });
	tb_add(t, (struct ent){ .path = "etc/a", .data = "A" });
	tb_add(t, (struct ent){ .path = "etc/b", .data = "B" });
	tb_add(t, (struct ent){ .path = "opq", .type = S_IFDIR });
	tb_add(t, (struct ent){ .path = "opq/x", .data = "x" });
	tb_add(t, (struct ent){ .path = "opq/sub", .type = S_IFDIR });
	tb_add(t, (struct ent){ .path = "opq/sub/y", .data = "y" });
	tb_add(t, (struct ent){ .path = "keep", .data = "k" });
	struct blob l1 = tb_finish(t);
	t = tb_new();
	tb_add(t, (struct ent){ .path = "etc", .type = S_IFDIR });
	tb_add(t, (struct ent){ .path = "etc/.wh.b" });
	tb_add(t, (struct ent){ .path = "etc/c", .data = "C" });
	tb_add(t, (struct ent){ .path = "opq", .type = S_IFDIR });
	tb_add(t, (struct ent){ .path = "opq/.wh..wh..opq" });
	tb_add(t, (struct ent){ .path = "opq/z", .data = "z" });
	tb_add(t, (struct ent){ .path = ".wh.keep" });
	struct blob l2 = tb_finish(t);

	cleanup_free char *c1 = NULL, *c2 = NULL, *want2 = NULL;
	if (unpack_blob(f->s, NULL, &l1, COMP_GZIP, false, &c1, &err) < 0 ||
	    unpack_blob(f->s, c1, &l2, COMP_ZSTD, false, &c2, &err) < 0)
		fail_msg("unpack: %s", err_str(&err));
	char diff2[72];
	digest_of(&l2, diff2);
	assert_int_equal(storage_chain_id(c1, diff2, &want2, &err), 0);
	assert_string_equal(c2, want2);
	assert_string_not_equal(c2, diff2);

	char target[PATH_MAX];
	snprintf(target, sizeof(target), "%s/merged", f->dir);
	assert_int_equal(mkdir(target, 0755), 0);
	const char *lowers[] = { c2, c1 };
	if (storage_mount_overlay(f->s, lowers, 2, NULL, NULL, target, &err) < 0)
		fail_msg("mount: %s", err_str(&err));
	cleanup(strv_free) char **got = NULL;
	walk(target, "", &got);
	(void)umount2(target, MNT_DETACH);
	qsort(got, strv_len(got), sizeof(char *), cmp_str);
	cleanup_free char *joined = strv_join(got, " ");
	assert_string_equal(joined, "etc etc/a etc/c opq opq/z");

	/* A missing lower is refused before mounting. */
	const char *bad[] = {
		"sha256:0000000000000000000000000000000000000000000000000000000000000000"
	};
	assert_int_equal(storage_mount_overlay(f->s, bad, 1, NULL, NULL, target, &err), -ENOENT);
	blob_free(&l1);
	blob_free(&l2);
}

/* ---- hostile layers: refused whole, nothing left ---- */

struct hostile {
	const char *name;
	struct ent e[3];
};

static const struct hostile hostile_cases[] = {
	{ "absolute path", { { .path = "/etc/x", .data = "x" } } },
	{ "dotdot path", { { .path = "../x", .data = "x" } } },
	{ "dotdot inside", { { .path = "a/../../x", .data = "x" } } },
	{ "write through absolute symlink",
	  { { .path = "evil", .type = S_IFLNK, .link = "/etc" },
	    { .path = "evil/passwd", .data = "root::0:0::/:/bin/sh\n" } } },
	{ "write through dotdot symlink",
	  { { .path = "d/up", .type = S_IFLNK, .link = "../../" },
	    { .path = "d/up/x", .data = "x" } } },
	{ "mkdir through symlink",
	  { { .path = "evil", .type = S_IFLNK, .link = "/tmp" },
	    { .path = "evil/dir", .type = S_IFDIR } } },
	{ "hardlink to /etc/passwd", { { .path = "pw", .hardlink = "/etc/passwd" } } },
	{ "hardlink to dotdot", { { .path = "pw", .hardlink = "../../../etc/passwd" } } },
	{ "hardlink through symlink",
	  { { .path = "e", .type = S_IFLNK, .link = "/etc" },
	    { .path = "pw", .hardlink = "e/passwd" } } },
	{ "hardlink to absent target", { { .path = "pw", .hardlink = "nothere" } } },
	{ "hardlink to a directory",
	  { { .path = "d", .type = S_IFDIR }, { .path = "h", .hardlink = "d" } } },
	{ "bad whiteout", { { .path = "a/.wh..." } } },
};

static void test_hostile(void **state)
{
	struct fx *f = *state;
	for (size_t i = 0; i < ARRAY_SIZE(hostile_cases); i++) {
		const struct hostile *h = &hostile_cases[i];
		cleanup_err struct err err = ERR_INIT;
		cleanup_free char *chain = NULL;
		struct tb *t = tb_new();
		tb_add(t, (struct ent){ .path = "ok", .data = "fine" });
		for (size_t j = 0; j < ARRAY_SIZE(h->e) && h->e[j].path; j++)
			tb_add(t, h->e[j]);
		struct blob tar = tb_finish(t);
		int r = unpack_blob(f->s, NULL, &tar, COMP_GZIP, false, &chain, &err);
		if (r >= 0)
			fail_msg("%s: accepted", h->name);
		if (r != -EINVAL)
			fail_msg("%s: %d %s", h->name, r, err_str(&err));
		print_message("refused %s: %s\n", h->name, err_str(&err));
		assert_store_empty(f, h->name);
		blob_free(&tar);
	}
	/* Too deep to be removed again: refused up front. */
	char deep[PATH_MAX] = "";
	for (int i = 0; i < 300; i++)
		strcat(deep, "d/");
	strcat(deep, "x");
	cleanup_err struct err err = ERR_INIT;
	cleanup_free char *chain = NULL;
	struct tb *t = tb_new();
	tb_add(t, (struct ent){ .path = deep, .data = "x" });
	struct blob tar = tb_finish(t);
	assert_int_equal(unpack_blob(f->s, NULL, &tar, COMP_NONE, false, &chain, &err), -EINVAL);
	print_message("refused deep path: %.80s\n", err_str(&err));
	assert_store_empty(f, "deep path");
	blob_free(&tar);
	struct stat st;
	assert_int_equal(stat("/etc/x", &st), -1);
	assert_int_equal(stat("/etc/dir", &st), -1);
}

/* ---- digest, size and stream integrity ---- */

static void test_integrity(void **state)
{
	struct fx *f = *state;
	struct tb *t = tb_new();
	cleanup_free char *big = big_data();
	tb_add(t, (struct ent){ .path = "f", .data = big, .size = BIG_SIZE });
	struct blob tar = tb_finish(t);
	struct blob gz = compress_blob(&tar, COMP_GZIP), zs = compress_blob(&tar, COMP_ZSTD);
	char dg[72], dz[72], di[72];
	const char *zero =
	    "sha256:0000000000000000000000000000000000000000000000000000000000000000";
	digest_of(&gz, dg);
	digest_of(&zs, dz);
	digest_of(&tar, di);
	struct blob trunc = { gz.data, gz.len - 100, 0 }, ztrunc = { zs.data, zs.len - 50, 0 };
	char dt[72], dzt[72];
	digest_of(&trunc, dt);
	digest_of(&ztrunc, dzt);
	struct blob corrupt = compress_blob(&tar, COMP_GZIP);
	corrupt.data[corrupt.len / 2] ^= 0x55;
	char dc[72];
	digest_of(&corrupt, dc);
	struct {
		const char *name;
		const struct blob *b;
		const char *digest, *diff_id;
		int64_t size;
		bool no_isal;
	} cases[] = {
		{ "digest mismatch", &gz, zero, di, (int64_t)gz.len, false },
		{ "diffID mismatch", &gz, dg, zero, (int64_t)gz.len, false },
		{ "size too large", &gz, dg, di, (int64_t)gz.len + 1, false },
		{ "size too small", &gz, dg, di, (int64_t)gz.len - 1, false },
		{ "truncated gzip (isa-l)", &trunc, dt, di, -1, false },
		{ "truncated gzip (zlib)", &trunc, dt, di, -1, true },
		{ "truncated zstd", &ztrunc, dzt, di, -1, false },
		{ "corrupt gzip (isa-l)", &corrupt, dc, di, -1, false },
		{ "corrupt gzip (zlib)", &corrupt, dc, di, -1, true },
		{ "zstd diffID mismatch", &zs, dz, zero, -1, false },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		cleanup_err struct err err = ERR_INIT;
		cleanup_free char *chain = NULL;
		int r = unpack_raw(f->s, NULL, cases[i].b, cases[i].digest, cases[i].diff_id,
				   cases[i].size, cases[i].no_isal, &chain, &err);
		if (r >= 0)
			fail_msg("%s: accepted", cases[i].name);
		if (r != -EINVAL && r != -EIO)
			fail_msg("%s: %d %s", cases[i].name, r, err_str(&err));
		print_message("refused %s: %s\n", cases[i].name, err_str(&err));
		assert_store_empty(f, cases[i].name);
	}
	/* The good stream passes with and without a known size. */
	cleanup_err struct err err = ERR_INIT;
	cleanup_free char *c1 = NULL, *c2 = NULL;
	assert_int_equal(unpack_raw(f->s, NULL, &zs, dz, di, -1, false, &c1, &err), 0);
	assert_int_equal(storage_layer_delete(f->s, c1, &err), 0);
	assert_int_equal(unpack_raw(f->s, NULL, &gz, dg, di, (int64_t)gz.len, false, &c2, &err), 0);
	blob_free(&tar);
	blob_free(&gz);
	blob_free(&zs);
	blob_free(&corrupt);
}

static void test_tmp_clean(void **state)
{
	struct fx *f = *state;
	cleanup_err struct err err = ERR_INIT;
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/root/tmp/half/diff/x", f->dir);
	assert_int_equal(mkdir(dirname(strdupa(dirname(strdupa(p)))), 0700), 0);
	snprintf(p, sizeof(p), "%s/root/tmp/half/diff", f->dir);
	assert_int_equal(mkdir(p, 0), 0);
	snprintf(p, sizeof(p), "%s/root/layers/l/dangling", f->dir);
	assert_int_equal(symlink("../nothere/diff", p), 0);
	assert_int_equal(storage_tmp_clean(f->s, &err), 0);
	assert_store_empty(f, "tmp clean");
}

static void test_api_errors(void **state)
{
	struct fx *f = *state;
	cleanup_err struct err err = ERR_INIT;
	char *c = NULL;
	assert_int_equal(storage_layer_exists(f->s, "sha256:xyz"), -EINVAL);
	assert_int_equal(storage_chain_id(NULL, "md5:00", &c, &err), -EINVAL);
	struct storage_layer_opts o = { .digest = "sha256:1", .diff_id = "sha256:2", .size = -1 };
	assert_int_equal(storage_layer_unpack_fd(f->s, &o, -1, &c, &err), -EINVAL);
	o.digest = o.diff_id =
	    "sha256:0000000000000000000000000000000000000000000000000000000000000000";
	o.parent_chain_id = o.digest;
	assert_int_equal(storage_layer_unpack_fd(f->s, &o, -1, &c, &err), -ENOENT);
	assert_int_equal(storage_layer_delete(f->s, o.digest, &err), 0);
	assert_store_empty(f, "api errors");
}

static void test_path_clean(void **state)
{
	char out[PATH_MAX];
	const char *why;
	struct {
		const char *in, *want;
		int r;
	} cases[] = {
		{ "./", "", 0 },
		{ ".", "", 0 },
		{ "./bin//sh/", "bin/sh", 0 },
		{ "a/./b", "a/b", 0 },
		{ "..a/b..", "..a/b..", 0 },
		{ ".wh..wh..opq", ".wh..wh..opq", 0 },
		{ "", NULL, -EINVAL },
		{ "/a", NULL, -EINVAL },
		{ "a/..", NULL, -EINVAL },
		{ "../a", NULL, -EINVAL },
		{ "a/../b", NULL, -EINVAL },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int r = storage_tar_path_clean(cases[i].in, strlen(cases[i].in), out, sizeof(out),
					       &why);
		assert_int_equal(r, cases[i].r);
		if (r == 0)
			assert_string_equal(out, cases[i].want);
	}
	assert_int_equal(storage_tar_path_clean("a\0b", 3, out, sizeof(out), &why), -EINVAL);
	char long_name[NAME_MAX + 2];
	memset(long_name, 'n', sizeof(long_name) - 1);
	long_name[NAME_MAX + 1] = '\0';
	assert_int_equal(storage_tar_path_clean(long_name, NAME_MAX + 1, out, sizeof(out), &why),
			 -ENAMETOOLONG);
	assert_int_equal(storage_tar_path_clean(long_name, NAME_MAX, out, sizeof(out), &why), 0);
	char small[4];
	assert_int_equal(storage_tar_path_clean("abcd", 4, small, sizeof(small), &why),
			 -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_content_gzip_isal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_content_gzip_zlib, setup, teardown),
		cmocka_unit_test_setup_teardown(test_content_zstd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_content_plain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_integrity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tmp_clean, setup, teardown),
		cmocka_unit_test_setup_teardown(test_api_errors, setup, teardown),
		cmocka_unit_test(test_path_clean),
	};
	int r = cmocka_run_group_tests_name("storage-unpack", tests, NULL, NULL);
	return r;
}
