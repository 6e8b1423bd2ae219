/* ocic: the command-line client. main.c parses the global flags and picks a
 * command from a table; each command (or command group) lives in its own
 * cmd_*.c file and uses the helpers below to talk to the daemon and print.
 *
 * Exit codes: 0 success, 1 failure (the reason printed to stderr as
 * "ocic: ..."), 2 usage error. */
#pragma once

#include <getopt.h>
#include <stdint.h>

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#include "base/base.h"
#include "rpc/client.h"

enum {
	OCIC_EXIT_OK = 0,
	OCIC_EXIT_FAIL = 1,
	OCIC_EXIT_USAGE = 2,
};

/* CRI method path prefixes. */
#define OCIC_RUNTIME_SERVICE "/runtime.v1.RuntimeService/"
#define OCIC_IMAGE_SERVICE "/runtime.v1.ImageService/"

enum ocic_output {
	OCIC_OUTPUT_TABLE,
	OCIC_OUTPUT_JSON,
};

/* Global flags (set by main before a command runs). */
extern const char *arg_socket;
extern enum ocic_output arg_output;
extern uint64_t arg_timeout_ms;

/** A command: `run` gets argv with argv[0] the command's name and returns an
 *  exit code. `usage` is the text after "ocic <name> " in help output. */
struct ocic_cmd {
	const char *name;
	const char *usage;
	const char *summary;
	int (*run)(int argc, char **argv);
};

extern const struct ocic_cmd ocic_cmd_version;
extern const struct ocic_cmd ocic_cmd_info;

/** Parse the flags of a command (argv[0] is its name): the global flags are
 *  accepted there too; others go to `on_opt` (may be NULL when the command
 *  has none), which returns < 0 for a usage error. Parsing stops at the
 *  first operand. Returns the operand's index (argc when none), -1 after
 *  printing a usage error, or -2 for --help (the command's help is printed
 *  unless `cmd` is NULL, which is main's own parse). */
int ocic_parse(int argc, char **argv, const struct ocic_cmd *cmd, const char *shortopts,
	       const struct option *longopts, int (*on_opt)(int opt, const char *arg));

/** Parse "--output" values; -EINVAL when unknown. */
int ocic_output_parse(const char *s, enum ocic_output *ret);
/** Parse a duration ("30s", "500ms", "2m", "1h", a bare number is seconds)
 *  into milliseconds; -EINVAL when malformed. */
int ocic_duration_parse(const char *s, uint64_t *ret_ms);

/** Print "ocic: <message>" to stderr; returns OCIC_EXIT_FAIL. */
int ocic_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/** Print "ocic: <message>" and a pointer to --help; returns OCIC_EXIT_USAGE. */
int ocic_usage_error(const struct ocic_cmd *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/** Print the help of one command to stdout. */
void ocic_cmd_help(const struct ocic_cmd *cmd);

/** Unary CRI call on the (lazily opened) connection to arg_socket: pack
 *  `req`, call `method`, unpack the reply as `resp_desc` into *ret (free with
 *  protobuf_c_message_free_unpacked). On failure prints the reason
 *  ("ocic: NOT_FOUND: ...") and returns OCIC_EXIT_FAIL; 0 on success. */
int ocic_call(const char *method, const ProtobufCMessage *req,
	      const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **ret);

/** GET/POST on the daemon's HTTP API; a 2xx JSON body is returned in *ret.
 *  On failure prints the reason and returns OCIC_EXIT_FAIL. `body` may be NULL. */
int ocic_http_json(const char *method, const char *path, const json_t *body, json_t **ret);

/** Close the connection opened by ocic_call (at exit). */
void ocic_disconnect(void);

/** Print `j` as indented JSON with a final newline to stdout. */
void ocic_print_json(const json_t *j);
/** Print "key: value" aligned lines for the pairs of `kv` (NULL-terminated
 *  list of key, value, key, value, ...) with `indent` leading spaces. */
void ocic_print_kv(unsigned indent, const char *const *kv);
