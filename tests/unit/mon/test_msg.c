/* mon message codec: round trips of every type, truncation at every
 * length, wrong version, oversize and malformed payloads. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mon/mon.h"

static struct mon_msg in, out;
static uint8_t buf[MON_MSG_MAX_SIZE + 16];

static int round_trip(const struct mon_msg *m)
{
	int n = mon_msg_encode(m, buf, sizeof(buf));
	assert_true(n >= MON_MSG_HDR_SIZE);
	/* Every proper prefix is incomplete, never an error or a message. */
	for (int i = 0; i < n; i++)
		assert_int_equal(mon_msg_decode(buf, (size_t)i, &out), -EAGAIN);
	assert_int_equal(mon_msg_decode(buf, (size_t)n, &out), n);
	/* Trailing bytes (the next message on a stream) are not consumed. */
	assert_int_equal(mon_msg_decode(buf, (size_t)n + 5, &out), n);
	assert_int_equal(out.type, m->type);
	return n;
}

static void test_round_trip(void **state)
{
	memset(&in, 0, sizeof(in));
	in.type = MON_MSG_SYNC_PID;
	in.sync.pid = 4242;
	in.sync.mon_pid = 77;
	assert_int_equal(round_trip(&in), MON_MSG_HDR_SIZE + 8);
	assert_int_equal(out.sync.pid, 4242);
	assert_int_equal(out.sync.mon_pid, 77);

	in.type = MON_MSG_SYNC_ERROR;
	in.error.code = -ENOENT;
	strcpy(in.error.text, "runc create failed: no such file");
	in.error.len = (uint32_t)strlen(in.error.text);
	round_trip(&in);
	assert_int_equal(out.error.code, -ENOENT);
	assert_string_equal(out.error.text, in.error.text);

	in.type = MON_MSG_REOPEN_LOG;
	assert_int_equal(round_trip(&in), MON_MSG_HDR_SIZE);

	in.type = MON_MSG_RESIZE;
	in.resize.width = 65535;
	in.resize.height = 1;
	round_trip(&in);
	assert_int_equal(out.resize.width, 65535);
	assert_int_equal(out.resize.height, 1);

	in.type = MON_MSG_EXIT;
	in.exit = (struct mon_exit){
		.exit_code = 137, .signal = 9, .oom = true, .finished_ns = 1795379475145634774
	};
	round_trip(&in);
	assert_int_equal(out.exit.exit_code, 137);
	assert_int_equal(out.exit.signal, 9);
	assert_true(out.exit.oom);
	assert_true(out.exit.finished_ns == 1795379475145634774);

	in.type = MON_MSG_REPLY;
	in.status = -ENOTTY;
	round_trip(&in);
	assert_int_equal(out.status, -ENOTTY);
}

static void test_max_text(void **state)
{
	memset(&in, 0, sizeof(in));
	in.type = MON_MSG_SYNC_ERROR;
	in.error.code = -EIO;
	memset(in.error.text, 'x', MON_MSG_MAX_TEXT);
	in.error.len = MON_MSG_MAX_TEXT;
	assert_int_equal(round_trip(&in), MON_MSG_MAX_SIZE);
	assert_int_equal(out.error.len, MON_MSG_MAX_TEXT);
	assert_int_equal(strlen(out.error.text), MON_MSG_MAX_TEXT);
	in.error.len = MON_MSG_MAX_TEXT + 1;
	assert_int_equal(mon_msg_encode(&in, buf, sizeof(buf)), -EINVAL);
	in.error.len = 10;
	assert_int_equal(mon_msg_encode(&in, buf, MON_MSG_HDR_SIZE + 13), -ENOBUFS);
	assert_int_equal(mon_msg_encode(&in, buf, MON_MSG_HDR_SIZE + 14), MON_MSG_HDR_SIZE + 14);
	in.type = (enum mon_msg_type)99;
	assert_int_equal(mon_msg_encode(&in, buf, sizeof(buf)), -EINVAL);
}

static int encode_reply(int32_t status)
{
	memset(&in, 0, sizeof(in));
	in.type = MON_MSG_REPLY;
	in.status = status;
	return mon_msg_encode(&in, buf, sizeof(buf));
}

static void test_bad_header(void **state)
{
	int n = encode_reply(0);
	buf[2] = 2; /* version 2 */
	assert_int_equal(mon_msg_decode(buf, (size_t)n, &out), -EPROTO);
	buf[2] = 0; /* version 0 */
	assert_int_equal(mon_msg_decode(buf, (size_t)n, &out), -EPROTO);

	n = encode_reply(0);
	buf[8] = 1; /* reserved must be zero */
	assert_int_equal(mon_msg_decode(buf, (size_t)n, &out), -EBADMSG);

	n = encode_reply(0);
	buf[0] = 0; /* type 0 */
	assert_int_equal(mon_msg_decode(buf, (size_t)n, &out), -EBADMSG);
	buf[0] = 7;
	assert_int_equal(mon_msg_decode(buf, (size_t)n, &out), -EBADMSG);
}

static void test_oversize(void **state)
{
	encode_reply(0);
	/* A payload length over the limit is refused from the header alone,
	 * before any payload byte is there. */
	uint32_t big[] = { MON_MSG_MAX_PAYLOAD + 1, 0x10000000, 0xffffffff };
	for (size_t i = 0; i < ARRAY_SIZE(big); i++) {
		buf[4] = (uint8_t)big[i];
		buf[5] = (uint8_t)(big[i] >> 8);
		buf[6] = (uint8_t)(big[i] >> 16);
		buf[7] = (uint8_t)(big[i] >> 24);
		assert_int_equal(mon_msg_decode(buf, MON_MSG_HDR_SIZE, &out), -EMSGSIZE);
	}
}

static void test_wrong_payload(void **state)
{
	/* A reply whose length is not 4. */
	int n = encode_reply(0);
	buf[4] = 5;
	buf[n] = 0;
	assert_int_equal(mon_msg_decode(buf, (size_t)n + 1, &out), -EBADMSG);
	/* A positive reply status. */
	n = encode_reply(0);
	buf[MON_MSG_HDR_SIZE] = 1;
	assert_int_equal(mon_msg_decode(buf, (size_t)n, &out), -EBADMSG);
	/* Sync error: shorter than its code, and a non-negative code. */
	memset(&in, 0, sizeof(in));
	in.type = MON_MSG_SYNC_ERROR;
	in.error.code = -1;
	n = mon_msg_encode(&in, buf, sizeof(buf));
	assert_int_equal(mon_msg_decode(buf, (size_t)n, &out), n);
	buf[4] = 3;
	assert_int_equal(mon_msg_decode(buf, (size_t)n, &out), -EBADMSG);
	buf[4] = 4;
	memset(buf + MON_MSG_HDR_SIZE, 0, 4);
	assert_int_equal(mon_msg_decode(buf, (size_t)n, &out), -EBADMSG);
	/* Pids must be positive. */
	memset(&in, 0, sizeof(in));
	in.type = MON_MSG_SYNC_PID;
	in.sync.pid = -1;
	in.sync.mon_pid = 1;
	n = mon_msg_encode(&in, buf, sizeof(buf));
	assert_int_equal(mon_msg_decode(buf, (size_t)n, &out), -EBADMSG);
	/* Exit: oom flag 2, code 256, signal 65. */
	memset(&in, 0, sizeof(in));
	in.type = MON_MSG_EXIT;
	n = mon_msg_encode(&in, buf, sizeof(buf));
	buf[MON_MSG_HDR_SIZE + 8] = 2;
	assert_int_equal(mon_msg_decode(buf, (size_t)n, &out), -EBADMSG);
	in.exit.exit_code = 256;
	n = mon_msg_encode(&in, buf, sizeof(buf));
	assert_int_equal(mon_msg_decode(buf, (size_t)n, &out), -EBADMSG);
	in.exit.exit_code = 0;
	in.exit.signal = 65;
	n = mon_msg_encode(&in, buf, sizeof(buf));
	assert_int_equal(mon_msg_decode(buf, (size_t)n, &out), -EBADMSG);
}

static void test_stream_of_two(void **state)
{
	int n1 = encode_reply(-EIO);
	memset(&in, 0, sizeof(in));
	in.type = MON_MSG_RESIZE;
	in.resize.width = 80;
	in.resize.height = 24;
	int n2 = mon_msg_encode(&in, buf + n1, sizeof(buf) - (size_t)n1);
	assert_int_equal(mon_msg_decode(buf, (size_t)(n1 + n2), &out), n1);
	assert_int_equal(out.type, MON_MSG_REPLY);
	assert_int_equal(mon_msg_decode(buf + n1, (size_t)n2, &out), n2);
	assert_int_equal(out.resize.width, 80);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),    cmocka_unit_test(test_max_text),
		cmocka_unit_test(test_bad_header),    cmocka_unit_test(test_oversize),
		cmocka_unit_test(test_wrong_payload), cmocka_unit_test(test_stream_of_two),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
