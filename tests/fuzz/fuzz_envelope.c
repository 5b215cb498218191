/*
 * fuzz_envelope.c -- libFuzzer target for the envelope decoders: the same
 * bytes go to lc_env_decode_req, _rep and _event. Whatever decodes must
 * re-encode, decode again, and re-encode to the very same bytes (a
 * fixpoint after one round).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lc_env.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
same(const void *a, size_t al, const void *b, size_t bl)
{
	if (al != bl || memcmp(a, b, al) != 0) {
		abort();
	}
}

static void
check_req(const uint8_t *data, size_t size)
{
	struct lc_req r1, r2;
	void         *b1 = NULL, *b2 = NULL;
	size_t        l1 = 0, l2 = 0;

	lc_req_init(&r1);
	if (lc_env_decode_req(data, size, &r1) != 0) {
		return;
	}
	if (lc_env_encode_req(&r1, &b1, &l1) != 0 ||
	    lc_env_decode_req(b1, l1, &r2) != 0 ||
	    lc_env_encode_req(&r2, &b2, &l2) != 0) {
		abort();
	}
	same(b1, l1, b2, l2);
	if (r1.op != r2.op || strcmp(r1.rid, r2.rid) != 0 ||
	    strcmp(r1.ip, r2.ip) != 0 || r1.deadline != r2.deadline ||
	    r1.caller_kind != r2.caller_kind) {
		abort();
	}
	lc_req_fini(&r1);
	lc_req_fini(&r2);
	lc_free(b1);
	lc_free(b2);
}

static void
check_rep(const uint8_t *data, size_t size)
{
	struct lc_rep r1, r2;
	void         *b1 = NULL, *b2 = NULL;
	size_t        l1 = 0, l2 = 0;

	if (lc_env_decode_rep(data, size, &r1) != 0) {
		return;
	}
	if (lc_env_encode_rep(&r1, &b1, &l1) != 0 ||
	    lc_env_decode_rep(b1, l1, &r2) != 0 ||
	    lc_env_encode_rep(&r2, &b2, &l2) != 0) {
		abort();
	}
	same(b1, l1, b2, l2);
	if (r1.status != r2.status || r1.raw_len != r2.raw_len) {
		abort();
	}
	lc_rep_fini(&r1);
	lc_rep_fini(&r2);
	lc_free(b1);
	lc_free(b2);
}

static void
check_event(const uint8_t *data, size_t size)
{
	json_t  *p1 = NULL, *p2 = NULL;
	int      t1, t2;
	uint64_t s1, s2;
	int64_t  ts1, ts2;
	char     src1[256], src2[256];
	void    *b1 = NULL, *b2 = NULL;
	size_t   l1 = 0, l2 = 0;

	if (lc_env_decode_event(
	        data, size, &t1, &s1, &ts1, src1, sizeof(src1), &p1) != 0) {
		return;
	}
	if (lc_env_encode_event(t1, s1, ts1, src1, p1, &b1, &l1) != 0 ||
	    lc_env_decode_event(
	        b1, l1, &t2, &s2, &ts2, src2, sizeof(src2), &p2) != 0 ||
	    lc_env_encode_event(t2, s2, ts2, src2, p2, &b2, &l2) != 0) {
		abort();
	}
	same(b1, l1, b2, l2);
	if (t1 != t2 || s1 != s2 || ts1 != ts2 || strcmp(src1, src2) != 0 ||
	    !json_equal(p1, p2)) {
		abort();
	}
	json_decref(p1);
	json_decref(p2);
	lc_free(b1);
	lc_free(b2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_req(data, size);
	check_rep(data, size);
	check_event(data, size);
	return (0);
}
