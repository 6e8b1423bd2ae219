/* The way out of a damaged root: `ocid check` reports what is wrong with
 * the database; `ocid wipe` (ocid stopped) kills what ocid ran (through
 * the runtime; then the pods' networks are deleted and what is left in
 * their PID namespaces and cgroups killed), unmounts what it mounted and
 * removes its state, keeping the old database aside,
 * so the next start is a node's first: kubelet makes its pods and
 * containers again and images are pulled again. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>

#include "base/fs.h"
#include "base/id.h"
#include "cni/cni.h"
#include "cmd/ocid/ocid.h"
#include "pod/pod.h"
#include "proc/proc.h"

#define RUNTIME_DELETE_TIMEOUT_MS 30000

static int load(struct config *cfg, int argc, char **argv)
{
	cleanup_err struct err err = ERR_INIT;
	config_init(cfg);
	if (config_load(cfg, argc, argv, &err) < 0) {
		fprintf(stderr, "ocid: %s\n", err_str(&err));
		return -1;
	}
	return 0;
}

int ocid_check(int argc, char **argv)
{
	struct config cfg;
	if (load(&cfg, argc, argv) < 0) {
		config_done(&cfg);
		return 2;
	}
	cleanup_err struct err err = ERR_INIT;
	char **problems = NULL;
	int r = db_check(cfg.root, &problems, &err);
	if (r == -ENOENT) {
		printf("%s/ocid.db: none yet (a root ocid has not started on)\n", cfg.root);
		r = 0;
	} else if (r == 0) {
		printf("%s/ocid.db: ok (schema %d)\n", cfg.root, db_schema_latest());
	} else if (r == -EBADMSG) {
		printf("%s/ocid.db: damaged\n", cfg.root);
		for (size_t i = 0; problems && problems[i] && i < 50; i++)
			printf("  %s\n", problems[i]);
		printf("'ocid wipe' starts afresh (every image and container is forgotten; the "
		       "database is kept aside)\n");
	} else {
		fprintf(stderr, "ocid: check: %s\n", err_str(&err));
	}
	strv_free(problems);
	config_done(&cfg);
	return r == 0 ? 0 : r == -EBADMSG ? 1 : 2;
}

/* `<runtime> delete --force` of every container of the runtime's root. */
static unsigned kill_containers(const struct config *cfg)
{
	cleanup_free char *rroot = xasprintf("%s/runtime", cfg->runroot);
	DIR *d = opendir(rroot);
	unsigned n = 0;
	if (!d)
		return 0;
	static char *const env[] = {
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", NULL
	};
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char *argv[] = { cfg->runtime, "--root",   rroot, "delete",
				 "--force",    de->d_name, NULL };
		struct proc_opts o = { .argv = argv,
				       .env = env,
				       .timeout_ms = RUNTIME_DELETE_TIMEOUT_MS };
		struct proc_result res = { 0 };
		cleanup_err struct err err = ERR_INIT;
		if (proc_run(&o, &res, &err) < 0 || res.status != 0)
			fprintf(stderr, "ocid: wipe: %s delete %s: %s\n", cfg->runtime, de->d_name,
				err.msg ? err_str(&err) : res.errout);
		else
			n++;
		proc_result_done(&res);
	}
	closedir(d);
	return n;
}

/* CNI DEL of every pod with an ADD in the cache under the root (the
 * database is not needed), in its network namespace while it is pinned,
 * else without one (after a reboot): the plugins undo what they did
 * outside the root (veth, host ports' NAT rules, an operator network's
 * address reservations). How many; each failure into *problems. */
static unsigned detach_networks(const struct config *cfg, char ***problems)
{
	cleanup_err struct err err = ERR_INIT;
	struct cni *cni = NULL;
	if (ocid_cni_new(cfg, &cni, &err) < 0) {
		strv_push(problems, err_str(&err));
		return 0;
	}
	char **ids = NULL;
	int r = cni_cache_list(cni, &ids);
	if (r < 0)
		strv_push_take(problems, xasprintf("CNI cache: %s", strerror(-r)));
	unsigned n = 0;
	for (size_t i = 0; ids && ids[i]; i++) {
		if (!id_valid(ids[i]))
			continue;
		cleanup_free char *ns = xasprintf("%s/pods/%s/ns/net", cfg->runroot, ids[i]);
		struct cni_attachment a = { .container_id = ids[i],
					    .netns = proc_ns_is_pinned_other(ns, "net") ? ns : "" };
		cleanup_err struct err e = ERR_INIT;
		if (cni_del(cni, &a, &e) < 0)
			strv_push_take(problems,
				       xasprintf("pod %s: CNI DEL: %s", ids[i], err_str(&e)));
		else
			n++;
	}
	strv_free(ids);
	cni_free(cni);
	return n;
}

static bool under(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	return strncmp(path, dir, n) == 0 && path[n] == '/';
}

/* Unmount (detached) every mount below root or runroot, deepest first. */
static unsigned unmount_all(const struct config *cfg)
{
	cleanup_free char *text = NULL;
	size_t len = 0;
	if (fs_read_file(AT_FDCWD, "/proc/self/mountinfo", 64 << 20, &text, &len, NULL) < 0)
		return 0;
	char **points = NULL;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		char mp[4096];
		/* id parent major:minor root mount-point ... */
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1)
			continue;
		/* Octal escapes (\040 for a space) back to bytes. */
		char *w = mp;
		for (const char *p = mp; *p; p++) {
			if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] && p[3]) {
				*w++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
				p += 3;
			} else {
				*w++ = *p;
			}
		}
		*w = '\0';
		if (under(mp, cfg->root) || under(mp, cfg->runroot))
			strv_push(&points, mp);
	}
	unsigned n = 0;
	size_t count = strv_len(points);
	/* mountinfo lists parents before children: undo from the end. */
	for (size_t i = count; points && i-- > 0;)
		if (umount2(points[i], MNT_DETACH) == 0)
			n++;
	strv_free(points);
	return n;
}

/* Remove everything in `dir` but the lock and `keep`. */
static int empty_dir(const char *dir, const char *keep, struct err *err)
{
	cleanup_close int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : err_set(err, -errno, "open '%s'", dir);
	DIR *d = fdopendir(dup(fd));
	if (!d)
		return err_set(err, -errno, "read '%s'", dir);
	char **names = NULL;
	struct dirent *de;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
		    strcmp(de->d_name, "ocid.lock") != 0 &&
		    (!keep || strcmp(de->d_name, keep) != 0))
			strv_push(&names, de->d_name);
	closedir(d);
	int r = 0;
	for (size_t i = 0; names && names[i] && r >= 0; i++)
		r = fs_rm_rf_at(fd, names[i], err);
	strv_free(names);
	return r < 0 ? err_wrap(err, "empty '%s'", dir) : 0;
}

int ocid_wipe(int argc, char **argv)
{
	struct config cfg;
	if (load(&cfg, argc, argv) < 0) {
		config_done(&cfg);
		return 2;
	}
	cleanup_err struct err err = ERR_INIT;
	cleanup_close int run_lock = -1, root_lock = -1;
	int r = ocid_lock_take(cfg.runroot, &run_lock, &err);
	if (r >= 0)
		r = ocid_lock_take(cfg.root, &root_lock, &err);
	if (r < 0) {
		fprintf(stderr, "ocid: wipe: %s%s\n", err_str(&err),
			r == -EBUSY ? " (stop ocid first)" : "");
		config_done(&cfg);
		return 1;
	}
	unsigned killed = kill_containers(&cfg);
	char **problems = NULL;
	unsigned nets = detach_networks(&cfg, &problems);
	unsigned cgroups = pod_leftovers_wipe(cfg.runroot, &problems);
	for (size_t i = 0; problems && problems[i]; i++)
		fprintf(stderr, "ocid: wipe: left behind: %s\n", problems[i]);
	bool left = problems != NULL;
	strv_free(problems);
	unsigned unmounted = unmount_all(&cfg);
	char keep[64];
	time_t now = time(NULL);
	struct tm tm;
	strftime(keep, sizeof(keep), "ocid.db.wiped-%Y%m%dT%H%M%S", gmtime_r(&now, &tm));
	cleanup_free char *db = xasprintf("%s/ocid.db", cfg.root);
	cleanup_free char *kept = xasprintf("%s/%s", cfg.root, keep);
	bool had_db = rename(db, kept) == 0;
	r = empty_dir(cfg.root, had_db ? keep : NULL, &err);
	if (r >= 0)
		r = empty_dir(cfg.runroot, NULL, &err);
	if (r < 0) {
		fprintf(stderr, "ocid: wipe: %s\n", err_str(&err));
	} else {
		printf("wiped %s and %s: %u containers killed, %u pod networks and %u pod "
		       "cgroups removed, %u mounts undone",
		       cfg.root, cfg.runroot, killed, nets, cgroups, unmounted);
		if (had_db)
			printf("; the old database is kept as %s", kept);
		printf("\n");
	}
	config_done(&cfg);
	return r < 0 || left ? 1 : 0;
}
