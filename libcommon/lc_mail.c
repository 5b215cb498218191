/*
 * lc_mail.c -- e-mail delivery: console, Resend, SMTP (see lc_mail.h).
 *
 * Both remote providers go through one libcurl easy handle per message,
 * with CURLOPT_NOSIGNAL (we run on worker threads), connect and total
 * timeouts, a protocol allow-list and no redirects. For SMTP the last
 * reply line of the server is kept (debug callback, incoming headers
 * only: outgoing lines carry the AUTH credentials and are never looked
 * at) so a failure reports what the server said. For Resend the "message"
 * of its JSON error body is reported.
 */
#include "lc_mail.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lc_cfg.h"
#include "lc_err.h"
#include "lc_ids.h"
#include "lc_log.h"
#include "lc_settings.h"

#define LINE_MAX_BYTES 998 // RFC 5322 §2.1.1
#define QP_LINE 76         // RFC 2045 §6.7 (5)
#define EW_CHUNK 45        // bytes per encoded word: 60 base64 chars
#define RESP_MAX (64 * 1024)

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int            curl_ok;

static void
curl_start(void)
{
	CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);

	if (rc != CURLE_OK) {
		lc_log_err("LC-MAIL-CURL", "curl_global_init: %s",
		    curl_easy_strerror(rc));
		return;
	}
	curl_ok = 1;
}

/* ---- a growing string ---- */

struct sbuf {
	char  *p;
	size_t len;
	size_t cap;
};

static void
sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap == 0 ? 256 : b->cap;

		while (b->len + n + 1 > cap) {
			cap *= 2;
		}
		b->p   = lc_realloc(b->p, cap);
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static void
sb_ch(struct sbuf *b, char c)
{
	sb_add(b, &c, 1);
}

/* ---- configuration ---- */

void
lc_mail_cfg_set(char **field, const char *s)
{
	if (*field != NULL) {
		sodium_memzero(*field, strlen(*field));
		lc_free(*field);
	}
	*field = s != NULL && s[0] != '\0' ? lc_strdup(s) : NULL;
}

void
lc_mail_cfg_init(struct lc_mail_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->provider   = lc_strdup("console");
	c->smtp_port  = 587;
	c->timeout_ms = LC_MAIL_TIMEOUT_MS;
}

// Copies one string setting into *field (unset when null or "").
static void
load_str(char **field, const char *key)
{
	char *buf = lc_alloc(LC_SETTING_STR_MAX + 1);

	if (lc_settings_str(key, buf, LC_SETTING_STR_MAX + 1) == 0) {
		lc_mail_cfg_set(field, buf);
	} else {
		lc_mail_cfg_set(field, NULL);
	}
	sodium_memzero(buf, LC_SETTING_STR_MAX + 1);
	lc_free(buf);
}

void
lc_mail_cfg_load(struct lc_mail_cfg *c)
{
	load_str(&c->provider, "email_provider");
	if (c->provider == NULL) {
		lc_mail_cfg_set(&c->provider, "console");
	}
	load_str(&c->from, "email_from");
	load_str(&c->resend_api_key, "resend_api_key");
	load_str(&c->smtp_host, "smtp_host");
	load_str(&c->smtp_user, "smtp_user");
	load_str(&c->smtp_pass, "smtp_pass");
	c->smtp_port   = (int) lc_settings_int("smtp_port");
	c->smtp_secure = lc_settings_bool("smtp_secure");
	lc_mail_cfg_set(&c->resend_url, lc_cfg_env("BB_RESEND_URL", NULL));
	lc_mail_cfg_set(
	    &c->console_file, lc_cfg_env("EMAIL_CONSOLE_FILE", NULL));
}

void
lc_mail_cfg_fini(struct lc_mail_cfg *c)
{
	lc_mail_cfg_set(&c->provider, NULL);
	lc_mail_cfg_set(&c->from, NULL);
	lc_mail_cfg_set(&c->resend_api_key, NULL);
	lc_mail_cfg_set(&c->resend_url, NULL);
	lc_mail_cfg_set(&c->smtp_host, NULL);
	lc_mail_cfg_set(&c->smtp_user, NULL);
	lc_mail_cfg_set(&c->smtp_pass, NULL);
	lc_mail_cfg_set(&c->console_file, NULL);
}

static void
set_err(char *err, size_t err_len, const char *msg)
{
	if (err != NULL && err_len > 0) {
		(void) snprintf(err, err_len, "%s", msg);
	}
}

int
lc_mail_ready(const struct lc_mail_cfg *c, char *err, size_t err_len)
{
	const char *p = c->provider != NULL ? c->provider : "console";

	if (strcmp(p, "console") == 0) {
		return (0);
	}
	if (strcmp(p, "resend") == 0) {
		if (c->resend_api_key == NULL || c->from == NULL) {
			set_err(err, err_len,
			    "The resend provider needs resend_api_key and "
			    "email_from.");
			return (LC_EEMAIL_NOT_CONFIGURED);
		}
		return (0);
	}
	if (strcmp(p, "smtp") == 0) {
		if (c->smtp_host == NULL || c->from == NULL) {
			set_err(err, err_len,
			    "The smtp provider needs smtp_host and "
			    "email_from.");
			return (LC_EEMAIL_NOT_CONFIGURED);
		}
		return (0);
	}
	set_err(err, err_len, "Unknown email_provider.");
	return (LC_EEMAIL_NOT_CONFIGURED);
}

/* ---- console ---- */

char *
lc_mail_console_line(const struct lc_mail *m, int64_t ts_ms)
{
	json_t *j;
	char   *s;
	char   *out;

	j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s?,s:s?,s:I}", "level",
	    "info", "event", "email", "service",
	    m->service != NULL ? m->service : "busbase", "kind", m->kind, "to",
	    m->to, "subject", m->subject, "link", m->link, "token", m->token,
	    "ts", (json_int_t) ts_ms);
	if (j == NULL) {
		return (NULL);
	}
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (s == NULL) {
		return (NULL);
	}
	out = lc_strdup(s);
	sodium_memzero(s, strlen(s)); // it holds the token
	free(s);
	return (out);
}

// Writes all of buf (one write(2) in the normal case).
static int
write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			return (-1);
		}
		buf += n;
		len -= (size_t) n;
	}
	return (0);
}

static int
console_send(const struct lc_mail_cfg *c, const struct lc_mail *m, char *err,
    size_t err_len)
{
	char  *line = lc_mail_console_line(m, lc_now_ms());
	size_t len;
	int    rv = 0;

	if (line == NULL) {
		set_err(err, err_len, "console: cannot encode the message");
		return (LC_EEMAIL_FAILED);
	}
	len         = strlen(line);
	line        = lc_realloc(line, len + 2);
	line[len++] = '\n';
	line[len]   = '\0';
	if (write_all(STDOUT_FILENO, line, len) != 0) {
		lc_log_warn("LC-MAIL-CONSOLE", "stdout: %s", strerror(errno));
	}
	if (c->console_file != NULL) {
		int fd = open(c->console_file,
		    O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);

		if (fd < 0 || write_all(fd, line, len) != 0) {
			lc_log_warn("LC-MAIL-CONSOLE", "%s: %s",
			    c->console_file, strerror(errno));
			if (err != NULL && err_len > 0) {
				(void) snprintf(err, err_len,
				    "console: %s: %s", c->console_file,
				    strerror(errno));
			}
			rv = LC_EEMAIL_FAILED;
		}
		if (fd >= 0) {
			close(fd);
		}
	}
	sodium_memzero(line, len);
	lc_free(line);
	return (rv);
}

/* ---- message building ---- */

int
lc_mail_parse_from(
    const char *from, char *name, size_t name_len, char *addr, size_t addr_len)
{
	size_t      len = strlen(from);
	const char *lt;
	const char *np = from;
	size_t      nlen;
	size_t      alen;

	if (name_len == 0) {
		return (LC_EVALIDATION);
	}
	if (len == 0 || from[len - 1] != '>' ||
	    (lt = strrchr(from, '<')) == NULL) {
		if (len == 0 || len >= addr_len) {
			return (LC_EVALIDATION);
		}
		name[0] = '\0';
		memcpy(addr, from, len + 1);
		return (0);
	}
	alen = len - (size_t) (lt - from) - 2; // between '<' and '>'
	nlen = (size_t) (lt - from);
	while (nlen > 0 && (np[nlen - 1] == ' ' || np[nlen - 1] == '\t')) {
		nlen--;
	}
	if (nlen >= 2 && np[0] == '"' && np[nlen - 1] == '"') {
		np++; // a quoted display name: drop the quotes
		nlen -= 2;
	}
	if (alen == 0 || alen >= addr_len || nlen >= name_len) {
		return (LC_EVALIDATION);
	}
	memcpy(name, np, nlen);
	name[nlen] = '\0';
	memcpy(addr, lt + 1, alen);
	addr[alen] = '\0';
	return (0);
}

static int
is_printable_ascii(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char) *s < 0x20 || (unsigned char) *s > 0x7e) {
			return (0);
		}
	}
	return (1);
}

// Only ASCII bytes (a CRLF text)?
static int
is_ascii_text(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char) *s > 0x7e) {
			return (0);
		}
	}
	return (1);
}

// RFC 2047 B encoded words for s, separated by folding (CRLF SP); each
// word holds whole UTF-8 characters.
static void
encoded_words(struct sbuf *b, const char *s)
{
	size_t len = strlen(s);
	size_t i   = 0;
	char   b64[sodium_base64_ENCODED_LEN(
	      EW_CHUNK + 4, sodium_base64_VARIANT_ORIGINAL)];

	while (i < len) {
		size_t n = len - i < EW_CHUNK ? len - i : EW_CHUNK;

		// Do not cut a character: back up over continuation bytes.
		while (i + n < len && n > 1 &&
		    ((unsigned char) s[i + n] & 0xc0) == 0x80) {
			n--;
		}
		if (i > 0) {
			sb_str(b, "\r\n ");
		}
		sodium_bin2base64(b64, sizeof(b64),
		    (const unsigned char *) s + i, n,
		    sodium_base64_VARIANT_ORIGINAL);
		sb_str(b, "=?UTF-8?B?");
		sb_str(b, b64);
		sb_str(b, "?=");
		i += n;
	}
}

// A display name: atoms as they are, other printable ASCII as a quoted
// string, anything else (UTF-8, controls) as encoded words.
static void
phrase(struct sbuf *b, const char *s)
{
	const char *p;
	int         plain = 1;

	if (!is_printable_ascii(s)) {
		encoded_words(b, s);
		return;
	}
	for (p = s; *p != '\0'; p++) {
		if (strchr("()<>[]:;@\\,.\"", *p) != NULL) {
			plain = 0;
		}
	}
	if (plain) {
		sb_str(b, s);
		return;
	}
	sb_ch(b, '"');
	for (p = s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\') {
			sb_ch(b, '\\');
		}
		sb_ch(b, *p);
	}
	sb_ch(b, '"');
}

// The body with CRLF line ends; *longest gets the longest line.
static void
crlf_body(struct sbuf *b, const char *text, size_t *longest)
{
	size_t cur = 0;

	*longest = 0;
	for (const char *p = text; *p != '\0'; p++) {
		if (*p == '\r') {
			continue;
		}
		if (*p == '\n') {
			sb_str(b, "\r\n");
			cur = 0;
			continue;
		}
		sb_ch(b, *p);
		if (++cur > *longest) {
			*longest = cur;
		}
	}
	if (b->len < 2 || strcmp(b->p + b->len - 2, "\r\n") != 0) {
		sb_str(b, "\r\n");
	}
}

// Quoted-printable (RFC 2045 §6.7) of a CRLF text.
static void
quoted_printable(struct sbuf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t            col   = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c      = (unsigned char) s[i];
		int           at_eol = i + 1 >= len || s[i + 1] == '\r';
		char          enc[4];
		size_t        n;

		if (c == '\r' && i + 1 < len && s[i + 1] == '\n') {
			sb_str(b, "\r\n");
			col = 0;
			i++;
			continue;
		}

		if ((c >= 33 && c <= 126 && c != '=') ||
		    ((c == ' ' || c == '\t') && !at_eol)) {
			enc[0] = (char) c;
			n      = 1;
		} else {
			enc[0] = '=';
			enc[1] = hex[c >> 4];
			enc[2] = hex[c & 15];
			n      = 3;
		}
		if (col + n > QP_LINE - 1) { // room for the soft break '='
			sb_str(b, "=\r\n");
			col = 0;
		}
		sb_add(b, enc, n);
		col += n;
	}
}

char *
lc_mail_build_message(const struct lc_mail *m, const char *from, int64_t now_s)
{
	struct sbuf b    = { 0 };
	struct sbuf body = { 0 };
	char        name[LC_SETTING_STR_MAX + 1];
	char        addr[LC_SETTING_STR_MAX + 1];
	char        date[64];
	time_t      t = (time_t) now_s;
	struct tm   tm;
	const char *dom;
	char       *rnd;
	size_t      longest;

	if (lc_mail_parse_from(from, name, sizeof(name), addr, sizeof(addr)) !=
	    0) {
		(void) snprintf(name, sizeof(name), "%s", "");
		(void) snprintf(addr, sizeof(addr), "%s", from);
	}
	(void) gmtime_r(&t, &tm);
	(void) strftime(
	    date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	sb_str(&b, "Date: ");
	sb_str(&b, date);
	sb_str(&b, "\r\nFrom: ");
	if (name[0] != '\0') {
		phrase(&b, name);
		sb_str(&b, " <");
		sb_str(&b, addr);
		sb_str(&b, ">");
	} else {
		sb_str(&b, addr);
	}
	sb_str(&b, "\r\nTo: ");
	sb_str(&b, m->to);
	sb_str(&b, "\r\nSubject: ");
	if (is_printable_ascii(m->subject) && strlen(m->subject) < 900) {
		sb_str(&b, m->subject);
	} else {
		encoded_words(&b, m->subject);
	}
	dom = strrchr(addr, '@');
	rnd = lc_random_token(18);
	sb_str(&b, "\r\nMessage-ID: <");
	sb_str(&b, rnd);
	sb_ch(&b, '@');
	sb_str(&b,
	    dom != NULL && dom[1] != '\0' && is_printable_ascii(dom + 1)
	        ? dom + 1
	        : "busbase.invalid");
	sb_str(&b,
	    ">\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=UTF-8\r\n");
	lc_free(rnd);
	crlf_body(&body, m->text != NULL ? m->text : "", &longest);
	// 7bit needs no 8BITMIME from the server; anything else is sent
	// quoted-printable, which every server carries.
	if (longest > LINE_MAX_BYTES || !is_ascii_text(body.p)) {
		sb_str(
		    &b, "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
		quoted_printable(&b, body.p, body.len);
	} else {
		sb_str(&b, "Content-Transfer-Encoding: 7bit\r\n\r\n");
		sb_add(&b, body.p, body.len);
	}
	sodium_memzero(body.p, body.len); // the link holds a token
	lc_free(body.p);
	return (b.p);
}

/* ---- curl plumbing ---- */

struct xfer {
	const char *up; // SMTP upload
	size_t      up_left;
	struct sbuf resp;      // Resend response body
	char        last[256]; // SMTP: last 4xx/5xx reply line
	const int  *cancel;
};

static size_t
read_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	struct xfer *x = arg;
	size_t       n = size * nitems;

	if (n > x->up_left) {
		n = x->up_left;
	}
	memcpy(buf, x->up, n);
	x->up += n;
	x->up_left -= n;
	return (n);
}

static size_t
write_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	struct xfer *x = arg;
	size_t       n = size * nitems;

	if (x->resp.len + n <= RESP_MAX) {
		sb_add(&x->resp, buf, n);
	}
	return (n);
}

static int
debug_cb(CURL *h, curl_infotype type, char *data, size_t size, void *arg)
{
	struct xfer *x = arg;
	size_t       n = size;

	LC_UNUSED(h);
	if (type != CURLINFO_HEADER_IN || size == 0 ||
	    (data[0] != '4' && data[0] != '5')) {
		return (0); // never look at outgoing lines (AUTH)
	}
	while (n > 0 && (data[n - 1] == '\r' || data[n - 1] == '\n')) {
		n--;
	}
	if (n == 0) {
		return (0);
	}
	if (n >= sizeof(x->last)) {
		n = sizeof(x->last) - 1;
	}
	memcpy(x->last, data, n);
	x->last[n] = '\0';
	return (0);
}

static int
progress_cb(
    void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct xfer *x = arg;

	LC_UNUSED(dt);
	LC_UNUSED(dn);
	LC_UNUSED(ut);
	LC_UNUSED(un);
	return (
	    x->cancel != NULL && __atomic_load_n(x->cancel, __ATOMIC_ACQUIRE)
	        ? 1
	        : 0);
}

// A handle with the options every transfer shares.
static CURL *
easy_new(const struct lc_mail_cfg *c, struct xfer *x, char *errbuf,
    const char *protocols)
{
	CURL *h;
	long  total = c->timeout_ms > 0 ? c->timeout_ms : LC_MAIL_TIMEOUT_MS;

	if (!curl_ok || (h = curl_easy_init()) == NULL) {
		return (NULL);
	}
	errbuf[0] = '\0';
	(void) curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	(void) curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	(void) curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, total);
	(void) curl_easy_setopt(
	    h, CURLOPT_CONNECTTIMEOUT_MS, total < 5000 ? total : 5000L);
	(void) curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, protocols);
	(void) curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	(void) curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	(void) curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, progress_cb);
	(void) curl_easy_setopt(h, CURLOPT_XFERINFODATA, x);
	return (h);
}

static void
curl_fail(char *err, size_t err_len, const char *who, CURLcode rc,
    const char *errbuf, const char *last)
{
	if (err == NULL || err_len == 0) {
		return;
	}
	(void) snprintf(err, err_len, "%s: %s%s%s", who,
	    errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc),
	    last != NULL && last[0] != '\0' ? ": " : "",
	    last != NULL ? last : "");
}

// Wipes and frees a header list (it may hold the API key).
static void
slist_wipe_free(struct curl_slist *l)
{
	for (struct curl_slist *p = l; p != NULL; p = p->next) {
		if (p->data != NULL) {
			sodium_memzero(p->data, strlen(p->data));
		}
	}
	curl_slist_free_all(l);
}

/* ---- SMTP ---- */

static int
smtp_send(const struct lc_mail_cfg *c, const struct lc_mail *m, char *err,
    size_t err_len)
{
	struct xfer        x    = { 0 };
	struct curl_slist *rcpt = NULL;
	char               errbuf[CURL_ERROR_SIZE];
	char               name[LC_SETTING_STR_MAX + 1];
	char               addr[LC_SETTING_STR_MAX + 1];
	char               mail_from[LC_SETTING_STR_MAX + 4];
	char              *to  = NULL;
	char              *url = NULL;
	char              *msg = NULL;
	CURL              *h   = NULL;
	CURLcode           rc;
	size_t             n;
	int                rv   = LC_EEMAIL_FAILED;
	int                port = c->smtp_port > 0 ? c->smtp_port : 587;
	int                v6;

	if (lc_mail_parse_from(
	        c->from, name, sizeof(name), addr, sizeof(addr)) != 0) {
		set_err(err, err_len, "smtp: email_from is not an address");
		return (LC_EEMAIL_NOT_CONFIGURED);
	}
	(void) snprintf(mail_from, sizeof(mail_from), "<%s>", addr);
	x.cancel = c->cancel;
	if ((h = easy_new(c, &x, errbuf, "smtp,smtps")) == NULL) {
		set_err(err, err_len, "smtp: cannot start libcurl");
		goto out;
	}
	// An IPv6 literal needs brackets in the URL.
	v6  = strchr(c->smtp_host, ':') != NULL && c->smtp_host[0] != '[';
	n   = strlen(c->smtp_host) + 32;
	url = lc_alloc(n);
	(void) snprintf(url, n, "%s://%s%s%s:%d",
	    c->smtp_secure ? "smtps" : "smtp", v6 ? "[" : "", c->smtp_host,
	    v6 ? "]" : "", port);
	n  = strlen(m->to) + 3;
	to = lc_alloc(n);
	(void) snprintf(to, n, "<%s>", m->to);
	rcpt      = curl_slist_append(NULL, to);
	msg       = lc_mail_build_message(m, c->from, lc_now_ms() / 1000);
	x.up      = msg;
	x.up_left = strlen(msg);
	if (rcpt == NULL) {
		set_err(err, err_len, "smtp: out of memory");
		goto out;
	}
	(void) curl_easy_setopt(h, CURLOPT_URL, url);
	// §2.8: STARTTLS on 587, implicit TLS when smtp_secure, otherwise
	// TLS when the server offers it.
	(void) curl_easy_setopt(h, CURLOPT_USE_SSL,
	    c->smtp_secure || port == 587 ? (long) CURLUSESSL_ALL
	                                  : (long) CURLUSESSL_TRY);
	if (c->smtp_user != NULL) {
		(void) curl_easy_setopt(h, CURLOPT_USERNAME, c->smtp_user);
		(void) curl_easy_setopt(h, CURLOPT_PASSWORD,
		    c->smtp_pass != NULL ? c->smtp_pass : "");
	}
	(void) curl_easy_setopt(h, CURLOPT_MAIL_FROM, mail_from);
	(void) curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
	(void) curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	(void) curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
	(void) curl_easy_setopt(h, CURLOPT_READDATA, &x);
	(void) curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, debug_cb);
	(void) curl_easy_setopt(h, CURLOPT_DEBUGDATA, &x);
	(void) curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
	if ((rc = curl_easy_perform(h)) != CURLE_OK) {
		curl_fail(err, err_len, "smtp", rc, errbuf, x.last);
		goto out;
	}
	rv = 0;
out:
	if (h != NULL) {
		curl_easy_cleanup(h);
	}
	curl_slist_free_all(rcpt);
	if (msg != NULL) {
		sodium_memzero(msg, strlen(msg));
	}
	lc_free(msg);
	lc_free(url);
	lc_free(to);
	return (rv);
}

/* ---- Resend ---- */

static int
resend_send(const struct lc_mail_cfg *c, const struct lc_mail *m, char *err,
    size_t err_len)
{
	struct xfer        x    = { 0 };
	struct curl_slist *hdrs = NULL;
	struct curl_slist *tmp;
	char               errbuf[CURL_ERROR_SIZE];
	char              *auth = NULL;
	char              *body = NULL;
	json_t            *j;
	json_t            *resp;
	CURL              *h = NULL;
	CURLcode           rc;
	long               status = 0;
	size_t             n;
	int                rv = LC_EEMAIL_FAILED;

	j = json_pack("{s:s,s:[s],s:s,s:s}", "from", c->from, "to", m->to,
	    "subject", m->subject, "text", m->text != NULL ? m->text : "");
	if (j == NULL || (body = json_dumps(j, JSON_COMPACT)) == NULL) {
		json_decref(j);
		set_err(err, err_len, "resend: cannot encode the message");
		return (LC_EEMAIL_FAILED);
	}
	json_decref(j);
	x.cancel = c->cancel;
	if ((h = easy_new(c, &x, errbuf, "http,https")) == NULL) {
		set_err(err, err_len, "resend: cannot start libcurl");
		goto out;
	}
	n    = strlen(c->resend_api_key) + 32;
	auth = lc_alloc(n);
	(void) snprintf(
	    auth, n, "Authorization: Bearer %s", c->resend_api_key);
	if ((tmp = curl_slist_append(hdrs, auth)) != NULL) {
		hdrs = tmp;
		tmp =
		    curl_slist_append(hdrs, "Content-Type: application/json");
	}
	if (tmp == NULL) {
		set_err(err, err_len, "resend: out of memory");
		goto out;
	}
	hdrs = tmp;
	(void) curl_easy_setopt(h, CURLOPT_URL,
	    c->resend_url != NULL ? c->resend_url : LC_MAIL_RESEND_URL);
	(void) curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	(void) curl_easy_setopt(h, CURLOPT_USERAGENT, "BusBase/" LC_VERSION);
	(void) curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	(void) curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long) strlen(body));
	(void) curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
	(void) curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
	if ((rc = curl_easy_perform(h)) != CURLE_OK) {
		curl_fail(err, err_len, "resend", rc, errbuf, NULL);
		goto out;
	}
	(void) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 200 && status < 300) {
		rv = 0;
		goto out;
	}
	// Resend's errors: {"statusCode":422,"name":"...","message":"..."}.
	resp = x.resp.p != NULL ? json_loadb(x.resp.p, x.resp.len, 0, NULL)
	                        : NULL;
	if (err != NULL && err_len > 0) {
		const char *msg =
		    json_string_value(json_object_get(resp, "message"));

		(void) snprintf(err, err_len, "resend: HTTP %ld: %s", status,
		    msg != NULL ? msg : "request failed");
	}
	json_decref(resp);
out:
	if (h != NULL) {
		curl_easy_cleanup(h);
	}
	slist_wipe_free(hdrs);
	if (auth != NULL) {
		sodium_memzero(auth, strlen(auth));
		lc_free(auth);
	}
	if (body != NULL) {
		sodium_memzero(body, strlen(body)); // the link holds a token
		free(body);
	}
	lc_free(x.resp.p);
	return (rv);
}

int
lc_mail_send(const struct lc_mail_cfg *c, const struct lc_mail *m, char *err,
    size_t err_len)
{
	const char *p = c->provider != NULL ? c->provider : "console";
	int         rv;

	if (err != NULL && err_len > 0) {
		err[0] = '\0';
	}
	if ((rv = lc_mail_ready(c, err, err_len)) != 0) {
		return (rv);
	}
	if (m->to == NULL || m->subject == NULL || m->kind == NULL) {
		set_err(err, err_len, "incomplete message");
		return (LC_EEMAIL_FAILED);
	}
	if (strcmp(p, "console") == 0) {
		return (console_send(c, m, err, err_len));
	}
	(void) pthread_once(&curl_once, curl_start);
	if (strcmp(p, "resend") == 0) {
		return (resend_send(c, m, err, err_len));
	}
	return (smtp_send(c, m, err, err_len));
}
