/*
 * ratelimit.c -- per-gateway rate limits (API.md §1.10): fixed 60 s
 * windows per (class, key), each starting at the key's first counted
 * request. A request over the limit is not counted.
 *
 * The counters are a hash table split into shards, each with its own mutex
 * (held for a few hundred nanoseconds), so the two MHD threads rarely meet.
 * Entries whose window has ended are removed lazily when their bucket is
 * walked, and a shard that grows large is swept whole. The hash is keyed
 * SipHash (libsodium crypto_shorthash), so clients cannot aim their keys
 * (X-Forwarded-For under TRUST_PROXY=1) at one bucket.
 */
#include <pthread.h>
#include <sodium.h>
#include <string.h>

#include "gw.h"
#include "lc_err.h"

#define WINDOW_MS 60000
#define SHARDS 32
#define BUCKETS 512     // per shard
#define KEY_MAX 64      // longer keys are cut (IPs and user ids fit)
#define SWEEP_AT 4096   // a shard this full is swept whole
#define SHARD_CAP 16384 // beyond this, new keys are admitted uncounted

struct ent {
	struct ent *next;
	int64_t     start; // window start, monotonic ms
	uint32_t    count;
	uint8_t     cls;
	uint8_t     klen;
	char        key[KEY_MAX];
};

struct shard {
	pthread_mutex_t mu;
	size_t          n;
	struct ent     *b[BUCKETS];
} __attribute__((aligned(64)));

struct gw_rl {
	uint8_t      hkey[crypto_shorthash_KEYBYTES];
	struct shard s[SHARDS];
};

static const char *const class_names[GW_RL_COUNT] = {
	[GW_RL_AUTH]          = "auth",
	[GW_RL_ADMIN]         = "admin",
	[GW_RL_UPLOAD]        = "file_upload",
	[GW_RL_AUTHENTICATED] = "authenticated",
	[GW_RL_PUBLIC]        = "public_reads",
};

static const char *const class_settings[GW_RL_COUNT] = {
	[GW_RL_AUTH]          = "rate_limit_auth",
	[GW_RL_ADMIN]         = "rate_limit_admin",
	[GW_RL_UPLOAD]        = "rate_limit_file_upload",
	[GW_RL_AUTHENTICATED] = "rate_limit_authenticated",
	[GW_RL_PUBLIC]        = "rate_limit_public_reads",
};

const char *
gw_rl_class_name(int cls)
{
	return (cls >= 0 && cls < GW_RL_COUNT ? class_names[cls] : "none");
}

const char *
gw_rl_setting(int cls)
{
	return (cls >= 0 && cls < GW_RL_COUNT ? class_settings[cls] : "");
}

struct gw_rl *
gw_rl_alloc(void)
{
	struct gw_rl *rl = lc_calloc(1, sizeof(*rl));
	int           i;

	randombytes_buf(rl->hkey, sizeof(rl->hkey));
	for (i = 0; i < SHARDS; i++) {
		(void) pthread_mutex_init(&rl->s[i].mu, NULL);
	}
	return (rl);
}

void
gw_rl_free(struct gw_rl *rl)
{
	int i;
	int j;

	if (rl == NULL) {
		return;
	}
	for (i = 0; i < SHARDS; i++) {
		for (j = 0; j < BUCKETS; j++) {
			struct ent *e = rl->s[i].b[j];

			while (e != NULL) {
				struct ent *nx = e->next;

				lc_free(e);
				e = nx;
			}
		}
		(void) pthread_mutex_destroy(&rl->s[i].mu);
	}
	lc_free(rl);
}

int
gw_rl_classify(const struct gw_route *rt, int admin_secret, int caller_kind,
    int cred_err, int *by_uid)
{
	int user =
	    caller_kind == LC_CALLER_USER || caller_kind == LC_CALLER_APIKEY;

	*by_uid = 0;
	if (rt == NULL || rt->rate == GW_RATE_EXEMPT) {
		return (-1);
	}
	if (cred_err != 0 && lc_err_status(cred_err) == 401) {
		// A rejected credential counts in its route's IP class.
		return (
		    rt->rate == GW_RATE_ADMIN ? GW_RL_ADMIN : GW_RL_PUBLIC);
	}
	if (rt->rate == GW_RATE_AUTH) {
		return (GW_RL_AUTH);
	}
	if (rt->rate == GW_RATE_ADMIN || admin_secret) {
		return (GW_RL_ADMIN);
	}
	if (rt->rate == GW_RATE_UPLOAD) {
		// TODO(storage issue): PUT /storage/upload/:token counts
		// under the signer's id, which the token will carry.
		*by_uid = user;
		return (GW_RL_UPLOAD);
	}
	if (user) {
		*by_uid = 1;
		return (GW_RL_AUTHENTICATED);
	}
	return (GW_RL_PUBLIC);
}

// Removes every entry of s whose window has ended.
static void
sweep(struct shard *s, int64_t now)
{
	int j;

	for (j = 0; j < BUCKETS; j++) {
		struct ent **pp = &s->b[j];

		while (*pp != NULL) {
			struct ent *e = *pp;

			if (now - e->start >= WINDOW_MS) {
				*pp = e->next;
				lc_free(e);
				s->n--;
			} else {
				pp = &e->next;
			}
		}
	}
}

int
gw_rl_hit(struct gw_rl *rl, int cls, const char *key, size_t keylen,
    int64_t limit, int64_t now_ms)
{
	uint64_t      h;
	struct shard *s;
	struct ent  **pp;
	struct ent   *e;
	struct ent   *found = NULL;
	int           rv    = 0;

	if (limit <= 0 || cls < 0 || cls >= GW_RL_COUNT) {
		return (0); // unlimited: nothing is counted
	}
	if (keylen > KEY_MAX) {
		keylen = KEY_MAX;
	}
	(void) crypto_shorthash((unsigned char *) &h,
	    (const unsigned char *) key, keylen, rl->hkey);
	h ^= (uint64_t) (cls + 1) * UINT64_C(0x9E3779B97F4A7C15);
	s  = &rl->s[h % SHARDS];
	pp = &s->b[(h >> 16) % BUCKETS];

	(void) pthread_mutex_lock(&s->mu);
	while ((e = *pp) != NULL) {
		if (now_ms - e->start >= WINDOW_MS) {
			*pp = e->next; // window over: forget it
			lc_free(e);
			s->n--;
			continue;
		}
		if (e->cls == cls && e->klen == keylen &&
		    memcmp(e->key, key, keylen) == 0) {
			found = e;
		}
		pp = &e->next;
	}
	if (found == NULL) {
		if (s->n >= SWEEP_AT) {
			sweep(s, now_ms);
		}
		if (s->n >= SHARD_CAP) {
			goto out; // flooded with keys: admit, uncounted
		}
		found        = lc_calloc(1, sizeof(*found));
		found->start = now_ms;
		found->cls   = (uint8_t) cls;
		found->klen  = (uint8_t) keylen;
		memcpy(found->key, key, keylen);
		found->next               = s->b[(h >> 16) % BUCKETS];
		s->b[(h >> 16) % BUCKETS] = found;
		s->n++;
	}
	if ((int64_t) found->count >= limit) {
		int64_t left = found->start + WINDOW_MS - now_ms;

		rv = (int) ((left + 999) / 1000);
		if (rv < 1) {
			rv = 1;
		}
		goto out;
	}
	found->count++;
out:
	(void) pthread_mutex_unlock(&s->mu);
	return (rv);
}

size_t
gw_rl_size(struct gw_rl *rl)
{
	size_t n = 0;
	int    i;

	for (i = 0; i < SHARDS; i++) {
		(void) pthread_mutex_lock(&rl->s[i].mu);
		n += rl->s[i].n;
		(void) pthread_mutex_unlock(&rl->s[i].mu);
	}
	return (n);
}
