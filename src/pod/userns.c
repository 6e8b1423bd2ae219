/* Pods with a user namespace of their own (userns_options mode POD): the
 * checks kubelet's mappings must pass, and the pinned namespace that owns
 * the pod's network, IPC and UTS namespaces. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "base/base.h"
#include "pod/pod_int.h"
#include "proc/proc.h"

static const char *mode_name(enum pod_ns_mode m)
{
	switch (m) {
	case POD_NS_POD:
		return "POD";
	case POD_NS_CONTAINER:
		return "CONTAINER";
	case POD_NS_NODE:
		return "NODE";
	case POD_NS_TARGET:
		return "TARGET";
	}
	return "unknown";
}

static int map_check(const char *what, const struct oci_idmap *m, struct err *err)
{
	if (m->container_id != 0)
		return err_msg(err, -EINVAL,
			       "user namespace %s mapping must start at container id 0, not %u",
			       what, m->container_id);
	if (m->length == 0)
		return err_msg(err, -EINVAL, "user namespace %s mapping has length 0", what);
	if (m->host_id == 0)
		return err_msg(err, -EINVAL,
			       "user namespace %s mapping %u-%u overlaps the host's root (0)", what,
			       m->host_id, m->host_id + m->length - 1);
	/* 4294967295 is (uid_t)-1, never a valid id. */
	if ((uint64_t)m->host_id + m->length > UINT32_MAX)
		return err_msg(
		    err, -EINVAL,
		    "user namespace %s mapping from host id %u with length %u is out of range",
		    what, m->host_id, m->length);
	return 0;
}

int pod_userns_check(const struct pod_config *c, struct err *err)
{
	if (!c->has_userns)
		return 0;
	if (c->ns_user == POD_NS_NODE) {
		if (c->n_uid_maps || c->n_gid_maps)
			return err_msg(err, -EINVAL,
				       "user namespace mode NODE (the host's) takes no mappings");
		return 0;
	}
	if (c->ns_user != POD_NS_POD)
		return err_msg(err, -EINVAL,
			       "user namespace mode %s is not supported: POD or NODE only",
			       mode_name(c->ns_user));
	if (c->n_uid_maps != 1 || c->n_gid_maps != 1)
		return err_msg(
		    err, -EINVAL,
		    "a pod user namespace needs exactly one uid and one gid mapping, not %zu and %zu",
		    c->n_uid_maps, c->n_gid_maps);
	int r = map_check("uid", &c->uid_maps[0], err);
	if (r >= 0)
		r = map_check("gid", &c->gid_maps[0], err);
	if (r < 0)
		return r;
	if (c->ns_network == POD_NS_NODE || c->ns_ipc == POD_NS_NODE || c->ns_pid == POD_NS_NODE)
		return err_msg(
		    err, -EINVAL,
		    "a pod with its own user namespace cannot use the host's network, IPC or PID namespace");
	return 0;
}

int pod_userns_pin(struct pod *p, const char *nsdir, unsigned which, const char *hostname,
		   struct err *err)
{
	const struct pod_config *c = &p->info.cfg;
	const struct oci_idmap *u = &c->uid_maps[0], *g = &c->gid_maps[0];
	struct proc_idmap uid = { u->container_id, u->host_id, u->length };
	struct proc_idmap gid = { g->container_id, g->host_id, g->length };
	int fd = proc_userns_new(&uid, &gid, err);
	if (fd < 0)
		return fd;
	int r = proc_ns_pin_userns(nsdir, which, hostname, fd, err);
	close(fd);
	if (r >= 0)
		p->info.userns_path = xasprintf("%s/user", nsdir);
	return r;
}
