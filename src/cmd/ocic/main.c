/* ocic: command-line client of ocid. main() parses the global flags and
 * runs one command from the table. */
#include <stdio.h>
#include <string.h>

#include "ocic.h"

#define DEFAULT_SOCKET "/run/ocid/ocid.sock"
#define DEFAULT_TIMEOUT_MS 30000

const char *arg_socket = DEFAULT_SOCKET;
enum ocic_output arg_output = OCIC_OUTPUT_TABLE;
uint64_t arg_timeout_ms = DEFAULT_TIMEOUT_MS;
bool arg_timeout_given;

static const struct ocic_cmd *const commands[] = {
	&ocic_cmd_version, &ocic_cmd_info,    &ocic_cmd_pod,   &ocic_cmd_ctr,	  &ocic_cmd_image,
	&ocic_cmd_events,  &ocic_cmd_inspect, &ocic_cmd_pause, &ocic_cmd_unpause,
};

static void help(FILE *f)
{
	fprintf(f,
		"Usage: ocic [FLAGS] COMMAND [ARGS]\n\n"
		"Command-line client of the ocid container runtime (CRI over a unix socket).\n\n"
		"Flags:\n"
		"  --socket PATH          daemon socket (default $OCID_SOCKET, else %s)\n"
		"  -o, --output FORMAT    table (default) or json\n"
		"  --timeout DURATION     per call, e.g. 500ms, 30s, 2m (default 30s)\n"
		"  -h, --help             this help; 'ocic COMMAND --help' for a command\n\n"
		"Commands:\n",
		DEFAULT_SOCKET);
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, "  %-12s %s\n", commands[i]->name, commands[i]->summary);
}

static const struct ocic_cmd *find_command(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		if (strcmp(commands[i]->name, name) == 0)
			return commands[i];
	}
	return NULL;
}

int main(int argc, char **argv)
{
	const struct ocic_cmd *cmd;
	const char *env = getenv("OCID_SOCKET");
	int first, r;

	if (!str_empty(env))
		arg_socket = env;
	first = ocic_parse(argc, argv, NULL, NULL, NULL, NULL);
	if (first == -2 || (first >= 0 && first < argc && strcmp(argv[first], "help") == 0)) {
		help(stdout);
		return OCIC_EXIT_OK;
	}
	if (first < 0)
		return OCIC_EXIT_USAGE;
	if (first >= argc) {
		help(stderr);
		return OCIC_EXIT_USAGE;
	}
	cmd = find_command(argv[first]);
	if (!cmd)
		return ocic_usage_error(NULL, "unknown command '%s'", argv[first]);
	if (cmd->group)
		r = ocic_group_run(cmd, argc - first, argv + first);
	else
		r = cmd->run(argc - first, argv + first);
	ocic_disconnect();
	return r;
}
