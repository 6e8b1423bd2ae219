#include "base/toml.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "base/toml_int.h"
#include "base/str.h"

struct parser {
	const char *name;
	const char *p, *end, *line_start;
	unsigned line;
	struct toml *root, *cur;
	struct err *err;
};

struct buf {
	char *s;
	size_t n, cap;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		b->cap = (b->n + n + 1) * 2;
		b->s = xrealloc(b->s, b->cap);
	}
	memcpy(b->s + b->n, s, n);
	b->n += n;
	b->s[b->n] = '\0';
}

static void buf_addc(struct buf *b, char c)
{
	buf_add(b, &c, 1);
}

__attribute__((format(printf, 2, 3))) static int perr(struct parser *ps, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cleanup_free char *m = xvasprintf(fmt, ap);
	va_end(ap);
	return err_msg(ps->err, -EINVAL, "%s:%u:%u: %s", ps->name, ps->line,
		       (unsigned)(ps->p - ps->line_start) + 1, m);
}

static int peek(const struct parser *ps)
{
	return ps->p < ps->end ? (unsigned char)*ps->p : -1;
}

static int peek_at(const struct parser *ps, size_t off)
{
	return ps->p + off < ps->end ? (unsigned char)ps->p[off] : -1;
}

static unsigned cur_col(const struct parser *ps)
{
	return (unsigned)(ps->p - ps->line_start) + 1;
}

static struct toml *node_new(struct parser *ps, enum toml_type type)
{
	struct toml *t = xnew(struct toml);
	t->type = type;
	t->line = ps->line;
	t->col = cur_col(ps);
	return t;
}

static void node_add(struct toml *t, char *key, struct toml *v)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 4;
		t->items = xreallocarray(t->items, t->cap, sizeof(*t->items));
		if (t->type == TOML_TABLE)
			t->keys = xreallocarray(t->keys, t->cap, sizeof(*t->keys));
	}
	if (t->type == TOML_TABLE)
		t->keys[t->n] = key;
	t->items[t->n++] = v;
}

/* A new table at line:col, added to `parent` under `key` (NULL inside an
 * array of tables). */
static struct toml *table_add(struct parser *ps, struct toml *parent, const char *key,
			      unsigned line, unsigned col, unsigned flags)
{
	struct toml *c = node_new(ps, TOML_TABLE);
	c->line = line;
	c->col = col;
	c->flags = flags;
	node_add(parent, key ? xstrdup(key) : NULL, c);
	return c;
}

/* Consume a newline ("\n" or "\r\n") if one is next. */
static bool eat_newline(struct parser *ps)
{
	if (peek(ps) == '\r' && peek_at(ps, 1) == '\n')
		ps->p++;
	if (peek(ps) != '\n')
		return false;
	ps->p++;
	ps->line++;
	ps->line_start = ps->p;
	return true;
}

static void skip_ws(struct parser *ps)
{
	while (peek(ps) == ' ' || peek(ps) == '\t')
		ps->p++;
}

static int skip_comment(struct parser *ps)
{
	if (peek(ps) != '#')
		return 0;
	while (ps->p < ps->end && *ps->p != '\n') {
		unsigned char c = (unsigned char)*ps->p;
		if ((c < 0x20 && c != '\t' && !(c == '\r' && peek_at(ps, 1) == '\n')) || c == 0x7f)
			return perr(ps, "control character in comment");
		ps->p++;
	}
	return 0;
}

/* Whitespace, newlines and comments (inside arrays). */
static int skip_all(struct parser *ps)
{
	for (;;) {
		skip_ws(ps);
		int r = skip_comment(ps);
		if (r < 0)
			return r;
		if (!eat_newline(ps))
			return 0;
	}
}

static bool is_bare(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

static void utf8_put(struct buf *b, uint32_t cp)
{
	char o[4];
	size_t n;
	if (cp < 0x80) {
		o[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		o[0] = (char)(0xf0 | (cp >> 18));
		o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	buf_add(b, o, n);
}

static int parse_escape(struct parser *ps, struct buf *b)
{
	/* ps->p stays on the backslash until the escape is known good, so
	 * errors point at it. */
	int c = peek_at(ps, 1);
	const char *simple = "b\bt\tn\nf\fr\r\"\"\\\\e\033";
	for (const char *s = simple; *s; s += 2)
		if (c == *s) {
			buf_addc(b, s[1]);
			ps->p += 2;
			return 0;
		}
	if (c != 'u' && c != 'U')
		return perr(ps, "invalid escape sequence '\\%c'", c >= 0x20 && c < 0x7f ? c : '?');
	size_t n = c == 'u' ? 4 : 8;
	uint32_t cp = 0;
	for (size_t i = 2; i < n + 2; i++) {
		int h = str_hexval(peek_at(ps, i));
		if (h < 0)
			return perr(ps, "expected %zu hex digits after '\\%c'", n, c);
		cp = cp << 4 | (uint32_t)h;
	}
	if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return perr(ps, "escape is not a Unicode scalar value");
	utf8_put(b, cp);
	ps->p += n + 2;
	return 0;
}

static bool is_ctl(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

/* After a line-ending backslash in a multi-line basic string: drop all
 * whitespace and newlines up to the next other character. */
static int trim_line_ending_backslash(struct parser *ps)
{
	const char *q = ps->p + 1;
	while (q < ps->end && (*q == ' ' || *q == '\t'))
		q++;
	if (q < ps->end && *q == '\r')
		q++;
	if (q >= ps->end || *q != '\n')
		return 1; /* not a line ending: an ordinary escape */
	ps->p = q;
	eat_newline(ps);
	for (;;) {
		skip_ws(ps);
		if (!eat_newline(ps))
			return 0;
	}
}

static int parse_string_ml(struct parser *ps, char q, struct buf *b)
{
	ps->p += 3;
	eat_newline(ps); /* a newline right after the opening quotes is trimmed */
	for (;;) {
		int c = peek(ps);
		if (c < 0)
			return perr(ps, "unterminated multi-line string");
		if (c == q && peek_at(ps, 1) == q && peek_at(ps, 2) == q) {
			size_t run = 3;
			while (peek_at(ps, run) == q)
				run++;
			if (run > 5)
				return perr(ps,
					    "too many quotes at the end of a multi-line string");
			buf_add(b, ps->p, run - 3);
			ps->p += run;
			return 0;
		}
		if (c == '\\' && q == '"') {
			int r = trim_line_ending_backslash(ps);
			if (r < 0)
				return r;
			if (r == 0)
				continue;
			r = parse_escape(ps, b);
			if (r < 0)
				return r;
			continue;
		}
		if (c == '\r' || c == '\n') {
			if (!eat_newline(ps))
				return perr(ps, "bare carriage return in string");
			buf_addc(b, '\n');
			continue;
		}
		if (is_ctl((unsigned char)c))
			return perr(ps, "control character in string");
		buf_addc(b, (char)c);
		ps->p++;
	}
}

/* A string starting at the current quote. *ret is malloc'd; *ret_len its length. */
static int parse_string(struct parser *ps, bool allow_ml, char **ret, size_t *ret_len)
{
	struct buf b = { xstrdup(""), 0, 1 };
	char q = *ps->p;
	int r = 0;
	if (peek_at(ps, 1) == q && peek_at(ps, 2) == q) {
		if (!allow_ml)
			r = perr(ps, "multi-line strings are not allowed as keys");
		else
			r = parse_string_ml(ps, q, &b);
		goto out;
	}
	ps->p++;
	for (;;) {
		int c = peek(ps);
		if (c == q) {
			ps->p++;
			break;
		}
		if (c < 0 || c == '\n' || c == '\r') {
			r = perr(ps, "unterminated string");
			goto out;
		}
		if (c == '\\' && q == '"') {
			r = parse_escape(ps, &b);
			if (r < 0)
				goto out;
			continue;
		}
		if (is_ctl((unsigned char)c)) {
			r = perr(ps, "control character in string");
			goto out;
		}
		buf_addc(&b, (char)c);
		ps->p++;
	}
out:
	if (r < 0) {
		free(b.s);
		return r;
	}
	*ret = b.s;
	*ret_len = b.n;
	return 0;
}

/* A dotted key: one or more simple keys. *ret_keys is a NULL-terminated vector. */
static int parse_key(struct parser *ps, char ***ret_keys)
{
	cleanup(strv_free) char **keys = NULL;
	for (;;) {
		skip_ws(ps);
		int c = peek(ps);
		if (c == '"' || c == '\'') {
			char *k = NULL;
			size_t klen = 0;
			int r = parse_string(ps, false, &k, &klen);
			if (r < 0)
				return r;
			if (strlen(k) != klen) {
				free(k);
				return perr(ps, "NUL character in key");
			}
			strv_push_take(&keys, k);
		} else if (is_bare(c)) {
			const char *s = ps->p;
			while (is_bare(peek(ps)))
				ps->p++;
			strv_push_take(&keys, xstrndup(s, (size_t)(ps->p - s)));
		} else {
			return perr(ps, "expected a key");
		}
		if (strv_len(keys) > TOML_MAX_DEPTH)
			return perr(ps, "too many parts in dotted key");
		skip_ws(ps);
		if (peek(ps) != '.')
			break;
		ps->p++;
	}
	*ret_keys = TAKE_PTR(keys);
	return 0;
}

static int parse_value(struct parser *ps, unsigned depth, struct toml **ret);

static int insert_keyval(struct parser *ps, struct toml *t, char **keys, struct toml *v,
			 unsigned line, unsigned col)
{
	size_t n = strv_len(keys);
	for (size_t i = 0; i + 1 < n; i++) {
		struct toml *c = toml_node_find(t, keys[i]);
		if (!c) {
			c = table_add(ps, t, keys[i], line, col, F_DOTTED);
		} else if (c->type != TOML_TABLE || (c->flags & F_INLINE) ||
			   ((c->flags & F_DEFINED) && !(c->flags & F_DOTTED))) {
			return err_msg(ps->err, -EINVAL, "%s:%u:%u: cannot add keys to '%s' here",
				       ps->name, line, col, keys[i]);
		}
		t = c;
	}
	if (toml_node_find(t, keys[n - 1]))
		return err_msg(ps->err, -EINVAL, "%s:%u:%u: duplicate key '%s'", ps->name, line,
			       col, keys[n - 1]);
	node_add(t, xstrdup(keys[n - 1]), v);
	return 0;
}

/* key = value, inserted into table t. */
static int parse_keyval(struct parser *ps, struct toml *t, unsigned depth)
{
	unsigned line = ps->line, col = cur_col(ps);
	cleanup(strv_free) char **keys = NULL;
	int r = parse_key(ps, &keys);
	if (r < 0)
		return r;
	if (peek(ps) != '=')
		return perr(ps, "expected '=' after key");
	ps->p++;
	skip_ws(ps);
	struct toml *v = NULL;
	r = parse_value(ps, depth, &v);
	if (r < 0)
		return r;
	r = insert_keyval(ps, t, keys, v, line, col);
	if (r < 0)
		toml_free(v);
	return r;
}

static int parse_array(struct parser *ps, unsigned depth, struct toml *a)
{
	ps->p++;
	for (;;) {
		int r = skip_all(ps);
		if (r < 0)
			return r;
		if (peek(ps) == ']')
			break;
		struct toml *v = NULL;
		r = parse_value(ps, depth + 1, &v);
		if (r < 0)
			return r;
		node_add(a, NULL, v);
		r = skip_all(ps);
		if (r < 0)
			return r;
		if (peek(ps) == ',') {
			ps->p++;
			continue;
		}
		if (peek(ps) != ']')
			return perr(ps, "expected ',' or ']' in array");
		break;
	}
	ps->p++;
	return 0;
}

static int parse_inline_table(struct parser *ps, unsigned depth, struct toml *t)
{
	ps->p++;
	skip_ws(ps);
	if (peek(ps) == '}') {
		ps->p++;
		return 0;
	}
	for (;;) {
		skip_ws(ps);
		int r = parse_keyval(ps, t, depth + 1);
		if (r < 0)
			return r;
		skip_ws(ps);
		if (peek(ps) == ',') {
			ps->p++;
			continue;
		}
		if (peek(ps) != '}')
			return perr(ps, "expected ',' or '}' in inline table");
		ps->p++;
		return 0;
	}
}

/* Digits of `base` with single underscores between digits. */
static bool digits_ok(const char *s, size_t n, int base)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '_') {
			if (i == 0 || i + 1 == n || s[i + 1] == '_')
				return false;
			continue;
		}
		int h = str_hexval((unsigned char)s[i]);
		if (h < 0 || h >= base)
			return false;
	}
	return true;
}

static bool float_ok(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && s[i] != '.' && s[i] != 'e' && s[i] != 'E')
		i++;
	if (!digits_ok(s, i, 10) || (s[0] == '0' && i > 1))
		return false;
	if (i < n && s[i] == '.') {
		size_t j = ++i;
		while (i < n && s[i] != 'e' && s[i] != 'E')
			i++;
		if (!digits_ok(s + j, i - j, 10))
			return false;
	}
	if (i < n) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		if (!digits_ok(s + i, n - i, 10))
			return false;
	}
	return true;
}

/* The value of digits already checked by digits_ok ('_' between them), if
 * it is at most lim. */
static bool digits_value(const char *d, uint64_t base, uint64_t lim, uint64_t *ret)
{
	uint64_t x = 0;
	for (const char *c = d; *c; c++) {
		if (*c == '_')
			continue;
		uint64_t digit = (uint64_t)str_hexval(*c);
		if (x > (lim - digit) / base)
			return false;
		x = x * base + digit;
	}
	*ret = x;
	return true;
}

/* A float checked by float_ok, without its '_'. */
static double float_value(const char *tok)
{
	struct buf b = { NULL, 0, 0 };
	for (const char *c = tok; *c; c++)
		if (*c != '_')
			buf_addc(&b, *c);
	double f = strtod(b.s, NULL);
	free(b.s);
	return f;
}

static int parse_number(struct parser *ps, struct toml *v)
{
	const char *s = ps->p;
	while (ps->p < ps->end &&
	       (is_bare(*ps->p) || *ps->p == '+' || *ps->p == '.' || *ps->p == ':'))
		ps->p++;
	size_t n = (size_t)(ps->p - s);
	cleanup_free char *tok = xstrndup(s, n);
	ps->p = s; /* errors point at the start of the value */
	if (n == 0)
		return perr(ps, "expected a value");
	if (strchr(tok, ':') || (n >= 10 && tok[4] == '-' && tok[7] == '-'))
		return perr(ps, "date-time values are not supported");
	const char *d = tok;
	bool neg = false, signed_ = false;
	if (*d == '+' || *d == '-') {
		neg = *d == '-';
		signed_ = true;
		d++;
	}
	size_t dn = strlen(d);
	if (strcmp(d, "inf") == 0 || strcmp(d, "nan") == 0) {
		v->type = TOML_FLOAT;
		v->f = strtod(tok, NULL);
	} else if (dn > 2 && d[0] == '0' && strchr("xob", d[1])) {
		int base = d[1] == 'x' ? 16 : d[1] == 'o' ? 8 : 2;
		if (signed_ || !digits_ok(d + 2, dn - 2, base))
			return perr(ps, "invalid integer '%s'", tok);
		uint64_t x = 0;
		if (!digits_value(d + 2, (uint64_t)base, INT64_MAX, &x))
			return perr(ps, "integer out of range");
		v->type = TOML_INT;
		v->i = (int64_t)x;
	} else if (digits_ok(d, dn, 10)) {
		if (d[0] == '0' && dn > 1)
			return perr(ps, "leading zeros are not allowed in '%s'", tok);
		uint64_t x = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
		if (!digits_value(d, 10, lim, &x))
			return perr(ps, "integer out of range");
		v->type = TOML_INT;
		v->i = neg ? (int64_t)(0 - x) : (int64_t)x;
	} else if (float_ok(d, dn)) {
		v->type = TOML_FLOAT;
		v->f = float_value(tok);
	} else {
		return perr(ps, "invalid value '%s'", tok);
	}
	ps->p = s + n;
	return 0;
}

static int parse_value(struct parser *ps, unsigned depth, struct toml **ret)
{
	if (depth > TOML_MAX_DEPTH)
		return perr(ps, "nesting deeper than %d levels", TOML_MAX_DEPTH);
	int c = peek(ps), r;
	cleanup(toml_free) struct toml *v = node_new(ps, TOML_STRING);
	if (c == '"' || c == '\'') {
		r = parse_string(ps, true, &v->s, &v->slen);
	} else if (c == '[') {
		v->type = TOML_ARRAY;
		r = parse_array(ps, depth, v);
	} else if (c == '{') {
		v->type = TOML_TABLE;
		v->flags = F_INLINE;
		r = parse_inline_table(ps, depth, v);
	} else if (c == 't' && ps->end - ps->p >= 4 && memcmp(ps->p, "true", 4) == 0 &&
		   !is_bare(peek_at(ps, 4))) {
		v->type = TOML_BOOL;
		v->b = true;
		ps->p += 4;
		r = 0;
	} else if (c == 'f' && ps->end - ps->p >= 5 && memcmp(ps->p, "false", 5) == 0 &&
		   !is_bare(peek_at(ps, 5))) {
		v->type = TOML_BOOL;
		ps->p += 5;
		r = 0;
	} else {
		r = parse_number(ps, v);
	}
	if (r < 0)
		return r;
	*ret = TAKE_PTR(v);
	return 0;
}

static int parse_header(struct parser *ps)
{
	unsigned line = ps->line, col = cur_col(ps);
	bool aot = peek_at(ps, 1) == '[';
	ps->p += aot ? 2 : 1;
	cleanup(strv_free) char **keys = NULL;
	int r = parse_key(ps, &keys);
	if (r < 0)
		return r;
	if (peek(ps) != ']' || (aot && peek_at(ps, 1) != ']'))
		return perr(ps, aot ? "expected ']]' after table name"
				    : "expected ']' after table name");
	ps->p += aot ? 2 : 1;
	struct toml *t = ps->root;
	size_t n = strv_len(keys);
	for (size_t i = 0; i + 1 < n; i++) {
		struct toml *c = toml_node_find(t, keys[i]);
		if (!c) {
			c = table_add(ps, t, keys[i], line, col, 0);
		} else if (c->type == TOML_ARRAY && (c->flags & F_AOT)) {
			c = c->items[c->n - 1];
		} else if (c->type != TOML_TABLE || (c->flags & F_INLINE)) {
			return err_msg(ps->err, -EINVAL, "%s:%u:%u: key '%s' is not a table",
				       ps->name, line, col, keys[i]);
		}
		t = c;
	}
	struct toml *c = toml_node_find(t, keys[n - 1]);
	if (aot) {
		if (!c) {
			c = node_new(ps, TOML_ARRAY);
			c->flags = F_AOT;
			node_add(t, xstrdup(keys[n - 1]), c);
		} else if (c->type != TOML_ARRAY || !(c->flags & F_AOT)) {
			return err_msg(
			    ps->err, -EINVAL,
			    "%s:%u:%u: '%s' is already defined and not an array of tables",
			    ps->name, line, col, keys[n - 1]);
		}
		ps->cur = table_add(ps, c, NULL, line, col, F_DEFINED);
		return 0;
	}
	if (!c) {
		c = table_add(ps, t, keys[n - 1], line, col, 0);
	} else if (c->type != TOML_TABLE || (c->flags & (F_DEFINED | F_DOTTED | F_INLINE))) {
		return err_msg(ps->err, -EINVAL, "%s:%u:%u: table '%s' is already defined",
			       ps->name, line, col, keys[n - 1]);
	}
	c->line = line;
	c->col = col;
	c->flags |= F_DEFINED;
	ps->cur = c;
	return 0;
}

/* Length of the UTF-8 sequence at s (at most n bytes), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	if (s[0] < 0x80)
		return 1;
	size_t len = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
	if (len == 0 || len > n || s[0] > 0xf4)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) ||
	    (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
		return 0;
	return len;
}

static int check_encoding(struct parser *ps)
{
	const unsigned char *s = (const unsigned char *)ps->p;
	size_t n = (size_t)(ps->end - ps->p);
	for (size_t i = 0; i < n;) {
		size_t l = s[i] ? utf8_len(s + i, n - i) : 0;
		if (l == 0) {
			const char *save = ps->p;
			ps->p = (const char *)s + i;
			for (const char *q = save; q < ps->p; q++)
				if (*q == '\n') {
					ps->line++;
					ps->line_start = q + 1;
				}
			return perr(ps, s[i] ? "invalid UTF-8" : "NUL byte in document");
		}
		i += l;
	}
	return 0;
}

static int parse_document(struct parser *ps)
{
	int r = check_encoding(ps);
	if (r < 0)
		return r;
	while (ps->p < ps->end) {
		skip_ws(ps);
		int c = peek(ps);
		if (c == '[')
			r = parse_header(ps);
		else if (c != '#' && c != '\n' && c != '\r' && c >= 0)
			r = parse_keyval(ps, ps->cur, 0);
		if (r < 0)
			return r;
		skip_ws(ps);
		r = skip_comment(ps);
		if (r < 0)
			return r;
		if (ps->p < ps->end && !eat_newline(ps))
			return perr(ps, "expected a newline after %s",
				    c == '[' ? "the table header" : "the value");
	}
	return 0;
}

int toml_parse(const char *name, const char *text, size_t len, struct toml **ret, struct err *err)
{
	if (len > TOML_MAX_SIZE)
		return err_msg(err, -EFBIG, "%s: larger than %u bytes", name, TOML_MAX_SIZE);
	struct parser ps = { .name = name,
			     .p = text,
			     .end = text + len,
			     .line_start = text,
			     .line = 1,
			     .err = err };
	/* A UTF-8 byte order mark is allowed at the very start. */
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
		ps.p += 3;
		ps.line_start = ps.p;
	}
	ps.root = node_new(&ps, TOML_TABLE);
	ps.root->flags = F_DEFINED;
	ps.cur = ps.root;
	int r = parse_document(&ps);
	if (r < 0) {
		toml_free(ps.root);
		return r;
	}
	*ret = ps.root;
	return 0;
}
