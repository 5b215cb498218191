/*
 * fuzz_gw_reply.c -- libFuzzer target for the gateway's reading of bus
 * replies (gateway/reply.c, gw_resp_msg) with their effects (fx), which
 * feed the session view (gateway/sessions.c: gw_fx_apply, gw_view_apply)
 * and the API-key cache. The same bytes, decoded as one msgpack value, are
 * also offered to gw_view_install as a sessions snapshot. Nothing may
 * crash, leak or trip a sanitizer; the view must keep answering. Seeds:
 * tests/fuzz/seeds/fuzz_gw_reply/ (replies with each auth effect, a
 * snapshot).
 */
#include <nng/nng.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../gateway/gw.h"
#include "lc_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct gw g;
static unsigned  runs;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct MHD_Response *resp;
	nng_msg             *m = NULL;
	json_t              *j = NULL;
	json_t              *c = NULL;
	unsigned             status;

	if (g.view == NULL || ++runs % 4096 == 0) {
		// A fresh view now and then, so the state stays small.
		gw_view_free(g.view);
		if (g.auth == NULL) {
			g.auth = gw_auth_alloc(&g.cfg);
		}
		g.view = gw_view_alloc();
		gw_view_set_sync(g.view, NULL, 1);
	}
	if (nng_msg_alloc(&m, 0) != 0 || nng_msg_append(m, data, size) != 0) {
		nng_msg_free(m);
		return (0);
	}
	if ((resp = gw_resp_msg(&g, m, &status)) != NULL) { // m taken
		if (status < 100 || status > 599) {
			abort();
		}
		MHD_destroy_response(resp);
	}
	if (lc_codec_decode_json(data, size, &j) == 0) {
		(void) gw_view_install(g.view, j);
		json_decref(j);
	}
	if (gw_view_check(g.view, LC_STR("U1"), LC_STR("S1"), 0, &c) ==
	    GW_VIEW_OK) {
		json_decref(c);
	}
	c = NULL;
	if (gw_view_check(g.view, LC_STR("U1"), LC_STR("01J"), 1, &c) ==
	    GW_VIEW_OK) {
		json_decref(c);
	}
	return (0);
}
