/* image: the service's state, shared by service.c and pull.c. */
#pragma once

#include <pthread.h>

#include "image/image.h"

enum layer_state { LS_WAITING, LS_DOWNLOADING, LS_DONE, LS_EXISTS, LS_FAILED };

struct layer_progress {
	char *digest;
	int64_t size;
	uint64_t done; /* atomic */
	enum layer_state state;
};

/* A waiting caller's cancellation. */
struct pull_caller {
	image_cancelled_fn fn; /* NULL: this caller never cancels */
	void *opaque;
};

/* One pull in flight; callers asking for the same name wait on it. */
struct pull {
	struct image_service *svc;
	char *key;
	int waiters;
	struct pull_caller *callers; /* one per waiter, under svc->lock */
	size_t n_callers;
	bool finished;
	int rc;
	char *msg; /* error message when rc < 0 */
	char *id;
	struct layer_progress *layers; /* under svc->lock */
	size_t n_layers;
	struct pull *next;
};

/* image_settings as the service holds them: a snapshot a call takes a
 * reference to, so a reload never changes a call half-way. */
struct svc_settings {
	int refs; /* atomic */
	char *registries_conf, *policy, *policy_dir, *registries_d;
	char **auth_files; /* the configured file, then IMAGE_DOCKER_AUTH_FILE */
	char **pinned;
	unsigned max_parallel;
	uint64_t progress_timeout_s;
};

struct image_service {
	struct storage *st;
	struct db *db;
	struct image_token_cache *tokens;
	pthread_mutex_t lock; /* everything below */
	pthread_cond_t cond;  /* a pull finished, a layer claim was released */
	struct pull *pulls;
	struct svc_settings *settings; /* replaced whole, never changed */
	char **busy;		       /* chain ids being unpacked right now */
	char **pins;		       /* chain ids used by pulls in flight (a multiset) */
	/* For metrics, relaxed atomics: bytes of layers downloaded, layers a
	 * pull found already in the store. */
	uint64_t bytes_pulled, layers_reused;
};

/** Pin (under svc->lock) / unpin the chain ids of a pull: a pinned layer
 *  is never deleted by image removal. */
void svc_pin(struct image_service *svc, char *const *chains);
void svc_unpin(struct image_service *svc, char *const *chains);

/** Claim the right to unpack `chain`: waits while another pull unpacks it.
 *  Returns 1 when the layer is now present (nothing to do), 0 when the
 *  caller owns the claim (svc_release when done). */
int svc_claim(struct image_service *svc, const char *chain);
void svc_release(struct image_service *svc, const char *chain);

/** true when every caller waiting on `p` (a struct pull *) is cancelled. */
bool pull_cancelled(void *p);

/** The pull proper (pull.c), for one asked name; `p` receives progress. */
int pull_run(struct image_service *svc, struct pull *p, const char *name,
	     const struct image_pull_opts *o, char **ret_id, struct err *err);

/** Remove one occurrence of `s` from `*v`. */
void strv_remove_one(char **v, const char *s);

/** The settings with no field set (service start-up). */
void svc_settings_init(struct image_service *svc);

/** The current settings, referenced (any thread); svc_settings_put when
 *  done. Accepts NULL. */
struct svc_settings *svc_settings_get(struct image_service *svc);
void svc_settings_put(struct svc_settings *s);
DEFINE_CLEANUP(struct svc_settings, svc_settings_put)

/** Fill the settings fields `o` leaves NULL or 0 from `s` (borrowed: `o`
 *  is valid while `s` is referenced). */
void svc_settings_apply(const struct svc_settings *s, struct image_pull_opts *o);
