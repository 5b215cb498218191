/*
 * lc_metrics.c -- the Prometheus registry (see lc_metrics.h).
 *
 * Families live in a list (registration order, which is also the export
 * order) and a series is found through one hash table keyed by
 * (family name, label string). Every sample gets service="<name>" as its
 * first label when exported. Values are formatted so that integers print
 * without a fraction or exponent (3, not 3.000 or 3e+00) and other values
 * with the fewest digits that read back to the same double.
 */
#include "lc_metrics.h"

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "lc_log.h"

#define NBUCKETS 11

const double lc_metrics_buckets[11] = {
	0.005,
	0.01,
	0.025,
	0.05,
	0.1,
	0.25,
	0.5,
	1,
	2.5,
	5,
	10,
};

struct series {
	struct family *fam;
	char          *labels;           // preformatted, without service=
	double         value;            // counter / gauge
	uint64_t       bucket[NBUCKETS]; // histogram, non-cumulative
	uint64_t       count;
	double         sum;
	struct series *fam_next;  // creation order within the family
	struct series *hash_next; // hash chain
	uint64_t       hash;
};

struct family {
	char          *name;
	char          *help;
	int            type;
	struct series *first, *last;
	struct family *next;
};

struct lc_metrics {
	pthread_mutex_t mtx;
	char           *service; // already escaped for a label value
	double          start_s; // process_start_time_seconds
	struct family  *fams, *fams_last;
	struct series **tab;
	size_t          tab_size; // power of two
	size_t          nseries;
};

static const char *const type_names[] = {
	[LC_MT_COUNTER]   = "counter",
	[LC_MT_GAUGE]     = "gauge",
	[LC_MT_HISTOGRAM] = "histogram",
};

// FNV-1a over name, a NUL separator and the labels.
static uint64_t
hash_key(const char *name, const char *labels)
{
	uint64_t h = 1469598103934665603ull;

	for (const char *p = name; *p != '\0'; p++) {
		h = (h ^ (unsigned char) *p) * 1099511628211ull;
	}
	h = (h ^ 0xffu) * 1099511628211ull;
	for (const char *p = labels; *p != '\0'; p++) {
		h = (h ^ (unsigned char) *p) * 1099511628211ull;
	}
	return (h);
}

const char *
lc_metrics_escape(const char *v, char *buf, size_t len)
{
	size_t o = 0;

	if (len == 0) {
		return (buf);
	}
	for (const char *p = v != NULL ? v : ""; *p != '\0'; p++) {
		const char *rep = NULL;

		switch (*p) {
		case '\\':
			rep = "\\\\";
			break;
		case '"':
			rep = "\\\"";
			break;
		case '\n':
			rep = "\\n";
			break;
		default:
			break;
		}
		if (rep != NULL) {
			if (o + 2 >= len) {
				break;
			}
			buf[o++] = rep[0];
			buf[o++] = rep[1];
		} else {
			if (o + 1 >= len) {
				break;
			}
			buf[o++] = *p;
		}
	}
	buf[o] = '\0';
	return (buf);
}

struct lc_metrics *
lc_metrics_alloc(const char *service)
{
	struct lc_metrics *m = lc_calloc(1, sizeof(*m));
	char               esc[256];

	pthread_mutex_init(&m->mtx, NULL);
	m->service  = lc_strdup(lc_metrics_escape(
	     service != NULL ? service : "busbase", esc, sizeof(esc)));
	m->start_s  = (double) lc_now_ms() / 1000.0;
	m->tab_size = 256;
	m->tab      = lc_calloc(m->tab_size, sizeof(*m->tab));
	return (m);
}

void
lc_metrics_free(struct lc_metrics *m)
{
	struct family *f, *fn;

	if (m == NULL) {
		return;
	}
	for (f = m->fams; f != NULL; f = fn) {
		struct series *s, *sn;

		fn = f->next;
		for (s = f->first; s != NULL; s = sn) {
			sn = s->fam_next;
			lc_free(s->labels);
			lc_free(s);
		}
		lc_free(f->name);
		lc_free(f->help);
		lc_free(f);
	}
	lc_free(m->tab);
	lc_free(m->service);
	pthread_mutex_destroy(&m->mtx);
	lc_free(m);
}

// Caller holds the mutex.
static struct family *
family_find(struct lc_metrics *m, const char *name)
{
	for (struct family *f = m->fams; f != NULL; f = f->next) {
		if (strcmp(f->name, name) == 0) {
			return (f);
		}
	}
	return (NULL);
}

static struct family *
family_add(struct lc_metrics *m, const char *name, int type, const char *help)
{
	struct family *f = family_find(m, name);

	if (f != NULL) {
		return (f);
	}
	f       = lc_calloc(1, sizeof(*f));
	f->name = lc_strdup(name);
	f->help = lc_strdup(help != NULL ? help : name);
	f->type = type >= LC_MT_COUNTER && type <= LC_MT_HISTOGRAM
	    ? type
	    : LC_MT_GAUGE;
	if (m->fams_last != NULL) {
		m->fams_last->next = f;
	} else {
		m->fams = f;
	}
	m->fams_last = f;
	return (f);
}

static void
grow(struct lc_metrics *m)
{
	size_t          nsize = m->tab_size * 2;
	struct series **nt    = lc_calloc(nsize, sizeof(*nt));

	for (size_t i = 0; i < m->tab_size; i++) {
		struct series *s, *sn;

		for (s = m->tab[i]; s != NULL; s = sn) {
			sn                        = s->hash_next;
			s->hash_next              = nt[s->hash & (nsize - 1)];
			nt[s->hash & (nsize - 1)] = s;
		}
	}
	lc_free(m->tab);
	m->tab      = nt;
	m->tab_size = nsize;
}

// Finds or creates a series; an unregistered family is created with the
// given type (and its name as help) so a missing lc_metrics_family call
// loses no data. Caller holds the mutex.
static struct series *
series_get(
    struct lc_metrics *m, const char *name, const char *labels, int type)
{
	uint64_t       h;
	struct family *f;
	struct series *s;

	if (labels == NULL) {
		labels = "";
	}
	h = hash_key(name, labels);
	for (s = m->tab[h & (m->tab_size - 1)]; s != NULL; s = s->hash_next) {
		if (s->hash == h && strcmp(s->fam->name, name) == 0 &&
		    strcmp(s->labels, labels) == 0) {
			return (s);
		}
	}
	f         = family_add(m, name, type, NULL);
	s         = lc_calloc(1, sizeof(*s));
	s->fam    = f;
	s->labels = lc_strdup(labels);
	s->hash   = h;
	if (f->last != NULL) {
		f->last->fam_next = s;
	} else {
		f->first = s;
	}
	f->last = s;
	if (++m->nseries > m->tab_size) {
		grow(m);
	}
	s->hash_next                  = m->tab[h & (m->tab_size - 1)];
	m->tab[h & (m->tab_size - 1)] = s;
	return (s);
}

void
lc_metrics_family(
    struct lc_metrics *m, const char *name, int type, const char *help)
{
	if (m == NULL || name == NULL) {
		return;
	}
	pthread_mutex_lock(&m->mtx);
	family_add(m, name, type, help);
	pthread_mutex_unlock(&m->mtx);
}

void
lc_metrics_add(
    struct lc_metrics *m, const char *name, const char *labels, double v)
{
	if (m == NULL || name == NULL) {
		return;
	}
	pthread_mutex_lock(&m->mtx);
	series_get(m, name, labels, LC_MT_COUNTER)->value += v;
	pthread_mutex_unlock(&m->mtx);
}

void
lc_metrics_set(
    struct lc_metrics *m, const char *name, const char *labels, double v)
{
	if (m == NULL || name == NULL) {
		return;
	}
	pthread_mutex_lock(&m->mtx);
	series_get(m, name, labels, LC_MT_GAUGE)->value = v;
	pthread_mutex_unlock(&m->mtx);
}

void
lc_metrics_observe(
    struct lc_metrics *m, const char *name, const char *labels, double v)
{
	struct series *s;

	if (m == NULL || name == NULL || isnan(v)) {
		return;
	}
	pthread_mutex_lock(&m->mtx);
	s = series_get(m, name, labels, LC_MT_HISTOGRAM);
	for (int i = 0; i < NBUCKETS; i++) {
		if (v <= lc_metrics_buckets[i]) {
			s->bucket[i]++;
			break;
		}
	}
	s->count++;
	s->sum += v;
	pthread_mutex_unlock(&m->mtx);
}

struct buf {
	char  *p;
	size_t len, cap;
};

static void
buf_put(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		while (b->len + n + 1 > b->cap) {
			b->cap = b->cap != 0 ? b->cap * 2 : 4096;
		}
		b->p = lc_realloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
buf_puts(struct buf *b, const char *s)
{
	buf_put(b, s, strlen(s));
}

// Formats a sample value: integers exactly, others shortest round-trip.
static void
fmt_value(double v, char *buf, size_t len)
{
	if (isnan(v)) {
		snprintf(buf, len, "NaN");
	} else if (isinf(v)) {
		snprintf(buf, len, v > 0 ? "+Inf" : "-Inf");
	} else if (v == floor(v) && fabs(v) < 9007199254740992.0) {
		snprintf(buf, len, "%.0f", v);
	} else {
		snprintf(buf, len, "%.15g", v);
		if (strtod(buf, NULL) != v) {
			snprintf(buf, len, "%.17g", v);
		}
	}
}

// Appends one sample line "<name><suffix>{service="x"[,labels][,extra]} v".
static void
sample(json_t *arr, const struct lc_metrics *m, const char *name,
    const char *suffix, const char *labels, const char *extra, double v)
{
	struct buf line = { 0 };
	char       val[64];

	fmt_value(v, val, sizeof(val));
	buf_puts(&line, name);
	buf_puts(&line, suffix);
	buf_puts(&line, "{service=\"");
	buf_puts(&line, m->service);
	buf_puts(&line, "\"");
	if (labels[0] != '\0') {
		buf_puts(&line, ",");
		buf_puts(&line, labels);
	}
	if (extra != NULL) {
		buf_puts(&line, ",");
		buf_puts(&line, extra);
	}
	buf_puts(&line, "} ");
	buf_puts(&line, val);
	json_array_append_new(arr, json_stringn(line.p, line.len));
	lc_free(line.p);
}

static void
export_series(json_t *arr, const struct lc_metrics *m, const struct family *f,
    const struct series *s)
{
	char     le[48];
	uint64_t cum = 0;

	if (f->type != LC_MT_HISTOGRAM) {
		sample(arr, m, f->name, "", s->labels, NULL, s->value);
		return;
	}
	for (int i = 0; i < NBUCKETS; i++) {
		char b[32];

		cum += s->bucket[i];
		fmt_value(lc_metrics_buckets[i], b, sizeof(b));
		snprintf(le, sizeof(le), "le=\"%s\"", b);
		sample(
		    arr, m, f->name, "_bucket", s->labels, le, (double) cum);
	}
	sample(arr, m, f->name, "_bucket", s->labels, "le=\"+Inf\"",
	    (double) s->count);
	sample(arr, m, f->name, "_sum", s->labels, NULL, s->sum);
	sample(arr, m, f->name, "_count", s->labels, NULL, (double) s->count);
}

/* ---- process metrics ---- */

static double
proc_rss_bytes(void)
{
	FILE         *fp   = fopen("/proc/self/statm", "r");
	unsigned long size = 0, rss = 0;
	long          page = sysconf(_SC_PAGESIZE);

	if (fp == NULL) {
		return (0);
	}
	if (fscanf(fp, "%lu %lu", &size, &rss) != 2) {
		rss = 0;
	}
	fclose(fp);
	return ((double) rss * (double) (page > 0 ? page : 4096));
}

static double
proc_open_fds(void)
{
	DIR           *d = opendir("/proc/self/fd");
	struct dirent *e;
	int            n = 0;

	if (d == NULL) {
		return (0);
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] != '.') {
			n++;
		}
	}
	closedir(d);
	return ((double) (n > 0 ? n - 1 : 0)); // minus the directory's own fd
}

static double
proc_cpu_seconds(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0) {
		return (0);
	}
	return ((double) ru.ru_utime.tv_sec + (double) ru.ru_stime.tv_sec +
	    ((double) ru.ru_utime.tv_usec + (double) ru.ru_stime.tv_usec) /
	        1e6);
}

static void
refresh_process(struct lc_metrics *m)
{
	double cpu = proc_cpu_seconds();
	double rss = proc_rss_bytes();
	double fds = proc_open_fds();

	pthread_mutex_lock(&m->mtx);
	family_add(m, "process_cpu_seconds_total", LC_MT_COUNTER,
	    "Total user and system CPU time spent in seconds.");
	family_add(m, "process_resident_memory_bytes", LC_MT_GAUGE,
	    "Resident memory size in bytes.");
	family_add(m, "process_open_fds", LC_MT_GAUGE,
	    "Number of open file descriptors.");
	family_add(m, "process_start_time_seconds", LC_MT_GAUGE,
	    "Start time of the process since unix epoch in seconds.");
	family_add(m, "busbase_build_info", LC_MT_GAUGE,
	    "BusBase build information; always 1.");
	series_get(m, "process_cpu_seconds_total", "", LC_MT_COUNTER)->value =
	    cpu;
	series_get(m, "process_resident_memory_bytes", "", LC_MT_GAUGE)
	    ->value                                               = rss;
	series_get(m, "process_open_fds", "", LC_MT_GAUGE)->value = fds;
	series_get(m, "process_start_time_seconds", "", LC_MT_GAUGE)->value =
	    m->start_s;
	series_get(
	    m, "busbase_build_info", "version=\"" LC_VERSION "\"", LC_MT_GAUGE)
	    ->value = 1;
	pthread_mutex_unlock(&m->mtx);
}

json_t *
lc_metrics_export(struct lc_metrics *m)
{
	json_t *out = json_array();

	if (m == NULL) {
		return (out);
	}
	refresh_process(m);
	pthread_mutex_lock(&m->mtx);
	for (const struct family *f = m->fams; f != NULL; f = f->next) {
		json_t *samples = json_array();

		for (const struct series *s = f->first; s != NULL;
		     s                      = s->fam_next) {
			export_series(samples, m, f, s);
		}
		json_array_append_new(out,
		    json_pack("{s:s, s:s, s:s, s:o}", "name", f->name, "type",
		        type_names[f->type], "help", f->help, "samples",
		        samples));
	}
	pthread_mutex_unlock(&m->mtx);
	return (out);
}

/* ---- rendering ---- */

// HELP text escaping (text format 0.0.4): backslash and newline.
static void
buf_put_help(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\') {
			buf_put(b, "\\\\", 2);
		} else if (*s == '\n') {
			buf_put(b, "\\n", 2);
		} else {
			buf_put(b, s, 1);
		}
	}
}

static int
name_ok(const char *s)
{
	if (s == NULL || *s == '\0' || (*s >= '0' && *s <= '9')) {
		return (0);
	}
	for (; *s != '\0'; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		        (*s >= '0' && *s <= '9') || *s == '_' || *s == ':')) {
			return (0);
		}
	}
	return (1);
}

static int
type_ok(const char *t)
{
	static const char *const ok[] = { "counter", "gauge", "histogram",
		"summary", "untyped" };

	for (size_t i = 0; t != NULL && i < LC_NELEM(ok); i++) {
		if (strcmp(t, ok[i]) == 0) {
			return (1);
		}
	}
	return (0);
}

char *
lc_metrics_render(const json_t *exports, size_t *out_len)
{
	struct buf b      = { 0 };
	json_t    *merged = json_array();  // [{name,type,help,samples}] copies
	json_t    *byname = json_object(); // name -> index in merged
	size_t     i, j, k;
	json_t    *exp, *fam, *s;

	// Merge in first-occurrence order; later HELP/TYPE are ignored.
	json_array_foreach(exports, i, exp)
	{
		json_array_foreach(exp, j, fam)
		{
			const char *name =
			    json_string_value(json_object_get(fam, "name"));
			const char *type =
			    json_string_value(json_object_get(fam, "type"));
			json_t *samples = json_object_get(fam, "samples");
			json_t *idx, *mf;

			if (!name_ok(name) || !type_ok(type) ||
			    !json_is_array(samples)) {
				continue; // malformed export: skip the family
			}
			if ((idx = json_object_get(byname, name)) == NULL) {
				const char *help = json_string_value(
				    json_object_get(fam, "help"));

				mf = json_pack("{s:s, s:s, s:s, s:[]}", "name",
				    name, "type", type, "help",
				    help != NULL ? help : name, "samples");
				json_object_set_new(byname, name,
				    json_integer(
				        (json_int_t) json_array_size(merged)));
				json_array_append_new(merged, mf);
			} else {
				mf = json_array_get(
				    merged, (size_t) json_integer_value(idx));
			}
			json_array_foreach(samples, k, s)
			{
				const char *line = json_string_value(s);

				// One sample per line; never let a sample
				// break the text format.
				if (line != NULL &&
				    strlen(line) == json_string_length(s) &&
				    strchr(line, '\n') == NULL &&
				    line[0] != '#') {
					json_array_append(
					    json_object_get(mf, "samples"), s);
				}
			}
		}
	}
	buf_puts(&b, "");
	json_array_foreach(merged, i, fam)
	{
		const char *name =
		    json_string_value(json_object_get(fam, "name"));
		json_t *samples = json_object_get(fam, "samples");

		if (json_array_size(samples) == 0) {
			continue;
		}
		buf_puts(&b, "# HELP ");
		buf_puts(&b, name);
		buf_puts(&b, " ");
		buf_put_help(
		    &b, json_string_value(json_object_get(fam, "help")));
		buf_puts(&b, "\n# TYPE ");
		buf_puts(&b, name);
		buf_puts(&b, " ");
		buf_puts(&b, json_string_value(json_object_get(fam, "type")));
		buf_puts(&b, "\n");
		json_array_foreach(samples, k, s)
		{
			buf_puts(&b, json_string_value(s));
			buf_puts(&b, "\n");
		}
	}
	json_decref(merged);
	json_decref(byname);
	if (out_len != NULL) {
		*out_len = b.len;
	}
	return (b.p);
}
