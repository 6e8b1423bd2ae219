/* Fuzz the passwd/group line parsers and the "user[:group]" splitter: every
 * line of the input goes through all three; results must be consistent. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "oci/oci.h"
#include "oci/oci_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		struct oci_passwd_ent pw = { 0 };
		if (oci_passwd_parse_line(p, len, &pw) == 0) {
			if (!pw.name || !*pw.name || !pw.home || pw.uid == UINT32_MAX ||
			    strchr(pw.name, ':'))
				__builtin_trap();
			oci_passwd_ent_done(&pw);
		}
		struct oci_group_ent gr = { 0 };
		if (oci_group_parse_line(p, len, &gr) == 0) {
			if (!gr.name || !*gr.name || gr.gid == UINT32_MAX)
				__builtin_trap();
			for (size_t i = 0; gr.members && gr.members[i]; i++)
				if (!*gr.members[i] || strchr(gr.members[i], ','))
					__builtin_trap();
			oci_group_ent_done(&gr);
		}
		if (!memchr(p, '\0', len)) {
			char *s = xstrndup(p, len);
			struct oci_user_spec u = { 0 };
			struct err err = ERR_INIT;
			if (oci_user_spec_parse(s, &u, &err) == 0) {
				if (!u.user || strchr(u.user, ':') || (u.group && !*u.group))
					__builtin_trap();
				oci_user_spec_done(&u);
			}
			err_done(&err);
			free(s);
		}
		p += len + 1;
	}
	return 0;
}
