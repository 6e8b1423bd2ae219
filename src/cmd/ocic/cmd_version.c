/* ocic version: the CRI Version call. */
#include <stdio.h>

#include "api.pb-c.h"
#include "ocic.h"

static int version_run(int argc, char **argv)
{
	Runtime__V1__VersionRequest req = RUNTIME__V1__VERSION_REQUEST__INIT;
	Runtime__V1__VersionResponse *resp = NULL;
	int r = ocic_parse(argc, argv, &ocic_cmd_version, NULL, NULL, NULL);

	if (r < 0)
		return r == -2 ? OCIC_EXIT_OK : OCIC_EXIT_USAGE;
	if (r < argc)
		return ocic_usage_error(&ocic_cmd_version, "unexpected argument '%s'", argv[r]);
	req.version = "v1";
	r = ocic_call(OCIC_RUNTIME_SERVICE "Version", &req.base,
		      &runtime__v1__version_response__descriptor, (ProtobufCMessage **)&resp);
	if (r != 0)
		return r;
	if (arg_output == OCIC_OUTPUT_JSON) {
		json_t *j =
		    json_pack("{s:s, s:s, s:s, s:s}", "version", resp->version, "runtimeName",
			      resp->runtime_name, "runtimeVersion", resp->runtime_version,
			      "runtimeApiVersion", resp->runtime_api_version);

		ocic_print_json(j);
		json_decref(j);
	} else {
		const char *kv[] = { "Version",
				     resp->version,
				     "RuntimeName",
				     resp->runtime_name,
				     "RuntimeVersion",
				     resp->runtime_version,
				     "RuntimeApiVersion",
				     resp->runtime_api_version,
				     NULL };

		ocic_print_kv(0, kv);
	}
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return OCIC_EXIT_OK;
}

const struct ocic_cmd ocic_cmd_version = {
	.name = "version",
	.usage = "",
	.summary = "Print the CRI version of the runtime: API version, runtime name and version.",
	.run = version_run,
};
