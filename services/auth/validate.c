/*
 * validate.c -- input rules of API.md §2.5 and §5.2: e-mail
 * normalization and validity, password length in code points, roles,
 * metadata size. Pure functions, thread-safe.
 *
 * E-mail: surrounding whitespace (ASCII and Unicode White_Space) is
 * trimmed and ASCII letters are lowercased; other characters are kept as
 * they are (no Unicode case folding: lookups use this same form, so it is
 * consistent). Valid: at most 254 code points (and bytes that fit the
 * caller's buffer), exactly one '@' with a non-empty local part, a domain
 * with a '.' that neither starts nor ends it, and no whitespace or control
 * character anywhere (Unicode Cc and White_Space).
 */
#include <string.h>

#include "auth.h"
#include "lc_err.h"

// Decodes one UTF-8 sequence at s[*i] (len bytes in all); advances *i.
// Returns the code point, or -1 on an invalid or truncated sequence.
static long
utf8_next(const unsigned char *s, size_t len, size_t *i)
{
	unsigned char c = s[*i];
	long          cp;
	size_t        n;

	if (c < 0x80) {
		(*i)++;
		return (c);
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n  = 1;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n  = 2;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n  = 3;
		cp = c & 0x07;
	} else {
		return (-1);
	}
	if (*i + n >= len) {
		return (-1);
	}
	for (size_t k = 1; k <= n; k++) {
		if ((s[*i + k] & 0xc0) != 0x80) {
			return (-1);
		}
		cp = (cp << 6) | (s[*i + k] & 0x3f);
	}
	// Overlong forms, surrogates and values past U+10FFFF.
	if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) {
		return (-1);
	}
	*i += n + 1;
	return (cp);
}

// Unicode White_Space.
static int
is_space(long cp)
{
	return ((cp >= 0x09 && cp <= 0x0d) || cp == 0x20 || cp == 0x85 ||
	    cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) ||
	    cp == 0x2028 || cp == 0x2029 || cp == 0x202f || cp == 0x205f ||
	    cp == 0x3000);
}

// Unicode Cc.
static int
is_control(long cp)
{
	return (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f));
}

// Trims leading and trailing whitespace: [*start, *end) of s. -1 on
// invalid UTF-8.
static int
trim(const unsigned char *s, size_t len, size_t *start, size_t *end)
{
	size_t i    = 0;
	size_t b    = len; // first byte of the content
	size_t e    = 0;   // one past its last byte
	int    seen = 0;

	while (i < len) {
		size_t at = i;
		long   cp = utf8_next(s, len, &i);

		if (cp < 0) {
			return (-1);
		}
		if (!is_space(cp)) {
			if (!seen) {
				b    = at;
				seen = 1;
			}
			e = i;
		}
	}
	*start = seen ? b : 0;
	*end   = seen ? e : 0;
	return (0);
}

int
auth_email_key(const char *in, size_t len, char *out, size_t cap)
{
	size_t b;
	size_t e;

	if (trim((const unsigned char *) in, len, &b, &e) != 0 ||
	    e - b >= cap) {
		return (-1);
	}
	for (size_t i = b; i < e; i++) {
		char c = in[i];

		out[i - b] =
		    (c >= 'A' && c <= 'Z') ? (char) (c - 'A' + 'a') : c;
	}
	out[e - b] = '\0';
	return ((int) (e - b));
}

// 1 if s (normalized, len bytes of valid UTF-8) is a valid address.
static int
email_valid(const char *s, size_t len)
{
	const unsigned char *u  = (const unsigned char *) s;
	size_t               at = len;
	size_t               i  = 0;
	size_t               ncp;

	for (ncp = 0; i < len; ncp++) {
		size_t pos = i;
		long   cp  = utf8_next(u, len, &i);

		if (cp < 0 || is_space(cp) || is_control(cp)) {
			return (0);
		}
		if (cp == '@') {
			if (at != len) {
				return (0); // a second '@'
			}
			at = pos;
		}
	}
	if (ncp > AUTH_EMAIL_MAX || at == len || at == 0 || at + 1 >= len) {
		return (0);
	}
	// The domain contains a '.' but neither starts nor ends with one.
	return (s[at + 1] != '.' && s[len - 1] != '.' &&
	    memchr(s + at + 1, '.', len - at - 1) != NULL);
}

int
auth_email_norm(const char *in, size_t len, char *out, size_t cap)
{
	int n = auth_email_key(in, len, out, cap);

	if (n <= 0 || !email_valid(out, (size_t) n)) {
		return (-1);
	}
	return (n);
}

size_t
auth_utf8_count(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		n += ((unsigned char) s[i] & 0xc0) != 0x80;
	}
	return (n);
}

int
auth_password_ok(const char *s, size_t len)
{
	size_t n;

	// 128 code points take at most 512 bytes: longer is never valid.
	if (len < AUTH_PASSWORD_MIN || len > 4 * AUTH_PASSWORD_MAX) {
		return (0);
	}
	n = auth_utf8_count(s, len);
	return (n >= AUTH_PASSWORD_MIN && n <= AUTH_PASSWORD_MAX);
}

// ^[A-Za-z0-9_:-]{1,64}$
static int
role_ok(const json_t *v)
{
	const char *s = json_string_value(v);
	size_t      n = json_string_length(v);

	if (s == NULL || n == 0 || n > AUTH_ROLE_LEN_MAX) {
		return (0);
	}
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		        (c >= '0' && c <= '9') || c == '_' || c == ':' ||
		        c == '-')) {
			return (0);
		}
	}
	return (1);
}

static int
has_role(const json_t *arr, const json_t *v)
{
	size_t  i;
	json_t *e;

	json_array_foreach(arr, i, e)
	{
		if (json_string_length(e) == json_string_length(v) &&
		    memcmp(json_string_value(e), json_string_value(v),
		        json_string_length(v)) == 0) {
			return (1);
		}
	}
	return (0);
}

json_t *
auth_roles_clean(const json_t *roles)
{
	json_t *out;
	size_t  i;
	json_t *v;

	if (!json_is_array(roles)) {
		return (NULL);
	}
	out = json_array();
	json_array_foreach(roles, i, v)
	{
		if (!role_ok(v)) {
			json_decref(out);
			return (NULL);
		}
		if (has_role(out, v)) {
			continue; // a duplicate: the first one keeps its place
		}
		// The limit counts distinct roles (what the user ends with).
		if (json_array_size(out) == AUTH_ROLES_MAX) {
			json_decref(out);
			return (NULL);
		}
		json_array_append_new(out,
		    json_stringn(json_string_value(v), json_string_length(v)));
	}
	return (out);
}

int
auth_metadata_ok(const json_t *metadata)
{
	size_t n;

	if (!json_is_object(metadata)) {
		return (0);
	}
	// The size of the compact serialization (what is stored).
	n = json_dumpb(metadata, NULL, 0, JSON_COMPACT);
	return (n > 0 && n <= AUTH_METADATA_MAX);
}
