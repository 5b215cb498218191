/*
 * lc_msg.c -- op, service and topic tables expanded from the proto/ tables.
 */
#include "lc_msg.h"

#include <string.h>

struct msg_ent {
	const char *name;
	int         svc;
	int         flags;
};

static const struct msg_ent msgs[LC_MSG_COUNT] = {
#define LC_MSG(name, op, svc, fl) [LC_MSG_##name] = { op, LC_SVC_##svc, fl },
#include "messages.def"
#undef LC_MSG
};

static const char *const svcs[LC_SVC_COUNT] = {
	[LC_SVC_GATEWAY] = "gateway",
	[LC_SVC_AUTH]    = "auth",
	[LC_SVC_DATA]    = "data",
	[LC_SVC_STORAGE] = "storage",
	[LC_SVC_HOOKS]   = "hooks",
	[LC_SVC_ADMIN]   = "admin",
};

struct topic_ent {
	const char *tag;
	const char *name;
	int         pub;
};

static const struct topic_ent topics[LC_TOPIC_COUNT] = {
#define LC_TOPIC(name, tag, topic, pub) \
	[LC_TOPIC_##name] = { tag, topic, LC_SVC_##pub },
#include "topics.def"
#undef LC_TOPIC
};

// Every tag is exactly 4 bytes (topics.def promises it; checked here).
#define LC_TOPIC(name, tag, topic, pub) \
	_Static_assert(sizeof(tag) == 5, "topic tag must be 4 bytes: " #name);
#include "topics.def"
#undef LC_TOPIC

static int
eqn(const char *z, const char *s, size_t len)
{
	return (strlen(z) == len && memcmp(z, s, len) == 0);
}

const char *
lc_msg_name(int msg)
{
	if (msg < 0 || msg >= LC_MSG_COUNT) {
		return (NULL);
	}
	return (msgs[msg].name);
}

int
lc_msg_service(int msg)
{
	if (msg < 0 || msg >= LC_MSG_COUNT) {
		return (-1);
	}
	return (msgs[msg].svc);
}

int
lc_msg_flags(int msg)
{
	if (msg < 0 || msg >= LC_MSG_COUNT) {
		return (0);
	}
	return (msgs[msg].flags);
}

int
lc_msg_find(const char *op, size_t len)
{
	// ~100 entries, called once per request: a linear scan over short
	// strings costs well under a microsecond.
	if (op == NULL) {
		return (-1);
	}
	for (int i = 0; i < LC_MSG_COUNT; i++) {
		if (eqn(msgs[i].name, op, len)) {
			return (i);
		}
	}
	return (-1);
}

const char *
lc_svc_name(int svc)
{
	if (svc < 0 || svc >= LC_SVC_COUNT) {
		return (NULL);
	}
	return (svcs[svc]);
}

int
lc_svc_find(const char *name, size_t len)
{
	if (name == NULL) {
		return (-1);
	}
	for (int i = 0; i < LC_SVC_COUNT; i++) {
		if (eqn(svcs[i], name, len)) {
			return (i);
		}
	}
	return (-1);
}

const char *
lc_topic_tag(int topic)
{
	if (topic < 0 || topic >= LC_TOPIC_COUNT) {
		return (NULL);
	}
	return (topics[topic].tag);
}

const char *
lc_topic_name(int topic)
{
	if (topic < 0 || topic >= LC_TOPIC_COUNT) {
		return (NULL);
	}
	return (topics[topic].name);
}

int
lc_topic_from_tag(const void *tag4)
{
	if (tag4 == NULL) {
		return (-1);
	}
	for (int i = 0; i < LC_TOPIC_COUNT; i++) {
		if (memcmp(topics[i].tag, tag4, 4) == 0) {
			return (i);
		}
	}
	return (-1);
}

int
lc_topic_find(const char *name, size_t len)
{
	if (name == NULL) {
		return (-1);
	}
	for (int i = 0; i < LC_TOPIC_COUNT; i++) {
		if (eqn(topics[i].name, name, len)) {
			return (i);
		}
	}
	return (-1);
}
