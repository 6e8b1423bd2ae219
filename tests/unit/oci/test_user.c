/* Users from a temp rootfs: names, numeric ids, uid:gid, groups, missing
 * users, and a symlinked /etc/passwd pointing outside the rootfs. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/base.h"
#include "oci/oci.h"
#include "oci/oci_int.h"

static char tmp[64];
static char root[96];
static int rootfd = -1;

static void put(const char *rel, const char *text)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", tmp, rel);
	FILE *f = fopen(p, "we");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	strcpy(tmp, "/tmp/ocid-user-XXXXXX");
	if (!mkdtemp(tmp))
		return -1;
	snprintf(root, sizeof(root), "%s/root", tmp);
	char etc[128];
	snprintf(etc, sizeof(etc), "%s/etc", root);
	if (mkdir(root, 0755) < 0 || mkdir(etc, 0755) < 0)
		return -1;
	put("root/etc/passwd", "# comment\n"
			       "root:x:0:0:root:/root:/bin/sh\n"
			       "+nis::::::\n"
			       "broken line\n"
			       "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
			       "app:x:1000:1001:App:/home/app:/bin/sh\n"
			       "nohome:x:1002:1002::");
	put("root/etc/group", "root:x:0:\n"
			      "wheel:x:10:root,app\n"
			      "app:x:1001:\n"
			      "video:x:44:app\n"
			      "audio:x:63:daemon\n"
			      "bad:x:notanumber:app\n");
	rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	return rootfd < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	close(rootfd);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	return system(cmd) == 0 ? 0 : -1;
}

static int resolve(const struct oci_ctr_config *c, struct oci_user *u, struct err *err)
{
	return oci_user_resolve(rootfd, c, u, err);
}

static bool has_gid(const struct oci_user *u, gid_t g)
{
	for (size_t i = 0; i < u->n_groups; i++)
		if (u->groups[i] == g)
			return true;
	return false;
}

static void test_image_user_forms(void **state)
{
	static const struct {
		const char *user;
		uint32_t uid, gid;
		const char *home;
	} cases[] = {
		{ "", 0, 0, "/root" },
		{ "root", 0, 0, "/root" },
		{ "app", 1000, 1001, "/home/app" },
		{ "1000", 1000, 1001, "/home/app" },
		{ "4242", 4242, 0, NULL },
		{ "1000:44", 1000, 44, "/home/app" },
		{ "app:video", 1000, 44, "/home/app" },
		{ "4242:4343", 4242, 4343, NULL },
		{ "daemon:app", 1, 1001, "/usr/sbin" },
		{ "nohome", 1002, 1002, "" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct oci_ctr_config c = { .image.user = cases[i].user };
		struct oci_user u;
		struct err err = ERR_INIT;
		int r = resolve(&c, &u, &err);
		if (r < 0)
			fail_msg("user '%s': %s", cases[i].user, err_str(&err));
		assert_int_equal(u.uid, cases[i].uid);
		assert_int_equal(u.gid, cases[i].gid);
		if (cases[i].home)
			assert_string_equal(u.home, cases[i].home);
		else
			assert_null(u.home);
		assert_true(u.n_groups >= 1);
		assert_int_equal(u.groups[0], cases[i].gid);
		oci_user_done(&u);
	}
}

static void test_memberships_and_supplemental(void **state)
{
	int64_t sup[] = { 500, 44, 501 };
	struct oci_ctr_config c = { .image.user = "app",
				    .supplemental_groups = sup,
				    .n_supplemental_groups = 3 };
	struct oci_user u;
	struct err err = ERR_INIT;
	assert_int_equal(resolve(&c, &u, &err), 0);
	/* primary 1001, memberships wheel(10) video(44), then 500 and 501;
	 * 44 only once; audio (daemon's) and "bad" not at all. */
	assert_int_equal(u.n_groups, 5);
	assert_int_equal(u.groups[0], 1001);
	assert_true(has_gid(&u, 10) && has_gid(&u, 44) && has_gid(&u, 500) && has_gid(&u, 501));
	assert_false(has_gid(&u, 63));
	oci_user_done(&u);
}

/* Strict: the primary gid and CRI's groups, none of the image's. */
static void test_groups_policy_strict(void **state)
{
	int64_t sup[] = { 500, 44 };
	struct oci_ctr_config c = { .image.user = "app",
				    .supplemental_groups = sup,
				    .n_supplemental_groups = 2,
				    .groups_policy = OCI_GROUPS_STRICT };
	struct oci_user u;
	struct err err = ERR_INIT;
	assert_int_equal(resolve(&c, &u, &err), 0);
	assert_int_equal(u.n_groups, 3);
	assert_int_equal(u.groups[0], 1001);
	assert_int_equal(u.groups[1], 500);
	assert_int_equal(u.groups[2], 44); /* asked for, so kept */
	assert_false(has_gid(&u, 10));	   /* wheel: the image's only */
	oci_user_done(&u);

	struct oci_ctr_config as_root = { .groups_policy = OCI_GROUPS_STRICT };
	assert_int_equal(resolve(&as_root, &u, &err), 0);
	assert_int_equal(u.n_groups, 1);
	assert_int_equal(u.groups[0], 0);
	oci_user_done(&u);

	struct oci_ctr_config bad = { .groups_policy = (enum oci_groups_policy)2 };
	assert_int_equal(resolve(&bad, &u, &err), -EINVAL);
	assert_non_null(strstr(err_str(&err), "supplemental_groups_policy 2"));
	err_done(&err);
}

static void test_cri_overrides_image(void **state)
{
	struct oci_user u;
	struct err err = ERR_INIT;
	struct oci_ctr_config c = { .image.user = "app",
				    .has_run_as_user = true,
				    .run_as_user = 1 };
	assert_int_equal(resolve(&c, &u, &err), 0);
	assert_int_equal(u.uid, 1);
	assert_int_equal(u.gid, 1);
	oci_user_done(&u);

	struct oci_ctr_config c2 = { .image.user = "root",
				     .run_as_username = "app",
				     .has_run_as_group = true,
				     .run_as_group = 77 };
	assert_int_equal(resolve(&c2, &u, &err), 0);
	assert_int_equal(u.uid, 1000);
	assert_int_equal(u.gid, 77);
	assert_int_equal(u.groups[0], 77);
	oci_user_done(&u);

	struct oci_ctr_config c3 = { .has_run_as_user = true, .run_as_user = 0 };
	assert_int_equal(resolve(&c3, &u, &err), 0);
	assert_int_equal(u.uid, 0);
	assert_true(has_gid(&u, 10)); /* root is in wheel */
	oci_user_done(&u);
}

static void test_errors(void **state)
{
	struct oci_user u;
	struct err err = ERR_INIT;
	struct oci_ctr_config c = { .image.user = "nobody-here" };
	assert_int_equal(resolve(&c, &u, &err), -EINVAL);
	assert_non_null(strstr(err_str(&err), "nobody-here"));
	assert_non_null(strstr(err_str(&err), "/etc/passwd"));

	struct oci_ctr_config c2 = { .image.user = "app:nogroup" };
	assert_int_equal(resolve(&c2, &u, &err), -EINVAL);
	assert_non_null(strstr(err_str(&err), "nogroup"));

	struct oci_ctr_config c3 = { .has_run_as_group = true, .run_as_group = 5 };
	assert_int_equal(resolve(&c3, &u, &err), -EINVAL);
	assert_non_null(strstr(err_str(&err), "run_as_group"));

	struct oci_ctr_config c4 = { .has_run_as_user = true, .run_as_user = -1 };
	assert_int_equal(resolve(&c4, &u, &err), -EINVAL);

	const char *bad[] = { ":5", "app:", "4294967295", "99999999999" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct oci_ctr_config cb = { .image.user = bad[i] };
		assert_int_equal(resolve(&cb, &u, &err), -EINVAL);
	}
	err_done(&err);
}

/* /etc/passwd -> <tmp>/outside/passwd (absolute, outside the rootfs):
 * resolved inside the rootfs it does not exist, so "escapee" is unknown. */
static void test_symlink_escape(void **state)
{
	char dir[128], link[256], target[128];
	snprintf(dir, sizeof(dir), "%s/outside", tmp);
	assert_int_equal(mkdir(dir, 0755), 0);
	put("outside/passwd", "escapee:x:4321:4321::/:/bin/sh\n");
	snprintf(target, sizeof(target), "%s/outside/passwd", tmp);
	char root2[128], etc2[128];
	snprintf(root2, sizeof(root2), "%s/root2", tmp);
	snprintf(etc2, sizeof(etc2), "%s/root2/etc", tmp);
	assert_int_equal(mkdir(root2, 0755), 0);
	assert_int_equal(mkdir(etc2, 0755), 0);
	snprintf(link, sizeof(link), "%s/passwd", etc2);
	assert_int_equal(symlink(target, link), 0);
	snprintf(link, sizeof(link), "%s/group", etc2);
	assert_int_equal(symlink("../../../../../../../outside/passwd", link), 0);

	int fd = open(root2, O_PATH | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	struct oci_user u;
	struct err err = ERR_INIT;
	struct oci_ctr_config c = { .image.user = "escapee" };
	assert_int_equal(oci_user_resolve(fd, &c, &u, &err), -EINVAL);
	struct oci_ctr_config c2 = { .image.user = "4321:escapee" };
	assert_int_equal(oci_user_resolve(fd, &c2, &u, &err), -EINVAL);
	/* numeric users still work without any passwd file */
	struct oci_ctr_config c3 = { .image.user = "4321" };
	assert_int_equal(oci_user_resolve(fd, &c3, &u, &err), 0);
	assert_int_equal(u.uid, 4321);
	assert_null(u.home);
	oci_user_done(&u);
	err_done(&err);
	close(fd);
}

/* A FIFO at /etc/passwd (an image can ship one) fails fast, not forever. */
static void test_fifo_passwd(void **state)
{
	char r3[128], etc[160], fifo[192];
	snprintf(r3, sizeof(r3), "%s/root3", tmp);
	snprintf(etc, sizeof(etc), "%s/etc", r3);
	snprintf(fifo, sizeof(fifo), "%s/passwd", etc);
	assert_int_equal(mkdir(r3, 0755), 0);
	assert_int_equal(mkdir(etc, 0755), 0);
	assert_int_equal(mkfifo(fifo, 0644), 0);
	int fd = open(r3, O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct oci_user u;
	struct err err = ERR_INIT;
	struct oci_ctr_config c = { .image.user = "1" };
	assert_int_equal(oci_user_resolve(fd, &c, &u, &err), -EINVAL);
	assert_non_null(strstr(err_str(&err), "not a regular file"));
	err_done(&err);
	close(fd);
}

static void test_line_parsers(void **state)
{
	struct oci_passwd_ent p;
	const char *l = "app:x:1000:1001:App:/home/app:/bin/sh\n";
	assert_int_equal(oci_passwd_parse_line(l, strlen(l), &p), 0);
	assert_string_equal(p.name, "app");
	assert_int_equal(p.uid, 1000);
	assert_string_equal(p.home, "/home/app");
	oci_passwd_ent_done(&p);
	const char *bad[] = { "",
			      "#x:x:1:1::/:",
			      "a:x:1:1",
			      ":x:1:1::/:",
			      "a:x:-1:1::/:",
			      "a:x:1:1::/:/bin/sh:extra",
			      "a:x:1x:1::/:" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(oci_passwd_parse_line(bad[i], strlen(bad[i]), &p), -EINVAL);
	struct oci_group_ent g;
	const char *gl = "wheel:x:10:a,b,,c";
	assert_int_equal(oci_group_parse_line(gl, strlen(gl), &g), 0);
	assert_int_equal(g.gid, 10);
	assert_int_equal(strv_len(g.members), 3);
	oci_group_ent_done(&g);
	const char *ge = "empty:x:11:";
	assert_int_equal(oci_group_parse_line(ge, strlen(ge), &g), 0);
	assert_int_equal(strv_len(g.members), 0);
	oci_group_ent_done(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_image_user_forms),
		cmocka_unit_test(test_memberships_and_supplemental),
		cmocka_unit_test(test_groups_policy_strict),
		cmocka_unit_test(test_cri_overrides_image),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_symlink_escape),
		cmocka_unit_test(test_fifo_passwd),
		cmocka_unit_test(test_line_parsers),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
