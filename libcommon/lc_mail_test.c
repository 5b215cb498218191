/*
 * lc_mail_test.c -- e-mail delivery (lc_mail): sender parsing, the RFC
 * 5322 message (headers, encoded words, quoted-printable), the console
 * line and file, provider readiness, and real transfers through libcurl
 * against a fake SMTP server and a fake Resend endpoint on 127.0.0.1
 * (each a thread serving one connection).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
// cmocka needs the four above first
#include <arpa/inet.h>
#include <cmocka.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lc_err.h"
#include "lc_mail.h"

/* ---- a one-connection fake server ---- */

enum fake_mode { FAKE_SMTP_OK, FAKE_SMTP_RCPT_FAIL, FAKE_HTTP };

struct fake {
	int            lfd;
	int            port;
	enum fake_mode mode;
	const char    *http_reply; // FAKE_HTTP: the whole response
	char           got[65536]; // what the client sent
	size_t         got_len;
	pthread_t      thr;
};

static void
say(int fd, const char *s)
{
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t) strlen(s));
}

// Reads one CRLF line (appended to f->got); 0 at EOF.
static int
read_line(struct fake *f, int fd, char *line, size_t cap)
{
	size_t n = 0;
	char   c;

	while (read(fd, &c, 1) == 1) {
		if (f->got_len + 1 < sizeof(f->got)) {
			f->got[f->got_len++] = c;
			f->got[f->got_len]   = '\0';
		}
		if (n + 1 < cap) {
			line[n++] = c;
		}
		if (c == '\n') {
			line[n] = '\0';
			return (1);
		}
	}
	line[n] = '\0';
	return (n > 0);
}

static void
smtp_serve(struct fake *f, int fd)
{
	char line[4096];
	int  data = 0;
	int  auth = 0;

	say(fd, "220 fake ESMTP\r\n");
	while (read_line(f, fd, line, sizeof(line))) {
		if (data) {
			if (strcmp(line, ".\r\n") == 0) {
				data = 0;
				say(fd, "250 2.0.0 queued\r\n");
			}
			continue;
		}
		if (strncmp(line, "EHLO", 4) == 0) {
			say(fd, "250-fake\r\n250 AUTH PLAIN LOGIN\r\n");
		} else if (strcmp(line, "AUTH PLAIN\r\n") == 0) {
			say(fd, "334 \r\n"); // then the credentials line
			auth = 1;
		} else if (strncmp(line, "AUTH", 4) == 0 || auth) {
			say(fd, "235 2.7.0 ok\r\n");
			auth = 0;
		} else if (strncmp(line, "RCPT", 4) == 0) {
			say(fd,
			    f->mode == FAKE_SMTP_RCPT_FAIL
			        ? "550 5.1.1 No such user here\r\n"
			        : "250 ok\r\n");
		} else if (strncmp(line, "DATA", 4) == 0) {
			data = 1;
			say(fd, "354 go ahead\r\n");
		} else if (strncmp(line, "QUIT", 4) == 0) {
			say(fd, "221 bye\r\n");
			break;
		} else {
			say(fd, "250 ok\r\n");
		}
	}
}

static void
http_serve(struct fake *f, int fd)
{
	char   line[4096];
	size_t clen = 0;

	while (read_line(f, fd, line, sizeof(line))) {
		if (strncasecmp(line, "Content-Length:", 15) == 0) {
			clen = (size_t) strtoul(line + 15, NULL, 10);
		}
		if (strcmp(line, "\r\n") == 0) {
			break;
		}
	}
	while (clen > 0 && f->got_len + 1 < sizeof(f->got)) {
		ssize_t n = read(fd, f->got + f->got_len, clen);

		if (n <= 0) {
			break;
		}
		f->got_len += (size_t) n;
		clen -= (size_t) n;
	}
	f->got[f->got_len] = '\0';
	say(fd, f->http_reply);
}

static void *
fake_main(void *arg)
{
	struct fake *f  = arg;
	int          fd = accept(f->lfd, NULL, NULL);

	if (fd >= 0) {
		if (f->mode == FAKE_HTTP) {
			http_serve(f, fd);
		} else {
			smtp_serve(f, fd);
		}
		close(fd);
	}
	return (NULL);
}

static void
fake_start(struct fake *f, enum fake_mode mode)
{
	struct sockaddr_in sa  = { 0 };
	socklen_t          len = sizeof(sa);

	memset(f, 0, sizeof(*f));
	f->mode            = mode;
	f->lfd             = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_family      = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(f->lfd >= 0);
	assert_int_equal(bind(f->lfd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	assert_int_equal(listen(f->lfd, 4), 0);
	assert_int_equal(
	    getsockname(f->lfd, (struct sockaddr *) &sa, &len), 0);
	f->port = ntohs(sa.sin_port);
	assert_int_equal(pthread_create(&f->thr, NULL, fake_main, f), 0);
}

static void
fake_stop(struct fake *f)
{
	shutdown(f->lfd, SHUT_RDWR);
	pthread_join(f->thr, NULL);
	close(f->lfd);
}

static const struct lc_mail msg = {
	.service = "auth",
	.kind    = "verify_email",
	.to      = "alice@example.com",
	.subject = "MyApp: verify your email",
	.text    = "Verify your address:\nhttps://app.example/verify-email?"
	           "token=TOKEN123\n",
	.link    = "https://app.example/verify-email?token=TOKEN123",
	.token   = "TOKEN123",
};

/* ---- tests ---- */

static void
test_parse_from(void **state)
{
	char name[64];
	char addr[64];

	(void) state;
	assert_int_equal(lc_mail_parse_from(
	                     "a@b.co", name, sizeof(name), addr, sizeof(addr)),
	    0);
	assert_string_equal(name, "");
	assert_string_equal(addr, "a@b.co");
	assert_int_equal(lc_mail_parse_from("My App <no-reply@b.co>", name,
	                     sizeof(name), addr, sizeof(addr)),
	    0);
	assert_string_equal(name, "My App");
	assert_string_equal(addr, "no-reply@b.co");
	assert_int_equal(lc_mail_parse_from("\"Q, Inc\" <q@b.co>", name,
	                     sizeof(name), addr, sizeof(addr)),
	    0);
	assert_string_equal(name, "Q, Inc");
	assert_string_equal(addr, "q@b.co");
	assert_int_equal(lc_mail_parse_from("<q@b.co>", name, sizeof(name),
	                     addr, sizeof(addr)),
	    0);
	assert_string_equal(name, "");
	assert_string_equal(addr, "q@b.co");
	assert_int_equal(
	    lc_mail_parse_from("X <>", name, sizeof(name), addr, sizeof(addr)),
	    LC_EVALIDATION);
	assert_int_equal(lc_mail_parse_from("averyveryverylongaddress@b.co",
	                     name, sizeof(name), addr, 8),
	    LC_EVALIDATION);
}

static void
test_message(void **state)
{
	struct lc_mail m = msg;
	char          *s;

	(void) state;
	// 2024-03-08T12:00:00Z
	s = lc_mail_build_message(
	    &m, "My App <no-reply@app.example>", 1709899200);
	assert_non_null(
	    strstr(s, "Date: Fri, 08 Mar 2024 12:00:00 +0000\r\n"));
	assert_non_null(
	    strstr(s, "\r\nFrom: My App <no-reply@app.example>\r\n"));
	assert_non_null(strstr(s, "\r\nTo: alice@example.com\r\n"));
	assert_non_null(
	    strstr(s, "\r\nSubject: MyApp: verify your email\r\n"));
	assert_non_null(strstr(s, "\r\nMessage-ID: <"));
	assert_non_null(strstr(s, "@app.example>\r\n"));
	assert_non_null(strstr(s, "\r\nMIME-Version: 1.0\r\n"));
	assert_non_null(
	    strstr(s, "\r\nContent-Type: text/plain; charset=UTF-8\r\n"));
	assert_non_null(strstr(s,
	    "Content-Transfer-Encoding: 7bit\r\n\r\n"
	    "Verify your address:\r\nhttps://app.example/"
	    "verify-email?token=TOKEN123\r\n"));
	// No bare LF anywhere.
	for (const char *p = s; *p != '\0'; p++) {
		if (*p == '\n') {
			assert_true(p > s && p[-1] == '\r');
		}
	}
	free(s);

	// A UTF-8 subject and name become encoded words; specials quote.
	m.subject = "Caf\xc3\xa9: verify your email";
	s         = lc_mail_build_message(&m, "Caf\xc3\xa9 <a@b.co>", 0);
	assert_non_null(strstr(s, "\r\nSubject: =?UTF-8?B?"));
	assert_non_null(strstr(s, "\r\nFrom: =?UTF-8?B?Q2Fmw6k=?= <a@b.co>"));
	free(s);
	s = lc_mail_build_message(&m, "\"A, B\" <a@b.co>", 0);
	assert_non_null(strstr(s, "\r\nFrom: \"A, B\" <a@b.co>\r\n"));
	free(s);
	// Non-ASCII text goes quoted-printable.
	m.text = "Caf\xc3\xa9 = caf\xc3\xa9\n";
	s      = lc_mail_build_message(&m, "a@b.co", 0);
	assert_non_null(strstr(s,
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	    "Caf=C3=A9 =3D caf=C3=A9\r\n"));
	free(s);
	m.text = msg.text;
	// A CR/LF in a subject cannot inject a header.
	m.subject = "X\r\nBcc: evil@example.com";
	s         = lc_mail_build_message(&m, "a@b.co", 0);
	assert_null(strstr(s, "\r\nBcc:"));
	free(s);
}

static void
test_message_long_line(void **state)
{
	struct lc_mail m    = msg;
	char          *text = malloc(3001);
	char          *s;
	char          *body;

	(void) state;
	memset(text, 'a', 3000);
	text[3000] = '\0';
	text[10]   = '=';
	m.text     = text;
	s          = lc_mail_build_message(&m, "a@b.co", 0);
	assert_non_null(
	    strstr(s, "Content-Transfer-Encoding: quoted-printable\r\n"));
	body = strstr(s, "\r\n\r\n") + 4;
	assert_non_null(strstr(body, "aaa=3Daaa"));
	// Every encoded line is at most 76 characters.
	for (char *p = body, *e; *p != '\0'; p = e + 2) {
		e = strstr(p, "\r\n");
		assert_non_null(e);
		assert_true(e - p <= 76);
	}
	free(s);
	free(text);
}

static void
test_console(void **state)
{
	struct lc_mail_cfg c;
	char               path[] = "/tmp/lc_mail_test_XXXXXX";
	char               buf[4096];
	char               err[LC_MAIL_ERR_MAX];
	char              *line;
	json_t            *j;
	FILE              *fp;
	int                fd;

	(void) state;
	line = lc_mail_console_line(&msg, 1234);
	assert_string_equal(line,
	    "{\"level\":\"info\",\"event\":\"email\",\"service\":\"auth\","
	    "\"kind\":\"verify_email\",\"to\":\"alice@example.com\","
	    "\"subject\":\"MyApp: verify your email\",\"link\":"
	    "\"https://app.example/verify-email?token=TOKEN123\",\"token\":"
	    "\"TOKEN123\",\"ts\":1234}");
	free(line);

	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	lc_mail_cfg_init(&c);
	lc_mail_cfg_set(&c.console_file, path);
	assert_int_equal(lc_mail_send(&c, &msg, err, sizeof(err)), 0);
	assert_int_equal(lc_mail_send(&c, &msg, err, sizeof(err)), 0);
	fp = fopen(path, "r");
	assert_non_null(fp);
	for (int i = 0; i < 2; i++) {
		assert_non_null(fgets(buf, sizeof(buf), fp));
		j = json_loads(buf, 0, NULL);
		assert_non_null(j);
		assert_string_equal(
		    json_string_value(json_object_get(j, "token")),
		    "TOKEN123");
		assert_string_equal(
		    json_string_value(json_object_get(j, "kind")),
		    "verify_email");
		json_decref(j);
	}
	assert_null(fgets(buf, sizeof(buf), fp));
	fclose(fp);
	unlink(path);

	// No link or token (the test mail): both null.
	{
		struct lc_mail t = { .service = "admin",
			.kind                 = "test",
			.to                   = "a@b.co",
			.subject              = "BusBase: test email",
			.text                 = "hi" };

		line = lc_mail_console_line(&t, 1);
		j    = json_loads(line, 0, NULL);
		assert_true(json_is_null(json_object_get(j, "link")));
		assert_true(json_is_null(json_object_get(j, "token")));
		json_decref(j);
		free(line);
	}
	// An unwritable file: the delivery fails with a message.
	lc_mail_cfg_set(&c.console_file, "/nonexistent-dir/x/y");
	assert_int_equal(
	    lc_mail_send(&c, &msg, err, sizeof(err)), LC_EEMAIL_FAILED);
	assert_true(strlen(err) > 0);
	lc_mail_cfg_fini(&c);
}

static void
test_ready(void **state)
{
	struct lc_mail_cfg c;
	char               err[LC_MAIL_ERR_MAX];

	(void) state;
	lc_mail_cfg_init(&c);
	assert_int_equal(lc_mail_ready(&c, err, sizeof(err)), 0);
	lc_mail_cfg_set(&c.provider, "resend");
	assert_int_equal(lc_mail_send(&c, &msg, err, sizeof(err)),
	    LC_EEMAIL_NOT_CONFIGURED);
	lc_mail_cfg_set(&c.resend_api_key, "re_123");
	assert_int_equal(
	    lc_mail_ready(&c, err, sizeof(err)), LC_EEMAIL_NOT_CONFIGURED);
	lc_mail_cfg_set(&c.from, "a@b.co");
	assert_int_equal(lc_mail_ready(&c, err, sizeof(err)), 0);
	lc_mail_cfg_set(&c.provider, "smtp");
	assert_int_equal(
	    lc_mail_ready(&c, err, sizeof(err)), LC_EEMAIL_NOT_CONFIGURED);
	assert_non_null(strstr(err, "smtp_host"));
	lc_mail_cfg_set(&c.smtp_host, "127.0.0.1");
	assert_int_equal(lc_mail_ready(&c, err, sizeof(err)), 0);
	lc_mail_cfg_set(&c.from, "");
	assert_null(c.from);
	assert_int_equal(
	    lc_mail_ready(&c, err, sizeof(err)), LC_EEMAIL_NOT_CONFIGURED);
	lc_mail_cfg_fini(&c);
}

static void
smtp_cfg(struct lc_mail_cfg *c, int port)
{
	lc_mail_cfg_init(c);
	lc_mail_cfg_set(&c->provider, "smtp");
	lc_mail_cfg_set(&c->smtp_host, "127.0.0.1");
	lc_mail_cfg_set(&c->from, "My App <no-reply@app.example>");
	c->smtp_port  = port;
	c->timeout_ms = 5000;
}

static void
test_smtp(void **state)
{
	struct lc_mail_cfg c;
	struct fake        f;
	char               err[LC_MAIL_ERR_MAX];

	(void) state;
	fake_start(&f, FAKE_SMTP_OK);
	smtp_cfg(&c, f.port);
	lc_mail_cfg_set(&c.smtp_user, "user");
	lc_mail_cfg_set(&c.smtp_pass, "pass");
	assert_int_equal(lc_mail_send(&c, &msg, err, sizeof(err)), 0);
	fake_stop(&f);
	assert_non_null(strstr(f.got, "MAIL FROM:<no-reply@app.example>"));
	assert_non_null(strstr(f.got, "RCPT TO:<alice@example.com>"));
	assert_non_null(strstr(f.got, "AUTH "));
	assert_non_null(
	    strstr(f.got, "Subject: MyApp: verify your email\r\n"));
	assert_non_null(strstr(f.got, "token=TOKEN123\r\n"));
	lc_mail_cfg_fini(&c);
}

static void
test_smtp_fail(void **state)
{
	struct lc_mail_cfg c;
	struct fake        f;
	char               err[LC_MAIL_ERR_MAX];
	int                port;

	(void) state;
	fake_start(&f, FAKE_SMTP_RCPT_FAIL);
	smtp_cfg(&c, f.port);
	assert_int_equal(
	    lc_mail_send(&c, &msg, err, sizeof(err)), LC_EEMAIL_FAILED);
	fake_stop(&f);
	assert_non_null(strstr(err, "550"));
	assert_non_null(strstr(err, "No such user"));

	// Nobody listening: a prompt failure naming the cause.
	fake_start(&f, FAKE_SMTP_OK);
	port = f.port;
	fake_stop(&f);
	c.smtp_port = port;
	assert_int_equal(
	    lc_mail_send(&c, &msg, err, sizeof(err)), LC_EEMAIL_FAILED);
	assert_true(strncmp(err, "smtp: ", 6) == 0);
	lc_mail_cfg_fini(&c);
}

static void
test_smtp_cancel(void **state)
{
	struct lc_mail_cfg c;
	struct fake        f;
	char               err[LC_MAIL_ERR_MAX];
	int                cancel = 1;

	(void) state;
	fake_start(&f, FAKE_SMTP_OK);
	smtp_cfg(&c, f.port);
	c.cancel = &cancel;
	assert_int_equal(
	    lc_mail_send(&c, &msg, err, sizeof(err)), LC_EEMAIL_FAILED);
	fake_stop(&f);
	lc_mail_cfg_fini(&c);
}

static void
resend_cfg(struct lc_mail_cfg *c, int port)
{
	char url[128];

	lc_mail_cfg_init(c);
	lc_mail_cfg_set(&c->provider, "resend");
	lc_mail_cfg_set(&c->resend_api_key, "re_secret");
	lc_mail_cfg_set(&c->from, "My App <no-reply@app.example>");
	(void) snprintf(url, sizeof(url), "http://127.0.0.1:%d/emails", port);
	lc_mail_cfg_set(&c->resend_url, url);
	c->timeout_ms = 5000;
}

static void
test_resend(void **state)
{
	struct lc_mail_cfg c;
	struct fake        f;
	char               err[LC_MAIL_ERR_MAX];
	const char        *body;
	json_t            *j;

	(void) state;
	fake_start(&f, FAKE_HTTP);
	f.http_reply = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
	               "Content-Length: 11\r\nConnection: close\r\n\r\n"
	               "{\"id\":\"x\"}\n";
	resend_cfg(&c, f.port);
	assert_int_equal(lc_mail_send(&c, &msg, err, sizeof(err)), 0);
	fake_stop(&f);
	assert_true(strncmp(f.got, "POST /emails HTTP/1.1\r\n", 23) == 0);
	assert_non_null(strstr(f.got, "Authorization: Bearer re_secret\r\n"));
	body = strstr(f.got, "\r\n\r\n") + 4;
	j    = json_loads(body, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "from")),
	    "My App <no-reply@app.example>");
	assert_string_equal(
	    json_string_value(json_array_get(json_object_get(j, "to"), 0)),
	    "alice@example.com");
	assert_string_equal(
	    json_string_value(json_object_get(j, "subject")), msg.subject);
	assert_string_equal(
	    json_string_value(json_object_get(j, "text")), msg.text);
	json_decref(j);

	fake_start(&f, FAKE_HTTP);
	f.http_reply =
	    "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\n"
	    "Connection: close\r\n\r\n"
	    "{\"statusCode\":403,\"name\":\"validation_error\",\"message\":"
	    "\"The domain is not verified.\"}";
	lc_mail_cfg_fini(&c);
	resend_cfg(&c, f.port);
	assert_int_equal(
	    lc_mail_send(&c, &msg, err, sizeof(err)), LC_EEMAIL_FAILED);
	fake_stop(&f);
	assert_string_equal(
	    err, "resend: HTTP 403: The domain is not verified.");
	lc_mail_cfg_fini(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_from),
		cmocka_unit_test(test_message),
		cmocka_unit_test(test_message_long_line),
		cmocka_unit_test(test_console),
		cmocka_unit_test(test_ready),
		cmocka_unit_test(test_smtp),
		cmocka_unit_test(test_smtp_fail),
		cmocka_unit_test(test_smtp_cancel),
		cmocka_unit_test(test_resend),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
