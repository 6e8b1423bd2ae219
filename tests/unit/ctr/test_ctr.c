/* Container manager internals: index (prefix lookup, name reservation,
 * filters), state machine, event bus; and the container tables. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctr/ctr_int.h"
#include "db/ctr.h"

static struct ctr *mk(const char *id, const char *name, const char *pod, const char *labels)
{
	struct ctr *c = ctr_new(id);
	c->row.name = xstrdup(name);
	c->row.pod_id = xstrdup(pod);
	c->row.labels = xstrdup(labels);
	ctr_kv_parse(labels, &c->labels, &c->n_labels);
	c->visible = true;
	return c;
}

static char *hexid(char first, char fill)
{
	char *s = xmalloc(ID_LEN + 1);
	memset(s, fill, ID_LEN);
	s[0] = first;
	s[ID_LEN] = '\0';
	return s;
}

static void test_name(void **state)
{
	char *n = ctr_name_make("web", "pod", "ns", "uid-1", 3);
	assert_string_equal(n, "k8s_web_pod_ns_uid-1_3");
	free(n);
}

static void test_index_names_and_prefix(void **state)
{
	struct ctr_index x;
	ctr_index_init(&x);
	cleanup_free char *id1 = hexid('a', '1');
	cleanup_free char *id2 = hexid('a', '2');
	cleanup_free char *id3 = hexid('b', '3');
	struct ctr *a = mk(id1, "k8s_a", "p1", "{\"app\":\"x\"}");
	struct ctr *b = mk(id2, "k8s_b", "p1", "{}");
	struct ctr *dup = mk(id3, "k8s_a", "p2", "{}");
	struct err err = ERR_INIT;
	assert_int_equal(ctr_index_add(&x, a, &err), 0);
	assert_int_equal(ctr_index_add(&x, b, &err), 0);
	/* The same reserved name: refused, naming the holder. */
	assert_int_equal(ctr_index_add(&x, dup, &err), -EEXIST);
	assert_non_null(strstr(err_str(&err), id1));
	err_done(&err);

	struct ctr *got = NULL;
	assert_int_equal(ctr_index_get(&x, "a1", &got, &err), 0);
	assert_ptr_equal(got, a);
	ctr_unref(got);
	assert_int_equal(ctr_index_get(&x, "a", &got, &err), -ENOTUNIQ);
	err_done(&err);
	assert_int_equal(ctr_index_get(&x, "c", &got, &err), -ENOENT);
	err_done(&err);
	assert_int_equal(ctr_index_get(&x, "", &got, &err), -EINVAL);
	err_done(&err);

	/* Invisible (being created) containers hold their name but are not found. */
	b->visible = false;
	assert_int_equal(ctr_index_get(&x, id2, &got, &err), -ENOENT);
	err_done(&err);
	b->visible = true;

	/* After removal the name is free again. */
	ctr_index_remove(&x, a);
	assert_int_equal(ctr_index_add(&x, dup, &err), 0);
	assert_int_equal(ctr_index_get(&x, "b", &got, &err), 0);
	assert_ptr_equal(got, dup);
	ctr_unref(got);

	size_t n = 0;
	struct ctr **all = ctr_index_all(&x, &n);
	assert_int_equal(n, 2);
	ctr_refs_free(all, n);
	ctr_unref(a);
	ctr_unref(b);
	ctr_unref(dup);
	ctr_index_done(&x);
}

static void test_filters(void **state)
{
	cleanup_free char *id1 = hexid('a', '1');
	struct ctr *a = mk(id1, "k8s_a", "pod1", "{\"app\":\"x\",\"tier\":\"web\"}");
	a->row.state = CTR_RUNNING;
	assert_true(ctr_matches(a, NULL));
	struct ctr_filter f = { .id = "a1" };
	assert_true(ctr_matches(a, &f));
	f.id = "b";
	assert_false(ctr_matches(a, &f));
	f = (struct ctr_filter){ .pod_id = "pod" };
	assert_true(ctr_matches(a, &f));
	f = (struct ctr_filter){ .pod_id = "pod2" };
	assert_false(ctr_matches(a, &f));
	f = (struct ctr_filter){ .has_state = true, .state = CTR_EXITED };
	assert_false(ctr_matches(a, &f));
	f.state = CTR_RUNNING;
	assert_true(ctr_matches(a, &f));
	struct oci_kv want[] = { { "app", "x" }, { "tier", "web" } };
	f = (struct ctr_filter){ .labels = want, .n_labels = 2 };
	assert_true(ctr_matches(a, &f));
	struct oci_kv wrong[] = { { "app", "y" } };
	f = (struct ctr_filter){ .labels = wrong, .n_labels = 1 };
	assert_false(ctr_matches(a, &f));
	struct oci_kv missing[] = { { "zone", "" } };
	f = (struct ctr_filter){ .labels = missing, .n_labels = 1 };
	assert_false(ctr_matches(a, &f));
	a->visible = false;
	assert_false(ctr_matches(a, NULL));
	ctr_unref(a);
}

static void test_state_machine(void **state)
{
	assert_true(ctr_state_can(CTR_CREATED, CTR_RUNNING));
	assert_true(ctr_state_can(CTR_CREATED, CTR_EXITED));
	assert_true(ctr_state_can(CTR_RUNNING, CTR_EXITED));
	assert_false(ctr_state_can(CTR_RUNNING, CTR_CREATED));
	assert_false(ctr_state_can(CTR_EXITED, CTR_RUNNING));
	assert_false(ctr_state_can(CTR_EXITED, CTR_CREATED));
	assert_true(ctr_state_can(CTR_UNKNOWN, CTR_EXITED));
	assert_string_equal(ctr_state_name(CTR_EXITED), "EXITED");
}

static void test_bus(void **state)
{
	struct ctr_bus b;
	ctr_bus_init(&b);
	struct ctr_sub *s1 = ctr_bus_subscribe(&b);
	struct ctr_sub *s2 = ctr_bus_subscribe(&b);
	struct ctr_event e;
	assert_int_equal(ctr_events_next(s1, 10, &e), 0);
	ctr_bus_publish(&b, CTR_EVENT_CREATED, "c1", "p1");
	ctr_bus_publish(&b, CTR_EVENT_STARTED, "c1", "p1");
	ctr_bus_publish(&b, CTR_EVENT_STOPPED, "c1", "p1");
	ctr_bus_publish(&b, CTR_EVENT_DELETED, "c1", "p1");
	for (int t = CTR_EVENT_CREATED; t <= CTR_EVENT_DELETED; t++) {
		assert_int_equal(ctr_events_next(s1, 10, &e), 1);
		assert_int_equal(e.type, t);
		assert_string_equal(e.id, "c1");
		assert_string_equal(e.pod_id, "p1");
		assert_true(e.time_ns > 0);
	}
	assert_int_equal(ctr_events_next(s1, 10, &e), 0);
	ctr_events_unsubscribe(s1);
	/* s2 still has all four; then overflow makes it -EPIPE after draining. */
	for (int i = 0; i < 2000; i++)
		ctr_bus_publish(&b, CTR_EVENT_CREATED, "c2", "p1");
	int got = 0, r;
	while ((r = ctr_events_next(s2, 10, &e)) == 1)
		got++;
	assert_int_equal(r, -EPIPE);
	assert_int_equal(got, 1024);
	ctr_events_unsubscribe(s2);
	struct ctr_sub *s3 = ctr_bus_subscribe(&b);
	ctr_bus_close(&b);
	assert_int_equal(ctr_events_next(s3, 1000, &e), -ESHUTDOWN);
	ctr_events_unsubscribe(s3);
	ctr_bus_done(&b);
}

static bool readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return poll(&p, 1, 0) == 1;
}

/* The eventfd of a subscriber: set by a publish, cleared by the
 * ctr_events_next(0) that finds the queue empty, set by close. */
static void test_bus_fd(void **state)
{
	struct ctr_bus b;
	ctr_bus_init(&b);
	struct ctr_sub *s = ctr_bus_subscribe(&b);
	assert_non_null(s);
	int fd = ctr_events_fd(s);
	struct ctr_event e;
	assert_false(readable(fd));
	ctr_bus_publish(&b, CTR_EVENT_CREATED, "c1", "p1");
	ctr_bus_publish(&b, CTR_EVENT_STARTED, "c1", "p1");
	assert_true(readable(fd));
	assert_int_equal(ctr_events_next(s, 0, &e), 1);
	assert_int_equal(ctr_events_next(s, 0, &e), 1);
	assert_true(readable(fd)); /* cleared only by the empty answer */
	assert_int_equal(ctr_events_next(s, 0, &e), 0);
	assert_false(readable(fd));
	ctr_bus_publish(&b, CTR_EVENT_STOPPED, "c1", "p1");
	assert_true(readable(fd));
	assert_int_equal(ctr_events_next(s, 0, &e), 1);
	assert_int_equal(ctr_events_next(s, 0, &e), 0);
	ctr_bus_close(&b);
	assert_true(readable(fd));
	assert_int_equal(ctr_events_next(s, 0, &e), -ESHUTDOWN);
	ctr_events_unsubscribe(s);
	ctr_bus_done(&b);
}

struct waiter {
	struct ctr_sub *sub;
	int r;
	struct ctr_event e;
};

static void *wait_one(void *data)
{
	struct waiter *w = data;
	w->r = ctr_events_next(w->sub, 5000, &w->e);
	return NULL;
}

static void test_bus_wakes_waiter(void **state)
{
	struct ctr_bus b;
	ctr_bus_init(&b);
	struct waiter w = { .sub = ctr_bus_subscribe(&b) };
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, wait_one, &w), 0);
	usleep(50000);
	ctr_bus_publish(&b, CTR_EVENT_STOPPED, "c9", "p9");
	pthread_join(t, NULL);
	assert_int_equal(w.r, 1);
	assert_int_equal(w.e.type, CTR_EVENT_STOPPED);
	assert_string_equal(w.e.id, "c9");
	ctr_events_unsubscribe(w.sub);
	ctr_bus_done(&b);
}

/* A zombie has exited, though /proc still shows its cgroup (issue 18). */
static void test_pid_is_zombie(void **state)
{
	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char c;
		close(p[1]);
		(void)!read(p[0], &c, 1);
		_exit(0);
	}
	close(p[0]);
	/* Every line of /proc/PID/cgroup holds a '/'. */
	assert_true(ctr_pid_is(pid, "/"));
	close(p[1]); /* the child exits, unreaped */
	cleanup_free char *path = xasprintf("/proc/%d/stat", (int)pid);
	for (int i = 0; i < 500; i++) {
		cleanup_free char *st = NULL;
		size_t len = 0;
		assert_int_equal(fs_read_file(AT_FDCWD, path, 4096, &st, &len, NULL), 0);
		if (strstr(st, ") Z "))
			break;
		usleep(10000);
	}
	assert_false(ctr_pid_is(pid, "/"));
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	assert_false(ctr_pid_is(pid, "/"));
}

static void test_db_rows(void **state)
{
	char root[] = "/tmp/ocid-test-ctr-XXXXXX";
	assert_non_null(mkdtemp(root));
	struct err err = ERR_INIT;
	struct db *db = NULL;
	assert_int_equal(db_open(root, &db, &err), 0);
	cleanup_free char *id = hexid('c', '5');
	char *layers[] = { "sha256:top", "sha256:bottom", NULL };
	struct db_ctr c = { .id = id,
			    .pod_id = "pod",
			    .name = "k8s_x",
			    .ctr_name = "x",
			    .attempt = 2,
			    .image_ref = "busybox",
			    .image_id = "sha256:img",
			    .state = CTR_CREATED,
			    .created_ns = 123,
			    .reason = "",
			    .message = "",
			    .log_path = "/l",
			    .labels = "{\"a\":\"b\"}",
			    .spec_path = "/s",
			    .layers = layers };
	assert_int_equal(db_ctr_put(db, &c, &err), 0);
	c.state = CTR_EXITED;
	c.exit_code = 137;
	c.reason = "Error";
	c.pid = 42;
	assert_int_equal(db_ctr_put_state(db, &c, &err), 0);
	struct db_ctr **rows = NULL;
	size_t n = 0;
	assert_int_equal(db_ctr_list(db, &rows, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0]->id, id);
	assert_int_equal(rows[0]->state, CTR_EXITED);
	assert_int_equal(rows[0]->exit_code, 137);
	assert_int_equal(rows[0]->attempt, 2);
	assert_int_equal(rows[0]->pid, 42);
	assert_string_equal(rows[0]->reason, "Error");
	/* None given, none stored. */
	assert_null(rows[0]->config);
	assert_string_equal(rows[0]->layers[0], "sha256:top");
	assert_string_equal(rows[0]->layers[1], "sha256:bottom");
	assert_string_equal(rows[0]->annotations, "{}");
	db_ctr_free(rows[0]);
	free(rows);
	char **used = NULL;
	assert_int_equal(db_ctr_layers_in_use(db, &used, &err), 0);
	assert_int_equal(strv_len(used), 2);
	strv_free(used);
	/* The config as an update writes it. */
	assert_int_equal(db_ctr_put_config(db, id, "{\"mounts\":[]}", &err), 0);
	assert_int_equal(db_ctr_list(db, &rows, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0]->config, "{\"mounts\":[]}");
	db_ctr_free(rows[0]);
	free(rows);
	assert_int_equal(db_ctr_put_config(db, "nope", "{}", &err), -ENOENT);
	err_done(&err);
	/* Re-put (update) keeps one row; delete is idempotent. */
	assert_int_equal(db_ctr_put(db, &c, &err), 0);
	assert_int_equal(db_ctr_delete(db, id, &err), 0);
	assert_int_equal(db_ctr_delete(db, id, &err), 0);
	assert_int_equal(db_ctr_put_state(db, &c, &err), -ENOENT);
	err_done(&err);
	assert_int_equal(db_ctr_layers_in_use(db, &used, &err), 0);
	assert_null(used);
	db_close(db);
	cleanup_free char *cmd = xasprintf("rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
}

/* What ContainerStatus reports survives its JSON: every mount field, the
 * idmaps, an image volume, the resources with hugepages and unified. */
static void test_status_cfg_roundtrip(void **state)
{
	struct oci_idmap uids[] = { { 0, 100000, 65536 } }, gids[] = { { 0, 200000, 1 } };
	struct ctr_status_mount mounts[] = {
		{ .container_path = "/data",
		  .host_path = "/srv",
		  .readonly = true,
		  .selinux_relabel = true,
		  .recursive_read_only = true,
		  .propagation = OCI_PROPAGATION_BIDIRECTIONAL,
		  .uids = uids,
		  .n_uids = 1,
		  .gids = gids,
		  .n_gids = 1 },
		{ .container_path = "/img",
		  .host_path = "",
		  .propagation = OCI_PROPAGATION_HOST_TO_CONTAINER,
		  .image = "busybox",
		  .image_sub_path = "etc" },
	};
	struct oci_hugepage_limit hp[] = { { "2MB", 4 << 20 } };
	struct oci_kv unified[] = { { "memory.high", "1000000" } };
	struct ctr_status_cfg in = { .mounts = mounts,
				     .n_mounts = 2,
				     .has_resources = true,
				     .resources = { .cpu_period = 100000,
						    .cpu_quota = 50000,
						    .cpu_shares = 512,
						    .memory_limit_in_bytes = 64 << 20,
						    .memory_swap_limit_in_bytes = 128 << 20,
						    .oom_score_adj = -5,
						    .cpuset_cpus = "0-1",
						    .cpuset_mems = "0",
						    .hugepages = hp,
						    .n_hugepages = 1,
						    .unified = unified,
						    .n_unified = 1 } };
	cleanup_free char *text = ctr_status_cfg_to_json(&in);
	struct ctr_status_cfg out;
	cleanup_err struct err err = ERR_INIT;
	assert_int_equal(ctr_status_cfg_parse(text, strlen(text), &out, &err), 0);
	assert_int_equal(out.n_mounts, 2);
	const struct ctr_status_mount *m = &out.mounts[0];
	assert_string_equal(m->container_path, "/data");
	assert_string_equal(m->host_path, "/srv");
	assert_true(m->readonly && m->selinux_relabel && m->recursive_read_only);
	assert_int_equal(m->propagation, OCI_PROPAGATION_BIDIRECTIONAL);
	assert_int_equal(m->n_uids, 1);
	assert_int_equal(m->uids[0].host_id, 100000);
	assert_int_equal(m->uids[0].length, 65536);
	assert_int_equal(m->n_gids, 1);
	assert_int_equal(m->gids[0].host_id, 200000);
	assert_null(m->image);
	assert_null(m->image_sub_path);
	m = &out.mounts[1];
	assert_false(m->readonly || m->selinux_relabel || m->recursive_read_only);
	assert_int_equal(m->propagation, OCI_PROPAGATION_HOST_TO_CONTAINER);
	assert_string_equal(m->image, "busybox");
	assert_string_equal(m->image_sub_path, "etc");
	assert_int_equal(m->n_uids, 0);
	assert_true(out.has_resources);
	const struct oci_resources *r = &out.resources;
	assert_int_equal(r->cpu_period, 100000);
	assert_int_equal(r->cpu_quota, 50000);
	assert_int_equal(r->cpu_shares, 512);
	assert_int_equal(r->memory_limit_in_bytes, 64 << 20);
	assert_int_equal(r->memory_swap_limit_in_bytes, 128 << 20);
	assert_int_equal(r->oom_score_adj, -5);
	assert_string_equal(r->cpuset_cpus, "0-1");
	assert_string_equal(r->cpuset_mems, "0");
	assert_int_equal(r->n_hugepages, 1);
	assert_string_equal(r->hugepages[0].page_size, "2MB");
	assert_int_equal(r->hugepages[0].limit, 4 << 20);
	assert_int_equal(r->n_unified, 1);
	assert_string_equal(r->unified[0].key, "memory.high");
	assert_string_equal(r->unified[0].value, "1000000");
	/* And writes back the same. */
	cleanup_free char *again = ctr_status_cfg_to_json(&out);
	assert_string_equal(again, text);
	ctr_status_cfg_done(&out);
	/* No resources given: none come back. */
	in.has_resources = false;
	in.n_mounts = 0;
	cleanup_free char *empty = ctr_status_cfg_to_json(&in);
	assert_int_equal(ctr_status_cfg_parse(empty, strlen(empty), &out, &err), 0);
	assert_int_equal(out.n_mounts, 0);
	assert_false(out.has_resources);
	ctr_status_cfg_done(&out);
}

/* A damaged record is an error naming what is wrong, never a crash. */
static void test_status_cfg_bad(void **state)
{
	static const struct {
		const char *text, *msg;
	} cases[] = {
		{ "", "container status config:" },
		{ "[]", "expected a JSON object" },
		{ "{\"mounts\":{}}", "mounts: expected array" },
		{ "{\"mounts\":[1]}", "mounts[0]: expected object" },
		{ "{\"mounts\":[{\"readonly\":\"yes\"}]}", "mounts[0].readonly: expected boolean" },
		{ "{\"mounts\":[{\"propagation\":\"shared\"}]}",
		  "mounts[0].propagation: unknown 'shared'" },
		{ "{\"mounts\":[{\"uid_mappings\":[{\"host_id\":4294967296}]}]}",
		  "mounts[0].uid_mappings[0].host_id: 4294967296 is out of range" },
		{ "{\"mounts\":[{\"gid_mappings\":[{\"length\":-1}]}]}",
		  "mounts[0].gid_mappings[0].length" },
		{ "{\"resources\":{\"cpu_shares\":\"x\"}}",
		  "resources.cpu_shares: expected integer" },
		{ "{\"resources\":{\"hugepages\":[{\"limit\":\"1\"}]}}",
		  "resources.hugepages[0].limit: expected integer" },
		{ "{\"resources\":{\"unified\":{\"a\":1}}}",
		  "resources.unified.a: expected string" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct ctr_status_cfg out;
		cleanup_err struct err err = ERR_INIT;
		if (ctr_status_cfg_parse(cases[i].text, strlen(cases[i].text), &out, &err) >= 0)
			fail_msg("accepted: %s", cases[i].text);
		if (!strstr(err_str(&err), cases[i].msg))
			fail_msg("%s: '%s' does not say '%s'", cases[i].text, err_str(&err),
				 cases[i].msg);
		ctr_status_cfg_done(&out);
	}
}

/* A container's runtime handler: the manager's runtime by default, a
 * handler's root resolved, its record round-trips, a bad or missing record
 * (one from before handlers) gives the manager's runtime. */
static void test_handler_record(void **state)
{
	(void)state;
	struct ctr_mgr m = { .runtime = "/usr/sbin/runc",
			     .runtime_root = "/run/x/runtime",
			     .runroot = "/run/x",
			     .exec_fifo_start = true };
	struct ctr_rt *d = ctr_rt_new(&m, NULL);
	assert_string_equal(d->name, "runc");
	assert_string_equal(d->path, "/usr/sbin/runc");
	assert_string_equal(d->root, "/run/x/runtime");
	assert_true(d->exec_fifo);
	assert_null(d->args);

	char *args[] = { "--ignore-cgroups", "--network=host", NULL };
	char *env[] = { "A=1", NULL };
	struct ctr_handler h = { .name = "runsc",
				 .path = "/usr/bin/runsc",
				 .root = "",
				 .args = args,
				 .monitor_env = env,
				 .no_pivot_root = true };
	struct ctr_rt *g = ctr_rt_new(&m, &h);
	assert_string_equal(g->root, "/run/x/runtime-runsc");
	assert_false(g->exec_fifo);
	assert_true(g->no_pivot);
	char **argv = NULL;
	ctr_rt_argv(g, &argv);
	assert_int_equal(strv_len(argv), 5);
	assert_string_equal(argv[0], "/usr/bin/runsc");
	assert_string_equal(argv[2], "/run/x/runtime-runsc");
	assert_string_equal(argv[4], "--network=host");
	strv_free(argv);
	char **e = ctr_rt_env(g);
	assert_int_equal(strv_len(e), 2);
	assert_true(strncmp(e[0], "PATH=", 5) == 0);
	assert_string_equal(e[1], "A=1");
	strv_free(e);

	/* The record round-trips. */
	json_t *j = ctr_rt_json(g);
	struct ctr_rt *back = ctr_rt_load(&m, j);
	json_decref(j);
	assert_string_equal(back->name, "runsc");
	assert_string_equal(back->path, "/usr/bin/runsc");
	assert_string_equal(back->root, "/run/x/runtime-runsc");
	assert_int_equal(strv_len(back->args), 2);
	assert_string_equal(back->env[0], "A=1");
	assert_true(back->no_pivot);
	assert_false(back->exec_fifo);
	ctr_rt_free(back);

	/* The manager's program without a root of its own shares its root;
	 * a root given is kept. */
	struct ctr_handler same = { .name = "plain", .path = "/usr/sbin/runc", .root = "" };
	struct ctr_rt *p = ctr_rt_new(&m, &same);
	assert_string_equal(p->root, "/run/x/runtime");
	ctr_rt_free(p);
	same.root = "/srv/r";
	p = ctr_rt_new(&m, &same);
	assert_string_equal(p->root, "/srv/r");
	ctr_rt_free(p);

	/* No record, or one without path or root: the manager's runtime. */
	const char *bad[] = { "{}", "{\"path\": 3, \"root\": \"/r\"}", "{\"path\": \"/p\"}", "[]" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		json_t *b = json_loads(bad[i], 0, NULL);
		struct ctr_rt *r = ctr_rt_load(&m, b);
		assert_string_equal(r->path, "/usr/sbin/runc");
		assert_string_equal(r->root, "/run/x/runtime");
		ctr_rt_free(r);
		json_decref(b);
	}
	struct ctr_rt *r = ctr_rt_load(&m, NULL);
	assert_string_equal(r->root, "/run/x/runtime");
	ctr_rt_free(r);
	/* Strings of another type in the lists are dropped. */
	j = json_pack("{s:s, s:s, s:[s,i], s:b}", "path", "/p", "root", "/r", "args", "--a", 7,
		      "exec_fifo", 1);
	r = ctr_rt_load(&m, j);
	json_decref(j);
	assert_int_equal(strv_len(r->args), 1);
	assert_null(r->env);
	assert_string_equal(r->name, "");
	assert_true(r->exec_fifo);
	ctr_rt_free(r);
	ctr_rt_free(g);
	ctr_rt_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name),
		cmocka_unit_test(test_index_names_and_prefix),
		cmocka_unit_test(test_filters),
		cmocka_unit_test(test_state_machine),
		cmocka_unit_test(test_bus),
		cmocka_unit_test(test_bus_fd),
		cmocka_unit_test(test_bus_wakes_waiter),
		cmocka_unit_test(test_db_rows),
		cmocka_unit_test(test_status_cfg_roundtrip),
		cmocka_unit_test(test_status_cfg_bad),
		cmocka_unit_test(test_pid_is_zombie),
		cmocka_unit_test(test_handler_record),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
