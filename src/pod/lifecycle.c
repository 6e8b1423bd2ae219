/* RunPodSandbox, StopPodSandbox, RemovePodSandbox. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/base.h"
#include "cni/cni.h"
#include "db/pod.h"
#include "oci/oci.h"
#include "pod/pod_int.h"
#include "proc/proc.h"

#define PAUSE_STOP_MS 2000

static bool is_cgroupfs(const struct pod_manager *m)
{
	return strcmp(m->cgroup_driver, "systemd") != 0;
}

static int field_check(const char *what, const char *v, size_t max, struct err *err)
{
	if (str_empty(v))
		return err_msg(err, -EINVAL, "pod sandbox %s is required", what);
	if (strlen(v) > max)
		return err_msg(err, -EINVAL, "pod sandbox %s is longer than %zu bytes", what, max);
	for (const char *c = v; *c; c++)
		if ((unsigned char)*c < 0x21 || *c == '/' || *c == 0x7f)
			return err_msg(
			    err, -EINVAL,
			    "pod sandbox %s '%s' holds whitespace, '/' or a control character",
			    what, v);
	return 0;
}

static int ports_check(const struct pod_config *c, struct err *err)
{
	for (size_t i = 0; i < c->n_ports; i++) {
		const struct pod_port *p = &c->ports[i];
		if (p->container_port < 0 || p->container_port > 65535 || p->host_port < 0 ||
		    p->host_port > 65535 || p->protocol > POD_PROTO_SCTP)
			return err_msg(
			    err, -EINVAL,
			    "port_mappings[%zu]: ports must be 0..65535 and the protocol TCP, UDP or SCTP",
			    i);
		if (p->host_port && !p->container_port)
			return err_msg(err, -EINVAL,
				       "port_mappings[%zu]: host port %d without a container port",
				       i, p->host_port);
		unsigned char addr[sizeof(struct in6_addr)];
		if (!str_empty(p->host_ip) && inet_pton(AF_INET, p->host_ip, addr) != 1 &&
		    inet_pton(AF_INET6, p->host_ip, addr) != 1)
			return err_msg(err, -EINVAL,
				       "port_mappings[%zu]: host_ip '%s' is not an IP address", i,
				       p->host_ip);
	}
	return 0;
}

static unsigned owned_sysctl_ns(const struct pod_config *c)
{
	return (c->ns_network != POD_NS_NODE ? POD_SYSCTL_NET : 0) |
	       (c->ns_ipc != POD_NS_NODE ? POD_SYSCTL_IPC : 0);
}

static int validate(const struct pod_manager *m, const struct pod_config *c, struct err *err)
{
	int r = field_check("metadata.name", c->name, 253, err);
	if (r >= 0)
		r = field_check("metadata.namespace", c->namespace, 253, err);
	if (r >= 0)
		r = field_check("metadata.uid", c->uid, 253, err);
	if (r < 0)
		return r;
	if ((r = pod_userns_check(c, err)) < 0)
		return r;
	if ((c->ns_network != POD_NS_POD && c->ns_network != POD_NS_NODE) ||
	    (c->ns_ipc != POD_NS_POD && c->ns_ipc != POD_NS_NODE) || c->ns_pid > POD_NS_NODE)
		return err_msg(
		    err, -EINVAL,
		    "namespace_options: network and ipc must be POD or NODE, pid POD, CONTAINER or NODE");
	if (!str_empty(c->hostname) && (r = pod_hostname_check(c->hostname, err)) < 0)
		return r;
	if ((r = ports_check(c, err)) < 0)
		return r;
	cleanup_free char *resolv = NULL;
	if (c->has_dns && (r = pod_resolv_render(&c->dns, &resolv, err)) < 0)
		return r;
	for (size_t i = 0; i < c->n_sysctls; i++) {
		r = pod_sysctl_check(c->sysctls[i].key, c->sysctls[i].value, owned_sysctl_ns(c),
				     NULL, NULL, err);
		if (r < 0)
			return r;
	}
	cleanup_free char *logdir = NULL;
	if (!str_empty(c->log_directory) &&
	    (c->log_directory[0] != '/' || fs_path_clean(c->log_directory, &logdir) < 0))
		return err_msg(err, -EINVAL,
			       "log_directory '%s' must be an absolute path without '..'",
			       c->log_directory);
	if (c->ns_pid == POD_NS_POD && !m->pause_path)
		return err_msg(err, -ENOENT,
			       "a shared PID namespace needs ocid-pause, which was not found");
	if (is_cgroupfs(m)) {
		cleanup_free char *cg = NULL;
		const char *parent =
		    str_empty(c->cgroup_parent) ? m->cgroup_parent : c->cgroup_parent;
		return oci_cgroups_path(OCI_CGROUP_CGROUPFS, parent, "pod", &cg, err);
	}
	return 0;
}

static int mkdir_abs(const char *path, struct err *err)
{
	cleanup_close int root = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (root < 0)
		return err_set(err, -errno, "open /");
	return fs_mkdir_p_at(root, path + 1, 0711, err);
}

static char *host_hostname(void)
{
	char buf[256] = "";
	(void)gethostname(buf, sizeof(buf) - 1);
	return xstrdup(buf);
}

/* Host-network pods and pods without a hostname get the host's. */
static char *effective_hostname(const struct pod_config *c)
{
	if (c->ns_network != POD_NS_NODE && !str_empty(c->hostname))
		return xstrdup(c->hostname);
	return host_hostname();
}

/* The files go into the pod's new directory, which nothing reads before
 * RunPodSandbox returns: written in place (a rename more each, on a
 * disk-backed runroot, is a journal operation more). */
static int write_new(int dfd, const char *name, const char *text, size_t len, struct err *err)
{
	cleanup_close int fd =
	    openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0 || fs_write_all(fd, text, len) < 0)
		return err_set(err, -errno, "write '%s'", name);
	return 0;
}

static int write_text(int dfd, const char *name, const char *text, struct err *err)
{
	return write_new(dfd, name, text, strlen(text), err);
}

static int copy_host_file(int dfd, const char *name, const char *src, struct err *err)
{
	cleanup_free char *text = NULL;
	size_t len = 0;
	int r = fs_read_file(AT_FDCWD, src, 1 << 20, &text, &len, err);
	if (r == -ENOENT) {
		free(text);
		text = xstrdup("");
		len = 0;
		err_done(err);
	} else if (r < 0) {
		return r;
	}
	return write_new(dfd, name, text, len, err);
}

static int write_hosts(const struct pod *p, int dfd, struct err *err)
{
	if (p->info.cfg.ns_network == POD_NS_NODE)
		return copy_host_file(dfd, "hosts", "/etc/hosts", err);
	cleanup_free char *hosts = pod_hosts_render(p->info.hostname, p->info.ips);
	return write_text(dfd, "hosts", hosts, err);
}

static int write_files(struct pod *p, int dfd, struct err *err)
{
	cleanup_free char *hn = xasprintf("%s\n", p->info.hostname);
	int r = write_text(dfd, "hostname", hn, err);
	if (r < 0)
		return r;
	const struct pod_dns *d = &p->info.cfg.dns;
	if (p->info.cfg.has_dns && (d->servers || d->searches || d->options)) {
		cleanup_free char *resolv = NULL;
		r = pod_resolv_render(d, &resolv, err);
		if (r >= 0)
			r = write_text(dfd, "resolv.conf", resolv, err);
	} else {
		r = copy_host_file(dfd, "resolv.conf", "/etc/resolv.conf", err);
	}
	return r; /* hosts comes last, with the pod's addresses */
}

static int mount_shm(struct pod_manager *m, struct pod *p, struct err *err)
{
	char *path = xasprintf("%s/shm", p->info.dir);
	p->info.shm_path = path;
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return err_set(err, -errno, "mkdir '%s'", path);
	cleanup_free char *opts = xasprintf("mode=1777,size=%llu", (unsigned long long)m->shm_size);
	if (mount("shm", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) < 0)
		return err_set(err, -errno, "mount tmpfs on '%s'", path);
	return 0;
}

static int apply_sysctls(struct pod *p, struct err *err)
{
	const struct pod_config *c = &p->info.cfg;
	if (!c->n_sysctls)
		return 0;
	struct proc_ns_write *w = xcalloc(c->n_sysctls, sizeof(*w));
	char **paths = xcalloc(c->n_sysctls + 1, sizeof(*paths));
	int r = 0;
	for (size_t i = 0; r >= 0 && i < c->n_sysctls; i++) {
		r = pod_sysctl_check(c->sysctls[i].key, c->sysctls[i].value, owned_sysctl_ns(c),
				     &paths[i], NULL, err);
		w[i].path = paths[i];
		w[i].value = c->sysctls[i].value;
	}
	const char *ns[3] = { NULL, NULL, NULL };
	size_t n = 0;
	if (p->info.netns_path)
		ns[n++] = p->info.netns_path;
	if (p->info.ipcns_path)
		ns[n++] = p->info.ipcns_path;
	if (r >= 0)
		r = proc_ns_write_files(ns, w, c->n_sysctls, err);
	if (r < 0)
		err_wrap(err, "apply sysctls");
	strv_free(paths);
	free(w);
	return r;
}

static int start_pause(struct pod_manager *m, struct pod *p, struct err *err)
{
	const char *ns[5] = { NULL };
	size_t n = 0;
	/* The user namespace first: the others are owned by it, and the new
	 * PID namespace will be too. */
	if (p->info.userns_path)
		ns[n++] = p->info.userns_path;
	if (p->info.netns_path)
		ns[n++] = p->info.netns_path;
	if (p->info.ipcns_path)
		ns[n++] = p->info.ipcns_path;
	if (p->info.utsns_path)
		ns[n++] = p->info.utsns_path;
	char *argv[] = { m->pause_path, NULL };
	pid_t pid = 0;
	int r = proc_spawn_pid_ns(argv, ns, &pid, err);
	if (r < 0)
		return r;
	p->info.pause_pid = pid;
	cleanup_free char *nsdir = xasprintf("%s/ns", p->info.dir);
	r = proc_ns_pin_pid(nsdir, pid, err);
	if (r < 0) {
		/* Not pinned, so teardown would not recognise it: end it here. */
		(void)proc_kill_wait(pid, SIGKILL, PAUSE_STOP_MS);
		p->info.pause_pid = 0;
		return r;
	}
	p->info.pidns_path = xasprintf("%s/pid", nsdir);
	if (is_cgroupfs(m))
		r = pod_cgroup_add_pid(p->info.cgroup_parent, pid, err);
	return r;
}

static int setup_cgroup(struct pod_manager *m, struct pod *p, struct err *err)
{
	const struct pod_config *c = &p->info.cfg;
	const char *parent = str_empty(c->cgroup_parent) ? m->cgroup_parent : c->cgroup_parent;
	if (!is_cgroupfs(m)) {
		/* systemd: the runtime creates units under the slice. */
		p->info.cgroup_parent = xstrdup(str_empty(parent) ? "system.slice" : parent);
		return 0;
	}
	cleanup_free char *name = xasprintf("pod-%s", p->info.id);
	int r = oci_cgroups_path(OCI_CGROUP_CGROUPFS, parent, name, &p->info.cgroup_parent, err);
	if (r >= 0)
		r = pod_cgroup_create(p->info.cgroup_parent, err);
	return r;
}

static uint64_t bandwidth(const struct pod_config *c, const char *key)
{
	for (size_t i = 0; i < c->n_annotations; i++) {
		if (strcmp(c->annotations[i].key, key) != 0)
			continue;
		char *end = NULL;
		unsigned long long v = strtoull(c->annotations[i].value, &end, 10);
		static const struct {
			const char *sfx;
			uint64_t mul;
		} units[] = { { "", 1 },	   { "k", 1000 },  { "M", 1000000 },
			      { "G", 1000000000 }, { "Ki", 1024 }, { "Mi", 1 << 20 },
			      { "Gi", 1 << 30 } };
		for (size_t u = 0; end && u < ARRAY_SIZE(units); u++)
			if (strcmp(end, units[u].sfx) == 0)
				return v * units[u].mul;
	}
	return 0;
}

void pod_attachment(const struct pod *p, const char *pod_cidr, struct cni_port *ports,
		    struct cni_attachment *a)
{
	static const char *const protos[] = { "tcp", "udp", "sctp" };
	const struct pod_config *c = &p->info.cfg;
	for (size_t i = 0; i < c->n_ports; i++)
		ports[i] = (struct cni_port){ protos[c->ports[i].protocol], c->ports[i].host_port,
					      c->ports[i].container_port, c->ports[i].host_ip };
	bool ns_ok = p->info.netns_path && proc_ns_is_pinned(p->info.netns_path);
	*a = (struct cni_attachment){
		.container_id = p->info.id,
		.netns = ns_ok ? p->info.netns_path : "",
		.pod_name = c->name,
		.pod_namespace = c->namespace,
		.pod_uid = c->uid,
		.ports = ports,
		.n_ports = c->n_ports,
		.pod_cidr = pod_cidr,
		.ingress_bps = bandwidth(c, "kubernetes.io/ingress-bandwidth"),
		.egress_bps = bandwidth(c, "kubernetes.io/egress-bandwidth"),
	};
	if (c->has_dns) {
		a->dns_servers = c->dns.servers;
		a->dns_searches = c->dns.searches;
		a->dns_options = c->dns.options;
	}
}

static int cni_attach(struct pod_manager *m, struct pod *p, struct err *err)
{
	struct cni_port *ports = xcalloc(p->info.cfg.n_ports + 1, sizeof(*ports));
	cleanup_free char *cidr = pod_manager_pod_cidr(m);
	struct cni_attachment a;
	pod_attachment(p, cidr, ports, &a);
	if (p->deadline_ns) {
		/* What is left, less a quarter (at most a second) to undo it. */
		uint64_t now = mono_ns(), left = p->deadline_ns > now ? p->deadline_ns - now : 0;
		uint64_t keep = left / 4 < 1000000000u ? left / 4 : 1000000000u;
		a.timeout_ms = (left - keep) / 1000000 ? (left - keep) / 1000000 : 1;
	}
	struct cni_result res;
	p->cni_pending = true;
	int r = cni_add(m->cni, &a, &res, err);
	if (r >= 0) {
		p->info.network_name = TAKE_PTR(res.network);
		p->info.ips = TAKE_PTR(res.ips);
	} else {
		/* cni_add deleted what it had added. */
		p->cni_pending = false;
	}
	cni_result_done(&res);
	free(ports);
	return r;
}

/* CNI ADD on a thread of its own, while the rest of the pod is made. */
struct cni_job {
	struct pod_manager *m;
	struct pod *p;
	struct err err;
	int r;
	bool threaded;
	pthread_t thread;
};

static void *cni_job_run(void *arg)
{
	struct cni_job *j = arg;
	j->r = cni_attach(j->m, j->p, &j->err);
	return NULL;
}

/* Start the job; without a thread it runs here and now. */
static int cni_job_start(struct cni_job *j)
{
	j->threaded = pthread_create(&j->thread, NULL, cni_job_run, j) == 0;
	if (!j->threaded)
		cni_job_run(j);
	return j->threaded ? 0 : j->r;
}

static int cni_job_wait(struct cni_job *j)
{
	if (j->threaded)
		(void)pthread_join(j->thread, NULL);
	j->threaded = false;
	return j->r;
}

/* The pod's own network, UTS and IPC namespaces (those not the node's),
 * pinned under its directory; the hostname set in the new UTS one. */
static int pin_namespaces(struct pod *p, struct err *err)
{
	const struct pod_config *c = &p->info.cfg;
	bool host_net = c->ns_network == POD_NS_NODE, host_ipc = c->ns_ipc == POD_NS_NODE;
	cleanup_free char *nsdir = xasprintf("%s/ns", p->info.dir);
	unsigned which = (host_net ? 0 : PROC_NS_NET | PROC_NS_UTS) | (host_ipc ? 0 : PROC_NS_IPC);
	const char *hn = host_net ? NULL : p->info.hostname;
	int r = pod_config_userns(c) ? pod_userns_pin(p, nsdir, which, hn, err)
				     : proc_ns_pin(nsdir, which, hn, err);
	if (r < 0)
		return err_wrap(err, "pin namespaces");
	if (!host_net) {
		p->info.netns_path = xasprintf("%s/net", nsdir);
		p->info.utsns_path = xasprintf("%s/uts", nsdir);
	}
	if (!host_ipc)
		p->info.ipcns_path = xasprintf("%s/ipc", nsdir);
	return 0;
}

static int setup(struct pod_manager *m, struct pod *p, struct pod_steps *t, struct err *err)
{
	const struct pod_config *c = &p->info.cfg;
	bool host_net = c->ns_network == POD_NS_NODE, host_ipc = c->ns_ipc == POD_NS_NODE;
	p->info.dir = xasprintf("%s/pods/%s", m->runroot, p->info.id);
	p->info.hostname = effective_hostname(c);
	cleanup_close int dfd = mkdir_abs(p->info.dir, err);
	if (dfd < 0)
		return dfd;
	/* Kubelet makes the log directory; a bare CRI client may not. */
	if (!str_empty(c->log_directory)) {
		cleanup_close int ldfd = mkdir_abs(c->log_directory, err);
		if (ldfd < 0)
			return err_wrap(err, "log directory");
	}
	pod_steps_mark(t, "dirs");
	int r = pin_namespaces(p, err);
	if (r < 0)
		return r;
	pod_steps_mark(t, "pin");
	/* Sysctls before CNI ADD: a plugin's own settings win, as before. */
	if ((r = apply_sysctls(p, err)) < 0)
		return r;
	pod_steps_mark(t, "sysctls");
	if (!host_net && !m->cni)
		return err_msg(err, -ENOENT, "pod networking is not configured");
	/* The CNI chain needs only the network namespace: the rest of the pod
	 * is made while its plugins run. */
	struct cni_job job = { .m = m, .p = p, .err = ERR_INIT };
	if (!host_net && cni_job_start(&job) < 0)
		return err_move(err, &job.err);
	r = setup_cgroup(m, p, err);
	pod_steps_mark(t, "cgroup");
	if (r >= 0 && c->ns_pid == POD_NS_POD && (r = start_pause(m, p, err)) < 0)
		err_wrap(err, "start ocid-pause");
	pod_steps_mark(t, "pause");
	if (r >= 0)
		r = write_files(p, dfd, err);
	if (r >= 0 && !host_ipc)
		r = mount_shm(m, p, err);
	pod_steps_mark(t, "files");
	int q = host_net ? 0 : cni_job_wait(&job);
	pod_steps_mark(t, "cni_wait");
	if (r >= 0 && q < 0)
		r = err_move(err, &job.err);
	err_done(&job.err);
	if (r < 0)
		return r;
	r = write_hosts(p, dfd, err);
	pod_steps_mark(t, "hosts");
	return r;
}

/* Our pause process: still the init of the pinned PID namespace. */
static bool is_our_pause(const struct pod_info *i)
{
	if (i->pause_pid <= 0 || !i->pidns_path || !proc_ns_is_pinned(i->pidns_path))
		return false;
	struct stat a, b;
	cleanup_free char *ns = xasprintf("/proc/%d/ns/pid", (int)i->pause_pid);
	return stat(ns, &a) == 0 && stat(i->pidns_path, &b) == 0 && a.st_ino == b.st_ino &&
	       a.st_dev == b.st_dev;
}

static void cni_detach(struct pod_manager *m, struct pod *p)
{
	if (!p->cni_pending || !m->cni)
		return;
	struct cni_port *ports = xcalloc(p->info.cfg.n_ports + 1, sizeof(*ports));
	cleanup_free char *cidr = pod_manager_pod_cidr(m);
	struct cni_attachment a;
	pod_attachment(p, cidr, ports, &a);
	cleanup_err struct err e = ERR_INIT;
	if (cni_del(m->cni, &a, &e) < 0)
		/* Never fails the stop: retried at the next stop or remove. */
		log_warn("CNI DEL failed; will retry", "pod=%s error=%s", p->info.id,
			 log_q(err_str(&e)));
	else
		p->cni_pending = false;
	free(ports);
}

void pod_teardown(struct pod_manager *m, struct pod *p, bool final, struct pod_steps *t)
{
	struct pod_info *i = &p->info;
	cni_detach(m, p);
	pod_steps_mark(t, "cni");
	/* While a CNI DEL is owed, the network namespace stays pinned: the
	 * plugins need it to find what to undo (bridge finds its masquerade
	 * rules from the addresses inside). A remove gives up on it. */
	unsigned unpin = PROC_NS_IPC | PROC_NS_UTS | PROC_NS_PID | PROC_NS_USER;
	if (!p->cni_pending || final)
		unpin |= PROC_NS_NET;
	/* A pause that has not yet set up its sigwait would lose the SIGTERM. */
	if (is_our_pause(i) &&
	    (proc_signal_wait_deliverable(i->pause_pid, SIGTERM, PAUSE_STOP_MS) < 0 ||
	     proc_kill_wait(i->pause_pid, SIGTERM, PAUSE_STOP_MS) < 0) &&
	    proc_kill_wait(i->pause_pid, SIGKILL, PAUSE_STOP_MS) < 0)
		log_warn("ocid-pause did not exit", "pod=%s pid=%d", i->id, (int)i->pause_pid);
	i->pause_pid = 0;
	pod_steps_mark(t, "pause");
	if (i->shm_path && umount2(i->shm_path, MNT_DETACH) < 0 && errno != EINVAL &&
	    errno != ENOENT)
		log_warn("cannot unmount shm", "pod=%s error=%s", i->id, strerror(errno));
	pod_steps_mark(t, "shm");
	if (!i->dir)
		return;
	cleanup_free char *nsdir = xasprintf("%s/ns", i->dir);
	cleanup_err struct err e = ERR_INIT;
	if (proc_ns_unpin(nsdir, unpin, &e) < 0)
		log_warn("cannot unpin namespaces", "pod=%s error=%s", i->id, log_q(err_str(&e)));
	pod_steps_mark(t, "unpin");
}

/* Remove what a pod leaves on disk: its cgroup and its directory. */
static void remove_leftovers(struct pod_manager *m, struct pod *p, struct pod_steps *t)
{
	cleanup_err struct err e = ERR_INIT;
	if (is_cgroupfs(m) && p->info.cgroup_parent &&
	    pod_cgroup_remove(p->info.cgroup_parent, &e) < 0) {
		log_warn("cannot remove pod cgroup", "pod=%s error=%s", p->info.id,
			 log_q(err_str(&e)));
		err_done(&e);
	}
	pod_steps_mark(t, "cgroup");
	if (!p->info.dir)
		return;
	cleanup_free char *pods = xasprintf("%s/pods", m->runroot);
	cleanup_close int dfd = open(pods, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (dfd >= 0 && fs_rm_rf_at(dfd, p->info.id, &e) < 0)
		log_warn("cannot remove pod directory", "pod=%s error=%s", p->info.id,
			 log_q(err_str(&e)));
	pod_steps_mark(t, "dir");
}

int pod_run(struct pod_manager *m, const struct pod_config *c, char **ret_id, struct err *err)
{
	return pod_run_until(m, c, 0, ret_id, err);
}

int pod_run_until(struct pod_manager *m, const struct pod_config *c, uint64_t deadline_ns,
		  char **ret_id, struct err *err)
{
	int r = validate(m, c, err);
	if (r < 0)
		return r;
	struct pod *p = pod_alloc();
	r = id_new(p->info.id);
	if (r < 0) {
		pthread_mutex_destroy(&p->lock);
		free(p);
		return err_set(err, r, "new pod id");
	}
	pod_config_copy(&p->info.cfg, c);
	p->deadline_ns = deadline_ns;
	p->info.reserved_name = pod_config_reserved_name(c);
	p->info.created_ns = wall_ns();
	p->info.state = POD_READY;
	r = pod_index_add(m, p, err);
	if (r < 0) {
		p->refs = 1;
		pod_unref(m, p);
		return r;
	}
	pthread_mutex_lock(&p->lock);
	struct pod_steps t;
	pod_steps_start(&t);
	r = setup(m, p, &t, err);
	p->deadline_ns = 0;
	if (r >= 0)
		r = pod_save(m, p, err);
	pod_steps_mark(&t, "db");
	pod_steps_log(&t, "pod run steps", p->info.id);
	if (r < 0) {
		pod_teardown(m, p, true, NULL);
		remove_leftovers(m, p, NULL);
		pthread_mutex_unlock(&p->lock);
		pod_index_remove(m, p);
		return r;
	}
	*ret_id = xstrdup(p->info.id);
	pthread_mutex_unlock(&p->lock);
	pod_index_publish(m, p);
	return 0;
}

/* Stop and remove begin alike: find the pod, start the step clock, and
 * have the container manager stop or remove its containers first (`ctrs`,
 * named `what` in an error). 1 with *ret_p referenced; 0 when there is no
 * such pod (nothing to do); -errno. */
static int pod_ctrs_first(struct pod_manager *m, const char *id,
			  int (*ctrs)(void *, const char *, struct err *), const char *what,
			  struct pod **ret_p, struct pod_steps *t, struct err *err)
{
	cleanup_err struct err e = ERR_INIT;
	int r = pod_find_ref(m, id, ret_p, &e);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return err_move(err, &e);
	pod_steps_start(t);
	if (ctrs && (r = ctrs(m->ctrs_data, (*ret_p)->info.id, err)) < 0) {
		err_wrap(err, "%s containers of pod %s", what, (*ret_p)->info.id);
		pod_unref(m, *ret_p);
		return r;
	}
	pod_steps_mark(t, "ctrs");
	return 1;
}

int pod_stop(struct pod_manager *m, const char *id, struct err *err)
{
	struct pod *p = NULL;
	struct pod_steps t;
	int r = pod_ctrs_first(m, id, m->stop_ctrs, "stop", &p, &t, err);
	if (r <= 0)
		return r;
	pthread_mutex_lock(&p->lock);
	pod_teardown(m, p, false, &t);
	p->info.state = POD_NOTREADY;
	r = p->removed ? 0 : pod_save(m, p, err);
	pod_steps_mark(&t, "db");
	pod_steps_log(&t, "pod stop steps", p->info.id);
	pthread_mutex_unlock(&p->lock);
	pod_unref(m, p);
	return r;
}

int pod_remove(struct pod_manager *m, const char *id, struct err *err)
{
	struct pod *p = NULL;
	struct pod_steps t;
	int r = pod_ctrs_first(m, id, m->remove_ctrs, "remove", &p, &t, err);
	if (r <= 0)
		return r;
	pthread_mutex_lock(&p->lock);
	if (p->removed) {
		pthread_mutex_unlock(&p->lock);
		pod_unref(m, p);
		return 0;
	}
	pod_teardown(m, p, true, &t);
	if (p->cni_pending)
		log_warn("giving up on CNI DEL for a removed pod", "pod=%s", p->info.id);
	remove_leftovers(m, p, &t);
	r = db_pod_delete(m->db, p->info.id, err);
	pod_steps_mark(&t, "db");
	pod_steps_log(&t, "pod remove steps", p->info.id);
	pthread_mutex_unlock(&p->lock);
	if (r >= 0)
		pod_index_remove(m, p);
	pod_unref(m, p);
	return r;
}

/* A pod directory without a record: ocid died inside RunPodSandbox. */
static void reap_one(struct pod_manager *m, const char *id)
{
	struct pod *p = pod_alloc();
	snprintf(p->info.id, sizeof(p->info.id), "%s", id);
	p->info.dir = xasprintf("%s/pods/%s", m->runroot, id);
	cleanup_free char *net = xasprintf("%s/ns/net", p->info.dir);
	if (proc_ns_is_pinned(net)) {
		p->info.netns_path = TAKE_PTR(net);
		p->cni_pending = true; /* DEL is harmless if ADD never ran */
	}
	p->info.shm_path = xasprintf("%s/shm", p->info.dir);
	if (is_cgroupfs(m)) {
		cleanup_free char *name = xasprintf("pod-%s", id);
		(void)oci_cgroups_path(OCI_CGROUP_CGROUPFS, m->cgroup_parent, name,
				       &p->info.cgroup_parent, NULL);
	}
	log_info("removing a pod left half-created", "pod=%s", id);
	pod_teardown(m, p, true, NULL);
	remove_leftovers(m, p, NULL);
	p->refs = 1;
	pod_unref(m, p);
}

void pod_reap_orphans(struct pod_manager *m)
{
	cleanup_free char *dir = xasprintf("%s/pods", m->runroot);
	DIR *d = opendir(dir);
	if (!d)
		return;
	char **orphans = NULL;
	struct dirent *e;
	while ((e = readdir(d)))
		if (id_valid(e->d_name) && !id_set_contains(&m->ids, e->d_name))
			strv_push(&orphans, e->d_name);
	closedir(d);
	for (size_t i = 0; orphans && orphans[i]; i++)
		reap_one(m, orphans[i]);
	strv_free(orphans);
}
