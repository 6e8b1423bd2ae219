/* ocic image pull: PullImage over gRPC while a second thread polls
 * GET /images/pulls on the same socket. On a terminal a per-layer bar
 * (bytes, rate, ETA) is redrawn; otherwise one summary line is printed.
 * Also ocic image fsinfo (ImageFsInfo). */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api.pb-c.h"
#include "ocic.h"

#define POLL_MS 200
#define BAR_WIDTH 24

struct layer_view {
	char digest[80];
	uint64_t size, done;
	char state[16];
	double rate; /* bytes/s, smoothed */
};

struct watch {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	const char *want; /* the operand */
	bool tty;
	struct layer_view *v;
	size_t n;
	unsigned drawn; /* lines on screen */
	uint64_t start_ns, last_ns;
};

static struct watch watch = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

/* The pull in `all` that is ours: the operand as normalised by the daemon
 * ends with "/<operand>" (or ":latest" added), or the only one. */
static const json_t *pick(const json_t *all, const char *want)
{
	size_t i;
	const json_t *p;
	cleanup_free char *slash = xasprintf("/%s", want);
	cleanup_free char *latest = xasprintf("/%s:latest", want);
	json_array_foreach(all, i, p)
	{
		const char *name = json_string_value(json_object_get(p, "name"));
		if (name && (strcmp(name, want) == 0 || str_has_suffix(name, slash) ||
			     str_has_suffix(name, latest)))
			return p;
	}
	return json_array_size(all) == 1 ? json_array_get(all, 0) : NULL;
}

static void update(struct watch *w, const json_t *pull, uint64_t t)
{
	const json_t *layers = json_object_get(pull, "layers");
	size_t n = json_array_size(layers);
	double dt = w->last_ns ? (double)(t - w->last_ns) / 1e9 : 0;
	if (n != w->n) {
		w->v = xreallocarray(w->v, n ? n : 1, sizeof(*w->v));
		memset(w->v, 0, (n ? n : 1) * sizeof(*w->v));
		w->n = n;
	}
	for (size_t i = 0; i < n; i++) {
		const json_t *l = json_array_get(layers, i);
		struct layer_view *v = &w->v[i];
		uint64_t done = (uint64_t)json_integer_value(json_object_get(l, "done"));
		if (dt > 0 && done >= v->done) {
			double inst = (double)(done - v->done) / dt;
			v->rate = v->rate ? 0.7 * v->rate + 0.3 * inst : inst;
		}
		v->done = done;
		v->size = (uint64_t)json_integer_value(json_object_get(l, "size"));
		snprintf(v->digest, sizeof(v->digest), "%s",
			 json_string_value(json_object_get(l, "digest")) ?: "");
		snprintf(v->state, sizeof(v->state), "%s",
			 json_string_value(json_object_get(l, "state")) ?: "");
	}
	w->last_ns = t;
}

static void draw(struct watch *w)
{
	if (w->drawn)
		printf("\033[%uA", w->drawn);
	for (size_t i = 0; i < w->n; i++) {
		const struct layer_view *v = &w->v[i];
		const char *hex = strchr(v->digest, ':');
		char done[32], size[32], rate[32], bar[BAR_WIDTH + 1], eta[32] = "";
		size_t fill = v->size ? (size_t)(BAR_WIDTH * (double)v->done / (double)v->size) : 0;
		bool finished = strcmp(v->state, "done") == 0 || strcmp(v->state, "exists") == 0;
		if (finished || fill > BAR_WIDTH)
			fill = BAR_WIDTH;
		memset(bar, '=', fill);
		memset(bar + fill, ' ', BAR_WIDTH - fill);
		bar[BAR_WIDTH] = '\0';
		ocic_size_str(v->done, done, sizeof(done));
		ocic_size_str(v->size, size, sizeof(size));
		ocic_size_str((uint64_t)v->rate, rate, sizeof(rate));
		if (!finished && v->rate > 1 && v->size > v->done)
			snprintf(eta, sizeof(eta), " ETA %.0fs",
				 (double)(v->size - v->done) / v->rate);
		if (finished)
			printf("\033[2K%.12s [%s] %s %s\n", hex ? hex + 1 : v->digest, bar, size,
			       v->state);
		else
			printf("\033[2K%.12s [%s] %s/%s %s/s %s%s\n", hex ? hex + 1 : v->digest,
			       bar, done, size, rate, v->state, eta);
	}
	w->drawn = (unsigned)w->n;
	fflush(stdout);
}

static void poll_once(struct watch *w)
{
	cleanup_err struct err err = ERR_INIT;
	struct rpc_client_http_reply reply = { 0 };
	struct rpc_client_http_req req = { .method = "GET",
					   .path = "/images/pulls",
					   .timeout_ms = 2000 };
	if (rpc_client_http(ocic_socket_path(), &req, &reply, &err) < 0 || reply.status != 200) {
		rpc_client_http_reply_done(&reply);
		return;
	}
	json_t *all = NULL;
	/* progress is best effort: a reply that is no JSON draws nothing */
	(void)js_load("/images/pulls", reply.body, reply.body_len, SIZE_MAX, &all, NULL);
	rpc_client_http_reply_done(&reply);
	const json_t *p = all ? pick(all, w->want) : NULL;
	pthread_mutex_lock(&w->lock);
	if (p)
		update(w, p, mono_ns());
	if (p && w->tty)
		draw(w);
	pthread_mutex_unlock(&w->lock);
	json_decref(all);
}

static void *watcher(void *data)
{
	struct watch *w = data;
	pthread_mutex_lock(&w->lock);
	while (!w->stop) {
		pthread_mutex_unlock(&w->lock);
		poll_once(w);
		pthread_mutex_lock(&w->lock);
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += POLL_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		if (!w->stop)
			pthread_cond_timedwait(&w->cond, &w->lock, &ts);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static pthread_t watcher_thread;
static bool watcher_running;

static void watch_stop(void)
{
	if (!watcher_running)
		return;
	pthread_mutex_lock(&watch.lock);
	watch.stop = true;
	pthread_cond_signal(&watch.cond);
	pthread_mutex_unlock(&watch.lock);
	pthread_join(watcher_thread, NULL);
	watcher_running = false;
	if (watch.tty && watch.n) {
		for (size_t i = 0; i < watch.n; i++) /* the final state */
			if (strcmp(watch.v[i].state, "exists") != 0) {
				snprintf(watch.v[i].state, sizeof(watch.v[i].state), "done");
				watch.v[i].done = watch.v[i].size;
			}
		draw(&watch);
	}
}

static int pull_request(const struct ocic_args *a, json_t *req)
{
	const char *creds = ocic_arg(a, "creds");
	const char *colon = creds ? strchr(creds, ':') : NULL;
	cleanup_free char *user = NULL;

	if (creds && (!colon || colon == creds))
		return ocic_usage_error(a->cmd, "--creds wants USER:PASSWORD");
	if (creds) {
		user = xstrndup(creds, (size_t)(colon - creds));
		json_object_set_new(
		    req, "auth", json_pack("{s:s, s:s}", "username", user, "password", colon + 1));
	}
	json_object_set_new(req, "image", json_pack("{s:s}", "image", a->operands[0]));
	return 0;
}

/* Layer count and size of the pulled image, from ImageStatus (verbose),
 * and how the signature policy let it in (*ret_trust, owned, or NULL);
 * false when the daemon does not know it. */
static bool image_numbers(const char *id, size_t *ret_layers, uint64_t *ret_size, char **ret_trust)
{
	Runtime__V1__ImageSpec spec = RUNTIME__V1__IMAGE_SPEC__INIT;
	Runtime__V1__ImageStatusRequest req = RUNTIME__V1__IMAGE_STATUS_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	spec.image = (char *)id;
	req.image = &spec;
	req.verbose = true;
	*ret_layers = 0;
	*ret_trust = NULL;
	*ret_size = 0;
	if (ocic_call(OCIC_IMAGE_SERVICE "ImageStatus", &req.base,
		      &runtime__v1__image_status_response__descriptor, &resp) != 0)
		return false;
	const Runtime__V1__ImageStatusResponse *r = (const void *)resp;
	bool known = r->image != NULL;
	if (known)
		*ret_size = r->image->size;
	for (size_t i = 0; i < r->n_info; i++) {
		json_t *info = NULL;
		cleanup_err struct err err = ERR_INIT;
		const char *v = r->info[i]->value;
		if (js_load("image status info", v, strlen(v), SIZE_MAX, &info, &err) < 0) {
			fprintf(stderr, "ocic: %s\n", err_str(&err));
			continue;
		}
		json_t *layers = json_object_get(info, "layers");
		if (json_is_array(layers))
			*ret_layers = json_array_size(layers);
		const char *by = json_string_value(
		    json_object_get(json_object_get(info, "trust"), "acceptedBy"));
		if (by && !*ret_trust)
			*ret_trust = xstrdup(by);
		json_decref(info);
	}
	protobuf_c_message_free_unpacked(resp, NULL);
	return known;
}

static void pull_table(const struct ocic_args *a, const ProtobufCMessage *resp)
{
	const char *id = ((const Runtime__V1__PullImageResponse *)resp)->image_ref;
	double secs = (double)(mono_ns() - watch.start_ns) / 1e9;
	size_t n = 0;
	uint64_t size = 0;
	char sz[32], rate[32];

	cleanup_free char *trust = NULL;
	watch_stop();
	if (!image_numbers(id, &n, &size, &trust)) {
		printf("%s\n", id);
		return;
	}
	ocic_size_str(size, sz, sizeof(sz));
	ocic_size_str(secs > 0 ? (uint64_t)((double)size / secs) : size, rate, sizeof(rate));
	printf("%s  %s: %zu layer%s, %s in %.1fs (%s/s)\n", id, a->operands[0], n,
	       n == 1 ? "" : "s", sz, secs, rate);
	/* a second line only when signatures were verified */
	if (trust && strcmp(trust, "insecureAcceptAnything") != 0)
		printf("trust: %s\n", trust);
}

static int pull_run(const struct ocic_args *a)
{
	watch.want = a->operands[0];
	watch.tty = arg_output == OCIC_OUTPUT_TABLE && isatty(STDOUT_FILENO);
	watch.start_ns = mono_ns();
	if (watch.tty)
		watcher_running = pthread_create(&watcher_thread, NULL, watcher, &watch) == 0;
	int r = ocic_sub_call(a);
	watch_stop();
	free(watch.v);
	watch.v = NULL;
	return r;
}

static const struct ocic_opt pull_opts[] = {
	{ "creds", 0, OCIC_OPT_STR, false, "USER:PASSWORD", "registry credentials" },
	{ 0 },
};

const struct ocic_sub ocic_image_pull = {
	.name = "pull",
	.summary = "Pull an image (PullImage) with per-layer progress on a terminal; prints the "
		   "image id and a summary.",
	.opts = pull_opts,
	.operands = "REF",
	.min_operands = 1,
	.max_operands = 1,
	OCIC_CRI_METHOD(OCIC_IMAGE_SERVICE, PullImage, pull_image),
	.request = pull_request,
	.table = pull_table,
	.run = pull_run,
};

/* ---- fsinfo ---- */

static void fs_rows(struct ocic_table *t, const char *kind, size_t n,
		    Runtime__V1__FilesystemUsage *const *v)
{
	for (size_t i = 0; i < n; i++) {
		char used[32], inodes[32] = "";
		ocic_size_str(v[i]->used_bytes ? v[i]->used_bytes->value : 0, used, sizeof(used));
		if (v[i]->inodes_used)
			snprintf(inodes, sizeof(inodes), "%llu",
				 (unsigned long long)v[i]->inodes_used->value);
		ocic_table_row(t,
			       (const char *[]){ kind, v[i]->fs_id ? v[i]->fs_id->mountpoint : "",
						 used, inodes });
	}
}

static void fsinfo_table(const struct ocic_args *a, const ProtobufCMessage *resp)
{
	const Runtime__V1__ImageFsInfoResponse *r = (const void *)resp;
	static const char *const head[] = { "FILESYSTEM", "MOUNTPOINT", "USED", "INODES", NULL };
	struct ocic_table *t = ocic_table_new(head);

	fs_rows(t, "image", r->n_image_filesystems, r->image_filesystems);
	fs_rows(t, "container", r->n_container_filesystems, r->container_filesystems);
	ocic_table_print_free(t);
}

const struct ocic_sub ocic_image_fsinfo = {
	.name = "fsinfo",
	.summary = "Print the image and container filesystems' usage (ImageFsInfo).",
	OCIC_CRI_METHOD(OCIC_IMAGE_SERVICE, ImageFsInfo, image_fs_info),
	.table = fsinfo_table,
};
