/* config: the table of keys (keys.c) drives defaults, files, flags, TOML
 * output and usage. A key's flag is its name with '_' written as '-'. */
#include "config/config_int.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int set_number(struct config *cfg, const struct key *k, uint64_t v, struct err *err)
{
	if (v < k->min || v > k->max)
		return err_msg(err, -EINVAL,
			       "%" PRIu64 " is out of range [%" PRIu64 ", %" PRIu64 "]", v, k->min,
			       k->max);
	if (k->size == sizeof(uint64_t))
		*(uint64_t *)config_key_field(cfg, k) = v;
	else
		*(unsigned *)config_key_field(cfg, k) = (unsigned)v;
	return 0;
}

static uint64_t get_number(const struct config *cfg, const struct key *k)
{
	if (k->size == sizeof(uint64_t))
		return *(const uint64_t *)config_key_cfield(cfg, k);
	return *(const unsigned *)config_key_cfield(cfg, k);
}

/* Leading decimal digits of *s; advances *s. -EINVAL if none, -ERANGE on overflow. */
static int eat_u64(const char **s, uint64_t *ret)
{
	uint64_t v = 0;
	const char *p = *s;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*s = p;
	*ret = v;
	return 0;
}

/* Seconds as "90", or Go-style "1h30m", "45s", "1500ms"; in milliseconds. */
int config_parse_duration_ms(const char *s, uint64_t *ret)
{
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = { { "ms", 1 }, { "h", 3600000 }, { "m", 60000 }, { "s", 1000 } };
	uint64_t v = 0, total = 0;
	if (eat_u64(&s, &v) < 0)
		return -EINVAL;
	if (!*s) {
		if (v > UINT64_MAX / 1000)
			return -EINVAL;
		*ret = v * 1000;
		return 0;
	}
	for (;;) {
		size_t u = 0;
		while (u < ARRAY_SIZE(units) && !str_has_prefix(s, units[u].unit))
			u++;
		if (u == ARRAY_SIZE(units) || v > (UINT64_MAX - total) / units[u].ms / 2)
			return -EINVAL;
		total += v * units[u].ms;
		s += strlen(units[u].unit);
		if (!*s)
			break;
		if (eat_u64(&s, &v) < 0)
			return -EINVAL;
	}
	*ret = total;
	return 0;
}

/* Bytes as "1048576" or with a binary suffix: "512K", "16MiB", "1G". */
int config_parse_size(const char *s, uint64_t *ret)
{
	static const struct {
		const char *suffix;
		unsigned shift;
	} sfx[] = { { "", 0 },	   { "B", 0 },	 { "K", 10 },	{ "KB", 10 }, { "KiB", 10 },
		    { "M", 20 },   { "MB", 20 }, { "MiB", 20 }, { "G", 30 },  { "GB", 30 },
		    { "GiB", 30 }, { "T", 40 },	 { "TiB", 40 } };
	uint64_t v;
	if (eat_u64(&s, &v) < 0)
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(sfx); i++)
		if (strcmp(s, sfx[i].suffix) == 0) {
			if (v > (UINT64_MAX >> sfx[i].shift))
				return -EINVAL;
			*ret = v << sfx[i].shift;
			return 0;
		}
	return -EINVAL;
}

static int bad_choice(const struct key *k, const char *v, struct err *err)
{
	cleanup_free char *want = xstrdup(k->choices[0]);
	for (size_t i = 1; k->choices[i]; i++) {
		char *more =
		    xasprintf("%s%s%s", want, k->choices[i + 1] ? ", " : " or ", k->choices[i]);
		free(want);
		want = more;
	}
	return err_msg(err, -EINVAL, "invalid value '%s' (expected %s)", v, want);
}

static int check_value(const struct key *k, const char *v, struct err *err)
{
	return k->check ? k->check(v, err) : 0;
}

/* Split a comma list, each entry without surrounding blanks; none empty. */
static char **split_commas(const char *v)
{
	cleanup(strv_free) char **parts = strv_split(v, ',');
	char **out = xzalloc(sizeof(char *));
	for (size_t i = 0; parts[i]; i++) {
		const char *b = parts[i] + strspn(parts[i], " \t");
		size_t n = strlen(b);
		while (n && (b[n - 1] == ' ' || b[n - 1] == '\t'))
			n--;
		if (n)
			strv_push_take(&out, xstrndup(b, n));
	}
	return out;
}

/* A list key from one string: colons (KT_PATHLIST) or commas (KT_LIST);
 * `append` adds to the current entries (a repeated flag). */
static int set_list(struct config *cfg, const struct key *k, const char *v, bool append,
		    struct err *err)
{
	cleanup(strv_free) char **l = k->type == KT_LIST ? split_commas(v) : strv_split(v, ':');
	for (size_t i = 0; l[i]; i++) {
		int r = check_value(k, l[i], err);
		if (r < 0)
			return r;
	}
	char ***f = (char ***)config_key_field(cfg, k);
	if (!append) {
		strv_free(*f);
		*f = TAKE_PTR(l);
		return 0;
	}
	for (size_t i = 0; l[i]; i++)
		strv_push(f, l[i]);
	return 0;
}

/* Set key `k` from its flag syntax (flags and compiled-in defaults). */
static int set_from_string(struct config *cfg, const struct key *k, const char *v, struct err *err)
{
	uint64_t n = 0;
	int r;
	switch (k->type) {
	case KT_STR:
		/* Empty only where the default is: that key's "off". */
		if (str_empty(v) && !str_empty(k->def))
			return err_msg(err, -EINVAL, "expected a non-empty string");
		if (k->choices && !strv_contains((char *const *)k->choices, v))
			return bad_choice(k, v, err);
		r = check_value(k, v, err);
		if (r < 0)
			return r;
		free(*(char **)config_key_field(cfg, k));
		*(char **)config_key_field(cfg, k) = xstrdup(v);
		return 0;
	case KT_PATHLIST:
	case KT_LIST:
		return set_list(cfg, k, v, false, err);
	case KT_LOGLEVEL:
		if (log_level_parse(v, (enum log_level *)config_key_field(cfg, k)) < 0)
			return err_msg(
			    err, -EINVAL,
			    "invalid log level '%s' (expected error, warn, info, debug or trace)",
			    v);
		return 0;
	case KT_UINT:
		if (eat_u64(&v, &n) < 0 || *v)
			return err_msg(err, -EINVAL, "expected a non-negative integer");
		return set_number(cfg, k, n, err);
	case KT_SIZE:
		if (config_parse_size(v, &n) < 0)
			return err_msg(err, -EINVAL, "invalid size '%s' (bytes, or e.g. \"16MiB\")",
				       v);
		return set_number(cfg, k, n, err);
	case KT_DURATION:
	case KT_DURATION_MS:
		if (config_parse_duration_ms(v, &n) < 0)
			return err_msg(
			    err, -EINVAL,
			    "invalid duration '%s' (seconds, or e.g. \"30s\", \"5m\", \"1h\", \"500ms\")",
			    v);
		return set_number(cfg, k, k->type == KT_DURATION ? n / 1000 + (n % 1000 != 0) : n,
				  err);
	case KT_BOOL:
		if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
			*(bool *)config_key_field(cfg, k) = true;
		else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
			*(bool *)config_key_field(cfg, k) = false;
		else
			return err_msg(err, -EINVAL, "expected true or false");
		return 0;
	}
	return -EINVAL;
}

static int set_list_array(struct config *cfg, const struct key *k, const struct toml *v,
			  struct err *err)
{
	cleanup(strv_free) char **l = NULL;
	for (size_t i = 0; i < toml_len(v); i++) {
		const struct toml *e = toml_at(v, i);
		if (toml_type(e) != TOML_STRING || str_empty(toml_string(e)) ||
		    strlen(toml_string(e)) != toml_string_len(e))
			return err_msg(err, -EINVAL, "expected an array of non-empty strings");
		int r = check_value(k, toml_string(e), err);
		if (r < 0)
			return r;
		strv_push(&l, toml_string(e));
	}
	if (!l)
		l = xzalloc(sizeof(char *));
	strv_free(*(char ***)config_key_field(cfg, k));
	*(char ***)config_key_field(cfg, k) = TAKE_PTR(l);
	return 0;
}

/* Set key `k` from a TOML value of a config file. */
static int set_from_toml(struct config *cfg, const struct key *k, const struct toml *v,
			 struct err *err)
{
	enum toml_type t = toml_type(v);
	if (t == TOML_STRING && strlen(toml_string(v)) != toml_string_len(v))
		return err_msg(err, -EINVAL, "NUL character in string");
	uint64_t unit = k->type == KT_DURATION_MS ? 1000 : 1; /* a TOML integer is seconds */
	switch (k->type) {
	case KT_PATHLIST:
	case KT_LIST:
		if (t == TOML_ARRAY)
			return set_list_array(cfg, k, v, err);
		/* fall through */
	case KT_STR:
	case KT_LOGLEVEL:
		if (t != TOML_STRING)
			return err_msg(err, -EINVAL, "expected a string, got %s",
				       toml_type_name(t));
		return set_from_string(cfg, k, toml_string(v), err);
	case KT_SIZE:
	case KT_DURATION:
	case KT_DURATION_MS:
		if (t == TOML_STRING)
			return set_from_string(cfg, k, toml_string(v), err);
		/* fall through */
	case KT_UINT:
		if (t != TOML_INT)
			return err_msg(err, -EINVAL, "expected an integer, got %s",
				       toml_type_name(t));
		if (toml_int(v) < 0)
			return err_msg(err, -EINVAL, "expected a non-negative integer");
		if ((uint64_t)toml_int(v) > UINT64_MAX / unit)
			return err_msg(err, -EINVAL, "%" PRId64 " is too large", toml_int(v));
		return set_number(cfg, k, (uint64_t)toml_int(v) * unit, err);
	case KT_BOOL:
		if (t != TOML_BOOL)
			return err_msg(err, -EINVAL, "expected true or false, got %s",
				       toml_type_name(t));
		*(bool *)config_key_field(cfg, k) = toml_bool(v);
		return 0;
	}
	return -EINVAL;
}

void config_init(struct config *cfg)
{
	*cfg = (struct config){ 0 };
	for (size_t i = 0; i < config_n_keys; i++) {
		int r = set_from_string(cfg, &config_keys[i], config_keys[i].def, NULL);
		assert(r == 0);
		(void)r;
	}
}

void config_done(struct config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < config_n_keys; i++) {
		if (config_keys[i].type == KT_STR)
			free(*(char **)config_key_field(cfg, &config_keys[i]));
		else if (config_keys[i].type == KT_PATHLIST || config_keys[i].type == KT_LIST)
			strv_free(*(char ***)config_key_field(cfg, &config_keys[i]));
	}
	strv_free(cfg->flags);
	config_runtimes_done(cfg);
	*cfg = (struct config){ 0 };
}

/* Apply the entries of one TOML table (the root or [ocid]). */
static int apply_table(struct config *cfg, const char *name, const struct toml *t, bool root,
		       struct err *err)
{
	for (size_t i = 0; i < toml_len(t); i++) {
		const char *kn = toml_key_at(t, i);
		const struct toml *v = toml_at(t, i);
		if (root && strcmp(kn, "ocid") == 0 && toml_type(v) == TOML_TABLE) {
			int r = apply_table(cfg, name, v, false, err);
			if (r < 0)
				return r;
			continue;
		}
		if (strcmp(kn, "runtimes") == 0) {
			int r = config_runtimes_apply(cfg, name, v, err);
			if (r < 0)
				return r;
			continue;
		}
		const struct key *k = config_key_find(kn);
		if (!k || k->flag_only) {
			log_warn("unknown configuration key ignored", "key=%s at=%s:%u", log_q(kn),
				 log_q(name), toml_line(v));
			continue;
		}
		int r = set_from_toml(cfg, k, v, err);
		if (r < 0)
			return err_wrap(err, "%s:%u:%u: %s", name, toml_line(v), toml_col(v), kn);
	}
	return 0;
}

/* A key both at the top level and under [ocid] of one file: which one was
 * meant is anyone's guess, so neither is taken. */
static int check_twice(const char *name, const struct toml *root, struct err *err)
{
	const struct toml *sec = toml_get(root, "ocid");
	if (!sec || toml_type(sec) != TOML_TABLE)
		return 0;
	for (size_t i = 0; i < toml_len(sec); i++) {
		const char *kn = toml_key_at(sec, i);
		const struct toml *top = toml_get(root, kn);
		if (top && strcmp(kn, "ocid") != 0)
			return err_msg(
			    err, -EINVAL,
			    "%s:%u:%u: %s is set both at the top level (line %u) and under [ocid]; keep one",
			    name, toml_line(toml_at(sec, i)), toml_col(toml_at(sec, i)), kn,
			    toml_line(top));
	}
	return 0;
}

int config_load_text(struct config *cfg, const char *name, const char *text, size_t len,
		     struct err *err)
{
	cleanup(toml_free) struct toml *t = NULL;
	int r = toml_parse(name, text, len, &t, err);
	if (r < 0)
		return r == -EINVAL ? r : err_msg(err, -EINVAL, "%s", err_str(err));
	r = check_twice(name, t, err);
	if (r < 0)
		return r;
	return apply_table(cfg, name, t, true, err);
}

/* Apply one file. *ret_missing tells whether it did not exist. */
static int load_file(struct config *cfg, const char *path, bool *ret_missing, struct err *err)
{
	cleanup_free char *text = NULL;
	size_t len = 0;
	int r = fs_read_file(AT_FDCWD, path, TOML_MAX_SIZE, &text, &len, err);
	*ret_missing = r == -ENOENT;
	if (r == -ENOENT) {
		err_done(err); /* a missing file is not an error */
		return 0;
	}
	if (r < 0)
		return r == -EFBIG || r == -EISDIR ? err_msg(err, -EINVAL, "%s", err_str(err)) : r;
	return config_load_text(cfg, path, text, len, err);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_dir(struct config *cfg, const char *dir, struct err *err)
{
	DIR *d = opendir(dir);
	if (!d && errno == ENOTDIR)
		return err_msg(err, -EINVAL, "config directory '%s' is not a directory", dir);
	if (!d)
		return errno == ENOENT ? 0
				       : err_set(err, -errno, "open config directory '%s'", dir);
	cleanup(strv_free) char **names = NULL;
	struct dirent *de;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && str_has_suffix(de->d_name, ".conf"))
			strv_push(&names, de->d_name);
	closedir(d);
	size_t n = strv_len(names);
	if (n)
		qsort(names, n, sizeof(char *), cmp_str);
	for (size_t i = 0; i < n; i++) {
		cleanup_free char *path = xasprintf("%s/%s", dir, names[i]);
		struct stat st;
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
			continue;
		bool missing;
		int r = load_file(cfg, path, &missing, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static const struct key *flag_find(const char *name, size_t len)
{
	for (size_t i = 0; i < config_n_keys; i++) {
		const char *k = config_keys[i].name;
		if (strlen(k) != len)
			continue;
		size_t j = 0;
		while (j < len && (k[j] == name[j] || (k[j] == '_' && name[j] == '-')))
			j++;
		if (j == len)
			return &config_keys[i];
	}
	return NULL;
}

/* A repeated list flag adds to what the same pass already set; its first
 * use replaces what the files said. */
static int apply_flags(struct config *cfg, int argc, char **argv, struct err *err)
{
	cleanup_free bool *seen = xcalloc(config_n_keys, sizeof(*seen));
	for (int i = 0; argv && i < argc; i++) {
		const char *a = argv[i];
		if (!str_has_prefix(a, "--") || !a[2])
			return err_msg(err, -EINVAL, "unexpected argument '%s'", a);
		const char *eq = strchr(a + 2, '=');
		size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
		const struct key *k = flag_find(a + 2, len);
		if (!k)
			return err_msg(err, -EINVAL, "unknown flag --%.*s", (int)len, a + 2);
		const char *v = eq ? eq + 1 : NULL;
		/* A boolean alone means true; "--flag false" is the flag and its value. */
		if (!v && k->type == KT_BOOL && (i + 1 >= argc || argv[i + 1][0] == '-'))
			v = "true";
		if (!v && i + 1 >= argc)
			return err_msg(err, -EINVAL, "flag --%.*s needs a value", (int)len, a + 2);
		if (!v)
			v = argv[++i];
		size_t ki = (size_t)(k - config_keys);
		int r = k->type == KT_LIST ? set_list(cfg, k, v, seen[ki], err)
					   : set_from_string(cfg, k, v, err);
		seen[ki] = true;
		if (r < 0)
			return err_wrap(err, "flag --%.*s", (int)len, a + 2);
	}
	return 0;
}

/* A runtime given by name is looked up on PATH; kept as is when not found. */
static void resolve_runtime(struct config *cfg)
{
	char *p = fs_find_program(cfg->runtime, NULL);
	if (p) {
		free(cfg->runtime);
		cfg->runtime = p;
	}
}

int config_load(struct config *cfg, int argc, char **argv, struct err *err)
{
	if (!cfg->root)
		config_init(cfg);
	/* First pass: validate the flags and learn --config / --config-dir. */
	int r = apply_flags(cfg, argc, argv, err);
	if (r < 0)
		return r;
	bool missing = false;
	r = load_file(cfg, cfg->config_file, &missing, err);
	if (r < 0)
		return r;
	if (missing && strcmp(cfg->config_file, DEFAULT_CONFIG_FILE) != 0)
		log_info("configuration file not found, using defaults", "path=%s",
			 log_q(cfg->config_file));
	r = load_dir(cfg, cfg->config_dir, err);
	if (r < 0)
		return r;
	r = apply_flags(cfg, argc, argv, err);
	if (r < 0)
		return r;
	resolve_runtime(cfg);
	r = config_runtimes_finish(cfg, err);
	if (r < 0)
		return r;
	strv_free(cfg->flags);
	cfg->flags = NULL;
	for (int i = 0; argv && i < argc; i++)
		strv_push(&cfg->flags, argv[i]);
	return 0;
}

int config_reload(const struct config *running, struct config *fresh, struct err *err)
{
	config_init(fresh);
	cleanup(strv_free) char **flags = NULL;
	for (size_t i = 0; running->flags && running->flags[i]; i++)
		strv_push(&flags, running->flags[i]);
	return config_load(fresh, (int)strv_len(flags), flags, err);
}

/* The flag of a key: its name with '_' written as '-'. */
static const char *flag_of(const struct key *k, char *buf, size_t size)
{
	size_t j = 0;
	for (; k->name[j] && j < size - 1; j++)
		buf[j] = k->name[j] == '_' ? '-' : k->name[j];
	buf[j] = '\0';
	return buf;
}

char *config_list_toml(char *const *l)
{
	char *s = xstrdup("[");
	for (size_t i = 0; l && l[i]; i++) {
		cleanup_free char *q = toml_quote(l[i]);
		char *n = xasprintf("%s%s%s", s, i ? ", " : "", q);
		free(s);
		s = n;
	}
	char *n = xasprintf("%s]", s);
	free(s);
	return n;
}

static char *value_to_toml(const struct config *cfg, const struct key *k)
{
	switch (k->type) {
	case KT_STR:
		return toml_quote(*(char *const *)config_key_cfield(cfg, k));
	case KT_PATHLIST:
	case KT_LIST:
		return config_list_toml(*(char **const *)config_key_cfield(cfg, k));
	case KT_LOGLEVEL:
		return toml_quote(
		    log_level_name(*(const enum log_level *)config_key_cfield(cfg, k)));
	case KT_DURATION_MS: {
		uint64_t ms = get_number(cfg, k);
		if (ms % 1000)
			return xasprintf("\"%" PRIu64 "ms\"", ms);
		return xasprintf("%" PRIu64, ms / 1000);
	}
	case KT_UINT:
	case KT_SIZE:
	case KT_DURATION:
		return xasprintf("%" PRIu64, get_number(cfg, k));
	case KT_BOOL:
		return xstrdup(*(const bool *)config_key_cfield(cfg, k) ? "true" : "false");
	}
	return xstrdup("\"\"");
}

char *config_key_value(const struct config *cfg, const char *key)
{
	const struct key *k = config_key_find(key);
	return k ? value_to_toml(cfg, k) : NULL;
}

void config_key_copy(struct config *dst, const struct config *src, const char *key)
{
	const struct key *k = config_key_find(key);
	assert(k);
	switch (k->type) {
	case KT_STR:
		free(*(char **)config_key_field(dst, k));
		*(char **)config_key_field(dst, k) =
		    xstrdup(*(char *const *)config_key_cfield(src, k));
		return;
	case KT_PATHLIST:
	case KT_LIST: {
		char ***d = (char ***)config_key_field(dst, k);
		strv_free(*d);
		*d = xzalloc(sizeof(char *));
		for (char *const *l = *(char **const *)config_key_cfield(src, k); l && *l; l++)
			strv_push(d, *l);
		return;
	}
	case KT_LOGLEVEL:
	case KT_UINT:
	case KT_SIZE:
	case KT_DURATION:
	case KT_DURATION_MS:
	case KT_BOOL:
		memcpy(config_key_field(dst, k), config_key_cfield(src, k), k->size);
		return;
	}
}

char *config_to_toml(const struct config *cfg)
{
	char *out =
	    xstrdup("# ocid configuration (TOML), as in effect.\n"
		    "# Keys are top-level; they may also be written under an [ocid] table.\n"
		    "# Every key is also a flag of ocid: the key with '_' written as '-'.\n");
	for (size_t i = 0; i < config_n_keys; i++) {
		const struct key *k = &config_keys[i];
		cleanup_free char *v = value_to_toml(cfg, k);
		char *n, flag[64];
		if (k->flag_only)
			n = xasprintf("%s\n# %s\n# (flag only, not a key) --%s %s\n", out, k->help,
				      flag_of(k, flag, sizeof(flag)), v);
		else
			n = xasprintf("%s\n# %s Default: %s\n%s = %s\n", out, k->help, k->def,
				      k->name, v);
		free(out);
		out = n;
	}
	cleanup_free char *rts = config_runtimes_to_toml(cfg);
	char *n = xasprintf("%s%s", out, rts);
	free(out);
	return n;
}

void config_usage(FILE *out)
{
	fprintf(out, "Flags (each is also a key of ocid.conf, with '_' for '-'):\n");
	for (size_t i = 0; i < config_n_keys; i++) {
		const struct key *k = &config_keys[i];
		char flag[64];
		fprintf(out, "  --%-24s %s (default: %s)\n", flag_of(k, flag, sizeof(flag)),
			k->help, k->def);
	}
}
