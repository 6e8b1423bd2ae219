/* The CRI adapter's settings from the config: hook and CDI directories and
 * the runtime handlers, each with the features its program reports
 * (`<program> features`, asked once here at start and on each reload, not
 * per Status call). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/ocid/ocid.h"
#include "oci/oci.h"
#include "proc/proc.h"

/* What handler `rt` can do. The container manager's own program (no extra
 * flags) has what the manager found at start, kernel and host checks
 * included; another program is asked, and gets a feature only where the
 * kernel has what it needs: rro needs mount_setattr, and pods in user
 * namespaces need the host checks the manager made with its program. */
static struct ctr_features probe(const struct daemon *d, const struct config_runtime *rt,
				 const struct oci_host *host)
{
	struct ctr_features mf = { 0 };
	if (d->ctrs)
		ctr_mgr_features(d->ctrs, &mf);
	if (strcmp(rt->path, d->cfg.runtime) == 0 && (!rt->args || !rt->args[0]))
		return mf;
	cleanup_free char *root = !str_empty(rt->root)
				      ? xstrdup(rt->root)
				      : xasprintf("%s/runtime-%s", d->cfg.runroot, rt->name);
	cleanup(strv_free) char **argv = NULL;
	strv_push(&argv, rt->path);
	strv_push(&argv, "--root");
	strv_push(&argv, root);
	for (size_t i = 0; rt->args && rt->args[i]; i++)
		strv_push(&argv, rt->args[i]);
	strv_push(&argv, "features");
	cleanup(strv_free) char **env = NULL;
	strv_push(&env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	for (size_t i = 0; rt->monitor_env && rt->monitor_env[i]; i++)
		strv_push(&env, rt->monitor_env[i]);
	struct proc_opts o = {
		.argv = argv, .env = env, .max_output = 1 << 20, .timeout_ms = 10000
	};
	struct proc_result res = { 0 };
	struct oci_runtime_features f = { 0 };
	cleanup_err struct err err = ERR_INIT;
	int r = proc_run(&o, &res, &err);
	if (r >= 0 && res.status == 0)
		r = oci_runtime_features_parse(res.out, res.out_len, &f, &err);
	else if (r >= 0)
		r = err_msg(&err, -EOPNOTSUPP, "%s features: exit status %d", rt->path, res.status);
	proc_result_done(&res);
	if (r < 0) {
		/* A program without the command has none of the features. */
		log_info("runtime handler's features unknown", "handler=%s path=%s error=%s",
			 rt->name, log_q(rt->path), log_q(err_str(&err)));
		return (struct ctr_features){ 0 };
	}
	struct ctr_features out = {
		.recursive_read_only = f.rro && host->mount_setattr,
		.user_namespaces = f.userns && mf.user_namespaces,
	};
	log_info("runtime handler's features", "handler=%s rro=%d userns=%d", rt->name,
		 out.recursive_read_only, out.user_namespaces);
	return out;
}

void ocid_cri_configure(struct daemon *d)
{
	const struct config *cfg = &d->cfg;
	struct oci_host host = { 0 };
	cleanup_err struct err err = ERR_INIT;
	if (oci_host_probe(&host, &err) < 0)
		log_warn("cannot read the host's facts", "error=%s", log_q(err_str(&err)));
	struct cri_handler *hs = xcalloc(cfg->n_runtimes ? cfg->n_runtimes : 1, sizeof(*hs));
	for (size_t i = 0; i < cfg->n_runtimes; i++) {
		const struct config_runtime *rt = &cfg->runtimes[i];
		hs[i] = (struct cri_handler){
			.h = { .name = rt->name,
			       .path = rt->path,
			       .root = rt->root,
			       .args = rt->args,
			       .monitor_env = rt->monitor_env,
			       .no_pivot_root = rt->no_pivot_root,
			       .exec_fifo_start = rt->exec_fifo_start },
			.allowed_annotations = rt->allowed_annotations,
			.privileged_without_host_devices = rt->privileged_without_host_devices,
			.features = probe(d, rt, &host),
		};
	}
	struct cri_settings s = {
		.hooks_dirs = cfg->hooks_dirs,
		.cdi_dirs = cfg->cdi_spec_dirs,
		.default_handler = cfg->default_runtime,
		.handlers = hs,
		.n_handlers = cfg->n_runtimes,
	};
	cri_configure(&d->cri, &s);
	free(hs);
}
