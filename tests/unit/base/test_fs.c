/* fs helpers: openat2 confinement against hostile symlinks, mkdir -p,
 * atomic writes, rm -rf, path join/clean, fd flags. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/base.h"

static char tmp[64];
static int tmpfd = -1;

static int setup(void **state)
{
	strcpy(tmp, "/tmp/ocid-fs-XXXXXX");
	if (!mkdtemp(tmp))
		return -1;
	tmpfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return tmpfd < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	close(tmpfd);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	return system(cmd) == 0 ? 0 : -1;
}

static void put(const char *rel, const char *text)
{
	assert_int_equal(fs_write_file_atomic(tmpfd, rel, text, strlen(text), 0644, 0, NULL), 0);
}

static char *get_at(int dfd, const char *rel)
{
	char *s = NULL;
	size_t n;
	if (fs_read_file(dfd, rel, 1 << 20, &s, &n, NULL) < 0)
		return NULL;
	return s;
}

/* Read through an fd from fs_open_* */
static char *read_fd(int fd)
{
	char buf[256];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return xstrdup(buf);
}

static void test_open_in_root_hostile_symlinks(void **state)
{
	/* root/ is the confinement; outside/secret must never be reachable */
	cleanup_close int root = fs_mkdir_p_at(tmpfd, "root/etc", 0755, NULL);
	assert_true(root >= 0);
	put("secret", "outside\n");
	put("root/etc/secret", "inside\n");
	cleanup_close int rfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_close int r = openat(rfd, "root", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(r >= 0);
	assert_int_equal(symlinkat("../../../../secret", r, "rel"), 0);
	assert_int_equal(symlinkat("/secret", r, "abs"), 0);
	assert_int_equal(symlinkat("/etc/secret", r, "abs2"), 0);
	assert_int_equal(symlinkat("/proc/self/root/secret", r, "magic"), 0);
	cleanup_free char *outside = xasprintf("%s/secret", tmp);
	assert_int_equal(symlinkat(outside, r, "fullpath"), 0);

	struct err err = ERR_INIT;
	/* ".." and absolute symlinks are clamped at root/: no file named secret there */
	int fd = fs_open_in_root(r, "rel", O_RDONLY, 0, &err);
	assert_int_equal(fd, -ENOENT);
	err_done(&err);
	fd = fs_open_in_root(r, "abs", O_RDONLY, 0, &err);
	assert_int_equal(fd, -ENOENT);
	err_done(&err);
	fd = fs_open_in_root(r, "fullpath", O_RDONLY, 0, &err);
	assert_int_equal(fd, -ENOENT);
	err_done(&err);
	/* an absolute symlink resolves inside the root */
	fd = fs_open_in_root(r, "abs2", O_RDONLY, 0, &err);
	assert_true(fd >= 0);
	cleanup_free char *s1 = read_fd(fd);
	assert_string_equal(s1, "inside\n");
	fd = fs_open_in_root(r, "/../../etc/secret", O_RDONLY, 0, &err);
	assert_true(fd >= 0);
	cleanup_free char *s2 = read_fd(fd);
	assert_string_equal(s2, "inside\n");
	/* magic links are refused */
	fd = fs_open_in_root(r, "magic", O_RDONLY, 0, &err);
	assert_true(fd < 0);
	err_done(&err);
	/* creating through a symlink lands inside */
	put("root/etc/dummy", "x");
	fd = fs_open_in_root(r, "../../newfile", O_WRONLY | O_CREAT | O_EXCL, 0600, &err);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(faccessat(r, "newfile", F_OK, 0), 0);
	assert_int_equal(faccessat(rfd, "newfile", F_OK, 0), -1);

	/* RESOLVE_BENEATH: escaping is an error, not clamped */
	fd = fs_open_beneath(r, "rel", O_RDONLY, 0, &err);
	assert_int_equal(fd, -EXDEV);
	assert_non_null(strstr(err_str(&err), "open 'rel'"));
	err_done(&err);
	fd = fs_open_beneath(r, "abs2", O_RDONLY, 0, &err);
	assert_int_equal(fd, -EXDEV);
	err_done(&err);
	fd = fs_open_beneath(r, "etc/secret", O_RDONLY, 0, &err);
	assert_true(fd >= 0);
	close(fd);
	/* O_CLOEXEC is always added */
	fd = fs_open_beneath(r, "etc", O_RDONLY | O_DIRECTORY, 0, &err);
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
}

static void test_mkdir_p(void **state)
{
	struct err err = ERR_INIT;
	int fd = fs_mkdir_p_at(tmpfd, "a/b//c/./d/", 0750, &err);
	assert_true(fd >= 0);
	close(fd);
	struct stat st;
	assert_int_equal(fstatat(tmpfd, "a/b/c/d", &st, 0), 0);
	assert_true(S_ISDIR(st.st_mode));
	fd = fs_mkdir_p_at(tmpfd, "a/b", 0750, &err); /* existing is fine */
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(fs_mkdir_p_at(tmpfd, "a/../x", 0750, &err), -EINVAL);
	err_done(&err);
	assert_int_equal(fs_mkdir_p_at(tmpfd, "/abs", 0750, &err), -EINVAL);
	err_done(&err);
	/* a symlinked component is not followed */
	assert_int_equal(symlinkat("/tmp", tmpfd, "link"), 0);
	fd = fs_mkdir_p_at(tmpfd, "link/evil", 0750, &err);
	assert_true(fd == -ENOTDIR || fd == -ELOOP);
	err_done(&err);
	assert_int_equal(faccessat(AT_FDCWD, "/tmp/evil", F_OK, AT_SYMLINK_NOFOLLOW), -1);
}

static void test_write_atomic_and_read(void **state)
{
	struct err err = ERR_INIT;
	assert_int_equal(fs_write_file_atomic(tmpfd, "f", "one", 3, 0600, FS_WRITE_FSYNC, &err), 0);
	assert_int_equal(fs_write_file_atomic(tmpfd, "f", "second", 6, 0640, 0, &err), 0);
	cleanup_free char *s = get_at(tmpfd, "f");
	assert_string_equal(s, "second");
	struct stat st;
	assert_int_equal(fstatat(tmpfd, "f", &st, 0), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	/* no temporary files are left */
	int n = 0;
	cleanup_close int d = openat(tmpfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dir = fdopendir(TAKE_FD(d));
	for (struct dirent *de; (de = readdir(dir));)
		n += de->d_name[0] != '.';
	closedir(dir);
	assert_int_equal(n, 1);
	/* into a subdirectory, and errors */
	int sd = fs_mkdir_p_at(tmpfd, "sub", 0755, &err);
	close(sd);
	assert_int_equal(fs_write_file_atomic(tmpfd, "sub/g", "x", 1, 0644, 0, &err), 0);
	assert_int_equal(fs_write_file_atomic(tmpfd, "nodir/g", "x", 1, 0644, 0, &err), -ENOENT);
	err_done(&err);
	assert_int_equal(fs_write_file_atomic(tmpfd, "sub/", "x", 1, 0644, 0, &err), -EINVAL);
	err_done(&err);
	/* bounded read */
	char *t = NULL;
	size_t len;
	assert_int_equal(fs_read_file(tmpfd, "f", 3, &t, &len, &err), -EFBIG);
	err_done(&err);
	assert_int_equal(fs_read_file(tmpfd, "f", 6, &t, &len, &err), 0);
	assert_int_equal(len, 6);
	free(t);
	assert_int_equal(fs_read_file(tmpfd, "missing", 6, &t, &len, &err), -ENOENT);
	assert_non_null(strstr(err_str(&err), "'missing'"));
	err_done(&err);
	assert_int_equal(fs_read_file(tmpfd, "sub", 6, &t, &len, &err), -EISDIR);
	err_done(&err);
	/* from an fd: larger than one read buffer, from the current offset */
	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	char big[10000];
	memset(big, 'a', sizeof(big));
	big[0] = 'b';
	assert_int_equal(write(p[1], big, sizeof(big)), (ssize_t)sizeof(big));
	close(p[1]);
	char c;
	assert_int_equal(read(p[0], &c, 1), 1);
	assert_int_equal(fs_read_fd(p[0], "pipe", sizeof(big), &t, NULL, &err), 0);
	assert_int_equal(strlen(t), sizeof(big) - 1);
	assert_int_equal(t[0], 'a');
	free(t);
	close(p[0]);
	cleanup_close int fd = openat(tmpfd, "f", O_RDONLY | O_CLOEXEC);
	assert_int_equal(fs_read_fd(fd, "f", 5, &t, &len, &err), -EFBIG);
	assert_non_null(strstr(err_str(&err), "'f' is larger than 5 bytes"));
	err_done(&err);
}

static void test_rm_rf(void **state)
{
	struct err err = ERR_INIT;
	int fd = fs_mkdir_p_at(tmpfd, "tree/a/b/c", 0755, &err);
	close(fd);
	put("tree/a/f1", "1");
	put("tree/a/b/c/f2", "2");
	put("keep", "k");
	cleanup_close int kd = fs_mkdir_p_at(tmpfd, "keepdir", 0755, &err);
	assert_true(kd >= 0);
	put("keepdir/inner", "i");
	cleanup_free char *keepdir = xasprintf("%s/keepdir", tmp);
	cleanup_free char *keep = xasprintf("%s/keep", tmp);
	/* symlinks inside the tree are removed, their targets are not */
	assert_int_equal(symlinkat(keepdir, tmpfd, "tree/a/dirlink"), 0);
	assert_int_equal(symlinkat(keep, tmpfd, "tree/a/b/filelink"), 0);
	assert_int_equal(fs_rm_rf_at(tmpfd, "tree", &err), 0);
	assert_int_equal(faccessat(tmpfd, "tree", F_OK, AT_SYMLINK_NOFOLLOW), -1);
	assert_int_equal(faccessat(tmpfd, "keep", F_OK, 0), 0);
	assert_int_equal(faccessat(tmpfd, "keepdir/inner", F_OK, 0), 0);
	/* missing is fine; a plain file and a symlink at the top are removed */
	assert_int_equal(fs_rm_rf_at(tmpfd, "tree", &err), 0);
	assert_int_equal(symlinkat(keepdir, tmpfd, "toplink"), 0);
	assert_int_equal(fs_rm_rf_at(tmpfd, "toplink", &err), 0);
	assert_int_equal(faccessat(tmpfd, "keepdir/inner", F_OK, 0), 0);
	assert_int_equal(fs_rm_rf_at(tmpfd, "keep", &err), 0);
	assert_int_equal(faccessat(tmpfd, "keep", F_OK, 0), -1);
}

static void test_path_helpers(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "a/b/c", "a/b/c" },
		{ "a//b/./c/", "a/b/c" },
		{ "/", "/" },
		{ "//a//", "/a" },
		{ "", "." },
		{ ".", "." },
		{ "./", "." },
		{ "/./x/.", "/x" },
		{ "a/.b/c", "a/.b/c" },
		{ "...", "..." },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *out = NULL;
		assert_int_equal(fs_path_clean(cases[i].in, &out), 0);
		if (strcmp(out, cases[i].out) != 0)
			fail_msg("clean('%s') = '%s', want '%s'", cases[i].in, out, cases[i].out);
		free(out);
	}
	char *out = NULL;
	assert_int_equal(fs_path_clean("a/../b", &out), -EINVAL);
	assert_int_equal(fs_path_clean("..", &out), -EINVAL);
	assert_int_equal(fs_path_clean("/a/..", &out), -EINVAL);

	static const struct {
		const char *a, *b, *out;
	} joins[] = {
		{ "a", "b", "a/b" }, { "a/", "/b", "a/b" }, { "/", "b", "/b" },
		{ "", "b", "b" },    { "a", "", "a" },	    { "/x//", "y/z", "/x/y/z" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(joins); i++) {
		cleanup_free char *j = fs_path_join(joins[i].a, joins[i].b);
		assert_string_equal(j, joins[i].out);
	}
	assert_true(fs_name_ok("abc"));
	assert_true(fs_name_ok(".hidden"));
	assert_false(fs_name_ok(""));
	assert_false(fs_name_ok("."));
	assert_false(fs_name_ok(".."));
	assert_false(fs_name_ok("a/b"));
	assert_false(fs_name_ok(NULL));
}

static void test_fd_flags(void **state)
{
	int p[2];
	assert_int_equal(pipe2(p, 0), 0);
	assert_int_equal(fs_fd_set_nonblock(p[0], true), 0);
	assert_true(fcntl(p[0], F_GETFL) & O_NONBLOCK);
	char c;
	assert_int_equal(read(p[0], &c, 1), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(fs_fd_set_nonblock(p[0], false), 0);
	assert_false(fcntl(p[0], F_GETFL) & O_NONBLOCK);
	assert_int_equal(fs_fd_set_cloexec(p[1], true), 0);
	assert_true(fcntl(p[1], F_GETFD) & FD_CLOEXEC);
	assert_int_equal(fs_fd_set_cloexec(p[1], false), 0);
	assert_false(fcntl(p[1], F_GETFD) & FD_CLOEXEC);
	assert_int_equal(fs_write_all(p[1], "hi", 2), 0);
	assert_int_equal(read(p[0], &c, 1), 1);
	assert_int_equal(c, 'h');
	close(p[0]);
	close(p[1]);
	assert_int_equal(fs_fd_set_nonblock(p[0], true), -EBADF);
}

static void test_list_dir(void **state)
{
	(void)state;
	put("b", "1");
	put("a", "2");
	put(".hidden", "3");
	cleanup(strv_free) char **names = NULL;
	assert_int_equal(fs_list_dir(tmp, &names), 2);
	assert_string_equal(names[0], "a");
	assert_string_equal(names[1], "b");
	assert_null(names[2]);
	cleanup_free char *missing = xasprintf("%s/none", tmp);
	cleanup(strv_free) char **none = NULL;
	assert_int_equal(fs_list_dir(missing, &none), -ENOENT);
	assert_null(none);
	cleanup_free char *empty = xasprintf("%s/empty", tmp);
	assert_int_equal(mkdir(empty, 0700), 0);
	cleanup(strv_free) char **nothing = NULL;
	assert_int_equal(fs_list_dir(empty, &nothing), 0);
	assert_non_null(nothing);
	assert_null(nothing[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_in_root_hostile_symlinks, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_mkdir_p, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_atomic_and_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rm_rf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_dir, setup, teardown),
		cmocka_unit_test(test_path_helpers),
		cmocka_unit_test(test_fd_flags),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
