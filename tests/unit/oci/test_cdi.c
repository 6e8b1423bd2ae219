/* oci/cdi: CDI spec files, resolution of device names, edits to a spec. */
#include <errno.h>
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
#include "base/json.h"
#include "oci/oci.h"

#define SPEC                                                                                                            \
	"{\"cdiVersion\":\"0.6.0\",\"kind\":\"example.com/fake\","                                                      \
	"\"containerEdits\":{\"env\":[\"FAKE_ALL=1\"]},"                                                                \
	"\"devices\":[{\"name\":\"null0\",\"containerEdits\":{"                                                         \
	"\"deviceNodes\":[{\"path\":\"/dev/fake0\",\"hostPath\":\"/dev/null\",\"permissions\":\"rw\"}],"                \
	"\"env\":[\"FAKE=0\",\"PATH=/fake\"],"                                                                          \
	"\"mounts\":[{\"hostPath\":\"/etc/hostname\",\"containerPath\":\"/fake/info\",\"options\":[\"ro\",\"bind\"]}]," \
	"\"hooks\":[{\"hookName\":\"createContainer\",\"path\":\"/bin/true\",\"args\":[\"true\"]}]}},"                  \
	"{\"name\":\"num\",\"containerEdits\":{\"deviceNodes\":[{\"path\":\"/dev/n\",\"type\":\"c\","                   \
	"\"major\":1,\"minor\":3,\"fileMode\":438}]}}]}"

static void expect_bad(const char *text, const char *msg)
{
	cleanup(oci_cdi_free) struct oci_cdi *c = oci_cdi_new();
	cleanup_err struct err err = ERR_INIT;
	if (oci_cdi_spec_parse("s.json", text, strlen(text), c, &err) >= 0)
		fail_msg("accepted: %s", text);
	assert_int_equal(oci_cdi_count(c), 0);
	if (!strstr(err_str(&err), msg))
		fail_msg("'%s' does not say '%s'", err_str(&err), msg);
}

#define HEAD "{\"cdiVersion\":\"0.6.0\",\"kind\":\"example.com/fake\","

static void test_parse(void **state)
{
	cleanup(oci_cdi_free) struct oci_cdi *c = oci_cdi_new();
	cleanup_err struct err err = ERR_INIT;
	assert_int_equal(oci_cdi_spec_parse("s.json", SPEC, strlen(SPEC), c, &err), 0);
	assert_int_equal(oci_cdi_count(c), 2);
	expect_bad("[", "s.json");
	expect_bad("{\"cdiVersion\":\"9.0.0\",\"kind\":\"a.b/c\",\"devices\":[]}",
		   "cdiVersion: '9.0.0' is not supported (0.3.0 to 0.8.0)");
	expect_bad("{\"cdiVersion\":\"0.6.0\",\"kind\":\"nokind\",\"devices\":[]}",
		   "kind: 'nokind' is not vendor/class");
	expect_bad(HEAD "\"devices\":[{\"name\":\"a b\",\"containerEdits\":{}}]}",
		   "devices[0].name: 'a b' is not a device name");
	expect_bad(HEAD "\"devices\":[{\"name\":\"a\"}]}", "devices[0].containerEdits: missing");
	expect_bad(
	    HEAD
	    "\"devices\":[{\"name\":\"a\",\"containerEdits\":{\"deviceNodes\":[{\"path\":\"dev/x\"}]}}]}",
	    "devices[0].containerEdits.deviceNodes[0].path: 'dev/x' is not an absolute path");
	expect_bad(
	    HEAD
	    "\"devices\":[{\"name\":\"a\",\"containerEdits\":{\"deviceNodes\":[{\"path\":\"/x\",\"permissions\":\"rx\"}]}}]}",
	    "permissions: 'rx' is not a subset of rwm");
	expect_bad(HEAD "\"devices\":[{\"name\":\"a\",\"containerEdits\":{\"env\":[\"NOEQ\"]}}]}",
		   "devices[0].containerEdits.env[0]: expected a string NAME=VALUE");
	expect_bad(
	    HEAD
	    "\"devices\":[{\"name\":\"a\",\"containerEdits\":{\"mounts\":[{\"hostPath\":\"/a\"}]}}]}",
	    "mounts[0].containerPath: missing");
	expect_bad(
	    HEAD
	    "\"devices\":[{\"name\":\"a\",\"containerEdits\":{\"hooks\":[{\"hookName\":\"later\",\"path\":\"/a\"}]}}]}",
	    "hooks[0].hookName: 'later' is not a hook stage");
	expect_bad(
	    HEAD
	    "\"devices\":[{\"name\":\"ok\",\"containerEdits\":{}},{\"name\":\"a\",\"containerEdits\":{\"deviceNodes\":[{\"path\":\"/x\",\"major\":-1}]}}]}",
	    "deviceNodes[0].major");
}

static void test_apply(void **state)
{
	cleanup(oci_cdi_free) struct oci_cdi *c = oci_cdi_new();
	cleanup_err struct err err = ERR_INIT;
	assert_int_equal(oci_cdi_spec_parse("s.json", SPEC, strlen(SPEC), c, &err), 0);
	json_t *spec = json_pack("{s:{s:[s,s]}}", "process", "env", "PATH=/bin", "HOME=/");
	char *names[] = { "example.com/fake=null0", "example.com/fake=num", NULL };
	assert_int_equal(oci_cdi_apply(c, spec, names, &err), 0);
	cleanup_free char *text = js_dump(spec, JS_DUMP_SORTED);
	struct stat st;
	assert_int_equal(stat("/dev/null", &st), 0);
	/* PATH replaced; FAKE_ALL (of both devices' spec) once. */
	assert_non_null(
	    strstr(text, "\"env\":[\"PATH=/fake\",\"HOME=/\",\"FAKE_ALL=1\",\"FAKE=0\"]"));
	assert_non_null(
	    strstr(text, "{\"major\":1,\"minor\":3,\"path\":\"/dev/fake0\",\"type\":\"c\"}"));
	assert_non_null(strstr(
	    text, "{\"access\":\"rw\",\"allow\":true,\"major\":1,\"minor\":3,\"type\":\"c\"}"));
	assert_non_null(strstr(
	    text, "{\"fileMode\":438,\"major\":1,\"minor\":3,\"path\":\"/dev/n\",\"type\":\"c\"}"));
	assert_non_null(strstr(
	    text,
	    "\"mounts\":[{\"destination\":\"/fake/info\",\"options\":[\"ro\",\"bind\"],\"source\":\"/etc/hostname\",\"type\":\"bind\"}]"));
	assert_non_null(strstr(
	    text,
	    "\"hooks\":{\"createContainer\":[{\"args\":[\"true\"],\"path\":\"/bin/true\"}]}"));
	json_decref(spec);

	spec = json_pack("{s:{s:[]}}", "process", "env");
	char *unknown[] = { "example.com/fake=null0", "example.com/fake=gpu9", NULL };
	assert_int_equal(oci_cdi_apply(c, spec, unknown, &err), -EINVAL);
	assert_non_null(strstr(err_str(&err), "CDI device 'example.com/fake=gpu9' is not defined"));
	assert_int_equal(json_array_size(json_object_get(json_object_get(spec, "process"), "env")),
			 0);
	json_decref(spec);
}

static void test_load(void **state)
{
	char top[] = "/tmp/oci-cdi-XXXXXX";
	assert_non_null(mkdtemp(top));
	cleanup_free char *a = xasprintf("%s/a", top), *b = xasprintf("%s/b", top);
	assert_int_equal(mkdir(a, 0755), 0);
	assert_int_equal(mkdir(b, 0755), 0);
	cleanup_free char *p1 = xasprintf("%s/fake.json", a), *p2 = xasprintf("%s/broken.json", b);
	FILE *f = fopen(p1, "w");
	fputs(SPEC, f);
	fclose(f);
	f = fopen(p2, "w");
	fputs("{\"cdiVersion\":", f);
	fclose(f);
	char *dirs[] = { a, b, "/nonexistent-cdi", NULL };
	char **warn = NULL;
	cleanup(oci_cdi_free) struct oci_cdi *c = oci_cdi_load(dirs, &warn);
	assert_int_equal(oci_cdi_count(c), 2);
	assert_int_equal(strv_len(warn), 1);
	assert_non_null(strstr(warn[0], "broken.json"));
	strv_free(warn);
	cleanup_free char *cmd = xasprintf("rm -rf '%s'", top);
	assert_int_equal(system(cmd), 0);
}

static void test_yaml(void **state)
{
	const char *y = "cdiVersion: 0.6.0\n"
			"kind: example.com/fake\n"
			"devices:\n"
			"  - name: null0\n"
			"    containerEdits:\n"
			"      env: [\"FAKE=0\"]\n"
			"      deviceNodes:\n"
			"        - path: /dev/fake0\n"
			"          type: c\n"
			"          major: 1\n"
			"          minor: 3\n"
			"          permissions: rw\n";
	cleanup_err struct err err = ERR_INIT;
	cleanup_free char *json = NULL;
	assert_int_equal(oci_cdi_yaml_to_json("y.yaml", y, strlen(y), &json, &err), 0);
	cleanup(oci_cdi_free) struct oci_cdi *c = oci_cdi_new();
	assert_int_equal(oci_cdi_spec_parse("y.yaml", json, strlen(json), c, &err), 0);
	json_t *spec = json_pack("{s:{s:[]}}", "process", "env");
	char *names[] = { "example.com/fake=null0", NULL };
	assert_int_equal(oci_cdi_apply(c, spec, names, &err), 0);
	cleanup_free char *text = js_dump(spec, JS_DUMP_SORTED);
	assert_non_null(
	    strstr(text, "{\"major\":1,\"minor\":3,\"path\":\"/dev/fake0\",\"type\":\"c\"}"));
	json_decref(spec);

	cleanup_free char *j2 = NULL;
	const char *alias = "a: &x 1\nb: *x\n";
	assert_int_equal(oci_cdi_yaml_to_json("a.yaml", alias, strlen(alias), &j2, &err), -EINVAL);
	assert_non_null(strstr(err_str(&err), "anchors and aliases are not supported"));
	err_done(&err);
	const char *bad = "a: [1, 2\n";
	assert_int_equal(oci_cdi_yaml_to_json("b.yaml", bad, strlen(bad), &j2, &err), -EINVAL);
	assert_non_null(strstr(err_str(&err), "b.yaml:"));
	err_done(&err);
	assert_int_equal(oci_cdi_yaml_to_json("e.yaml", "", 0, &j2, &err), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_apply),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_yaml),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
