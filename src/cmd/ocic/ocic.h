/* ocic: the command-line client. main.c parses the global flags and picks a
 * command from a table; each command (or command group) lives in its own
 * cmd_*.c file and uses the helpers below to talk to the daemon and print.
 *
 * Exit codes: 0 success, 1 failure (the reason printed to stderr as
 * "ocic: ..."), 2 usage error. */
#pragma once

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/json.h"
#include <protobuf-c/protobuf-c.h>

#include "base/base.h"
#include "rpcclient/rpcclient.h"

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
extern bool arg_timeout_given; /* --timeout was on the command line */

struct ocic_group;

/** A command: `run` gets argv with argv[0] the command's name and returns an
 *  exit code. `usage` is the text after "ocic <name> " in help output. A
 *  command group (pod, ctr, image) sets `group` instead of `run`. */
struct ocic_cmd {
	const char *name;
	const char *usage;
	const char *summary;
	int (*run)(int argc, char **argv);
	const struct ocic_group *group;
};

extern const struct ocic_cmd ocic_cmd_version;
extern const struct ocic_cmd ocic_cmd_info;
extern const struct ocic_cmd ocic_cmd_pod;
extern const struct ocic_cmd ocic_cmd_ctr;
extern const struct ocic_cmd ocic_cmd_image;
extern const struct ocic_cmd ocic_cmd_events;
extern const struct ocic_cmd ocic_cmd_inspect, ocic_cmd_pause, ocic_cmd_unpause;

/* Container sub-commands beyond single calls (cmd_ctr_*.c). */
extern const struct ocic_sub ocic_ctr_logs, ocic_ctr_exec, ocic_ctr_stats, ocic_ctr_update,
    ocic_ctr_attach;

/* Pod sub-commands beyond single calls (cmd_pod_portforward.c). */
extern const struct ocic_sub ocic_pod_port_forward;

/* Image sub-commands beyond single calls (cmd_image_import.c, cmd_image_pull.c). */
extern const struct ocic_sub ocic_image_import, ocic_image_pull, ocic_image_fsinfo;

/* ---- Sub-commands ("ocic pod create ..."), described by tables (group.c) ---- */

enum ocic_opt_kind {
	OCIC_OPT_STR,  /* --name VALUE, at most once */
	OCIC_OPT_FLAG, /* --name */
	OCIC_OPT_LIST, /* --name VALUE, repeatable */
};

#define OCIC_MAX_OPTS 12

/** One flag of a sub-command; a table of them ends with a NULL name. */
struct ocic_opt {
	const char *name; /* long name, without "--" */
	char short_name;  /* 0 when none */
	enum ocic_opt_kind kind;
	bool required;
	const char *arg; /* the value's name in help ("ID") */
	const char *help;
};

/** Parsed flags and operands of one sub-command run (borrowed from argv). */
struct ocic_args {
	const struct ocic_cmd *cmd; /* "ocic pod create", for usage errors */
	const struct ocic_sub *sub;
	const char *val[OCIC_MAX_OPTS];
	bool set[OCIC_MAX_OPTS];
	char **list[OCIC_MAX_OPTS];
	char **operands; /* NULL-terminated */
	int n_operands;
};

/** A sub-command that makes one CRI call. `request` fills the request as
 *  protobuf JSON (decoded with pbjson into `req_desc`); it returns 0, or an
 *  exit code after printing why. `check` (optional) inspects the reply
 *  before printing (e.g. an absent image) and returns 0 or an exit code.
 *  `table` prints the reply for humans; with -o json the reply is printed
 *  by pbjson instead (verbose "info" values expanded when JSON). */
struct ocic_sub {
	const char *name;
	const char *summary;
	const struct ocic_opt *opts; /* NULL for none */
	const char *operands;	     /* e.g. "REF", NULL for none */
	int min_operands, max_operands;
	bool flags_first;   /* flags end at the first operand (a command line) */
	const char *method; /* full method path */
	const ProtobufCMessageDescriptor *req_desc, *resp_desc;
	int (*request)(const struct ocic_args *a, json_t *req);
	int (*check)(const struct ocic_args *a, const ProtobufCMessage *resp);
	void (*table)(const struct ocic_args *a, const ProtobufCMessage *resp);
	/* A sub-command that does more than one call: run instead of the
	 * above (it may still use them through ocic_sub_call). */
	int (*run)(const struct ocic_args *a);
};

/** Build the request of `a->sub`, make its CRI call, check and print the
 *  reply as the table describes. Returns an exit code. */
int ocic_sub_call(const struct ocic_args *a);

/** Build the request of `a->sub` and make its CRI call; *ret is the reply
 *  (free with protobuf_c_message_free_unpacked). Returns 0, or an exit code
 *  after printing why. */
int ocic_sub_fetch(const struct ocic_args *a, ProtobufCMessage **ret);

/** Designated initialisers of ocic_sub for CRI method `Method` of
 *  `service` (OCIC_RUNTIME_SERVICE or OCIC_IMAGE_SERVICE) whose messages are
 *  runtime.v1.<Method>Request/Response (`lower` is the snake_case name). */
#define OCIC_CRI_METHOD(service, Method, lower)                                             \
	.method = service #Method, .req_desc = &runtime__v1__##lower##_request__descriptor, \
	.resp_desc = &runtime__v1__##lower##_response__descriptor

struct ocic_group {
	const struct ocic_sub *const *subs; /* NULL-terminated */
};

/** Run `cmd`'s group with argv[0] the group's name: pick the sub-command,
 *  parse its flags (global flags too, operands anywhere, "--" ends flags),
 *  build and send the request, print the reply. Returns an exit code. */
int ocic_group_run(const struct ocic_cmd *cmd, int argc, char **argv);

/** Value of STR flag `name` (NULL when not given). */
const char *ocic_arg(const struct ocic_args *a, const char *name);
/** Whether flag `name` was given. */
bool ocic_arg_set(const struct ocic_args *a, const char *name);
/** Values of LIST flag `name` (NULL-terminated; NULL when none). */
char *const *ocic_arg_list(const struct ocic_args *a, const char *name);

/** Read the JSON file `path` and check that it decodes as `desc` (pbjson);
 *  on success *ret is the JSON (new reference). On failure prints
 *  "ocic: PATH: reason" and returns OCIC_EXIT_FAIL. */
int ocic_load_config(const char *path, const ProtobufCMessageDescriptor *desc, json_t **ret);

/** The --timeout DURATION flag of `a` rounded up to whole seconds (0 when
 *  absent) into *ret_secs; when not 0, the call's deadline (arg_timeout_ms)
 *  is raised to at least that plus `slack_ms`. A bad value prints a usage
 *  error and returns OCIC_EXIT_USAGE; else 0. */
int ocic_timeout_secs(const struct ocic_args *a, uint64_t slack_ms, int64_t *ret_secs);

/** A word a user types for a flag and the enum value name it stands for. */
struct ocic_word {
	const char *word;
	const char *value;
};

/** The list filter of pods and containers as protobuf JSON: "id" from --id,
 *  "pod_sandbox_id" from --pod, "state": {"state": V} from --state through
 *  `states` (NULL-terminated; NULL when there is no --state),
 *  "label_selector" from --label KEY=VALUE flags. Bad values print a usage
 *  error and return OCIC_EXIT_USAGE; *ret is a new object on success. */
int ocic_filter_json(const struct ocic_args *a, const struct ocic_word *states, json_t **ret);

/* ---- Output helpers (output.c) ---- */

/* A table: column headers, rows of strings, printed with aligned columns. */
struct ocic_table;
/** A new table with the NULL-terminated `headers` (copied); freed by
 *  ocic_table_print_free. */
struct ocic_table *ocic_table_new(const char *const *headers);
/** Add a row of as many strings as headers (copied; NULL prints as ""). */
void ocic_table_row(struct ocic_table *t, const char *const *cells);
/** Print the headers and rows with columns padded to their widest cell
 *  (three spaces apart) to stdout, then free the table. */
void ocic_table_print_free(struct ocic_table *t);

/** RFC 3339 UTC time of `ns` nanoseconds since the epoch ("" for 0).
 *  Writes into buf (>= 32 bytes) and returns it. */
char *ocic_time_str(int64_t ns, char *buf, size_t size);
/** "1.2MB"-style size (powers of 1000, as docker and crictl print). */
char *ocic_size_str(uint64_t bytes, char *buf, size_t size);
/** The `n` strings of a protobuf-c repeated string field joined with ",".
 *  malloc'd. */
char *ocic_strs_join(size_t n, char *const *v);
/** "k=v,k=v" of protobuf-c map entries (key and value strings). malloc'd. */
char *ocic_map_str(size_t n, ProtobufCMessage *const *entries);

/** Parse the flags of a command (argv[0] is its name): the global flags are
 *  accepted there too; others go to `on_opt` (may be NULL when the command
 *  has none), which returns < 0 for a usage error (-2: already printed, else
 *  "bad option" is printed). Parsing stops at the
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

/** Server-streaming CRI call without a deadline: each reply message is
 *  unpacked as `msg_desc` and passed to `on_msg` (borrowed for the call);
 *  on_msg returns 0 to go on, < 0 to end the call (it prints why). Returns
 *  OCIC_EXIT_OK when the server ended the stream with OK, else
 *  OCIC_EXIT_FAIL (the status printed unless on_msg ended it). */
int ocic_call_stream(const char *method, const ProtobufCMessage *req,
		     const ProtobufCMessageDescriptor *msg_desc,
		     int (*on_msg)(void *data, const ProtobufCMessage *msg), void *data);

/** GET/POST on the daemon's HTTP API; a 2xx JSON body is returned in *ret.
 *  On failure prints the reason and returns OCIC_EXIT_FAIL. `body` may be NULL. */
int ocic_http_json(const char *method, const char *path, const json_t *body, json_t **ret);

/** The daemon's socket path (arg_socket without a unix:// prefix). */
const char *ocic_socket_path(void);

/** Close the connection opened by ocic_call (at exit). */
void ocic_disconnect(void);

/** Print `j` as indented JSON with a final newline to stdout. */
void ocic_print_json(const json_t *j);
/** Print "key: value" aligned lines for the pairs of `kv` (NULL-terminated
 *  list of key, value, key, value, ...) with `indent` leading spaces. */
void ocic_print_kv(unsigned indent, const char *const *kv);
/** The table of a call whose reply says nothing: the --id it was given. */
void ocic_print_id_arg(const struct ocic_args *a, const ProtobufCMessage *resp);
