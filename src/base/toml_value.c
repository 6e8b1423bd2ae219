/* TOML values: accessors, freeing, quoting. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/mem.h"
#include "base/toml_int.h"

struct toml *toml_node_find(const struct toml *t, const char *key)
{
	if (!t || t->type != TOML_TABLE)
		return NULL;
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->keys[i], key) == 0)
			return t->items[i];
	return NULL;
}

void toml_free(struct toml *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++) {
		if (t->keys)
			free(t->keys[i]);
		toml_free(t->items[i]);
	}
	free(t->keys);
	free(t->items);
	free(t->s);
	free(t);
}

enum toml_type toml_type(const struct toml *t)
{
	return t->type;
}

const char *toml_type_name(enum toml_type type)
{
	static const char *const names[] = { "string",	"integer", "float",
					     "boolean", "array",   "table" };
	return (unsigned)type < ARRAY_SIZE(names) ? names[type] : "?";
}

unsigned toml_line(const struct toml *t)
{
	return t->line;
}

unsigned toml_col(const struct toml *t)
{
	return t->col;
}

const struct toml *toml_get(const struct toml *t, const char *key)
{
	return toml_node_find(t, key);
}

size_t toml_len(const struct toml *t)
{
	return t && (t->type == TOML_ARRAY || t->type == TOML_TABLE) ? t->n : 0;
}

const struct toml *toml_at(const struct toml *t, size_t i)
{
	return i < toml_len(t) ? t->items[i] : NULL;
}

const char *toml_key_at(const struct toml *t, size_t i)
{
	return t && t->type == TOML_TABLE && i < t->n ? t->keys[i] : NULL;
}

const char *toml_string(const struct toml *t)
{
	return t && t->type == TOML_STRING ? t->s : NULL;
}

size_t toml_string_len(const struct toml *t)
{
	return t && t->type == TOML_STRING ? t->slen : 0;
}

int64_t toml_int(const struct toml *t)
{
	return t && t->type == TOML_INT ? t->i : 0;
}

double toml_float(const struct toml *t)
{
	return t && t->type == TOML_FLOAT ? t->f : 0;
}

bool toml_bool(const struct toml *t)
{
	return t && t->type == TOML_BOOL && t->b;
}

char *toml_quote(const char *s)
{
	size_t n = strlen(s);
	char *out = xmalloc(6 * n + 3), *o = out; /* worst case: every byte as \uXXXX */
	*o++ = '"';
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c == '"' || *c == '\\') {
			*o++ = '\\';
			*o++ = (char)*c;
		} else if (*c == '\n') {
			*o++ = '\\';
			*o++ = 'n';
		} else if (*c == '\t') {
			*o++ = '\\';
			*o++ = 't';
		} else if (*c < 0x20 || *c == 0x7f) {
			o += snprintf(o, 7, "\\u%04X", *c);
		} else {
			*o++ = (char)*c;
		}
	}
	*o++ = '"';
	*o = '\0';
	return out;
}
