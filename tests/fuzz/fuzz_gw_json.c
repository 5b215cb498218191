/*
 * fuzz_gw_json.c -- differential libFuzzer target for gateway/json.c, the
 * writer that turns a reply body (msgpack) into JSON text without jansson.
 * For any input that lc_codec_unpack accepts, gw_json_write must succeed
 * exactly when lc_codec_to_json does, and its text must parse (jansson) to
 * a value equal to lc_codec_to_json's. Seeds: tests/fuzz/seeds/fuzz_gw_json/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../gateway/gw.h"
#include "lc_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	msgpack_unpacked up;
	json_t          *want = NULL;
	json_t          *got;
	struct gw_buf    b = { 0 };
	int              rw;
	int              rj;

	msgpack_unpacked_init(&up);
	if (lc_codec_unpack(data, size, &up) != 0) {
		msgpack_unpacked_destroy(&up);
		return (0);
	}
	rj = lc_codec_to_json(&up.data, &want);
	rw = gw_json_write(&b, &up.data);
	if ((rj == 0) != (rw == 0)) {
		abort();
	}
	if (rw == 0) {
		got = json_loadb(
		    b.p, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
		if (got == NULL || !json_equal(got, want)) {
			abort();
		}
		json_decref(got);
	} else if (b.len != 0) {
		abort();
	}
	json_decref(want);
	lc_free(b.p);
	msgpack_unpacked_destroy(&up);
	return (0);
}
