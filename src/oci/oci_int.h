/* oci: declarations shared by the files of the module only. */
#pragma once

#include "base/json.h"
#include <stdint.h>
#include <sys/types.h>

#include "base/err.h"
#include "oci/oci.h"

struct oci_user;

/* The spec's "process" object for `c` with the resolved user and cwd. */
int oci_process_build(const struct oci_ctr_config *c, const struct oci_host *h,
		      const struct oci_user *u, const char *cwd, json_t **ret, struct err *err);

/* The spec's "mounts" array (CRI mounts checked, host dirs created, image
 * VOLUMEs made under rootfd) and linux.rootfsPropagation (NULL = unset). */
int oci_mounts_build(const struct oci_ctr_config *c, const struct oci_host *h, int rootfd,
		     const struct oci_user *u, json_t **ret, const char **ret_rootfs_propagation,
		     struct err *err);

/* The spec's "linux" object: namespaces, cgroupsPath, resources, devices,
 * masked/readonly paths, sysctls, seccomp. */
int oci_linux_build(const struct oci_ctr_config *c, const struct oci_host *h, uint64_t caps,
		    json_t **ret, struct err *err);

/* linux.seccomp for `s` (NULL *ret when unconfined). */
int oci_seccomp_build(const struct oci_seccomp *s, uint64_t caps, json_t **ret, struct err *err);

/* ---- process: args and env ---- */

/** Kubelet's rules for the process args: no CRI command and no CRI args →
 *  image Entrypoint + Cmd; CRI command → command + CRI args (image Cmd
 *  ignored); only CRI args → image Entrypoint + CRI args. -EINVAL when the
 *  result is empty. *ret is a new vector (strv_free). */
int oci_args_compose(char *const *img_entrypoint, char *const *img_cmd, char *const *command,
		     char *const *args, char ***ret, struct err *err);

/** Image env, then CRI envs replacing same-named entries in place (others
 *  appended); PATH=OCI_DEFAULT_PATH added when missing. Never fails. */
char **oci_env_merge(char *const *img_env, char *const *cri_envs);

/* ---- users: /etc/passwd and /etc/group of the rootfs ---- */

struct oci_passwd_ent {
	char *name;
	uint32_t uid;
	uint32_t gid;
	char *home;
};

struct oci_group_ent {
	char *name;
	uint32_t gid;
	char **members; /* NULL-terminated */
};

/** Parse one passwd line "name:pw:uid:gid:gecos:home:shell" (no newline
 *  needed, `len` bytes). -EINVAL for comments, blank, NIS (+/-) and
 *  malformed lines. Free with oci_passwd_ent_done. */
int oci_passwd_parse_line(const char *line, size_t len, struct oci_passwd_ent *ret);
void oci_passwd_ent_done(struct oci_passwd_ent *e);
/** Parse one group line "name:pw:gid:member,member". Like the above. */
int oci_group_parse_line(const char *line, size_t len, struct oci_group_ent *ret);
void oci_group_ent_done(struct oci_group_ent *e);

/* A user spec "user[:group]" as in the image config's User. */
struct oci_user_spec {
	char *user;  /* never NULL; "" when empty */
	char *group; /* NULL when no ':' */
};

/** Split "user[:group]". -EINVAL for an empty group after ':' or a group
 *  without a user. Free with oci_user_spec_done. */
int oci_user_spec_parse(const char *s, struct oci_user_spec *ret, struct err *err);
void oci_user_spec_done(struct oci_user_spec *u);

/* The resolved process user. */
struct oci_user {
	uint32_t uid;
	uint32_t gid;
	gid_t *groups; /* additional gids: primary first, then memberships (Merge), then CRI's */
	size_t n_groups;
	char *home; /* NULL when the user has no passwd entry */
};

/** Resolve the container user of `c` inside the rootfs open at `rootfd`:
 *  CRI run_as_username, else run_as_user, else the image's User ("" =
 *  root); run_as_group overrides the gid; the image's group memberships
 *  count only with OCI_GROUPS_MERGE. /etc/passwd and /etc/group are
 *  opened with RESOLVE_IN_ROOT, so symlinks cannot leave the rootfs.
 *  -EINVAL (message names the user or group) when a name is unknown,
 *  RunAsGroup comes without a user or the groups policy is unknown. Free
 *  with oci_user_done. */
int oci_user_resolve(int rootfd, const struct oci_ctr_config *c, struct oci_user *ret,
		     struct err *err);
void oci_user_done(struct oci_user *u);

/* ---- capabilities ---- */

/** "CAP_CHOWN" for 0 ... NULL for a number this build has no name for. */
const char *oci_cap_name(unsigned cap);
/** Number of "CHOWN" / "CAP_CHOWN" (any case), or -EINVAL. */
int oci_cap_from_name(const char *name);
/** The capability mask for `c`: the defaults (or every bounding cap when
 *  privileged), then CRI drop "ALL", add "ALL", adds, drops; always within
 *  `bounding`. -EINVAL naming an unknown capability. */
int oci_caps_compute(const struct oci_ctr_config *c, uint64_t bounding, uint64_t *ret,
		     struct err *err);

/* ---- mounts ---- */

/** Propagation of mount `mnt_id` in a /proc/PID/mountinfo text: 2 shared,
 *  1 slave (not shared), 0 private; -ENOENT when the id is not listed. */
int oci_mountinfo_propagation(const char *mountinfo, uint64_t mnt_id);

/** Check that the host mount holding `host_path` allows `p` (rshared needs
 *  a shared mount, rslave a shared or slave one). -EINVAL naming the path
 *  and the fix otherwise. */
int oci_mount_check_propagation(const char *host_path, enum oci_propagation p, struct err *err);

/** Create directory `path` (absolute or relative) inside the rootfs at
 *  `rootfd`, every component resolved with RESOLVE_IN_ROOT; new
 *  directories get mode 0755 and owner uid:gid. Returns 0; -ENOTDIR when
 *  a component exists and is not a directory. */
int oci_mkdir_in_root(int rootfd, const char *path, uid_t uid, gid_t gid, struct err *err);

/* ---- seccomp ---- */

/** The built-in RuntimeDefault profile as linux.seccomp: allow by default,
 *  EPERM for syscalls that reach the kernel's global state (modules, kexec,
 *  reboot, swap, clock, keyring, bpf, perf, ...); only names libseccomp
 *  knows on this build are listed. New reference. */
json_t *oci_seccomp_default(void);

/** Convert a seccomp profile (`len` bytes of JSON named `name` in errors)
 *  to linux.seccomp: OCI format, or Docker format with "archMap" and
 *  per-syscall "includes"/"excludes" (caps and arches; evaluated against
 *  the container's capability mask `caps`). -EINVAL with the profile's name
 *  when malformed; -EFBIG over 1 MiB. *ret is a new reference. */
int oci_seccomp_profile_convert(const char *name, const char *buf, size_t len, uint64_t caps,
				json_t **ret, struct err *err);
