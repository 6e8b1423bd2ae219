/* Typed, versioned ocid <-> ocimon messages: explicit little-endian
 * encoding, every length checked before it is used. No allocation, no
 * libc state: mon_spawn's child may encode between fork and exec. */
#include <errno.h>
#include <string.h>

#include "mon/mon.h"

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Payload length of each type; -1 = variable (SYNC_ERROR), 0 = invalid type. */
static int payload_len(enum mon_msg_type t)
{
	switch (t) {
	case MON_MSG_SYNC_PID:
		return 8;
	case MON_MSG_SYNC_ERROR:
		return -1;
	case MON_MSG_REOPEN_LOG:
		return 0;
	case MON_MSG_RESIZE:
		return 4;
	case MON_MSG_EXIT:
		return 17;
	case MON_MSG_REPLY:
		return 4;
	}
	return -2;
}

int mon_msg_encode(const struct mon_msg *m, uint8_t *buf, size_t size)
{
	int plen = payload_len(m->type);
	if (plen == -2)
		return -EINVAL;
	if (plen == -1) {
		if (m->error.len > MON_MSG_MAX_TEXT)
			return -EINVAL;
		plen = 4 + (int)m->error.len;
	}
	if (size < (size_t)(MON_MSG_HDR_SIZE + plen))
		return -ENOBUFS;
	put16(buf, (uint16_t)m->type);
	put16(buf + 2, MON_PROTO_VERSION);
	put32(buf + 4, (uint32_t)plen);
	put32(buf + 8, 0);
	uint8_t *p = buf + MON_MSG_HDR_SIZE;
	switch (m->type) {
	case MON_MSG_SYNC_PID:
		put32(p, (uint32_t)m->sync.pid);
		put32(p + 4, (uint32_t)m->sync.mon_pid);
		break;
	case MON_MSG_SYNC_ERROR:
		put32(p, (uint32_t)m->error.code);
		memcpy(p + 4, m->error.text, m->error.len);
		break;
	case MON_MSG_REOPEN_LOG:
		break;
	case MON_MSG_RESIZE:
		put16(p, m->resize.width);
		put16(p + 2, m->resize.height);
		break;
	case MON_MSG_EXIT:
		put32(p, (uint32_t)m->exit.exit_code);
		put32(p + 4, (uint32_t)m->exit.signal);
		p[8] = m->exit.oom ? 1 : 0;
		put64(p + 9, (uint64_t)m->exit.finished_ns);
		break;
	case MON_MSG_REPLY:
		put32(p, (uint32_t)m->status);
		break;
	}
	return MON_MSG_HDR_SIZE + plen;
}

static int decode_payload(enum mon_msg_type t, const uint8_t *p, uint32_t plen, struct mon_msg *m)
{
	switch (t) {
	case MON_MSG_SYNC_PID:
		m->sync.pid = (int32_t)get32(p);
		m->sync.mon_pid = (int32_t)get32(p + 4);
		return m->sync.pid > 0 && m->sync.mon_pid > 0 ? 0 : -EBADMSG;
	case MON_MSG_SYNC_ERROR:
		m->error.code = (int32_t)get32(p);
		if (m->error.code >= 0 || m->error.code < -4095)
			return -EBADMSG;
		m->error.len = plen - 4;
		memcpy(m->error.text, p + 4, m->error.len);
		m->error.text[m->error.len] = '\0';
		return 0;
	case MON_MSG_REOPEN_LOG:
		return 0;
	case MON_MSG_RESIZE:
		m->resize.width = get16(p);
		m->resize.height = get16(p + 2);
		return 0;
	case MON_MSG_EXIT:
		m->exit.exit_code = (int32_t)get32(p);
		m->exit.signal = (int32_t)get32(p + 4);
		if (p[8] > 1 || m->exit.exit_code < 0 || m->exit.exit_code > 255 ||
		    m->exit.signal < 0 || m->exit.signal > 64)
			return -EBADMSG;
		m->exit.oom = p[8] == 1;
		m->exit.finished_ns = (int64_t)get64(p + 9);
		return 0;
	case MON_MSG_REPLY:
		m->status = (int32_t)get32(p);
		return m->status <= 0 && m->status >= -4095 ? 0 : -EBADMSG;
	}
	return -EBADMSG;
}

int mon_msg_decode(const uint8_t *buf, size_t len, struct mon_msg *m)
{
	if (len < MON_MSG_HDR_SIZE)
		return -EAGAIN;
	uint16_t type = get16(buf);
	if (get16(buf + 2) != MON_PROTO_VERSION)
		return -EPROTO;
	uint32_t plen = get32(buf + 4);
	if (plen > MON_MSG_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (get32(buf + 8) != 0)
		return -EBADMSG;
	int want = payload_len((enum mon_msg_type)type);
	if (want == -2 || (want >= 0 && plen != (uint32_t)want) || (want == -1 && plen < 4))
		return -EBADMSG;
	if (len - MON_MSG_HDR_SIZE < plen)
		return -EAGAIN;
	memset(m, 0, offsetof(struct mon_msg, error.text));
	m->type = (enum mon_msg_type)type;
	int r = decode_payload(m->type, buf + MON_MSG_HDR_SIZE, plen, m);
	if (r < 0)
		return r;
	return (int)(MON_MSG_HDR_SIZE + plen);
}
