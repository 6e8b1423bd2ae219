/* Process metrics of ocid itself, and defunct processes on the node. */
#include "metrics/metrics_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* /proc/<pid>/stat is bounded by the kernel (comm is at most 16 bytes). */
#define STAT_MAX 4096

/* The state field of a stat line: comm may hold spaces and parentheses,
 * so it follows the last ')' and a space. NULL when there is none. */
static const char *stat_state_field(const char *text, size_t len)
{
	const char *close = NULL;
	for (size_t i = 0; i < len; i++)
		if (text[i] == ')')
			close = text + i;
	if (!close || (size_t)(close - text) + 3 > len || close[1] != ' ')
		return NULL;
	return close + 2;
}

char metrics_proc_stat_state(const char *text, size_t len)
{
	const char *st = stat_state_field(text, len);
	char c = st ? *st : 0;
	return c >= 'A' && c <= 'z' ? c : 0;
}

int metrics_proc_stat_parse(const char *text, size_t len, long ticks_per_s, long page,
			    double boot_time_s, struct metrics_proc *ret)
{
	const char *p = stat_state_field(text, len);
	if (!p || !metrics_proc_stat_state(text, len) || ticks_per_s <= 0)
		return -EINVAL;
	/* Fields after comm, numbered as in proc(5) from 3 (state). */
	uint64_t f[25] = { 0 };
	size_t nf = 0;
	const char *end = text + len;
	while (p < end && nf < ARRAY_SIZE(f)) {
		const char *q = p;
		while (q < end && *q != ' ' && *q != '\n')
			q++;
		if (nf > 0) {
			char num[32];
			size_t n = (size_t)(q - p);
			if (n == 0 || n >= sizeof(num))
				return -EINVAL;
			memcpy(num, p, n);
			num[n] = '\0';
			/* Some fields (priority, nice) may be negative: keep 0. */
			if (num[0] != '-' && str_to_u64(num, 10, UINT64_MAX, &f[nf]) < 0)
				return -EINVAL;
		}
		nf++;
		p = q < end ? q + 1 : q;
	}
	/* f[i] holds field i+3: utime 14, stime 15, num_threads 20,
	 * starttime 22, vsize 23, rss 24. */
	if (nf < 22)
		return -EINVAL;
	*ret = (struct metrics_proc){
		.cpu_seconds = (double)(f[11] + f[12]) / (double)ticks_per_s,
		.threads = f[17],
		.start_time_s = boot_time_s + (double)f[19] / (double)ticks_per_s,
		.vsize_bytes = f[20],
		.rss_bytes = f[21] * (uint64_t)page,
	};
	return 0;
}

static ssize_t read_small(int dirfd, const char *path, char *buf, size_t cap)
{
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, cap - 1);
	int e = errno;
	close(fd);
	if (n < 0)
		return -e;
	buf[n] = '\0';
	return n;
}

static double boot_time(void)
{
	char buf[STAT_MAX];
	if (read_small(AT_FDCWD, "/proc/stat", buf, sizeof(buf)) < 0)
		return 0;
	const char *b = strstr(buf, "\nbtime ");
	if (!b)
		return 0;
	return strtod(b + 7, NULL);
}

static uint64_t count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return 0;
	uint64_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n > 0 ? n - 1 : 0; /* the directory's own fd */
}

/* Processes in state Z anywhere on the node (CRI-O's meaning): a reaper
 * that fails shows here. */
static uint64_t count_defunct(void)
{
	DIR *d = opendir("/proc");
	if (!d)
		return 0;
	uint64_t n = 0;
	struct dirent *e;
	char path[sizeof(e->d_name) + 8], buf[STAT_MAX];
	while ((e = readdir(d))) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "%s/stat", e->d_name);
		ssize_t len = read_small(dirfd(d), path, buf, sizeof(buf));
		if (len > 0 && metrics_proc_stat_state(buf, (size_t)len) == 'Z')
			n++;
	}
	closedir(d);
	return n;
}

void metrics_proc_collect(struct metrics_out *out)
{
	char buf[STAT_MAX];
	struct metrics_proc p = { 0 };
	ssize_t len = read_small(AT_FDCWD, "/proc/self/stat", buf, sizeof(buf));
	if (len > 0)
		(void)metrics_proc_stat_parse(buf, (size_t)len, sysconf(_SC_CLK_TCK),
					      sysconf(_SC_PAGESIZE), boot_time(), &p);
	struct rlimit rl;
	p.open_fds = count_fds();
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		p.max_fds = rl.rlim_cur;
	metrics_out_family(out, "process_resident_memory_bytes", "gauge",
			   "Resident memory size of ocid in bytes.");
	metrics_out_u64(out, "process_resident_memory_bytes", NULL, p.rss_bytes);
	metrics_out_family(out, "process_virtual_memory_bytes", "gauge",
			   "Virtual memory size of ocid in bytes.");
	metrics_out_u64(out, "process_virtual_memory_bytes", NULL, p.vsize_bytes);
	metrics_out_family(out, "process_open_fds", "gauge", "Open file descriptors of ocid.");
	metrics_out_u64(out, "process_open_fds", NULL, p.open_fds);
	metrics_out_family(out, "process_max_fds", "gauge",
			   "Limit of open file descriptors of ocid.");
	metrics_out_u64(out, "process_max_fds", NULL, p.max_fds);
	metrics_out_family(out, "process_threads", "gauge", "Threads of ocid.");
	metrics_out_u64(out, "process_threads", NULL, p.threads);
	metrics_out_family(out, "process_cpu_seconds_total", "counter",
			   "User and system CPU time of ocid in seconds.");
	metrics_out_double(out, "process_cpu_seconds_total", NULL, p.cpu_seconds);
	metrics_out_family(out, "process_start_time_seconds", "gauge",
			   "Start time of ocid since the epoch in seconds.");
	metrics_out_double(out, "process_start_time_seconds", NULL, p.start_time_s);
	metrics_out_family(out, "ocid_processes_defunct", "gauge",
			   "Defunct (zombie) processes on the node.");
	metrics_out_u64(out, "ocid_processes_defunct", NULL, count_defunct());
}
