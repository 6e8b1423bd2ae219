/* ocic ctr stats: ListContainerStats as a table of CPU, memory and
 * writable-layer use. CPU % comes from usage_nano_cores when the daemon
 * reports it, else from two samples of usage_core_nano_seconds a second
 * apart. -o json prints one reply as it is. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api.pb-c.h"
#include "ocic.h"

#define SAMPLE_GAP_MS 1000
/* Containers are shown by the first this many characters of their id. */
#define SHORT_ID 13

static int stats_request(const struct ocic_args *a, json_t *req)
{
	json_t *filter;
	int r = ocic_filter_json(a, NULL, &filter);

	if (r != 0)
		return r;
	json_object_set_new(req, "filter", filter);
	return 0;
}

static bool has_nano_cores(const Runtime__V1__ContainerStats *s)
{
	return s->cpu && s->cpu->usage_nano_cores && s->cpu->usage_nano_cores->value;
}

static const Runtime__V1__ContainerStats *find(const Runtime__V1__ListContainerStatsResponse *r,
					       const char *id)
{
	for (size_t i = 0; r && i < r->n_stats; i++) {
		if (r->stats[i]->attributes && strcmp(r->stats[i]->attributes->id, id) == 0)
			return r->stats[i];
	}
	return NULL;
}

/* CPU % of `now` (100 = one core busy), from its usage_nano_cores or from
 * the usage between `before` and `now`; "-" when neither is known. */
static void cpu_str(const Runtime__V1__ContainerStats *before,
		    const Runtime__V1__ContainerStats *now, char *buf, size_t size)
{
	const Runtime__V1__CpuUsage *b = before ? before->cpu : NULL, *n = now->cpu;

	if (has_nano_cores(now)) {
		snprintf(buf, size, "%.2f", (double)n->usage_nano_cores->value / 1e7);
	} else if (b && n && b->usage_core_nano_seconds && n->usage_core_nano_seconds &&
		   n->timestamp > b->timestamp &&
		   n->usage_core_nano_seconds->value >= b->usage_core_nano_seconds->value) {
		double used =
		    (double)(n->usage_core_nano_seconds->value - b->usage_core_nano_seconds->value);

		snprintf(buf, size, "%.2f", 100.0 * used / (double)(n->timestamp - b->timestamp));
	} else {
		snprintf(buf, size, "-");
	}
}

static void size_or_dash(const Runtime__V1__UInt64Value *v, char *buf, size_t size)
{
	if (v)
		ocic_size_str(v->value, buf, size);
	else
		snprintf(buf, size, "-");
}

static void stats_table(const Runtime__V1__ListContainerStatsResponse *before,
			const Runtime__V1__ListContainerStatsResponse *now)
{
	static const char *const head[] = { "CONTAINER", "NAME",   "CPU %", "MEM",
					    "DISK",	 "INODES", NULL };
	struct ocic_table *t = ocic_table_new(head);

	for (size_t i = 0; i < now->n_stats; i++) {
		const Runtime__V1__ContainerStats *s = now->stats[i];
		const Runtime__V1__ContainerAttributes *at = s->attributes;
		const Runtime__V1__FilesystemUsage *fs = s->writable_layer;
		char id[SHORT_ID + 1], cpu[32], mem[32], disk[32], inodes[32] = "-";
		const char *row[] = { id,   at && at->metadata ? at->metadata->name : "",
				      cpu,  mem,
				      disk, inodes };

		snprintf(id, sizeof(id), "%s", at ? at->id : "");
		cpu_str(at ? find(before, at->id) : NULL, s, cpu, sizeof(cpu));
		size_or_dash(s->memory ? s->memory->working_set_bytes : NULL, mem, sizeof(mem));
		size_or_dash(fs ? fs->used_bytes : NULL, disk, sizeof(disk));
		if (fs && fs->inodes_used)
			snprintf(inodes, sizeof(inodes), "%llu",
				 (unsigned long long)fs->inodes_used->value);
		ocic_table_row(t, row);
	}
	ocic_table_print_free(t);
}

static int stats_run(const struct ocic_args *a)
{
	ProtobufCMessage *first = NULL, *second = NULL;
	const Runtime__V1__ListContainerStatsResponse *r1;
	bool again = false;
	int r;

	if (arg_output == OCIC_OUTPUT_JSON)
		return ocic_sub_call(a);
	r = ocic_sub_fetch(a, &first);
	if (r != 0)
		return r;
	r1 = (const void *)first;
	for (size_t i = 0; i < r1->n_stats; i++)
		again = again || !has_nano_cores(r1->stats[i]);
	if (again) {
		struct timespec gap = { SAMPLE_GAP_MS / 1000, (SAMPLE_GAP_MS % 1000) * 1000000L };

		(void)nanosleep(&gap, NULL);
		r = ocic_sub_fetch(a, &second);
	}
	if (r == 0)
		stats_table(second ? r1 : NULL, second ? (const void *)second : r1);
	protobuf_c_message_free_unpacked(first, NULL);
	if (second)
		protobuf_c_message_free_unpacked(second, NULL);
	return r;
}

static const struct ocic_opt stats_opts[] = {
	{ "id", 0, OCIC_OPT_STR, false, "ID", "only the container with this id" },
	{ "pod", 'p', OCIC_OPT_STR, false, "ID", "only containers of this pod sandbox" },
	{ "label", 'l', OCIC_OPT_LIST, false, "KEY=VALUE",
	  "only containers with this label (repeatable)" },
	{ 0 },
};

const struct ocic_sub ocic_ctr_stats = {
	.name = "stats",
	.summary = "Show CPU, memory and disk use of containers (ListContainerStats).",
	.opts = stats_opts,
	OCIC_CRI_METHOD(OCIC_RUNTIME_SERVICE, ListContainerStats, list_container_stats),
	.request = stats_request,
	.run = stats_run,
};
