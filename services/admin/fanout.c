/*
 * fanout.c -- admin asks the other processes (API.md §5.9).
 *
 * A gather sends one request to each of several services at once with
 * lc_client_call_async and waits on a latch (mutex + condition variable)
 * until every callback has run. lc_bus guarantees exactly one callback per
 * accepted call, at the latest when its timeout expires, so the wait is
 * bounded by the timeout. The callbacks run on nng threads: they only store
 * the reply message and the latency; decoding happens on the worker.
 *
 * The survey (lc_survey_ask) reaches every process that dialled admin's
 * surveyor, gateways included.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "admin.h"
#include "lc_err.h"
#include "lc_log.h"

struct slot {
	struct adm_gather *g;
	struct adm_call   *call;
	int64_t            t0_ns;
	void              *msg; // reply message (ours after the callback)
};

struct adm_gather {
	pthread_mutex_t  mu;
	pthread_cond_t   cv;
	size_t           pending; // callbacks still to come
	size_t           n;
	struct slot     *slots;
	struct adm_call *calls;
};

// Fills a request envelope for a service-to-service call (caller kind
// "service"). body is taken (may be NULL).
static void
req_build(
    struct lc_req *rq, int msg, const char *rid, int timeout_ms, json_t *body)
{
	lc_req_init(rq);
	rq->v  = LC_ENV_VERSION;
	rq->op = msg;
	snprintf(rq->op_name, sizeof(rq->op_name), "%s", lc_msg_name(msg));
	snprintf(rq->rid, sizeof(rq->rid), "%s", rid != NULL ? rid : "");
	rq->deadline    = lc_now_ms() + timeout_ms;
	rq->caller_kind = LC_CALLER_SERVICE;
	rq->caller      = json_pack("{s:s}", "kind", "service");
	rq->params      = json_object();
	rq->query       = json_object();
	rq->body        = body;
}

static void
on_reply(void *arg, int rv, void *msg)
{
	struct slot       *sl = arg;
	struct adm_gather *g  = sl->g;
	int64_t            ms = (lc_mono_ns() - sl->t0_ns) / 1000000;

	pthread_mutex_lock(&g->mu);
	sl->call->probe.rv         = rv;
	sl->call->probe.latency_ms = ms;
	sl->msg                    = msg;
	g->pending--;
	// Signalled under the lock: the waiter frees g as soon as it sees
	// pending == 0, and it cannot before we unlock.
	pthread_cond_signal(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

struct adm_gather *
adm__gather_start(
    struct adm_call *calls, size_t n, const char *rid, int timeout_ms)
{
	struct adm_gather *g = lc_calloc(1, sizeof(*g));
	size_t             i;

	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, NULL);
	g->n     = n;
	g->calls = calls;
	g->slots = lc_calloc(n > 0 ? n : 1, sizeof(*g->slots));
	for (i = 0; i < n; i++) {
		struct slot  *sl = &g->slots[i];
		struct lc_req rq;
		void         *buf = NULL;
		size_t        len = 0;
		int           rv;

		sl->g    = g;
		sl->call = &calls[i];
		lc_rep_init(&calls[i].probe.rep);
		calls[i].probe.rv         = LC_EUNAVAILABLE;
		calls[i].probe.latency_ms = 0;
		if (calls[i].cl == NULL) {
			continue;
		}
		req_build(&rq, calls[i].msg, rid, timeout_ms, NULL);
		rv = lc_env_encode_req(&rq, &buf, &len);
		lc_req_fini(&rq);
		if (rv != 0) {
			lc_log_err("ADM-FANOUT", "encode %s: %s",
			    lc_msg_name(calls[i].msg), lc_err_code(rv));
			continue;
		}
		// Count the call before sending: the callback may run before
		// lc_client_call_async returns.
		pthread_mutex_lock(&g->mu);
		g->pending++;
		pthread_mutex_unlock(&g->mu);
		sl->t0_ns = lc_mono_ns();
		if (lc_client_call_async(calls[i].cl, buf, len, timeout_ms,
		        on_reply, sl) != 0) {
			// Refused at once (no peer or too many in flight): no
			// callback will come.
			pthread_mutex_lock(&g->mu);
			g->pending--;
			pthread_mutex_unlock(&g->mu);
		}
		lc_free(buf);
	}
	return (g);
}

void
adm__gather_wait(struct adm_gather *g)
{
	size_t i;

	pthread_mutex_lock(&g->mu);
	while (g->pending > 0) {
		pthread_cond_wait(&g->cv, &g->mu);
	}
	pthread_mutex_unlock(&g->mu);

	// Every callback has run: decode on this (worker) thread.
	for (i = 0; i < g->n; i++) {
		struct slot      *sl = &g->slots[i];
		struct adm_probe *p  = &sl->call->probe;

		if (sl->msg == NULL) {
			continue;
		}
		if (p->rv == 0 && lc_client_reply(sl->msg, &p->rep) != 0) {
			lc_log_warn("ADM-FANOUT", "bad reply to %s from %s",
			    lc_msg_name(sl->call->msg),
			    lc_svc_name(sl->call->svc));
			p->rv = LC_EUNAVAILABLE;
		}
		lc_client_msg_free(sl->msg);
		sl->msg = NULL;
	}
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->mu);
	lc_free(g->slots);
	lc_free(g);
}

void
adm__gather(struct adm_call *calls, size_t n, const char *rid, int timeout_ms)
{
	adm__gather_wait(adm__gather_start(calls, n, rid, timeout_ms));
}

void
adm__calls_fini(struct adm_call *calls, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		lc_rep_fini(&calls[i].probe.rep);
	}
}

int
adm__survey(struct lc_survey *survey, int msg, json_t *body, const char *rid,
    int timeout_ms, json_t **out)
{
	struct lc_req rq;
	int           rv;

	if (survey == NULL) {
		*out = json_array();
		return (0);
	}
	req_build(&rq, msg, rid, timeout_ms, json_incref(body));
	rv = lc_survey_ask(survey, &rq, timeout_ms, out);
	lc_req_fini(&rq);
	return (rv);
}
