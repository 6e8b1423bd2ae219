/* oci/hooks: oci-hooks(5) files, their conditions, loading, injection. */
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

static struct oci_hook_rule *parse_ok(const char *text)
{
	struct oci_hook_rule *r = NULL;
	cleanup_err struct err err = ERR_INIT;
	if (oci_hook_parse("t.json", text, strlen(text), &r, &err) < 0)
		fail_msg("%s: %s", text, err_str(&err));
	return r;
}

static void expect_bad(const char *text, const char *msg)
{
	struct oci_hook_rule *r = NULL;
	cleanup_err struct err err = ERR_INIT;
	int rc = oci_hook_parse("t.json", text, strlen(text), &r, &err);
	if (rc >= 0)
		fail_msg("accepted: %s", text);
	assert_null(r);
	if (!strstr(err_str(&err), msg))
		fail_msg("'%s' does not say '%s'", err_str(&err), msg);
}

#define HOOK "\"hook\":{\"path\":\"/bin/h\"}"

static void test_parse(void **state)
{
	struct oci_hook_rule *r = parse_ok(
	    "{\"version\":\"1.0.0\",\"hook\":{\"path\":\"/usr/bin/h\",\"args\":[\"h\",\"-x\"],"
	    "\"env\":[\"A=1\"],\"timeout\":5},\"when\":{\"always\":true},"
	    "\"stages\":[\"prestart\",\"poststop\"]}");
	assert_int_equal(oci_hook_rule_stages(r),
			 (1u << OCI_HOOK_PRESTART) | (1u << OCI_HOOK_POSTSTOP));
	assert_true(oci_hook_rule_matches(r, NULL, NULL, 0, false));
	oci_hook_rule_free(r);
	oci_hook_rule_free(NULL);
	assert_string_equal(oci_hook_stage_name(OCI_HOOK_CREATE_RUNTIME), "createRuntime");
	assert_null(oci_hook_stage_name(OCI_HOOK_STAGES));

	expect_bad("", "t.json");
	expect_bad("[]", "expected a JSON object");
	expect_bad("{\"version\":\"2.0.0\"," HOOK
		   ",\"when\":{\"always\":true},\"stages\":[\"poststop\"]}",
		   "version: '2.0.0' is not supported (only 1.0.0)");
	expect_bad("{" HOOK ",\"when\":{\"always\":true},\"stages\":[\"poststop\"]}",
		   "version: '(missing)'");
	expect_bad("{\"version\":\"1.0.0\",\"hook\":{\"path\":\"h\"},\"when\":{\"always\":true},"
		   "\"stages\":[\"poststop\"]}",
		   "hook.path: an absolute path is required");
	expect_bad("{\"version\":\"1.0.0\",\"when\":{\"always\":true},\"stages\":[\"poststop\"]}",
		   "hook: missing");
	expect_bad("{\"version\":\"1.0.0\",\"hook\":{\"path\":\"/h\",\"pth\":1},"
		   "\"when\":{\"always\":true},\"stages\":[\"poststop\"]}",
		   "hook.pth: unknown key");
	expect_bad("{\"version\":\"1.0.0\",\"hook\":{\"path\":\"/h\",\"env\":[\"NOEQ\"]},"
		   "\"when\":{\"always\":true},\"stages\":[\"poststop\"]}",
		   "hook.env[0]: expected a string NAME=VALUE");
	expect_bad("{\"version\":\"1.0.0\",\"hook\":{\"path\":\"/h\",\"args\":[1]},"
		   "\"when\":{\"always\":true},\"stages\":[\"poststop\"]}",
		   "hook.args[0]: expected string, got integer");
	expect_bad("{\"version\":\"1.0.0\",\"hook\":{\"path\":\"/h\",\"timeout\":-1},"
		   "\"when\":{\"always\":true},\"stages\":[\"poststop\"]}",
		   "hook.timeout: -1 is not 1 to 3600 seconds");
	expect_bad(
	    "{\"version\":\"1.0.0\"," HOOK ",\"when\":{},\"stages\":[\"poststop\"]}",
	    "when: at least one of always, annotations, commands, hasBindMounts is required");
	expect_bad("{\"version\":\"1.0.0\"," HOOK ",\"when\":{\"hasbindmounts\":true},"
		   "\"stages\":[\"poststop\"]}",
		   "when.hasbindmounts: unknown key");
	expect_bad("{\"version\":\"1.0.0\"," HOOK
		   ",\"when\":{\"always\":1},\"stages\":[\"poststop\"]}",
		   "when.always: expected true or false");
	expect_bad("{\"version\":\"1.0.0\"," HOOK ",\"when\":{\"commands\":[\"(\"]},"
		   "\"stages\":[\"poststop\"]}",
		   "when.commands[0]: bad regular expression '('");
	expect_bad("{\"version\":\"1.0.0\"," HOOK ",\"when\":{\"annotations\":{\"a\":1}},"
		   "\"stages\":[\"poststop\"]}",
		   "when.annotations.a: expected a string");
	expect_bad("{\"version\":\"1.0.0\"," HOOK ",\"when\":{\"always\":true},\"stages\":[]}",
		   "stages: at least one stage is required");
	expect_bad("{\"version\":\"1.0.0\"," HOOK
		   ",\"when\":{\"always\":true},\"stages\":[\"later\"]}",
		   "stages[0]: 'later' is not a stage");
	expect_bad("{\"version\":\"1.0.0\"," HOOK
		   ",\"when\":{\"always\":true},\"stages\":[\"poststop\"],"
		   "\"extra\":1}",
		   "extra: unknown key");
}

static void test_match(void **state)
{
	const struct oci_kv ann[] = { { "io.example/gpu", "yes" }, { "other", "x" } };
	cleanup(oci_hook_rule_free) struct oci_hook_rule *a = parse_ok(
	    "{\"version\":\"1.0.0\"," HOOK ",\"when\":{\"annotations\":{\"^io\\\\.example/gpu$\":"
	    "\"^(yes|true)$\"}},\"stages\":[\"createRuntime\"]}");
	assert_true(oci_hook_rule_matches(a, "/bin/sh", ann, 2, false));
	assert_false(oci_hook_rule_matches(a, "/bin/sh", ann + 1, 1, false));
	const struct oci_kv no[] = { { "io.example/gpu", "no" } };
	assert_false(oci_hook_rule_matches(a, "/bin/sh", no, 1, false));

	cleanup(oci_hook_rule_free) struct oci_hook_rule *c = parse_ok(
	    "{\"version\":\"1.0.0\"," HOOK ",\"when\":{\"commands\":[\"/sleep$\",\"^/usr/bin/x\"],"
	    "\"hasBindMounts\":true},\"stages\":[\"poststart\"]}");
	assert_true(oci_hook_rule_matches(c, "/bin/sleep", NULL, 0, true));
	assert_false(oci_hook_rule_matches(c, "/bin/sleep", NULL, 0, false)); /* all must hold */
	assert_true(oci_hook_rule_matches(c, "/usr/bin/xyz", NULL, 0, true));
	assert_false(oci_hook_rule_matches(c, "/bin/sh", NULL, 0, true));
	assert_false(oci_hook_rule_matches(c, NULL, NULL, 0, true));

	cleanup(oci_hook_rule_free) struct oci_hook_rule *never =
	    parse_ok("{\"version\":\"1.0.0\"," HOOK
		     ",\"when\":{\"always\":false},\"stages\":[\"poststop\"]}");
	assert_false(oci_hook_rule_matches(never, "/bin/sh", ann, 2, true));
	cleanup(oci_hook_rule_free) struct oci_hook_rule *nb =
	    parse_ok("{\"version\":\"1.0.0\"," HOOK
		     ",\"when\":{\"hasBindMounts\":false},\"stages\":[\"poststop\"]}");
	assert_false(oci_hook_rule_matches(nb, "/bin/sh", NULL, 0, false));
}

static void write_file(const char *dir, const char *name, const char *text)
{
	cleanup_free char *p = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

#define RULE(path, stage)                                   \
	"{\"version\":\"1.0.0\",\"hook\":{\"path\":\"" path \
	"\"},\"when\":{\"always\":true},\"stages\":[\"" stage "\"]}"

static void test_load_inject(void **state)
{
	char top[] = "/tmp/oci-hooks-XXXXXX";
	assert_non_null(mkdtemp(top));
	cleanup_free char *a = xasprintf("%s/a", top), *b = xasprintf("%s/b", top);
	assert_int_equal(mkdir(a, 0755), 0);
	assert_int_equal(mkdir(b, 0755), 0);
	write_file(a, "20-two.json", RULE("/two", "poststop"));
	write_file(a, "10-one.json", RULE("/one", "poststop"));
	write_file(a, "30-hidden.json", RULE("/hidden", "poststop"));
	write_file(a, "40-over.json", RULE("/packaged", "prestart"));
	write_file(a, "notes.txt", "not a hook");
	write_file(b, "40-over.json", RULE("/admin", "createRuntime"));
	write_file(b, "30-hidden.json", "{broken");
	write_file(b, "50-bad.json", RULE("relative", "poststop"));
	cleanup_free char *missing = xasprintf("%s/none", top);
	char *dirs[] = { a, b, missing, NULL };
	char **warn = NULL;
	cleanup(oci_hooks_free) struct oci_hooks *h = oci_hooks_load(dirs, &warn);
	assert_int_equal(oci_hooks_count(h), 3);
	assert_int_equal(strv_len(warn), 2);
	assert_non_null(strstr(warn[0], "30-hidden.json") ? warn[0] : warn[1]);
	bool saw_bad =
	    strstr(warn[0], "50-bad.json: hook.path") || strstr(warn[1], "50-bad.json: hook.path");
	assert_true(saw_bad);
	strv_free(warn);

	json_t *spec = json_pack("{s:{s:[s]}}", "process", "args", "/bin/sh");
	assert_int_equal(oci_hooks_inject(h, spec, NULL, 0, false), 3);
	cleanup_free char *text = js_dump(spec, JS_DUMP_SORTED);
	assert_string_equal(
	    text,
	    "{\"hooks\":{\"createRuntime\":[{\"path\":\"/admin\"}],\"poststop\":[{\"path\":\"/one\"},"
	    "{\"path\":\"/two\"}]},\"process\":{\"args\":[\"/bin/sh\"]}}");
	json_decref(spec);
	assert_int_equal(oci_hooks_inject(NULL, NULL, NULL, 0, false), 0);
	assert_int_equal(oci_hooks_count(NULL), 0);

	cleanup_free char *cmd = xasprintf("rm -rf '%s'", top);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_load_inject),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
