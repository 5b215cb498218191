/*
 * lc_codec.h -- msgpack <-> jansson conversion, both directions, with limits.
 *
 * Mapping (LIBRARIES.md §4b): nil/bool/int/float/str/array/map map to the
 * JSON types; uint64 above INT64_MAX is rejected; float32 widens to double;
 * NaN/Inf are rejected; bin becomes {"$bin": "<base64url>"} and such a
 * one-key object packs back to bin, so bin survives a round trip; ext,
 * non-string map keys, keys containing NUL (jansson looks keys up as C
 * strings) and invalid UTF-8 are rejected. Strings may contain NUL.
 * Limits: nesting depth LC_CODEC_MAX_DEPTH (32, msgpack-c's own cap) and
 * total input size given by the caller.
 * All functions are reentrant and thread-safe.
 */
#ifndef LC_CODEC_H
#define LC_CODEC_H

#include <jansson.h>
#include <msgpack.h>
#include <stddef.h>

#include "lc_common.h"

#define LC_CODEC_MAX_DEPTH 32

// The deepest nesting a client's JSON body may have (a scalar or an empty
// container at top level is depth 1, {"a":{}} is 2). Well below
// LC_CODEC_MAX_DEPTH, so any value stored from a body can still be carried
// inside the replies that wrap it (envelope, AuthResult, item lists,
// batch results add at most 6 levels; hook calls wrap records too).
#define LC_JSON_BODY_MAX_DEPTH 24

// 1 if j nests no deeper than max levels (as LC_JSON_BODY_MAX_DEPTH
// counts them), else 0. Stops descending at max + 1.
int lc_json_depth_ok(const json_t *j, int max);

// Converts a decoded msgpack object to a new JSON value (caller owns *out).
// Returns 0, LC_EPROTO (unsupported type, bad UTF-8, too deep) or
// LC_ELIMIT.
LC_NODISCARD int lc_codec_to_json(const msgpack_object *o, json_t **out);

// Checks that buf holds exactly one well-formed msgpack value within the
// limits (depth, container counts bounded by the input size so a short
// hostile header cannot make msgpack-c allocate gigabytes, no ext, no
// trailing bytes), then unpacks it into *up. The caller calls
// msgpack_unpacked_init before and msgpack_unpacked_destroy after (also on
// error). STR/BIN data point into buf. Returns 0, LC_EPROTO or LC_ENOMEM.
LC_NODISCARD int lc_codec_unpack(
    const void *buf, size_t len, msgpack_unpacked *up);

// Decodes exactly one msgpack value from buf (no trailing bytes) into JSON.
LC_NODISCARD int lc_codec_decode_json(
    const void *buf, size_t len, json_t **out);

// Packs a JSON value (depth <= LC_CODEC_MAX_DEPTH). Returns 0 or LC_EPROTO.
LC_NODISCARD int lc_codec_pack_json(msgpack_packer *pk, const json_t *j);

// Same, but a {"$bin": ...} object stays an object: used for every JSON
// field of the envelope, so a client's JSON body is never turned into bytes
// (raw bytes travel only in the envelope's explicit raw fields).
LC_NODISCARD int lc_codec_pack_json_plain(msgpack_packer *pk, const json_t *j);

// msgpack_sbuffer_init, with a first block of 512 bytes instead of msgpack's
// 8 KiB: a bus message is mostly a few hundred bytes, and each glibc
// allocation of 1 KiB or more first consolidates the fast bins (a few %
// of a service's CPU per request). Release as an sbuffer.
void lc_codec_sbuffer_init(msgpack_sbuffer *sb);

// Packs a JSON value into a new malloc'd buffer (caller frees with lc_free).
LC_NODISCARD int lc_codec_encode_json(
    const json_t *j, void **out, size_t *out_len);

#endif // LC_CODEC_H
