/*
 * fuzz_codec.c -- libFuzzer target for lc_codec: arbitrary bytes are
 * decoded as msgpack into JSON; whatever decodes must encode again, decode
 * to an equal value (json_equal), and re-encode to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lc_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j1 = NULL;
	json_t *j2 = NULL;
	void   *b1 = NULL;
	void   *b2 = NULL;
	size_t  l1 = 0;
	size_t  l2 = 0;

	if (lc_codec_decode_json(data, size, &j1) != 0) {
		return (0);
	}
	if (lc_codec_encode_json(j1, &b1, &l1) != 0) {
		abort(); // everything we decode must encode
	}
	if (lc_codec_decode_json(b1, l1, &j2) != 0) {
		abort(); // and our own encoding must decode
	}
	if (!json_equal(j1, j2)) {
		abort();
	}
	if (lc_codec_encode_json(j2, &b2, &l2) != 0 || l1 != l2 ||
	    memcmp(b1, b2, l1) != 0) {
		abort(); // encoding is a fixpoint after one round
	}
	json_decref(j1);
	json_decref(j2);
	lc_free(b1);
	lc_free(b2);
	return (0);
}
