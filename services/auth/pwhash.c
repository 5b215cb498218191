/*
 * pwhash.c -- Argon2id (libsodium, interactive limits: 2 passes, 64 MiB,
 * about 55 ms of one core) on a small pool of low-priority threads.
 *
 * Why a pool: a login flood must not starve the rest of the service. The
 * pool has few threads (AUTH_PW_THREADS), each at nice 19, so hashing
 * only gets the CPU that requests do not need; a worker thread that needs
 * a hash queues a job and sleeps on the job's condition variable until a
 * pool thread has done it. At most max_jobs jobs may be queued or running
 * at once: beyond that auth_pw_* answer LC_EUNAVAILABLE at once, so
 * password work can never hold more than max_jobs of the service's worker
 * threads, and /auth/me, refresh and the gateway's session checks keep
 * being served by the others.
 *
 * Jobs live on the waiting worker's stack; a pool thread touches a job
 * only under the pool mutex until it marks it done.
 *
 * Without a pool (st or st->pw NULL: unit tests) the hash runs on the
 * calling thread. auth_pw_verify with a NULL hash verifies against a
 * dummy hash made once at start, so an unknown account costs the same
 * Argon2 work as a wrong password.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "auth.h"
#include "lc_err.h"
#include "lc_log.h"

#define PW_NICE 19

enum pw_kind { PW_HASH, PW_VERIFY };

struct pw_job {
	struct pw_job *next;
	int            kind;
	const char    *pw;
	size_t         len;
	const char    *hash; // PW_VERIFY
	char          *out;  // PW_HASH: AUTH_PWHASH_STR bytes
	int            rv;
	int            done;
	pthread_cond_t cv;
};

struct auth_pwpool {
	pthread_mutex_t mu;
	pthread_cond_t  work;
	struct pw_job  *head;
	struct pw_job  *tail;
	int             njobs; // queued + running
	int             max_jobs;
	int             stop;
	int             nthreads;
	pthread_t      *threads;
	int64_t         warned_ms; // last shed warning (one a second at most)
};

// The dummy hash of auth_pw_verify(NULL): a random password's, made once
// (dummy_once owns it; read-only afterwards).
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static char           dummy_hash[AUTH_PWHASH_STR];

static int
hash_now(const char *pw, size_t len, char out[AUTH_PWHASH_STR])
{
	if (crypto_pwhash_argon2id_str(out, pw, len,
	        crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE,
	        crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE) != 0) {
		lc_log_err("AUTH-PWHASH", "argon2id failed (out of memory?)");
		return (LC_EINTERNAL);
	}
	return (0);
}

static void
dummy_make(void)
{
	char pw[32];

	randombytes_buf(pw, sizeof(pw));
	if (hash_now(pw, sizeof(pw), dummy_hash) != 0) {
		dummy_hash[0] = '\0'; // verify fails (still costs nothing)
	}
	sodium_memzero(pw, sizeof(pw));
}

// Runs a job's work on the current thread; returns its code.
static int
job_run(int kind, const char *pw, size_t len, const char *hash, char *out)
{
	int ok;

	if (kind == PW_HASH) {
		return (hash_now(pw, len, out));
	}
	(void) pthread_once(&dummy_once, dummy_make);
	ok = crypto_pwhash_str_verify(
	         hash != NULL ? hash : dummy_hash, pw, len) == 0;
	return (ok && hash != NULL ? 0 : LC_EINVALID_CREDENTIALS);
}

static void
lower_priority(void)
{
	pid_t tid = (pid_t) syscall(SYS_gettid);

	// Linux: the nice value is per thread (PRIO_PROCESS with a tid).
	if (setpriority(PRIO_PROCESS, (id_t) tid, PW_NICE) != 0) {
		lc_log_warn("AUTH-PWHASH", "setpriority: %s", strerror(errno));
	}
}

static void *
pool_main(void *arg)
{
	struct auth_pwpool *p = arg;
	struct pw_job      *j;
	int                 rv;

	lower_priority();
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (p->head == NULL && !p->stop) {
			pthread_cond_wait(&p->work, &p->mu);
		}
		if (p->head == NULL) {
			break; // stopping and nothing left
		}
		j       = p->head;
		p->head = j->next;
		if (p->head == NULL) {
			p->tail = NULL;
		}
		pthread_mutex_unlock(&p->mu);
		// The job's fields are stable until we mark it done.
		rv = job_run(j->kind, j->pw, j->len, j->hash, j->out);
		pthread_mutex_lock(&p->mu);
		j->rv   = rv;
		j->done = 1;
		p->njobs--;
		pthread_cond_signal(&j->cv);
	}
	pthread_mutex_unlock(&p->mu);
	return (NULL);
}

int
auth_pwpool_alloc(int nthreads, int max_jobs, struct auth_pwpool **out)
{
	struct auth_pwpool *p = lc_calloc(1, sizeof(*p));
	int                 i;

	(void) pthread_once(&dummy_once, dummy_make);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	p->max_jobs = max_jobs > 0 ? max_jobs : 1;
	p->threads  = lc_calloc((size_t) nthreads, sizeof(*p->threads));
	for (i = 0; i < nthreads; i++) {
		if (pthread_create(&p->threads[i], NULL, pool_main, p) != 0) {
			lc_log_err("AUTH-PWHASH", "cannot start thread %d", i);
			break;
		}
		p->nthreads++;
	}
	if (p->nthreads == 0) {
		auth_pwpool_free(p);
		return (LC_EINTERNAL);
	}
	*out = p;
	return (0);
}

void
auth_pwpool_free(struct auth_pwpool *p)
{
	if (p == NULL) {
		return;
	}
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->nthreads; i++) {
		pthread_join(p->threads[i], NULL);
	}
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->mu);
	lc_free(p->threads);
	lc_free(p);
}

// Queues a job and waits for it; LC_EUNAVAILABLE when the pool is full
// or stopping.
static int
pool_do(struct auth_pwpool *p, int kind, const char *pw, size_t len,
    const char *hash, char *out)
{
	struct pw_job j;
	int           rv;

	memset(&j, 0, sizeof(j));
	j.kind = kind;
	j.pw   = pw;
	j.len  = len;
	j.hash = hash;
	j.out  = out;
	pthread_mutex_lock(&p->mu);
	if (p->stop || p->njobs >= p->max_jobs) {
		int64_t now  = lc_mono_ms();
		int     warn = now - p->warned_ms >= 1000;

		if (warn) {
			p->warned_ms = now;
		}
		pthread_mutex_unlock(&p->mu);
		if (warn) {
			lc_log_warn("AUTH-PWHASH-BUSY",
			    "%d password jobs in progress: requests shed",
			    p->max_jobs);
		}
		return (LC_EUNAVAILABLE);
	}
	pthread_cond_init(&j.cv, NULL);
	p->njobs++;
	// The job lives on this stack: a pool thread unlinks it before it
	// runs it, and we return only once it is done.
	if (p->tail != NULL) {
		p->tail->next = &j;
	} else {
		// cppcheck-suppress autoVariables
		p->head = &j;
	}
	// cppcheck-suppress autoVariables
	p->tail = &j;
	pthread_cond_signal(&p->work);
	while (!j.done) {
		pthread_cond_wait(&j.cv, &p->mu);
	}
	rv = j.rv;
	pthread_mutex_unlock(&p->mu);
	pthread_cond_destroy(&j.cv);
	return (rv);
}

int
auth_pw_hash(struct auth_state *st, const char *pw, size_t len,
    char out[AUTH_PWHASH_STR])
{
	if (st == NULL || st->pw == NULL) {
		return (job_run(PW_HASH, pw, len, NULL, out));
	}
	return (pool_do(st->pw, PW_HASH, pw, len, NULL, out));
}

int
auth_pw_verify(
    struct auth_state *st, const char *hash, const char *pw, size_t len)
{
	if (hash != NULL && hash[0] == '\0') {
		hash = NULL; // no password: same work, same answer
	}
	if (st == NULL || st->pw == NULL) {
		return (job_run(PW_VERIFY, pw, len, hash, NULL));
	}
	return (pool_do(st->pw, PW_VERIFY, pw, len, hash, NULL));
}
