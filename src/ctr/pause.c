/* Pause and resume (the runtime's cgroup freezer), and the runtime's view
 * of a container, for the inspect API. */
#include "base/json.h"
#include "ctr/ctr_int.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static int freeze(struct ctr_mgr *m, struct ctr *c, bool pause, struct err *err)
{
	char *args[] = { pause ? "pause" : "resume", c->id, NULL };
	int r = ctr_runtime_run(m, c->rt, args, NULL, 0, err);
	if (r < 0)
		return r;
	pthread_mutex_lock(&c->st);
	c->paused = pause;
	pthread_mutex_unlock(&c->st);
	log_info(pause ? "container paused" : "container resumed", "id=%s", c->id);
	return 0;
}

int ctr_pause_undo(struct ctr_mgr *m, struct ctr *c, struct err *err)
{
	pthread_mutex_lock(&c->st);
	bool paused = c->paused;
	pthread_mutex_unlock(&c->st);
	return paused ? freeze(m, c, false, err) : 0;
}

int ctr_pause(struct ctr_mgr *m, const char *id, bool pause, struct err *err)
{
	struct ctr *c = NULL;
	int r = ctr_index_get(&m->index, id, &c, err);
	if (r < 0)
		return r;
	pthread_mutex_lock(&c->op);
	pthread_mutex_lock(&c->st);
	enum ctr_state s = (enum ctr_state)c->row.state;
	bool paused = c->paused;
	pthread_mutex_unlock(&c->st);
	if (s != CTR_RUNNING || ctr_exit_check(m, c))
		r = err_msg(err, -EINVAL, "container %s is %s; only a running container can be %s",
			    c->id, ctr_state_name(s == CTR_RUNNING ? CTR_EXITED : s),
			    pause ? "paused" : "resumed");
	else if (paused == pause)
		r = err_msg(err, -EINVAL, "container %s is %s", c->id,
			    pause ? "already paused" : "not paused");
	else
		r = freeze(m, c, pause, err);
	pthread_mutex_unlock(&c->op);
	ctr_unref(c);
	return r;
}

static char *get_str(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));
	return v ? xstrdup(v) : NULL;
}

/* `<runtime> state` of `c` (caller holds a reference). */
static int state_of(struct ctr_mgr *m, struct ctr *c, struct ctr_runtime_state *ret,
		    struct err *err)
{
	char *args[] = { "state", c->id, NULL };
	cleanup_free char *out = NULL;
	/* A state read is quick: a runtime stuck for 10 s is not worth waiting on. */
	int r = ctr_runtime_output(m, c->rt, args, NULL, 0, 10000, &out, err);
	if (r < 0)
		return r;
	cleanup_free char *what = xasprintf("%s state %s", c->rt->path, c->id);
	json_t *j = NULL;
	cleanup_err struct err jerr = ERR_INIT;
	/* Bad JSON from the runtime is -EBADMSG, with where it broke. */
	if (js_load(what, out, strlen(out), 1 << 20, &j, &jerr) < 0)
		return err_msg(err, -EBADMSG, "%s", err_str(&jerr));
	if (!json_is_object(j))
		r = err_msg(err, -EBADMSG, "%s: not a JSON object", what);
	else
		*ret = (struct ctr_runtime_state){
			.status = get_str(j, "status"),
			.rootfs = get_str(j, "rootfs"),
			.bundle = get_str(j, "bundle"),
			.pid = (int32_t)json_integer_value(json_object_get(j, "pid")),
		};
	json_decref(j);
	return r;
}

int ctr_runtime_state(struct ctr_mgr *m, const char *id, struct ctr_runtime_state *ret,
		      struct err *err)
{
	struct ctr *c = NULL;
	int r = ctr_index_get(&m->index, id, &c, err);
	if (r < 0)
		return r;
	r = state_of(m, c, ret, err);
	ctr_unref(c);
	return r;
}

void ctr_pause_recover(struct ctr_mgr *m, struct ctr *c)
{
	struct ctr_runtime_state rs = { 0 };
	cleanup_err struct err err = ERR_INIT;
	if (state_of(m, c, &rs, &err) < 0) {
		log_warn("cannot ask the runtime whether a container is paused", "id=%s error=%s",
			 c->id, log_q(err_str(&err)));
		return;
	}
	bool paused = rs.status && strcmp(rs.status, "paused") == 0;
	ctr_runtime_state_done(&rs);
	pthread_mutex_lock(&c->st);
	c->paused = paused;
	pthread_mutex_unlock(&c->st);
	if (paused)
		log_info("container is paused", "id=%s", c->id);
}

void ctr_runtime_state_done(struct ctr_runtime_state *s)
{
	if (!s)
		return;
	free(s->status);
	free(s->rootfs);
	free(s->bundle);
	*s = (struct ctr_runtime_state){ 0 };
}
