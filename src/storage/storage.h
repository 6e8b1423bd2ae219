/* storage: the layer store. Layers are unpacked from a stream (compressed
 * digest and diffID verified) into <root>/layers/<chain-hex>/diff, each with
 * a short symlink under <root>/layers/l/ so overlay option strings stay
 * short. Work in progress lives under <root>/tmp/ and is never visible. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/err.h"

struct storage;

/** Pull-style byte source: fill up to `len` bytes of `buf`. Returns the
 *  number of bytes read, 0 at end of stream, or a negative errno. */
typedef ssize_t (*storage_read_fn)(void *opaque, void *buf, size_t len);

/** What is expected of a layer being unpacked. */
struct storage_layer_opts {
	const char *parent_chain_id; /* "sha256:<hex>" or NULL for the first layer */
	const char *digest;	     /* expected digest of the stream as read, "sha256:<hex>" */
	const char *diff_id;	     /* expected digest of the uncompressed tar, "sha256:<hex>" */
	int64_t size;		     /* expected stream size in bytes, or -1 when unknown */
	bool no_isal;		     /* decode gzip with zlib even when isa-l is available */
	/* Called once the content is verified, right before the layer is
	 * renamed into place; a negative return aborts. When set, the parent
	 * need only exist after it returns, so several layers of one image can
	 * be unpacked at once and still be committed in order. May be NULL. */
	int (*before_commit)(void *opaque, struct err *err);
	void *before_commit_opaque;
};

/** Usage of the store's files (layers only). */
struct storage_usage {
	uint64_t bytes;
	uint64_t inodes;
};

/** Open (creating if needed) the store at `root`: root/layers, root/layers/l,
 *  root/tmp. On success *ret_store is owned by the caller (storage_free).
 *  Errors: negative errno from mkdir/open. */
int storage_new(const char *root, struct storage **ret_store, struct err *err);

/** Whether each unpacked layer is flushed to disk (syncfs) before it is
 *  committed (the default): a layer then never survives a power loss with
 *  files cut short. Off, a pull is faster by the time the disk takes to
 *  write it. Call before any unpack. */
void storage_set_layer_sync(struct storage *s, bool on);

/** Release the store handle (not its files). Accepts NULL. */
void storage_free(struct storage *s);

/** The root directory the store was opened with (borrowed). */
const char *storage_root(const struct storage *s);

/** Delete everything under root/tmp/ and dangling short links (start-up).
 *  Returns 0 or a negative errno. */
int storage_tmp_clean(struct storage *s, struct err *err);

/** Whether the layer with this chain id ("sha256:<hex>") is present.
 *  Returns 1 present, 0 absent, -EINVAL for a malformed chain id. */
int storage_layer_exists(struct storage *s, const char *chain_id);

/** Compute the chain id of a layer: diff_id for the first layer (parent
 *  NULL), else "sha256:" + sha256("<parent> <diff_id>"). Both inputs must be
 *  valid "sha256:<hex>" digests. Returns 0 or -EINVAL. *ret is owned. */
int storage_chain_id(const char *parent, const char *diff_id, char **ret, struct err *err);

/** Unpack one layer read from `fn` (gzip, zstd or plain tar, detected by
 *  magic). Every digest and the size are verified before the layer becomes
 *  visible; on any failure nothing is left on disk. On success *ret_chain_id
 *  (owned) names the layer. A layer already present is not unpacked again
 *  (the stream is still consumed and verified).
 *  Errors: -EINVAL hostile or corrupt content / digest or size mismatch,
 *  -EIO truncated stream, other negative errno from the file system. */
int storage_layer_unpack(struct storage *s, const struct storage_layer_opts *opts,
			 storage_read_fn fn, void *opaque, char **ret_chain_id, struct err *err);

/** storage_layer_unpack reading from `fd` (not closed). */
int storage_layer_unpack_fd(struct storage *s, const struct storage_layer_opts *opts, int fd,
			    char **ret_chain_id, struct err *err);

/** Every layer present: chain ids ("sha256:<hex>"), NULL-terminated and
 *  owned by the caller (strv_free), NULL when there is none. */
int storage_layer_list(struct storage *s, char ***ret, struct err *err);

/** Path of a layer's diff directory; *ret owned. -ENOENT when absent. */
int storage_layer_path(struct storage *s, const char *chain_id, char **ret, struct err *err);

/** Delete a layer (the caller guarantees it is unused). Deleting an absent
 *  layer succeeds. Returns 0 or a negative errno. */
int storage_layer_delete(struct storage *s, const char *chain_id, struct err *err);

/** Mount an overlay on `target`: `lowers` are chain ids, top-most first
 *  (`n` of them, n >= 1). With `upper` and `work` NULL the mount is
 *  read-only; otherwise both are absolute directories. Fails with
 *  -E2BIG if the mount options would not fit one page. */
int storage_mount_overlay(struct storage *s, const char *const *lowers, size_t n, const char *upper,
			  const char *work, const char *target, struct err *err);

/** storage_mount_overlay (read-only with `upper` and `work` NULL) with
 *  every lower layer seen through an idmapped mount (MOUNT_ATTR_IDMAP with
 *  the user namespace open at `userns_fd`): a file owned by id N in the
 *  store shows as the host id that N is in that namespace. The layers
 *  themselves are not changed and no idmapped mount stays attached
 *  anywhere (overlay keeps private clones). -E2BIG as storage_mount_overlay;
 *  -errno from open_tree, mount_setattr or mount otherwise. */
int storage_mount_overlay_idmapped(struct storage *s, const char *const *lowers, size_t n,
				   const char *upper, const char *work, const char *target,
				   int userns_fd, struct err *err);

/** Mount the image made of `lowers` (chain ids, top-most first, n >= 1)
 *  read-only on `target`, nothing copied: an overlay of the layers, or for
 *  a single layer a read-only bind of its diff (overlay needs two lower
 *  layers without an upper one). With `userns_fd` >= 0 every layer is seen
 *  through an idmapped mount, as storage_mount_overlay_idmapped does.
 *  -ENOENT naming a missing layer; -errno from the mount calls. */
int storage_mount_image_ro(struct storage *s, const char *const *lowers, size_t n,
			   const char *target, int userns_fd, struct err *err);

/** Bind host path `src` (a directory or a file) on `target` (of the same
 *  kind) through an idmapped mount: a detached clone of the mount at `src`
 *  (not its submounts) with MOUNT_ATTR_IDMAP through `userns_fd` (and
 *  MOUNT_ATTR_RDONLY when `readonly`), moved onto `target`. -EINVAL for a
 *  relative path; -errno from open_tree, mount_setattr (-EINVAL or
 *  -EPERM when the filesystem cannot be idmapped) or move_mount. */
int storage_bind_idmapped(const char *src, const char *target, bool readonly, int userns_fd,
			  struct err *err);

/** Whether storage_mount_overlay_idmapped works on this host and root's
 *  filesystem: an idmapped overlay of a scratch directory under tmp/ (a
 *  file owned by 0) must show the file as owned by `want_uid`, the host id
 *  of 0 in the user namespace at `userns_fd`. 0, or -errno with err saying
 *  what failed (-EOPNOTSUPP for a wrong owner). Leaves nothing behind. */
int storage_idmap_probe(struct storage *s, int userns_fd, uint32_t want_uid, struct err *err);

/** Sum the bytes and inodes used under root/layers. */
int storage_usage(struct storage *s, struct storage_usage *ret, struct err *err);

/** Check and normalise a tar entry path (pure: no I/O). `path` has `len`
 *  bytes. On success writes the clean relative path (no leading "./" or
 *  "/", no "." components, no duplicate or trailing "/"; "" for the root)
 *  to `out` (`outsz` bytes, PATH_MAX is always enough) and returns 0.
 *  Refuses (-EINVAL, *reason set to a static string) empty paths, NUL bytes,
 *  absolute paths and ".." components, and (-ENAMETOOLONG) paths longer than
 *  PATH_MAX-1 or with a component longer than NAME_MAX. */
int storage_tar_path_clean(const char *path, size_t len, char *out, size_t outsz,
			   const char **reason);
