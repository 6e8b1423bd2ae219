/* The metrics collector of the daemon's state: containers and image pulls,
 * written at each scrape from counters their owners keep. */
#include "httpapi/httpapi.h"

#include <stdio.h>
#include <stdlib.h>

#include "ctr/ctr.h"
#include "image/image.h"

static void pull_failures(struct metrics *m, struct metrics_out *out)
{
	metrics_out_family(
	    out, "ocid_image_pulls_failure_total", "counter",
	    "Image pulls that failed, by error (the gRPC status code of PullImage).");
	struct metrics_op *op = metrics_op_find(m, "PullImage");
	for (unsigned c = 1; op && c < METRICS_CODES; c++) {
		uint64_t v = metrics_op_errors(op, c);
		if (!v)
			continue;
		char labels[64];
		snprintf(labels, sizeof(labels), "error=\"%s\"", rpc_code_name(c));
		metrics_out_u64(out, "ocid_image_pulls_failure_total", labels, v);
	}
}

static void collect(void *data, struct metrics_out *out)
{
	struct httpapi_deps *d = data;
	if (d->images) {
		uint64_t bytes = 0, reused = 0;
		image_service_counters(d->images, &bytes, &reused);
		metrics_out_family(out, "ocid_image_pulls_bytes_total", "counter",
				   "Bytes of image layers downloaded by pulls.");
		metrics_out_u64(out, "ocid_image_pulls_bytes_total", NULL, bytes);
		metrics_out_family(
		    out, "ocid_image_layer_reuse_total", "counter",
		    "Image layers a pull found already stored and did not download.");
		metrics_out_u64(out, "ocid_image_layer_reuse_total", NULL, reused);
		pull_failures(d->metrics, out);
	}
	if (d->ctrs) {
		struct ctr_filter f = { .has_state = true, .state = CTR_RUNNING };
		struct ctr_info **v = NULL;
		size_t n = 0;
		if (ctr_list(d->ctrs, &f, &v, &n, NULL) < 0)
			n = 0;
		ctr_info_list_free(v, n);
		metrics_out_family(out, "ocid_containers_running", "gauge", "Containers running.");
		metrics_out_u64(out, "ocid_containers_running", NULL, n);
		metrics_out_family(out, "ocid_containers_oom_total", "counter",
				   "Containers killed by the OOM killer since ocid started.");
		metrics_out_u64(out, "ocid_containers_oom_total", NULL, ctr_mgr_oom_total(d->ctrs));
	}
}

void httpapi_metrics_collector(struct httpapi_deps *deps)
{
	metrics_add_collector(deps->metrics, collect, deps);
}
