/* CreateContainer: name, pod, image, rootfs, bundle, monitor. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/fs.h"
#include "base/json.h"
#include "ctr/ctr_int.h"
#include "ev/ev.h"
#include "mon/mon.h"
#include "storage/storage.h"

/* The runtime's create without a caller's deadline (mon_spawn's default). */
#define SPAWN_TIMEOUT_MS 60000u

static void rm_container_dir(const char *base, const char *id)
{
	cleanup_free char *dir = xasprintf("%s/containers", base);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fs_rm_rf_at(fd, id, NULL);
		close(fd);
	}
}

void ctr_cleanup_rootfs(struct ctr_mgr *m, const char *id)
{
	cleanup_free char *merged = ctr_path_root(m, id, "merged");
	(void)umount2(merged, MNT_DETACH);
	/* rm -rf below does not enter what is still mounted (-EXDEV). */
	ctr_volumes_unmount(m, id);
	rm_container_dir(m->root, id);
}

void ctr_cleanup_dirs(struct ctr_mgr *m, const char *id)
{
	ctr_cleanup_rootfs(m, id);
	ctr_cleanup_run(m, id);
}

void ctr_cleanup_run(struct ctr_mgr *m, const char *id)
{
	rm_container_dir(m->runroot, id);
	const char *socks[] = { "ctl", "attach" };
	for (size_t i = 0; i < ARRAY_SIZE(socks); i++) {
		cleanup_free char *p = ctr_path_sock(m, id, socks[i]);
		(void)unlink(p);
	}
}

/* <root>/containers/<id>/{upper,work,merged} and the bundle directory. In
 * a user namespace the runtime's init, root only there, must still reach
 * the rootfs: the container's directory is searchable by others and the
 * upper directory (the rootfs's own root) belongs to the mapped root. */
static int make_dirs(struct ctr_mgr *m, const char *id, const struct ctr_pod *pod, struct err *err)
{
	const char *names[] = { NULL, "upper", "work", "merged" };
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		cleanup_free char *p = ctr_path_root(m, id, names[i]);
		mode_t mode = i == 1 ? 0755 : i == 0 && pod->userns ? 0711 : 0700;
		/* mkdir's mode is masked by the umask; chmod is not. */
		if (mkdir(p, mode) < 0 || (pod->userns && chmod(p, mode) < 0))
			return err_set(err, -errno, "mkdir '%s'", p);
		if (i == 1 && pod->userns &&
		    chown(p, oci_idmap_to_host(&pod->uid_map, 0),
			  oci_idmap_to_host(&pod->gid_map, 0)) < 0)
			return err_set(err, -errno, "chown '%s' to the pod's root", p);
	}
	cleanup_free char *run = ctr_path_run(m, id, NULL);
	if (mkdir(run, 0700) < 0)
		return err_set(err, -errno, "mkdir '%s'", run);
	return 0;
}

static char *cgroups_path(const struct ctr_mgr *m, const char *parent, const char *id)
{
	if (strcmp(m->cgroup_driver, "systemd") == 0)
		return xasprintf("%s:ocid:%s", parent && *parent ? parent : "system.slice", id);
	return xasprintf("%s/ocid-%s", parent && *parent ? parent : "/ocid", id);
}

static struct oci_ns ns_of(enum oci_ns_mode mode, const char *path)
{
	if (mode == OCI_NS_POD && !path)
		return (struct oci_ns){ .mode = OCI_NS_NODE };
	return (struct oci_ns){ .mode = mode, .path = mode == OCI_NS_POD ? path : NULL };
}

/* Check the CRI log path (relative to the pod's log directory, no "..")
 * and create its directories, as kubelet expects of a runtime. */
static int log_path(const struct ctr_create_req *req, char **ret, struct err *err)
{
	if (!req->log_path || !*req->log_path) {
		*ret = xstrdup("");
		return 0;
	}
	if (!req->log_dir || req->log_dir[0] != '/')
		return err_msg(err, -EINVAL, "log path %s needs an absolute pod log directory",
			       req->log_path);
	cleanup_free char *clean = NULL;
	cleanup_free char *dir = NULL;
	if (req->log_path[0] == '/' || fs_path_clean(req->log_path, &clean) < 0 ||
	    fs_path_clean(req->log_dir, &dir) < 0)
		return err_msg(err, -EINVAL, "log path %s must be relative and stay inside %s",
			       req->log_path, req->log_dir);
	cleanup_free char *full = fs_path_join(dir, clean);
	char *slash = strrchr(full, '/');
	*slash = '\0';
	if (*full) {
		cleanup_close int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
		int fd = root < 0 ? -errno : fs_mkdir_p_at(root, full + 1, 0755, err);
		if (fd < 0)
			return err_set(err, fd, "log directory '%s'", full);
		close(fd);
	}
	*slash = '/';
	*ret = TAKE_PTR(full);
	return 0;
}

struct build {
	struct ctr_mgr *m;
	const struct ctr_create_req *req;
	struct ctr *c;
	struct ctr_pod pod;
	struct ctr_image img;
	struct ctr_volumes vols;
	char *merged;
};

static int write_bundle(struct build *b, struct err *err)
{
	struct oci_ctr_config oc = b->req->spec;
	const struct image_config *ic = b->img.config;
	oc.rootfs = b->merged;
	oc.volumes = (enum oci_volumes_mode)__atomic_load_n(&b->m->image_volumes, __ATOMIC_RELAXED);
	oc.mounts = b->vols.mounts;
	oc.n_mounts = b->vols.n_mounts;
	oc.image = (struct oci_image_spec){ .entrypoint = ic->entrypoint,
					    .cmd = ic->cmd,
					    .env = ic->env,
					    .volumes = ic->volumes,
					    .working_dir = ic->working_dir,
					    .user = ic->user };
	oc.ns.net = ns_of(oc.ns.net.mode, b->pod.netns);
	oc.ns.ipc = ns_of(oc.ns.ipc.mode, b->pod.ipcns);
	oc.ns.uts = ns_of(OCI_NS_POD, b->pod.utsns);
	oc.ns.pid = ns_of(oc.ns.pid.mode, b->pod.pidns);
	if (b->pod.userns)
		oc.ns.user = (struct oci_userns){ b->pod.userns, b->pod.uid_map, b->pod.gid_map };
	oc.cgroups_path = b->c->cgroups_path;
	if (b->pod.hostname)
		oc.hostname = b->pod.hostname;
	oc.pod_files = (struct oci_pod_files){ .hosts = b->pod.hosts,
					       .resolv_conf = b->pod.resolv_conf,
					       .hostname = b->pod.hostname_file,
					       .shm = b->pod.shm };
	oc.annotations = b->req->annotations;
	oc.n_annotations = b->req->n_annotations;
	/* rro as the container's handler can do it (resolve refused a mount
	 * asking for it without). */
	struct oci_host host = b->m->host;
	if (b->req->handler)
		host.rro = b->req->handler->recursive_read_only;
	json_t *spec = NULL;
	int r = oci_spec_build(&oc, &host, &spec, err);
	if (r < 0)
		return r;
	cleanup_free char *text = js_dump(spec, JS_DUMP_PRETTY);
	b->c->user = json_incref(json_object_get(json_object_get(spec, "process"), "user"));
	json_decref(spec);
	cleanup_free char *dir = ctr_path_run(b->m, b->c->id, NULL);
	cleanup_close int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, -errno, "open '%s'", dir);
	return fs_write_file_atomic(fd, "config.json", text, strlen(text), 0600, 0, err);
}

static void fill_row(struct build *b, const char *log)
{
	struct db_ctr *r = &b->c->row;
	const struct ctr_create_req *req = b->req;
	r->ctr_name = xstrdup(req->name);
	r->attempt = req->attempt;
	r->image_ref = xstrdup(req->image);
	r->image_id = xstrdup(b->img.id);
	r->state = CTR_CREATED;
	r->created_ns = wall_ns();
	r->reason = xstrdup("");
	r->message = xstrdup("");
	r->log_path = xstrdup(log);
	r->labels = ctr_kv_json(req->labels, req->n_labels);
	r->annotations = ctr_kv_json(req->annotations, req->n_annotations);
	if (req->status_cfg)
		r->config = ctr_status_cfg_to_json(req->status_cfg);
	r->spec_path = ctr_path_run(b->m, b->c->id, "config.json");
	json_t *extra = json_pack(
	    "{s:i,s:s,s:O?,s:b,s:b,s:s?,s:O?}", "stop_signal", b->c->stop_signal, "cgroups_path",
	    b->c->cgroups_path, "user", b->c->user, "tty", b->c->tty, "stdin_once",
	    b->c->stdin_once, "repo_digest", b->c->repo_digest, "image_volumes", b->vols.record);
	json_object_set_new(extra, "handler", ctr_rt_json(b->c->rt));
	/* Under st: ctr_image_check_unused reads it while the create goes on. */
	char *text = js_dump(extra, 0);
	pthread_mutex_lock(&b->c->st);
	r->extra = text;
	pthread_mutex_unlock(&b->c->st);
	json_decref(extra);
	for (size_t i = 0; i < b->img.n_layers; i++)
		strv_push(&r->layers, b->img.layers[i]);
	/* The image volumes' layers stay while the container does, as its
	 * rootfs's do (db_ctr_layers_in_use). */
	for (size_t i = 0; b->vols.layers && b->vols.layers[i]; i++)
		if (!strv_contains(r->layers, b->vols.layers[i]))
			strv_push(&r->layers, b->vols.layers[i]);
	ctr_kv_parse(r->labels, &b->c->labels, &b->c->n_labels);
	ctr_kv_parse(r->annotations, &b->c->annotations, &b->c->n_annotations);
}

static int spawn(struct build *b, struct err *err)
{
	struct ctr_mgr *m = b->m;
	const char *id = b->c->id;
	cleanup_free char *bundle = ctr_path_run(m, id, NULL);
	cleanup_free char *exit_path = ctr_path_run(m, id, "exit");
	cleanup_free char *pidfile = ctr_path_run(m, id, "pidfile");
	cleanup_free char *ctl = ctr_path_sock(m, id, "ctl");
	cleanup_free char *attach = ctr_path_sock(m, id, "attach");
	struct mon_spawn_args a = {
		.ocimon = m->ocimon,
		.id = id,
		.bundle = bundle,
		.runtime = b->c->rt->path,
		.runtime_root = b->c->rt->root,
		.runtime_args = b->c->rt->args,
		.runtime_env = b->c->rt->env,
		.no_pivot = b->c->rt->no_pivot,
		.log_path = *b->c->row.log_path ? b->c->row.log_path : "/dev/null",
		.exit_path = exit_path,
		.ctl_path = ctl,
		.attach_path = attach,
		.pid_file = pidfile,
		.tty = b->req->spec.tty,
		.stdin_open = b->req->spec.stdin,
		.stdin_once = b->req->spec.stdin_once,
		.systemd_cgroup = strcmp(m->cgroup_driver, "systemd") == 0,
		.timeout_ms = ctr_deadline_budget_ms(b->req->deadline_ns, SPAWN_TIMEOUT_MS),
	};
	pid_t pid = 0, mon_pid = 0;
	int r = mon_spawn(&a, &pid, &mon_pid, err);
	if (r == -ECHILD)
		return err_wrap(err, "runtime handler '%s' (%s) create", b->c->rt->name,
				b->c->rt->path);
	if (r < 0)
		return r;
	pthread_mutex_lock(&b->c->st);
	b->c->row.pid = pid;
	pthread_mutex_unlock(&b->c->st);
	r = db_ctr_put_state(m->db, &b->c->row, err);
	if (r < 0)
		return r;
	/* A monitor dead already fails the create (which undoes it all). */
	return ctr_monitor_watch(m, b->c->id, mon_pid, err);
}

/* The overlay rootfs; in a pod user namespace its layers are idmapped
 * through that namespace, so the image's files belong to its root. */
static int mount_rootfs(struct build *b, struct err *err)
{
	struct ctr_mgr *m = b->m;
	cleanup_free char *upper = ctr_path_root(m, b->c->id, "upper");
	cleanup_free char *work = ctr_path_root(m, b->c->id, "work");
	const char *const *layers = (const char *const *)b->img.layers;
	b->merged = ctr_path_root(m, b->c->id, "merged");
	if (!b->pod.userns)
		return storage_mount_overlay(m->storage, layers, b->img.n_layers, upper, work,
					     b->merged, err);
	cleanup_close int fd = open(b->pod.userns, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, -errno, "open the pod's user namespace '%s'", b->pod.userns);
	return storage_mount_overlay_idmapped(m->storage, layers, b->img.n_layers, upper, work,
					      b->merged, fd, err);
}

/* After the row (with the image volumes and their layers) is saved: an
 * image removed since it was mounted fails the create (RemoveImage looked
 * before the row said so); from now on RemoveImage sees it and refuses. */
static int volumes_recheck(struct ctr_mgr *m, const struct ctr_volumes *v, struct err *err)
{
	size_t k;
	json_t *e;
	json_array_foreach(v->record, k, e)
	{
		const char *id = json_string_value(json_object_get(e, "image"));
		struct ctr_image img;
		cleanup_err struct err e2 = ERR_INIT;
		int r = ctr_image_resolve(m->db, m->images, id, &img, &e2);
		if (r == -ENOENT)
			return err_msg(err, -ENOENT,
				       "image %s of the image volume at %s was removed meanwhile",
				       id, json_string_value(json_object_get(e, "path")));
		if (r < 0)
			return err_move(err, &e2);
		ctr_image_done(&img);
	}
	return 0;
}

static int create_steps(struct build *b, struct err *err)
{
	struct ctr_mgr *m = b->m;
	const struct ctr_create_req *req = b->req;
	cleanup_free char *log = NULL;
	uint64_t tp = ev_now_ns();
	int r = log_path(req, &log, err);
	if (r < 0)
		return r;
	r = make_dirs(m, b->c->id, &b->pod, err);
	if (r < 0)
		return r;
	uint64_t t0 = ev_now_ns();
	r = mount_rootfs(b, err);
	if (r >= 0)
		r = ctr_volumes_prepare(m, b->c->id, &b->pod, req->spec.mounts, req->spec.n_mounts,
					req->mount_extras, &b->vols, err);
	if (r < 0)
		return r;
	uint64_t t1 = ev_now_ns();
	r = write_bundle(b, err);
	if (r < 0)
		return r;
	uint64_t t2 = ev_now_ns();
	fill_row(b, log);
	r = db_ctr_put(m->db, &b->c->row, err);
	if (r >= 0)
		r = volumes_recheck(m, &b->vols, err);
	if (r < 0)
		return r;
	uint64_t t3 = ev_now_ns();
	r = ctr_watch_add(m, b->c->id, err);
	if (r < 0)
		return r;
	r = spawn(b, err);
	uint64_t t4 = ev_now_ns();
	log_debug("container create steps",
		  "id=%s dirs_us=%llu mount_us=%llu spec_us=%llu db_us=%llu spawn_us=%llu",
		  b->c->id, (unsigned long long)(t0 - tp) / 1000,
		  (unsigned long long)(t1 - t0) / 1000, (unsigned long long)(t2 - t1) / 1000,
		  (unsigned long long)(t3 - t2) / 1000, (unsigned long long)(t4 - t3) / 1000);
	return r;
}

/* A recursive read-only mount under a handler whose program cannot make
 * one (a mount oci_spec_build would otherwise refuse for another reason is
 * left to it, and with the manager's runtime it answers alone). */
static int handler_rro_check(const struct ctr_create_req *req, struct err *err)
{
	const struct ctr_handler *h = req->handler;
	if (!h || h->recursive_read_only)
		return 0;
	for (size_t i = 0; i < req->spec.n_mounts; i++) {
		const struct oci_mount *mt = &req->spec.mounts[i];
		if (mt->recursive_readonly && mt->readonly &&
		    mt->propagation == OCI_PROPAGATION_PRIVATE)
			return err_msg(
			    err, -EINVAL,
			    "mount '%s': recursive_read_only is not supported by runtime handler '%s' (its program has no 'rro' mount option, or the kernel no mount_setattr)",
			    mt->container_path ? mt->container_path : "", h->name ? h->name : "");
	}
	return 0;
}

static int resolve(struct build *b, struct err *err)
{
	struct ctr_mgr *m = b->m;
	const struct ctr_create_req *req = b->req;
	if (!req->name || !*req->name)
		return err_msg(err, -EINVAL, "container metadata name is empty");
	if (!req->pod_id || !*req->pod_id)
		return err_msg(err, -EINVAL, "pod sandbox id is empty");
	int r = handler_rro_check(req, err);
	if (r < 0)
		return r;
	r = ctr_pod_find(m, req->pod_id, &b->pod, err);
	if (r < 0)
		return r;
	b->c->row.pod_id = xstrdup(b->pod.id);
	const struct oci_namespaces *ns = &req->spec.ns;
	if (b->pod.userns && (ns->net.mode == OCI_NS_NODE || ns->ipc.mode == OCI_NS_NODE ||
			      ns->pid.mode == OCI_NS_NODE))
		return err_msg(
		    err, -EINVAL,
		    "a container of a pod with its own user namespace cannot use the host's %s namespace",
		    ns->net.mode == OCI_NS_NODE	  ? "network"
		    : ns->ipc.mode == OCI_NS_NODE ? "IPC"
						  : "PID");
	r = ctr_image_resolve(m->db, m->images, req->image, &b->img, err);
	if (r < 0)
		return r;
	/* CRI's stop_signal, else the image's StopSignal, else SIGTERM. */
	bool from_cri = !str_empty(req->stop_signal);
	r = oci_signal_parse(from_cri ? req->stop_signal : b->img.config->stop_signal, err);
	if (r < 0)
		return err_wrap(err, "%s", from_cri ? "stop_signal" : "the image's StopSignal");
	b->c->stop_signal = r;
	b->c->repo_digest = b->img.repo_digest ? xstrdup(b->img.repo_digest) : NULL;
	b->c->cgroups_path = cgroups_path(
	    m, b->pod.cgroup_parent ? b->pod.cgroup_parent : req->cgroup_parent, b->c->id);
	b->c->upper_dir = ctr_path_root(m, b->c->id, "upper");
	b->c->attach_path = ctr_path_sock(m, b->c->id, "attach");
	b->c->ctl_path = ctr_path_sock(m, b->c->id, "ctl");
	b->c->tty = req->spec.tty;
	b->c->stdin_once = req->spec.stdin_once;
	b->c->row.name =
	    ctr_name_make(req->name, req->pod_name, req->pod_namespace, req->pod_uid, req->attempt);
	return 0;
}

int ctr_create(struct ctr_mgr *m, const struct ctr_create_req *req, char ret_id[ID_LEN + 1],
	       struct err *err)
{
	char id[ID_LEN + 1];
	int r = id_new(id);
	if (r < 0)
		return err_set(err, r, "new container id");
	struct build b = { .m = m, .req = req, .c = ctr_new(id) };
	b.c->rt = ctr_rt_new(m, req->handler);
	r = resolve(&b, err);
	if (r >= 0)
		r = ctr_index_add(&m->index, b.c, err);
	if (r < 0) {
		ctr_pod_done(&b.pod);
		ctr_image_done(&b.img);
		ctr_unref(b.c);
		return r;
	}
	pthread_mutex_lock(&b.c->op);
	r = create_steps(&b, err);
	if (r < 0) {
		ctr_watch_remove(m, id);
		cleanup_err struct err e2 = ERR_INIT;
		(void)db_ctr_delete(m->db, id, &e2);
		char *args[] = { "delete", "--force", id, NULL };
		(void)ctr_runtime_run(m, b.c->rt, args, NULL, 0, NULL);
		ctr_cleanup_dirs(m, id);
		ctr_index_remove(&m->index, b.c);
		(void)err_wrap(err, "create container %s", req->name);
	} else {
		pthread_mutex_lock(&b.c->st);
		b.c->visible = true;
		pthread_mutex_unlock(&b.c->st);
		memcpy(ret_id, id, sizeof(id));
		log_info("container created", "id=%s name=%s pid=%d", id, log_q(b.c->row.name),
			 b.c->row.pid);
		ctr_bus_publish(&m->bus, CTR_EVENT_CREATED, id, b.c->row.pod_id);
		(void)ctr_exit_check(m, b.c);
	}
	pthread_mutex_unlock(&b.c->op);
	ctr_pod_done(&b.pod);
	ctr_image_done(&b.img);
	ctr_volumes_done(&b.vols);
	free(b.merged);
	ctr_unref(b.c);
	return r;
}
