/*
 * json.c -- a decoded msgpack value written straight out as JSON text,
 * without building a jansson tree: the hot path for every reply body the
 * gateway forwards (a 37-key settings object cost 12 us through
 * lc_codec_to_json + json_dumps, about 1 us here).
 *
 * The mapping is lc_codec's (LIBRARIES.md §4b), so the text is what
 * json_dumps(lc_codec_to_json(o), JSON_COMPACT) would print: nil, bool,
 * int64 (uint64 above INT64_MAX refused), finite doubles as "%.17g" with
 * ".0" added when the result looks like an integer (jansson's rule), UTF-8
 * strings escaped as jansson does, bin as {"$bin":"<base64url>"}, maps
 * with string keys, nesting at most LC_CODEC_MAX_DEPTH. Anything else is
 * LC_EPROTO. Thread-safe (no shared state).
 */
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "gw.h"
#include "lc_codec.h"
#include "lc_err.h"

void
gw_buf_reserve(struct gw_buf *b, size_t n)
{
	size_t cap;

	if (b->len + n <= b->cap) {
		return;
	}
	cap = b->cap > 0 ? b->cap : 1024;
	while (cap < b->len + n) {
		cap *= 2;
	}
	b->p   = lc_realloc(b->p, cap);
	b->cap = cap;
}

void
gw_buf_put(struct gw_buf *b, const void *s, size_t n)
{
	if (n == 0) {
		return; // s may be NULL (msgpack-c's empty str)
	}
	gw_buf_reserve(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void
put_c(struct gw_buf *b, char c)
{
	gw_buf_reserve(b, 1);
	b->p[b->len++] = c;
}

// UTF-8 check that, like jansson's, allows U+0000 (escaped on output).
static int
utf8_ok(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t n;

		if (s[i] < 0x80) {
			i++;
			continue;
		}
		// The lead byte says the length; gw_utf8_valid checks the rest
		// (lead range, continuation bytes, overlongs, surrogates).
		n = s[i] >= 0xF0 ? 4 : s[i] >= 0xE0 ? 3 : 2;
		if (n > len - i || !gw_utf8_valid((const char *) s + i, n)) {
			return (0);
		}
		i += n;
	}
	return (1);
}

// Writes a JSON string. Object keys (key = 1) may not contain NUL:
// jansson refuses them, so lc_codec does too.
static int
put_str(struct gw_buf *b, const char *s, size_t len, int key)
{
	static const char hex[] = "0123456789ABCDEF"; // as jansson
	size_t            i;
	size_t            run = 0;

	if (len > 0 &&
	    !(key ? gw_utf8_valid(s, len)
	          : utf8_ok((const unsigned char *) s, len))) {
		return (LC_EPROTO);
	}
	gw_buf_reserve(b, len + 2);
	b->p[b->len++] = '"';
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char) s[i];
		char          e[6];
		size_t        el;

		if (c >= 0x20 && c != '"' && c != '\\') {
			continue;
		}
		gw_buf_put(b, s + run, i - run);
		run = i + 1;
		switch (c) {
		case '"':
			memcpy(e, "\\\"", 2);
			el = 2;
			break;
		case '\\':
			memcpy(e, "\\\\", 2);
			el = 2;
			break;
		case '\b':
			memcpy(e, "\\b", 2);
			el = 2;
			break;
		case '\f':
			memcpy(e, "\\f", 2);
			el = 2;
			break;
		case '\n':
			memcpy(e, "\\n", 2);
			el = 2;
			break;
		case '\r':
			memcpy(e, "\\r", 2);
			el = 2;
			break;
		case '\t':
			memcpy(e, "\\t", 2);
			el = 2;
			break;
		default:
			memcpy(e, "\\u00", 4);
			e[4] = hex[c >> 4];
			e[5] = hex[c & 0xF];
			el   = 6;
			break;
		}
		gw_buf_put(b, e, el);
	}
	gw_buf_put(b, s + run, len - run);
	put_c(b, '"');
	return (0);
}

static void
put_i64(struct gw_buf *b, int64_t v)
{
	char     tmp[24];
	size_t   n = sizeof(tmp);
	uint64_t u = v < 0 ? (uint64_t) 0 - (uint64_t) v : (uint64_t) v;

	do {
		tmp[--n] = (char) ('0' + (u % 10));
		u /= 10;
	} while (u != 0);
	if (v < 0) {
		tmp[--n] = '-';
	}
	gw_buf_put(b, tmp + n, sizeof(tmp) - n);
}

static int
put_real(struct gw_buf *b, double d)
{
	char  tmp[40];
	char *e;
	int   n;

	if (!isfinite(d)) {
		return (LC_EPROTO);
	}
	n = snprintf(tmp, sizeof(tmp), "%.17g", d);
	if (n <= 0 || (size_t) n >= sizeof(tmp) - 3) {
		return (LC_EPROTO);
	}
	// jansson: a real that prints like an integer gets ".0"...
	if (strspn(tmp, "0123456789-") == (size_t) n) {
		memcpy(tmp + n, ".0", 2);
		n += 2;
	}
	// ...and an exponent loses its '+' and its leading zeros.
	if ((e = memchr(tmp, 'e', (size_t) n)) != NULL) {
		char *start = e + 1;
		char *end;

		if (*start == '-') {
			start++;
		}
		for (end = start; *end == '+' || *end == '0'; end++) { }
		if (end != start) {
			memmove(start, end, (size_t) (tmp + n - end));
			n -= (int) (end - start);
		}
	}
	gw_buf_put(b, tmp, (size_t) n);
	return (0);
}

static void
put_bin(struct gw_buf *b, const void *p, size_t len)
{
	size_t cap = sodium_base64_ENCODED_LEN(
	    len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);

	gw_buf_put(b, "{\"$bin\":\"", 9);
	gw_buf_reserve(b, cap + 2);
	(void) sodium_bin2base64(b->p + b->len, cap, p, len,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	b->len += strlen(b->p + b->len);
	gw_buf_put(b, "\"}", 2);
}

static int
put_value(struct gw_buf *b, const msgpack_object *o, int depth)
{
	uint32_t i;
	int      rv;

	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		gw_buf_put(b, "null", 4);
		return (0);
	case MSGPACK_OBJECT_BOOLEAN:
		if (o->via.boolean) {
			gw_buf_put(b, "true", 4);
		} else {
			gw_buf_put(b, "false", 5);
		}
		return (0);
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		if (o->via.u64 > (uint64_t) INT64_MAX) {
			return (LC_EPROTO);
		}
		put_i64(b, (int64_t) o->via.u64);
		return (0);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		put_i64(b, o->via.i64);
		return (0);
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		return (put_real(b, o->via.f64));
	case MSGPACK_OBJECT_STR:
		return (put_str(b, o->via.str.ptr, o->via.str.size, 0));
	case MSGPACK_OBJECT_BIN:
		put_bin(b, o->via.bin.ptr, o->via.bin.size);
		return (0);
	case MSGPACK_OBJECT_ARRAY:
		if (depth >= LC_CODEC_MAX_DEPTH) {
			return (LC_EPROTO);
		}
		put_c(b, '[');
		for (i = 0; i < o->via.array.size; i++) {
			if (i > 0) {
				put_c(b, ',');
			}
			if ((rv = put_value(
			         b, &o->via.array.ptr[i], depth + 1)) != 0) {
				return (rv);
			}
		}
		put_c(b, ']');
		return (0);
	case MSGPACK_OBJECT_MAP:
		if (depth >= LC_CODEC_MAX_DEPTH) {
			return (LC_EPROTO);
		}
		put_c(b, '{');
		for (i = 0; i < o->via.map.size; i++) {
			const msgpack_object_kv *kv = &o->via.map.ptr[i];

			if (kv->key.type != MSGPACK_OBJECT_STR) {
				return (LC_EPROTO);
			}
			if (i > 0) {
				put_c(b, ',');
			}
			if ((rv = put_str(b, kv->key.via.str.ptr,
			         kv->key.via.str.size, 1)) != 0) {
				return (rv);
			}
			put_c(b, ':');
			if ((rv = put_value(b, &kv->val, depth + 1)) != 0) {
				return (rv);
			}
		}
		put_c(b, '}');
		return (0);
	default:
		return (LC_EPROTO); // ext
	}
}

int
gw_json_write(struct gw_buf *b, const msgpack_object *o)
{
	size_t mark = b->len;
	int    rv   = put_value(b, o, 0);

	if (rv != 0) {
		b->len = mark;
	}
	return (rv);
}

/* ---- request side: integers beyond int64 ---- */

// 1 if the digits d[0..n) (no sign, no leading zeros but "0") are above
// the int64 magnitude limit for neg (9223372036854775807, or ...808).
static int
too_big(const char *d, size_t n, int neg)
{
	static const char lim[] = "9223372036854775807";
	int               c;

	if (n != sizeof(lim) - 1) {
		return (n > sizeof(lim) - 1);
	}
	c = memcmp(d, lim, n);
	if (c == 0) {
		return (0);
	}
	if (neg && memcmp(d, "9223372036854775808", n) == 0) {
		return (0);
	}
	return (c > 0);
}

size_t
gw_json_big_ints_real(const char *in, size_t len, char **out, size_t *out_len)
{
	// At most one ".0" per two input bytes ("1," is the shortest).
	char  *o       = lc_calloc(1, len + len + 1);
	size_t n       = 0;
	size_t changed = 0;
	size_t i       = 0;

	while (i < len) {
		char c = in[i];

		if (c == '"') { // copy a string, escapes and all
			o[n++] = in[i++];
			while (i < len && in[i] != '"') {
				if (in[i] == '\\' && i + 1 < len) {
					o[n++] = in[i++];
				}
				o[n++] = in[i++];
			}
			if (i < len) {
				o[n++] = in[i++];
			}
			continue;
		}
		if (c == '-' || (c >= '0' && c <= '9')) {
			size_t s   = i;
			int    neg = c == '-';
			size_t d;
			int    frac = 0;

			i += (size_t) neg;
			d = i;
			while (i < len && in[i] >= '0' && in[i] <= '9') {
				i++;
			}
			while (i < len &&
			    (in[i] == '.' || in[i] == 'e' || in[i] == 'E' ||
			        in[i] == '+' || in[i] == '-' ||
			        (in[i] >= '0' && in[i] <= '9'))) {
				frac = 1;
				i++;
			}
			memcpy(o + n, in + s, i - s);
			n += i - s;
			if (!frac && i > d &&
			    too_big(in + d, (size_t) (i - d), neg)) {
				memcpy(o + n, ".0", 2);
				n += 2;
				changed++;
			}
			continue;
		}
		o[n++] = in[i++];
	}
	o[n]     = '\0';
	*out     = o;
	*out_len = n;
	return (changed);
}
