/*
 * mailer.c -- asynchronous delivery of auth e-mails (API.md §2.8).
 *
 * Handlers never wait for a mail server: auth_mailer_send copies the
 * message into a bounded ring and returns; one background thread takes
 * messages in order and hands them to lc_mail with the settings current
 * at that moment. So SMTP or HTTPS latency never shows in an answer (nor,
 * for forgot-password and magic-link, whether an account exists), and a
 * failed delivery is only logged: it never changes a reply.
 *
 * Shutdown: auth_mailer_free sets a cancel flag that aborts a transfer in
 * progress (lc_mail's progress callback), then the thread drains the ring:
 * console mails are still written (cheap, local), remote ones dropped
 * with a log line. Copies of links and tokens are wiped when freed.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "lc_err.h"
#include "lc_log.h"

struct mail_job {
	char *kind;
	char *to;
	char *subject;
	char *text;
	char *link;
	char *token;
};

struct auth_mailer {
	pthread_mutex_t mu;
	pthread_cond_t  cv;
	struct mail_job q[AUTH_MAILER_QUEUE]; // ring, guarded by mu
	size_t          head;
	size_t          n;
	int             stop;   // guarded by mu
	int             cancel; // atomic: aborts a transfer
	pthread_t       thr;
};

static char *
dup_or_null(const char *s)
{
	return (s != NULL ? lc_strdup(s) : NULL);
}

static void
wipe_free(char *s)
{
	if (s != NULL) {
		sodium_memzero(s, strlen(s));
		lc_free(s);
	}
}

static void
job_fini(struct mail_job *j)
{
	wipe_free(j->kind);
	wipe_free(j->to);
	wipe_free(j->subject);
	wipe_free(j->text);
	wipe_free(j->link);
	wipe_free(j->token);
	memset(j, 0, sizeof(*j));
}

static void
deliver(struct auth_mailer *m, struct mail_job *j, int stopping)
{
	struct lc_mail_cfg c;
	struct lc_mail     mail = {
		    .service = "auth",
		    .kind    = j->kind,
		    .to      = j->to,
		    .subject = j->subject,
		    .text    = j->text,
		    .link    = j->link,
		    .token   = j->token,
	};
	char err[LC_MAIL_ERR_MAX];
	int  rv;

	lc_mail_cfg_init(&c);
	lc_mail_cfg_load(&c);
	c.cancel = &m->cancel;
	if (stopping && strcmp(c.provider, "console") != 0) {
		lc_log_warn("AUTH-MAIL-DROPPED",
		    "%s mail to %s not sent: shutting down", j->kind, j->to);
		lc_mail_cfg_fini(&c);
		return;
	}
	if ((rv = lc_mail_send(&c, &mail, err, sizeof(err))) != 0) {
		lc_log_warn(rv == LC_EEMAIL_NOT_CONFIGURED
		        ? "AUTH-MAIL-NOT-CONFIGURED"
		        : "AUTH-MAIL-FAILED",
		    "%s mail to %s via %s: %s", j->kind, j->to, c.provider,
		    err);
	} else {
		lc_log_debug("AUTH-MAIL-SENT", "%s mail to %s via %s", j->kind,
		    j->to, c.provider);
	}
	lc_mail_cfg_fini(&c);
}

static void *
mailer_main(void *arg)
{
	struct auth_mailer *m = arg;
	struct mail_job     j;
	int                 stopping;

	for (;;) {
		pthread_mutex_lock(&m->mu);
		while (m->n == 0 && !m->stop) {
			pthread_cond_wait(&m->cv, &m->mu);
		}
		if (m->n == 0) { // stop, and nothing left
			pthread_mutex_unlock(&m->mu);
			break;
		}
		j = m->q[m->head];
		memset(&m->q[m->head], 0, sizeof(j));
		m->head = (m->head + 1) % AUTH_MAILER_QUEUE;
		m->n--;
		stopping = m->stop;
		pthread_mutex_unlock(&m->mu);
		deliver(m, &j, stopping);
		job_fini(&j);
	}
	return (NULL);
}

int
auth_mailer_alloc(struct auth_mailer **out)
{
	struct auth_mailer *m = lc_calloc(1, sizeof(*m));
	int                 rc;

	pthread_mutex_init(&m->mu, NULL);
	pthread_cond_init(&m->cv, NULL);
	if ((rc = pthread_create(&m->thr, NULL, mailer_main, m)) != 0) {
		lc_log_err("AUTH-MAIL", "pthread_create: %s", strerror(rc));
		pthread_cond_destroy(&m->cv);
		pthread_mutex_destroy(&m->mu);
		lc_free(m);
		return (LC_EINTERNAL);
	}
	*out = m;
	return (0);
}

void
auth_mailer_free(struct auth_mailer *m)
{
	if (m == NULL) {
		return;
	}
	pthread_mutex_lock(&m->mu);
	m->stop = 1;
	__atomic_store_n(&m->cancel, 1, __ATOMIC_RELEASE);
	pthread_cond_signal(&m->cv);
	pthread_mutex_unlock(&m->mu);
	pthread_join(m->thr, NULL);
	pthread_cond_destroy(&m->cv);
	pthread_mutex_destroy(&m->mu);
	lc_free(m);
}

void
auth_mailer_send(struct auth_mailer *m, const struct lc_mail *mail)
{
	struct mail_job *j;

	if (m == NULL) {
		lc_log_warn("AUTH-MAIL-DROPPED", "%s mail to %s: no mailer",
		    mail->kind, mail->to);
		return;
	}
	pthread_mutex_lock(&m->mu);
	if (m->n == AUTH_MAILER_QUEUE || m->stop) {
		pthread_mutex_unlock(&m->mu);
		lc_log_warn("AUTH-MAIL-DROPPED", "%s mail to %s: queue full",
		    mail->kind, mail->to);
		return;
	}
	j          = &m->q[(m->head + m->n) % AUTH_MAILER_QUEUE];
	j->kind    = dup_or_null(mail->kind);
	j->to      = dup_or_null(mail->to);
	j->subject = dup_or_null(mail->subject);
	j->text    = dup_or_null(mail->text);
	j->link    = dup_or_null(mail->link);
	j->token   = dup_or_null(mail->token);
	m->n++;
	pthread_cond_signal(&m->cv);
	pthread_mutex_unlock(&m->mu);
}
