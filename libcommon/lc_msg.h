/*
 * lc_msg.h -- bus operations expanded from proto/messages.def, and the
 * service names. The tables are constant; all functions are thread-safe.
 */
#ifndef LC_MSG_H
#define LC_MSG_H

#include <stddef.h>

#define LC_MF_READ 0x1
#define LC_MF_WRITE 0x2
#define LC_MF_STREAM 0x4

// Processes. LC_SVC_ANY marks the common svc.* ops.
enum lc_svc {
	LC_SVC_GATEWAY = 0,
	LC_SVC_AUTH,
	LC_SVC_DATA,
	LC_SVC_STORAGE,
	LC_SVC_HOOKS,
	LC_SVC_ADMIN,
	LC_SVC_COUNT,
	LC_SVC_ANY = LC_SVC_COUNT,
};

enum lc_msg {
#define LC_MSG(name, op, svc, flags) LC_MSG_##name,
#include "messages.def"
#undef LC_MSG
	LC_MSG_COUNT
};

// "auth.login" for LC_MSG_AUTH_LOGIN; NULL when out of range.
const char *lc_msg_name(int msg);
// The service that answers msg (LC_SVC_ANY for svc.*).
int lc_msg_service(int msg);
int lc_msg_flags(int msg);
// Looks an op up by wire name; returns -1 when unknown.
int lc_msg_find(const char *op, size_t len);

// "gateway", "auth", ... for enum lc_svc; NULL when out of range.
const char *lc_svc_name(int svc);
// Looks a service up by name; returns -1 when unknown.
int lc_svc_find(const char *name, size_t len);

/* ---- pub/sub topics, expanded from proto/topics.def ---- */
#ifndef LC_TOPIC_ENUM
#define LC_TOPIC_ENUM
enum lc_topic {
#define LC_TOPIC(name, tag, topic, pub) LC_TOPIC_##name,
#include "topics.def"
#undef LC_TOPIC
	LC_TOPIC_COUNT
};
#endif

// The 4-byte tag of a topic (not NUL-terminated; exactly 4 bytes).
const char *lc_topic_tag(int topic);
// "settings.changed"; NULL when out of range.
const char *lc_topic_name(int topic);
// Finds a topic by its 4-byte tag or by name; -1 when unknown.
int lc_topic_from_tag(const void *tag4);
int lc_topic_find(const char *name, size_t len);
#endif // LC_MSG_H
