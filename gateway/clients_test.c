/*
 * clients_test.c -- gw_client picks the calling thread's bus client for a
 * service, unless that one has no connection while another has: right
 * after start one MHD thread's socket may still be dialling when the
 * other's is connected, and a request must not get a 503 for it.
 */
// cmocka.h needs these first; clang-format would sort it above them.
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
// clang-format on
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <string.h>
#include <unistd.h>

#include "gw.h"

static void
test_connected_client_preferred(void **state)
{
	struct gw         g = { 0 };
	struct lc_client *on;
	struct lc_client *off;
	nng_socket        rep;

	(void) state;
	assert_int_equal(nng_rep0_open(&rep), 0);
	assert_int_equal(
	    nng_listen(rep, "inproc://gw-clients-test", NULL, 0), 0);
	assert_int_equal(
	    lc_client_open("inproc://gw-clients-test", "auth", 8, &on), 0);
	assert_int_equal(
	    lc_client_open("inproc://gw-clients-nowhere", "auth", 8, &off), 0);
	for (int i = 0; i < 200 && lc_client_peers(on) == 0; i++) {
		usleep(10000);
	}
	assert_int_equal(lc_client_peers(on), 1);
	assert_int_equal(lc_client_peers(off), 0);
	g.nclients = 2;
	// whichever slot this thread has, the connected client answers
	g.client[LC_SVC_AUTH][0] = off;
	g.client[LC_SVC_AUTH][1] = on;
	assert_ptr_equal(gw_client(&g, LC_SVC_AUTH), on);
	g.client[LC_SVC_AUTH][0] = on;
	g.client[LC_SVC_AUTH][1] = off;
	assert_ptr_equal(gw_client(&g, LC_SVC_AUTH), on);
	// none connected: the thread's own (its call then fails fast)
	g.client[LC_SVC_AUTH][0] = off;
	g.client[LC_SVC_AUTH][1] = off;
	assert_ptr_equal(gw_client(&g, LC_SVC_AUTH), off);
	assert_null(gw_client(&g, LC_SVC_GATEWAY));
	lc_client_close(on);
	lc_client_close(off);
	(void) nng_close(rep);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connected_client_preferred),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
