/* stats_net_read on a real network namespace: pinned by a bind mount in a
 * temp dir (as the pod code pins them), joined to the host by a veth pair
 * with unique names and a /30 of its own; datagrams are sent from the host
 * to the address inside that namespace only. Needs root and iproute2.
 * Everything is removed afterwards. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/base.h"
#include "base/fs.h"
#include "stats/stats.h"

#define N_DGRAMS 50
#define DGRAM_LEN 1000

struct fixture {
	char dir[64];  /* temp dir */
	char *ns;      /* dir/net: the pinned namespace */
	bool mounted;  /* ns is a bind mount */
	char host[16]; /* host end of the veth pair */
	char peer[16]; /* end inside the namespace */
	char host_ip[16];
	char peer_ip[16];
	bool link_made;
	pid_t holder; /* keeps the namespace alive until it is pinned */
};

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Run argv (NULL-terminated), inside the namespace at `ns` when not NULL.
 * Returns the exit status, or -1. */
static int run(const char *ns, char *const argv[])
{
	int nsfd = -1;
	if (ns && (nsfd = open(ns, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		if (nsfd >= 0 && setns(nsfd, CLONE_NEWNET) < 0)
			_exit(126);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (nsfd >= 0)
		(void)close(nsfd);
	int st;
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#define RUN(ns, ...) run(ns, (char *const[]){ __VA_ARGS__, NULL })

/* Make a namespace and pin it on f->ns: a child unshares, bind-mounts its
 * own ns file there (same mount namespace as ours) and waits to be killed. */
static int pin_netns(struct fixture *f)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	f->holder = fork();
	if (f->holder == 0) {
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		char ok = unshare(CLONE_NEWNET) == 0 &&
				  mount("/proc/self/ns/net", f->ns, NULL, MS_BIND, NULL) == 0
			      ? 'y'
			      : 'n';
		if (write(p[1], &ok, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	(void)close(p[1]);
	char ok = 'n';
	if (f->holder < 0 || read(p[0], &ok, 1) != 1)
		ok = 'n';
	(void)close(p[0]);
	f->mounted = ok == 'y';
	return f->mounted ? 0 : -1;
}

static int teardown(void **state);

static int setup_fixture(struct fixture *f)
{
	snprintf(f->dir, sizeof(f->dir), "/tmp/ocid-stats-net-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	f->ns = fs_path_join(f->dir, "net");
	int fd = open(f->ns, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	(void)close(fd);
	if (pin_netns(f) < 0) {
		fprintf(stderr, "could not pin a network namespace\n");
		return -1;
	}
	unsigned id = (unsigned)getpid();
	snprintf(f->host, sizeof(f->host), "ocsh%x", id & 0xffffff);
	snprintf(f->peer, sizeof(f->peer), "ocsp%x", id & 0xffffff);
	/* a /30 in 10.213.0.0/16 picked by pid: nothing else on this machine uses it */
	unsigned net = (id % 16384) * 4;
	snprintf(f->host_ip, sizeof(f->host_ip), "10.213.%u.%u", net / 256, net % 256 + 1);
	snprintf(f->peer_ip, sizeof(f->peer_ip), "10.213.%u.%u", net / 256, net % 256 + 2);
	char pid[16], host_cidr[24], peer_cidr[24];
	snprintf(pid, sizeof(pid), "%d", (int)f->holder);
	snprintf(host_cidr, sizeof(host_cidr), "%s/30", f->host_ip);
	snprintf(peer_cidr, sizeof(peer_cidr), "%s/30", f->peer_ip);
	if (RUN(NULL, "ip", "link", "add", f->host, "type", "veth", "peer", "name", f->peer) != 0)
		return -1;
	f->link_made = true;
	if (RUN(NULL, "ip", "link", "set", f->peer, "netns", pid) != 0 ||
	    RUN(NULL, "ip", "addr", "add", host_cidr, "dev", f->host) != 0 ||
	    RUN(NULL, "ip", "link", "set", f->host, "up") != 0 ||
	    RUN(f->ns, "ip", "addr", "add", peer_cidr, "dev", f->peer) != 0 ||
	    RUN(f->ns, "ip", "link", "set", f->peer, "up") != 0 ||
	    RUN(f->ns, "ip", "link", "set", "lo", "up") != 0)
		return -1;
	return 0;
}

static int setup(void **state)
{
	struct fixture *f = xnew(struct fixture);
	f->holder = -1;
	*state = f;
	if (setup_fixture(f) < 0) {
		(void)teardown(state);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	cleanup_err struct err err = ERR_INIT;
	if (f->link_made)
		(void)RUN(NULL, "ip", "link", "del", f->host);
	if (f->mounted)
		(void)umount2(f->ns, MNT_DETACH);
	if (f->holder > 0) {
		(void)kill(f->holder, SIGKILL);
		(void)waitpid(f->holder, NULL, 0);
	}
	if (f->dir[0])
		(void)fs_rm_rf_at(AT_FDCWD, f->dir, &err);
	free(f->ns);
	free(f);
	return 0;
}

static const struct stats_net_iface *find(const struct stats_net *n, const char *name)
{
	for (size_t i = 0; i < n->n_ifaces; i++)
		if (strcmp(n->ifaces[i].name, name) == 0)
			return &n->ifaces[i];
	return NULL;
}

static ino_t my_netns(void)
{
	struct stat st;
	assert_int_equal(stat("/proc/thread-self/ns/net", &st), 0);
	return st.st_ino;
}

static void send_dgrams(const struct fixture *f, int n)
{
	cleanup_close int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(s >= 0);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9) };
	assert_int_equal(inet_pton(AF_INET, f->peer_ip, &to.sin_addr), 1);
	char buf[DGRAM_LEN];
	memset(buf, 'o', sizeof(buf));
	for (int i = 0; i < n; i++)
		assert_int_equal(sendto(s, buf, sizeof(buf), 0, (struct sockaddr *)&to, sizeof(to)),
				 DGRAM_LEN);
}

static uint64_t peer_rx_packets(const struct fixture *f)
{
	cleanup_err struct err err = ERR_INIT;
	struct stats_net n = { 0 };
	if (stats_net_read(f->ns, &n, &err) < 0)
		fail_msg("%s", err_str(&err));
	const struct stats_net_iface *p = find(&n, f->peer);
	uint64_t v = p ? p->rx_packets : 0;
	stats_net_done(&n);
	return v;
}

/* Until the peer counts `want` packets (up to 5 s). */
static void wait_rx(const struct fixture *f, uint64_t want)
{
	for (int i = 0; i < 250 && peer_rx_packets(f) < want; i++)
		sleep_ms(20);
}

/* The path works end to end: the veth carries packets and the peer's
 * address is resolved (a new veth drops what it gets before its carrier
 * is up; ARP queues only a few datagrams). */
static void prime(const struct fixture *f)
{
	uint64_t start = peer_rx_packets(f);
	for (int i = 0; i < 250 && peer_rx_packets(f) == start; i++) {
		send_dgrams(f, 1);
		sleep_ms(20);
	}
	assert_true(peer_rx_packets(f) > start);
}

static void test_counters(void **state)
{
	struct fixture *f = *state;
	cleanup_err struct err err = ERR_INIT;
	ino_t before = my_netns();
	struct stats_net a = { 0 }, b = { 0 };
	prime(f);
	if (stats_net_read(f->ns, &a, &err) < 0)
		fail_msg("%s", err_str(&err));
	assert_int_equal(my_netns(), before);
	/* the namespace holds lo (never listed) and the peer only */
	assert_int_equal(a.n_ifaces, 1);
	assert_non_null(find(&a, f->peer));
	assert_null(find(&a, f->host));

	/* Counted, not timed: every datagram sent is waited for. */
	send_dgrams(f, N_DGRAMS);
	wait_rx(f, find(&a, f->peer)->rx_packets + N_DGRAMS);
	if (stats_net_read(f->ns, &b, &err) < 0)
		fail_msg("%s", err_str(&err));
	assert_int_equal(my_netns(), before);
	const struct stats_net_iface *pa = find(&a, f->peer), *pb = find(&b, f->peer);
	assert_non_null(pb);
	print_message("%s: rx %llu bytes %llu packets, tx %llu bytes\n", pb->name,
		      (unsigned long long)pb->rx_bytes, (unsigned long long)pb->rx_packets,
		      (unsigned long long)pb->tx_bytes);
	assert_true(pb->rx_bytes >= pa->rx_bytes + N_DGRAMS * DGRAM_LEN);
	assert_true(pb->rx_packets >= pa->rx_packets + N_DGRAMS);
	assert_true(pb->tx_bytes > pa->tx_bytes); /* ARP replies, port unreachables */
	assert_true(b.timestamp_ns > a.timestamp_ns);
	struct stats_net_iface total;
	stats_net_total(&b, &total);
	assert_int_equal(total.rx_bytes, pb->rx_bytes);

	/* our own namespace sees the host end, which sent them */
	struct stats_net self = { 0 };
	assert_int_equal(stats_net_read(NULL, &self, &err), 0);
	const struct stats_net_iface *h = find(&self, f->host);
	assert_non_null(h);
	assert_true(h->tx_bytes >= N_DGRAMS * DGRAM_LEN);
	assert_null(find(&self, "lo"));
	stats_net_done(&self);
	stats_net_done(&a);
	stats_net_done(&b);
}

static void test_errors(void **state)
{
	struct fixture *f = *state;
	cleanup_err struct err err = ERR_INIT;
	struct stats_net n = { 0 };
	cleanup_free char *missing = fs_path_join(f->dir, "nope");
	assert_int_equal(stats_net_read(missing, &n, &err), -ENOENT);
	assert_non_null(strstr(err_str(&err), "nope"));
	/* not a network namespace */
	assert_int_equal(stats_net_read("/proc/self/ns/uts", &n, &err), -EINVAL);
	assert_int_equal(stats_net_read("/proc/self/status", &n, &err), -EINVAL);
	assert_null(n.ifaces);
}

int main(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "needs root\n");
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counters),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
