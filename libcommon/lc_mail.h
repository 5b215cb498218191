/*
 * lc_mail.h -- e-mail delivery through the configured provider (API.md
 * §2.8, §5.8): console, Resend (HTTPS API) or SMTP, both over libcurl.
 *
 * A struct lc_mail_cfg is a snapshot of the delivery settings
 * (lc_mail_cfg_load copies them from the current runtime settings and the
 * environment); lc_mail_send delivers one message with it and blocks until
 * the provider answered or the timeout passed. Callers that must not wait
 * (auth) run it on a thread of their own.
 *
 *   console  one JSON line {"level":"info","event":"email","service",
 *            "kind","to","subject","link","token","ts"} on stdout, also
 *            appended to EMAIL_CONSOLE_FILE when that is set (one write(2)
 *            per line with O_APPEND, so lines of several processes stay
 *            whole). The token in that line is the one documented
 *            exception to "never print a secret".
 *   resend   POST https://api.resend.com/emails, Bearer resend_api_key,
 *            {"from","to":[...],"subject","text"}. The environment variable
 *            BB_RESEND_URL replaces the endpoint (tests, proxies).
 *   smtp     smtp://host:port with STARTTLS required on port 587, tried
 *            (used when offered) on other ports; smtps:// (implicit TLS)
 *            when smtp_secure. AUTH with smtp_user/smtp_pass when a user is
 *            set. The message is RFC 5322 text/plain UTF-8.
 *
 * Secrets (smtp_pass, resend_api_key) live only in the cfg, are wiped by
 * lc_mail_cfg_fini and are never logged. Thread-safe: libcurl is
 * initialised once (pthread_once); every send uses its own easy handle.
 */
#ifndef LC_MAIL_H
#define LC_MAIL_H

#include <stddef.h>
#include <stdint.h>

#include "lc_common.h"

#define LC_MAIL_ERR_MAX 512
#define LC_MAIL_TIMEOUT_MS 10000
#define LC_MAIL_RESEND_URL "https://api.resend.com/emails"

// Delivery settings. Strings are lc_strdup'd (NULL when unset).
struct lc_mail_cfg {
	char *provider; // "console" | "resend" | "smtp"
	char *from;     // "addr" or "Name <addr>"
	char *resend_api_key;
	char *resend_url;
	char *smtp_host;
	int   smtp_port;
	char *smtp_user;
	char *smtp_pass;
	int   smtp_secure;
	char *console_file; // EMAIL_CONSOLE_FILE, or NULL
	int   timeout_ms;   // whole transfer; LC_MAIL_TIMEOUT_MS by default
	// When not NULL and it becomes non-zero, a transfer in progress is
	// aborted (shutdown). Read with __atomic_load_n.
	const int *cancel;
};

// One message. link and token may be NULL (the test mail has neither).
struct lc_mail {
	const char *service; // process name for the console line ("auth")
	const char *kind; // verify_email | reset_password | magic_link | test
	const char *to;   // a validated, normalized address
	const char *subject;
	const char *text; // body (UTF-8, "\n" line ends)
	const char *link;
	const char *token;
};

// Console provider, no secrets, default timeout.
void lc_mail_cfg_init(struct lc_mail_cfg *c);
// Copies the current settings (email_provider, email_from, resend_api_key,
// smtp_*) and EMAIL_CONSOLE_FILE / BB_RESEND_URL into c (initialised).
void lc_mail_cfg_load(struct lc_mail_cfg *c);
// Frees the strings, wiping the secrets.
void lc_mail_cfg_fini(struct lc_mail_cfg *c);
// Sets a string field (copies s; NULL or "" unsets). Wipes the old value.
void lc_mail_cfg_set(char **field, const char *s);

// 0 when the provider can be used (console always), else
// LC_EEMAIL_NOT_CONFIGURED with a message in err (may be NULL).
LC_NODISCARD int lc_mail_ready(
    const struct lc_mail_cfg *c, char *err, size_t err_len);

// Delivers m. Returns 0, LC_EEMAIL_NOT_CONFIGURED (resend without key or
// sender, smtp without host or sender) or LC_EEMAIL_FAILED; on failure err
// (may be NULL) gets the provider's message.
LC_NODISCARD int lc_mail_send(const struct lc_mail_cfg *c,
    const struct lc_mail *m, char *err, size_t err_len);

/* ---- building blocks (exported for tests) ---- */

// Splits "Name <addr>" or "addr" into name ("" when none) and addr.
// Returns 0, or LC_EVALIDATION when a part does not fit or is empty.
LC_NODISCARD int lc_mail_parse_from(const char *from, char *name,
    size_t name_len, char *addr, size_t addr_len);

// The RFC 5322 message for SMTP (CRLF line ends): Date, From, To,
// Subject (RFC 2047 encoded unless plain printable ASCII), Message-ID,
// MIME-Version, Content-Type, Content-Transfer-Encoding (7bit, or
// quoted-printable for non-ASCII text or a line over 998 bytes), then
// the body.
// now_s is the Date. Returns a new string (lc_free).
char *lc_mail_build_message(
    const struct lc_mail *m, const char *from, int64_t now_s);

// The console JSON line (no newline) as a new string (lc_free).
char *lc_mail_console_line(const struct lc_mail *m, int64_t ts_ms);

#endif // LC_MAIL_H
