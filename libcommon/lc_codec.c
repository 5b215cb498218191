/*
 * lc_codec.c -- msgpack <-> jansson (see lc_codec.h for the mapping).
 *
 * Decoding hostile input happens in two passes. scan() walks the bytes
 * once without allocating and checks the structure: every header complete,
 * every container count no larger than the bytes left (each element takes
 * at least one byte), depth <= LC_CODEC_MAX_DEPTH, no ext, nothing after
 * the value. Only then does msgpack-c unpack it: msgpack-c allocates
 * count * sizeof(msgpack_object) as soon as it reads a container header, so
 * a 5-byte "array of 4 billion" would otherwise ask for ~100 GB.
 */
#include "lc_codec.h"

#include <math.h>
#include <string.h>

#include "lc_err.h"
#include "lc_ids.h"

#define BIN_KEY "$bin"

// Reads a big-endian unsigned integer of n (1, 2, 4 or 8) bytes.
static uint64_t
be(const unsigned char *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++) {
		v = (v << 8) | p[i];
	}
	return (v);
}

// Structural check of one msgpack value filling buf exactly. The size of a
// scalar is its header plus payload; a container pushes its element count
// (twice the pair count for maps) on a small stack of counters.
static int
scan(const unsigned char *p, size_t len)
{
	uint64_t left[LC_CODEC_MAX_DEPTH + 1];
	size_t   off   = 0;
	int      depth = 0;

	left[0] = 1;
	for (;;) {
		uint64_t      n    = 0; // container element count
		size_t        hdr  = 1; // header bytes
		uint64_t      body = 0; // payload bytes (scalars)
		int           cont = 0; // 1 if a container
		unsigned char b;

		while (depth > 0 && left[depth] == 0) {
			depth--;
		}
		if (left[depth] == 0) {
			break; // depth 0: the one top-level value is done
		}
		left[depth]--;
		if (off >= len) {
			return (LC_EPROTO);
		}
		b = p[off];
		if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 ||
		    b == 0xc3) {
			// fixint, nil, bool: the header is everything
		} else if (b >= 0x80 && b <= 0x8f) {
			n    = 2 * (uint64_t) (b & 0x0f);
			cont = 1;
		} else if (b >= 0x90 && b <= 0x9f) {
			n    = b & 0x0f;
			cont = 1;
		} else if (b >= 0xa0 && b <= 0xbf) {
			body = b & 0x1f;
		} else {
			size_t lw; // width of the length/count field

			switch (b) {
			case 0xc4: // bin 8/16/32
			case 0xd9: // str 8/16/32
				lw = 1;
				break;
			case 0xc5:
			case 0xda:
			case 0xdc: // array 16
			case 0xde: // map 16
				lw = 2;
				break;
			case 0xc6:
			case 0xdb:
			case 0xdd: // array 32
			case 0xdf: // map 32
				lw = 4;
				break;
			case 0xca: // float 32
				lw   = 0;
				body = 4;
				break;
			case 0xcb: // float 64
				lw   = 0;
				body = 8;
				break;
			case 0xcc: // uint 8..64, int 8..64
			case 0xd0:
				lw   = 0;
				body = 1;
				break;
			case 0xcd:
			case 0xd1:
				lw   = 0;
				body = 2;
				break;
			case 0xce:
			case 0xd2:
				lw   = 0;
				body = 4;
				break;
			case 0xcf:
			case 0xd3:
				lw   = 0;
				body = 8;
				break;
			default: // 0xc1 (never used), ext and fixext
				return (LC_EPROTO);
			}
			if (lw > 0) {
				uint64_t v;

				if (len - off < 1 + lw) {
					return (LC_EPROTO);
				}
				v = be(p + off + 1, lw);
				hdr += lw;
				if (b == 0xdc || b == 0xdd) {
					n    = v;
					cont = 1;
				} else if (b == 0xde || b == 0xdf) {
					n    = 2 * v;
					cont = 1;
				} else {
					body = v;
				}
			}
		}
		if (len - off < hdr) {
			return (LC_EPROTO);
		}
		off += hdr;
		if (cont) {
			if (depth >= LC_CODEC_MAX_DEPTH || n > len - off) {
				return (LC_EPROTO);
			}
			left[++depth] = n;
		} else {
			if (body > len - off) {
				return (LC_EPROTO);
			}
			off += (size_t) body;
		}
	}
	return (off == len ? 0 : LC_EPROTO);
}

// The chunks of an unpacking zone: msgpack_unpack_next's are 8 KiB (see
// lc_codec_sbuffer_init); with its header this stays under glibc's 1 KiB.
#define ZONE_CHUNK 960
#define SBUF_FIRST 512

int
lc_codec_unpack(const void *buf, size_t len, msgpack_unpacked *up)
{
	size_t off = 0;
	int    rv;

	if (buf == NULL || len == 0) {
		return (LC_EPROTO);
	}
	if ((rv = scan(buf, len)) != 0) {
		return (rv);
	}
	msgpack_unpacked_destroy(up);
	if ((up->zone = msgpack_zone_new(ZONE_CHUNK)) == NULL) {
		return (LC_ENOMEM);
	}
	if (msgpack_unpack(buf, len, &off, up->zone, &up->data) !=
	        MSGPACK_UNPACK_SUCCESS ||
	    off != len) {
		return (LC_EPROTO);
	}
	return (0);
}

void
lc_codec_sbuffer_init(msgpack_sbuffer *sb)
{
	msgpack_sbuffer_init(sb);
	// msgpack_sbuffer_write doubles alloc from here (realloc: malloc'd)
	if ((sb->data = malloc(SBUF_FIRST)) != NULL) {
		sb->alloc = SBUF_FIRST;
	}
}

// msgpack-c may leave the pointer of an empty str NULL; jansson wants one.
static const char *
nz(const char *p)
{
	return (p != NULL ? p : "");
}

static int
to_json(const msgpack_object *o, int depth, json_t **out)
{
	json_t *j = NULL;
	int     rv;

	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		j = json_null();
		break;
	case MSGPACK_OBJECT_BOOLEAN:
		j = json_boolean(o->via.boolean);
		break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		if (o->via.u64 > (uint64_t) INT64_MAX) {
			return (LC_EPROTO);
		}
		j = json_integer((json_int_t) o->via.u64);
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		j = json_integer((json_int_t) o->via.i64);
		break;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		if (!isfinite(o->via.f64)) {
			return (LC_EPROTO);
		}
		j = json_real(o->via.f64);
		break;
	case MSGPACK_OBJECT_STR:
		// NULL for invalid UTF-8.
		if ((j = json_stringn(nz(o->via.str.ptr), o->via.str.size)) ==
		    NULL) {
			return (LC_EPROTO);
		}
		break;
	case MSGPACK_OBJECT_BIN: {
		char *s = lc_b64url_encode(o->via.bin.ptr, o->via.bin.size);

		j = json_object();
		if (json_object_set_new(j, BIN_KEY, json_string(s)) != 0) {
			lc_free(s);
			json_decref(j);
			return (LC_ENOMEM);
		}
		lc_free(s);
		break;
	}
	case MSGPACK_OBJECT_ARRAY:
		if (depth >= LC_CODEC_MAX_DEPTH) {
			return (LC_EPROTO);
		}
		j = json_array();
		for (uint32_t i = 0; i < o->via.array.size; i++) {
			json_t *e;

			if ((rv = to_json(
			         &o->via.array.ptr[i], depth + 1, &e)) != 0) {
				json_decref(j);
				return (rv);
			}
			if (json_array_append_new(j, e) != 0) {
				json_decref(j);
				return (LC_ENOMEM);
			}
		}
		break;
	case MSGPACK_OBJECT_MAP:
		if (depth >= LC_CODEC_MAX_DEPTH) {
			return (LC_EPROTO);
		}
		j = json_object();
		for (uint32_t i = 0; i < o->via.map.size; i++) {
			const msgpack_object_kv *kv = &o->via.map.ptr[i];
			json_t                  *e;

			// jansson looks keys up as C strings (json_object_get,
			// json_equal): a NUL inside a key cannot be honoured.
			if (kv->key.type != MSGPACK_OBJECT_STR ||
			    (kv->key.via.str.size > 0 &&
			        memchr(kv->key.via.str.ptr, '\0',
			            kv->key.via.str.size) != NULL)) {
				json_decref(j);
				return (LC_EPROTO);
			}
			if ((rv = to_json(&kv->val, depth + 1, &e)) != 0) {
				json_decref(j);
				return (rv);
			}
			// Fails (and releases e) for a key that is not UTF-8.
			if (json_object_setn_new(j, nz(kv->key.via.str.ptr),
			        kv->key.via.str.size, e) != 0) {
				json_decref(j);
				return (LC_EPROTO);
			}
		}
		break;
	default: // ext, and anything a future msgpack-c adds
		return (LC_EPROTO);
	}
	if (j == NULL) {
		return (LC_ENOMEM);
	}
	*out = j;
	return (0);
}

int
lc_codec_to_json(const msgpack_object *o, json_t **out)
{
	if (o == NULL) {
		return (LC_EPROTO);
	}
	return (to_json(o, 0, out));
}

int
lc_codec_decode_json(const void *buf, size_t len, json_t **out)
{
	msgpack_unpacked up;
	int              rv;

	msgpack_unpacked_init(&up);
	if ((rv = lc_codec_unpack(buf, len, &up)) == 0) {
		rv = to_json(&up.data, 0, out);
	}
	msgpack_unpacked_destroy(&up);
	return (rv);
}

// A one-key object {"$bin": "<strict base64url>"} packs as bin.
static int
pack_bin_object(msgpack_packer *pk, const json_t *j, int *done)
{
	const json_t *s;
	uint8_t      *bin = NULL;
	size_t        n   = 0;
	int           rv  = 0;

	*done = 0;
	if (json_object_size(j) != 1 ||
	    (s = json_object_get(j, BIN_KEY)) == NULL || !json_is_string(s)) {
		return (0);
	}
	if (lc_b64url_decode(
	        json_string_value(s), json_string_length(s), &bin, &n) != 0) {
		return (0); // not base64url: an ordinary object
	}
	// Only the canonical form (what bin decodes to) is bin again, so a
	// JSON -> msgpack -> JSON round trip never changes a value (found by
	// fuzz_codec: non-zero trailing bits decode but re-encode
	// differently).
	char *canon = lc_b64url_encode(bin, n);
	int   same  = strlen(canon) == json_string_length(s) &&
	    memcmp(canon, json_string_value(s), json_string_length(s)) == 0;
	lc_free(canon);
	if (!same) {
		lc_free(bin);
		return (0);
	}
	if (msgpack_pack_bin(pk, n) != 0 ||
	    (n > 0 && msgpack_pack_bin_body(pk, bin, n) != 0)) {
		rv = LC_ENOMEM;
	}
	lc_free(bin);
	*done = 1;
	return (rv);
}

static int
pack(msgpack_packer *pk, const json_t *j, int depth, int bin_obj)
{
	int rv;

	switch (json_typeof(j)) {
	case JSON_NULL:
		return (msgpack_pack_nil(pk) != 0 ? LC_ENOMEM : 0);
	case JSON_TRUE:
		return (msgpack_pack_true(pk) != 0 ? LC_ENOMEM : 0);
	case JSON_FALSE:
		return (msgpack_pack_false(pk) != 0 ? LC_ENOMEM : 0);
	case JSON_INTEGER:
		return (msgpack_pack_int64(pk, json_integer_value(j)) != 0
		        ? LC_ENOMEM
		        : 0);
	case JSON_REAL: {
		double d = json_real_value(j);

		if (!isfinite(d)) {
			return (LC_EPROTO);
		}
		return (msgpack_pack_double(pk, d) != 0 ? LC_ENOMEM : 0);
	}
	case JSON_STRING: {
		size_t n = json_string_length(j);

		if (n > UINT32_MAX) {
			return (LC_EPROTO);
		}
		if (msgpack_pack_str(pk, n) != 0 ||
		    (n > 0 &&
		        msgpack_pack_str_body(pk, json_string_value(j), n) !=
		            0)) {
			return (LC_ENOMEM);
		}
		return (0);
	}
	case JSON_ARRAY: {
		size_t n = json_array_size(j);

		if (depth >= LC_CODEC_MAX_DEPTH || n > UINT32_MAX) {
			return (LC_EPROTO);
		}
		if (msgpack_pack_array(pk, n) != 0) {
			return (LC_ENOMEM);
		}
		for (size_t i = 0; i < n; i++) {
			if ((rv = pack(pk, json_array_get(j, i), depth + 1,
			         bin_obj)) != 0) {
				return (rv);
			}
		}
		return (0);
	}
	case JSON_OBJECT: {
		int done;

		if (bin_obj &&
		    ((rv = pack_bin_object(pk, j, &done)) != 0 || done)) {
			return (rv);
		}
		if (depth >= LC_CODEC_MAX_DEPTH ||
		    json_object_size(j) > UINT32_MAX) {
			return (LC_EPROTO);
		}
		if (msgpack_pack_map(pk, json_object_size(j)) != 0) {
			return (LC_ENOMEM);
		}
		for (void *it = json_object_iter((json_t *) (uintptr_t) j);
		     it != NULL; it = json_object_iter_next(
		                     (json_t *) (uintptr_t) j, it)) {
			const char *k  = json_object_iter_key(it);
			size_t      kl = json_object_iter_key_len(it);

			if (kl != strlen(k)) {
				return (LC_EPROTO); // NUL inside a key
			}
			if (msgpack_pack_str(pk, kl) != 0 ||
			    (kl > 0 &&
			        msgpack_pack_str_body(pk, k, kl) != 0)) {
				return (LC_ENOMEM);
			}
			if ((rv = pack(pk, json_object_iter_value(it),
			         depth + 1, bin_obj)) != 0) {
				return (rv);
			}
		}
		return (0);
	}
	}
	return (LC_EPROTO);
}

int
lc_codec_pack_json(msgpack_packer *pk, const json_t *j)
{
	if (pk == NULL || j == NULL) {
		return (LC_EPROTO);
	}
	return (pack(pk, j, 0, 1));
}

int
lc_codec_pack_json_plain(msgpack_packer *pk, const json_t *j)
{
	if (pk == NULL || j == NULL) {
		return (LC_EPROTO);
	}
	return (pack(pk, j, 0, 0));
}

int
lc_codec_encode_json(const json_t *j, void **out, size_t *out_len)
{
	msgpack_sbuffer sb;
	msgpack_packer  pk;
	int             rv;

	lc_codec_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if ((rv = lc_codec_pack_json(&pk, j)) != 0) {
		msgpack_sbuffer_destroy(&sb);
		return (rv);
	}
	// sbuffer memory comes from malloc, so lc_free (free) releases it.
	*out_len = sb.size;
	*out     = msgpack_sbuffer_release(&sb);
	return (0);
}

int
lc_json_depth_ok(const json_t *j, int max)
{
	const char *k;
	json_t     *v;
	size_t      i;

	if (max < 1) {
		return (0);
	}
	if (json_is_array(j)) {
		json_array_foreach(j, i, v)
		{
			if (!lc_json_depth_ok(v, max - 1)) {
				return (0);
			}
		}
	} else if (json_is_object(j)) {
		json_object_foreach((json_t *) (uintptr_t) j, k, v)
		{
			if (!lc_json_depth_ok(v, max - 1)) {
				return (0);
			}
		}
	}
	return (1);
}
