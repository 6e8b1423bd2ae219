/* cri/handlers.c: the settings cri_configure keeps (handler lookup by name,
 * the default, the names in the error) and which annotations a handler
 * lets reach a container. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "cri/cri_int.h"

static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;

static void configure(struct cri_deps *d, char **allowed)
{
	struct cri_handler hs[] = {
		{ .h = { .name = "runc", .path = "/usr/sbin/runc", .root = "" },
		  .features = { .recursive_read_only = true } },
		{ .h = { .name = "gvisor", .path = "/usr/bin/runsc", .root = "" },
		  .allowed_annotations = allowed,
		  .privileged_without_host_devices = true },
	};
	struct cri_settings s = { .default_handler = "runc",
				  .handlers = hs,
				  .n_handlers = ARRAY_SIZE(hs) };
	cri_configure(d, &s);
}

static void test_lookup(void **state)
{
	struct cri_deps d = { .cfg_lock = &lock };
	/* Never configured: only the default, the manager's runtime. */
	const struct cri_handler *h = (void *)1;
	assert_int_equal(cri_conf_handler(NULL, "", &h, NULL), 0);
	assert_null(h);
	char *allowed[] = { "dev.gvisor.", NULL };
	configure(&d, allowed);
	struct cri_conf *c = cri_conf_get(&d);
	assert_int_equal(cri_conf_n_handlers(c), 2);
	assert_int_equal(cri_conf_handler(c, "", &h, NULL), 0);
	assert_string_equal(h->h.name, "runc");
	assert_true(h->features.recursive_read_only);
	assert_int_equal(cri_conf_handler(c, "gvisor", &h, NULL), 0);
	assert_string_equal(h->h.path, "/usr/bin/runsc");
	assert_true(h->privileged_without_host_devices);
	cleanup_err struct err err = ERR_INIT;
	assert_int_equal(cri_conf_handler(c, "kata", &h, &err), -EINVAL);
	assert_string_equal(err_str(&err),
			    "unknown runtime handler 'kata' (this node has 'runc', 'gvisor')");
	/* A reload swaps the settings; a call keeps the copy it took. */
	configure(&d, NULL);
	assert_int_equal(cri_conf_handler(c, "gvisor", &h, NULL), 0);
	assert_string_equal(h->allowed_annotations[0], "dev.gvisor.");
	cri_conf_put(c);
	cri_deps_done(&d);
}

static void test_annotations(void **state)
{
	struct cri_deps d = { .cfg_lock = &lock };
	char *allowed[] = { "dev.gvisor.", "run.oci.keep_original_groups", NULL };
	configure(&d, allowed);
	struct cri_conf *c = cri_conf_get(&d);
	const struct cri_handler *gv = cri_conf_handler_at(c, 1), *runc = cri_conf_handler_at(c, 0);
	struct oci_kv kv[] = {
		{ "note", "free" },
		{ "dev.gvisor.spec.mount.x.share", "pod" },
		{ "run.oci.keep_original_groups", "1" },
		{ "run.oci.handler", "krun" },
		{ "io.katacontainers.config.hypervisor.path", "/x" },
		{ "cdi.k8s.io/fake", "example.com/fake=x" },
	};
	struct oci_kv v[ARRAY_SIZE(kv)];
	memcpy(v, kv, sizeof(kv));
	assert_int_equal(cri_handler_annotations_filter(gv, v, ARRAY_SIZE(v)), 3);
	assert_string_equal(v[0].key, "note");
	assert_string_equal(v[1].key, "dev.gvisor.spec.mount.x.share");
	assert_string_equal(v[2].key, "run.oci.keep_original_groups");
	/* No allowed_annotations: only what acts on nothing. */
	memcpy(v, kv, sizeof(kv));
	assert_int_equal(cri_handler_annotations_filter(runc, v, ARRAY_SIZE(v)), 1);
	assert_string_equal(v[0].key, "note");
	/* No handler at all (a config never loaded): CDI's too. */
	memcpy(v, kv, sizeof(kv));
	assert_int_equal(cri_handler_annotations_filter(NULL, v, ARRAY_SIZE(v)), 2);
	assert_string_equal(v[1].key, "cdi.k8s.io/fake");
	cri_conf_put(c);
	cri_deps_done(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_annotations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
