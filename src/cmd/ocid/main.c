/* ocid: the CRI daemon. Subcommands: (none) runs the daemon, `config`
 * prints the effective configuration, `check` and `wipe` (recover.c),
 * `version` (or --version), `--help`. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd/ocid/ocid.h"

static void usage(FILE *out)
{
	fprintf(out, "Usage: ocid [FLAGS]           run the daemon\n"
		     "       ocid config [FLAGS]    print the effective configuration (TOML)\n"
		     "       ocid check [FLAGS]     check the database of the root\n"
		     "       ocid wipe [FLAGS]      forget images and containers (ocid stopped)\n"
		     "       ocid version           print the version (also --version)\n"
		     "       ocid --help            this text\n\n");
	config_usage(out);
}

static int print_config(int argc, char **argv)
{
	struct config cfg;
	cleanup_err struct err err = ERR_INIT;
	config_init(&cfg);
	if (config_load(&cfg, argc, argv, &err) < 0) {
		fprintf(stderr, "ocid: %s\n", err_str(&err));
		config_done(&cfg);
		return 2;
	}
	cleanup_free char *toml = config_to_toml(&cfg);
	fputs(toml, stdout);
	config_done(&cfg);
	return fflush(stdout) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "";
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(argv[i], "--version") == 0)
			sub = "version";
	}
	if (strcmp(sub, "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(sub, "version") == 0) {
		cleanup_free char *ocimon = ocid_helper_path("ocimon");
		cleanup_free char *pause = ocid_helper_path("ocid-pause");
		printf("ocid version %s\nCRI API version v1\nocimon %s\nocid-pause %s\n",
		       OCID_VERSION, ocimon, pause);
		return 0;
	}
	if (strcmp(sub, "config") == 0)
		return print_config(argc - 2, argv + 2);
	if (strcmp(sub, "check") == 0)
		return ocid_check(argc - 2, argv + 2);
	if (strcmp(sub, "wipe") == 0)
		return ocid_wipe(argc - 2, argv + 2);
	if (sub[0] && strncmp(sub, "-", 1) != 0) {
		fprintf(stderr, "ocid: unknown command '%s' (try ocid --help)\n", sub);
		return 2;
	}
	bool abandon = false;
	ocid_mem_start();
	int r = ocid_run(argc - 1, argv + 1, &abandon);
	if (abandon) {
		/* Worker threads still run abandoned calls: no exit handlers,
		 * no destructors under their feet. Locks go with our fds. */
		(void)fflush(stdout);
		(void)fflush(stderr);
		_exit(r);
	}
	return r;
}
