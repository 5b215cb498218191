/*
 * main.c -- `busbase`, the single-machine supervisor (ARCHITECTURE.md §8).
 *
 * Environment: PORT (8080), DATA_DIR (./data, exported to the children as
 * an absolute path), ADMIN_SECRET and SECRET_KEY (generated on first start
 * when unset, see secrets.c), BB_*_URL (passed through, for cross-host
 * setups), and BUSBASE_ONLY: a comma-separated subset of
 * "admin,auth,data,storage,hooks,gateway" to start (tests start one
 * service alone this way).
 *
 * Children start in the order admin, auth, data, storage, hooks, gateway;
 * each one's stdout and stderr go through one pipe and every line comes
 * out on our stdout as "[name] line". A child that exits is restarted
 * after a backoff (100 ms, doubling up to 5 s, back to 100 ms once it has
 * run for 10 s); every exit and restart is logged. SIGTERM or SIGINT:
 * SIGTERM to every child, up to 10 s for them to exit, SIGKILL to the
 * rest, exit 0. A second signal skips the wait.
 *
 * One thread, one poll loop: the pipes plus a signalfd (SIGCHLD, SIGTERM,
 * SIGINT, blocked and read as data).
 */
#define _GNU_SOURCE // pipe2, signalfd, prctl: the launcher is Linux-only
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launcher.h"
#include "lc_cfg.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define BACKOFF_RESET_MS 10000 // uptime after which a crash is "new"
#define STOP_GRACE_MS 10000
#define OUT_LINE_MAX 8192

struct child {
	const char *name;
	char        path[PATH_MAX];
	int         enabled;
	pid_t       pid;        // 0 when not running
	int         fd;         // read end of its output pipe, -1 if none
	int64_t     started_ms; // monotonic
	int64_t     restart_at; // monotonic; 0 = none pending
	int         backoff_ms;
	unsigned    restarts;
	char        buf[OUT_LINE_MAX]; // partial line
	size_t      len;
};

// Start order: admin first (it owns the settings the others fetch), the
// gateway last (it fronts the rest).
static struct child children[] = {
	{ .name = "admin" },
	{ .name = "auth" },
	{ .name = "data" },
	{ .name = "storage" },
	{ .name = "hooks" },
	{ .name = "gateway" },
};

static sigset_t sigs_blocked; // what the signalfd reads; unblocked in children

static void
write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			return; // stdout gone: nothing better to do
		}
		p += n;
		len -= (size_t) n;
	}
}

void
ln_say(const char *fmt, ...)
{
	char    line[1024];
	int     n;
	va_list ap;

	n = snprintf(line, sizeof(line), "busbase: ");
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t) n - 1, fmt, ap);
	va_end(ap);
	if (n > (int) sizeof(line) - 2) {
		n = (int) sizeof(line) - 2;
	}
	line[n++] = '\n';
	write_all(STDOUT_FILENO, line, (size_t) n);
}

/* ---- child output ---- */

// Emits "[name] " + len bytes + "\n" with one write, so lines of
// different children never interleave.
static void
emit_line(const struct child *c, const char *p, size_t len)
{
	char   out[OUT_LINE_MAX + 64];
	size_t off = (size_t) snprintf(out, sizeof(out), "[%s] ", c->name);

	if (len > sizeof(out) - off - 1) {
		len = sizeof(out) - off - 1;
	}
	memcpy(out + off, p, len);
	off += len;
	out[off++] = '\n';
	write_all(STDOUT_FILENO, out, off);
}

// Splits the buffered output into lines; a full buffer without a newline
// goes out as one (long) line.
static void
flush_lines(struct child *c, int final)
{
	size_t start = 0;
	size_t i;

	for (i = 0; i < c->len; i++) {
		if (c->buf[i] == '\n') {
			emit_line(c, c->buf + start, i - start);
			start = i + 1;
		}
	}
	if (start < c->len &&
	    (final || (start == 0 && c->len == sizeof(c->buf)))) {
		emit_line(c, c->buf + start, c->len - start);
		start = c->len;
	}
	memmove(c->buf, c->buf + start, c->len - start);
	c->len -= start;
}

// Reads what is available. Returns 0, or -1 at EOF (the pipe is closed).
static int
read_output(struct child *c)
{
	for (;;) {
		ssize_t n =
		    read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);

		if (n > 0) {
			c->len += (size_t) n;
			flush_lines(c, 0);
			continue;
		}
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0 && errno == EAGAIN) {
			return (0);
		}
		// EOF or a real error: the writer is gone.
		flush_lines(c, 1);
		close(c->fd);
		c->fd = -1;
		return (-1);
	}
}

/* ---- processes ---- */

static int
child_start(struct child *c)
{
	int   p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) != 0) {
		ln_say("pipe: %s", strerror(errno));
		return (-1);
	}
	pid = fork();
	if (pid < 0) {
		ln_say("fork %s: %s", c->name, strerror(errno));
		close(p[0]);
		close(p[1]);
		return (-1);
	}
	if (pid == 0) {
		char *argv[] = { c->path, NULL };

		// Die with the launcher even if it is SIGKILLed.
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() == 1) {
			_exit(1);
		}
		sigprocmask(SIG_UNBLOCK, &sigs_blocked, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (dup2(p[1], STDOUT_FILENO) < 0 ||
		    dup2(p[1], STDERR_FILENO) < 0) {
			_exit(127);
		}
		execv(c->path, argv);
		dprintf(
		    STDERR_FILENO, "exec %s: %s\n", c->path, strerror(errno));
		_exit(127);
	}
	close(p[1]);
	fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
	if (c->fd >= 0) {
		// Leftover output of the previous run (a grandchild may still
		// hold it): take what is there and let it go.
		(void) read_output(c);
		if (c->fd >= 0) {
			close(c->fd);
		}
	}
	c->fd         = p[0];
	c->len        = 0;
	c->pid        = pid;
	c->started_ms = lc_mono_ms();
	c->restart_at = 0;
	return (0);
}

static struct child *
child_by_pid(pid_t pid)
{
	size_t i;

	for (i = 0; i < LC_NELEM(children); i++) {
		if (children[i].pid == pid) {
			return (&children[i]);
		}
	}
	return (NULL);
}

static void
describe_exit(int status, char *buf, size_t len)
{
	if (WIFEXITED(status)) {
		snprintf(
		    buf, len, "exited with status %d", WEXITSTATUS(status));
	} else if (WIFSIGNALED(status)) {
		snprintf(buf, len, "killed by signal %d (%s)",
		    WTERMSIG(status), strsignal(WTERMSIG(status)));
	} else {
		snprintf(buf, len, "stopped (status 0x%x)", (unsigned) status);
	}
}

// Logs an exit and, unless stopping, schedules the restart.
static void
child_exited(struct child *c, pid_t pid, int status, int stopping)
{
	char    how[96];
	int64_t up;

	if (c->fd >= 0) {
		(void) read_output(c); // its last words first
	}
	up     = lc_mono_ms() - c->started_ms;
	c->pid = 0;
	describe_exit(status, how, sizeof(how));
	if (stopping) {
		ln_say("%s %s", c->name, how);
		return;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == LC_EXIT_RESTART) {
		// A requested restart (lc_common.h): at once, no backoff.
		c->restart_at = lc_mono_ms();
		ln_say("%s (pid %d) exited to restart; starting it again",
		    c->name, (int) pid);
		return;
	}
	if (up >= BACKOFF_RESET_MS || c->backoff_ms == 0) {
		c->backoff_ms = BACKOFF_MIN_MS;
	} else {
		c->backoff_ms *= 2;
		if (c->backoff_ms > BACKOFF_MAX_MS) {
			c->backoff_ms = BACKOFF_MAX_MS;
		}
	}
	c->restart_at = lc_mono_ms() + c->backoff_ms;
	ln_say("%s (pid %d) %s after %lld ms; restarting in %d ms", c->name,
	    (int) pid, how, (long long) up, c->backoff_ms);
}

// Reaps every exited child. block: wait for one first.
static void
reap(int stopping, int block)
{
	int   status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, block ? 0 : WNOHANG)) != 0) {
		struct child *c;

		if (pid < 0) {
			if (errno == EINTR) {
				continue;
			}
			return; // ECHILD: nothing left
		}
		block = 0;
		if ((c = child_by_pid(pid)) != NULL) {
			child_exited(c, pid, status, stopping);
		}
	}
}

static void
signal_all(int sig)
{
	size_t i;

	for (i = 0; i < LC_NELEM(children); i++) {
		if (children[i].pid > 0) {
			kill(children[i].pid, sig);
		}
	}
}

static int
any_running(void)
{
	size_t i;

	for (i = 0; i < LC_NELEM(children); i++) {
		if (children[i].pid > 0) {
			return (1);
		}
	}
	return (0);
}

/* ---- set-up ---- */

// Selects the children named in BUSBASE_ONLY (all when unset).
static int
select_children(void)
{
	const char *only = getenv("BUSBASE_ONLY");
	char        list[256];
	char       *save = NULL;
	char       *tok;
	size_t      i;

	for (i = 0; i < LC_NELEM(children); i++) {
		children[i].enabled = only == NULL || only[0] == '\0';
		children[i].fd      = -1;
	}
	if (only == NULL || only[0] == '\0') {
		return (0);
	}
	snprintf(list, sizeof(list), "%s", only);
	for (tok = strtok_r(list, ", ", &save); tok != NULL;
	     tok = strtok_r(NULL, ", ", &save)) {
		for (i = 0; i < LC_NELEM(children); i++) {
			if (strcmp(tok, children[i].name) == 0) {
				children[i].enabled = 1;
				break;
			}
		}
		if (i == LC_NELEM(children)) {
			ln_say("BUSBASE_ONLY: unknown process '%s' (use "
			       "admin,auth,data,storage,hooks,gateway)",
			    tok);
			return (2);
		}
	}
	return (0);
}

// Finds busbase-<name> next to our own executable.
static int
locate_binaries(void)
{
	char    self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char   *slash;
	size_t  i;

	if (n <= 0) {
		ln_say("readlink /proc/self/exe: %s", strerror(errno));
		return (2);
	}
	self[n] = '\0';
	if ((slash = strrchr(self, '/')) != NULL) {
		*slash = '\0';
	}
	for (i = 0; i < LC_NELEM(children); i++) {
		struct child *c = &children[i];

		if (!c->enabled) {
			continue;
		}
		if ((size_t) snprintf(c->path, sizeof(c->path),
		        "%s/busbase-%s", self, c->name) >= sizeof(c->path) ||
		    access(c->path, X_OK) != 0) {
			ln_say("cannot run %s: %s (build it with `make`)",
			    c->path, strerror(errno));
			return (2);
		}
	}
	return (0);
}

// mkdir -p for a short path.
static int
mkdirs(const char *path)
{
	char   buf[PATH_MAX];
	size_t i;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int) sizeof(buf)) {
		return (-1);
	}
	for (i = 1; buf[i] != '\0'; i++) {
		if (buf[i] == '/') {
			buf[i] = '\0';
			if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
				return (-1);
			}
			buf[i] = '/';
		}
	}
	if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
		return (-1);
	}
	return (0);
}

// DATA_DIR made absolute (and created), PORT checked, both exported.
static int
prepare_env(char *data_dir, size_t len)
{
	const char *dd   = lc_cfg_env("DATA_DIR", "./data");
	const char *port = lc_cfg_env("PORT", "8080");
	char        run[PATH_MAX + 8];
	char        abs[PATH_MAX];
	int64_t     p;

	if (lc_parse_i64(port, strlen(port), 1, 65535, &p) != 0) {
		ln_say(
		    "PORT must be a number from 1 to 65535, not '%s'", port);
		return (2);
	}
	if (dd[0] == '\0' || mkdirs(dd) != 0 || realpath(dd, abs) == NULL) {
		ln_say("cannot create DATA_DIR '%s': %s", dd, strerror(errno));
		return (2);
	}
	snprintf(run, sizeof(run), "%s/run", abs);
	if (mkdirs(run) != 0) {
		ln_say("cannot create %s: %s", run, strerror(errno));
		return (2);
	}
	if (setenv("DATA_DIR", abs, 1) != 0 || setenv("PORT", port, 1) != 0 ||
	    setenv(LC_SUPERVISED_ENV, "1", 1) != 0) {
		ln_say("setenv: %s", strerror(errno));
		return (2);
	}
	snprintf(data_dir, len, "%s", abs);
	return (0);
}

/* ---- the loop ---- */

// Poll timeout: until the next pending restart or the stop deadline.
static int
next_timeout(int stopping, int64_t deadline)
{
	int64_t now  = lc_mono_ms();
	int64_t next = -1;
	size_t  i;

	if (stopping) {
		next = deadline;
	} else {
		for (i = 0; i < LC_NELEM(children); i++) {
			int64_t at = children[i].restart_at;

			if (at != 0 && (next < 0 || at < next)) {
				next = at;
			}
		}
	}
	if (next < 0) {
		return (-1);
	}
	return (next <= now ? 0 : (int) (next - now));
}

static void
start_due(void)
{
	int64_t now = lc_mono_ms();
	size_t  i;

	for (i = 0; i < LC_NELEM(children); i++) {
		struct child *c = &children[i];

		if (c->restart_at == 0 || c->restart_at > now) {
			continue;
		}
		c->restart_at = 0;
		c->restarts++;
		if (child_start(c) == 0) {
			ln_say("restarted %s (pid %d, restart #%u)", c->name,
			    (int) c->pid, c->restarts);
		} else {
			c->backoff_ms = BACKOFF_MAX_MS;
			c->restart_at = now + c->backoff_ms;
		}
	}
}

int
main(void)
{
	struct pollfd pfd[LC_NELEM(children) + 1];
	struct child *owner[LC_NELEM(children) + 1];
	char          data_dir[PATH_MAX];
	int           sfd;
	int           stopping = 0;
	int64_t       deadline = 0;
	size_t        i;
	int           rv;

	if (sodium_init() < 0) {
		ln_say("libsodium failed to initialise");
		return (2);
	}
	signal(SIGPIPE, SIG_IGN);
	if ((rv = select_children()) != 0 ||
	    (rv = prepare_env(data_dir, sizeof(data_dir))) != 0 ||
	    (rv = ln_secrets_prepare(data_dir)) != 0 ||
	    (rv = locate_binaries()) != 0) {
		return (rv);
	}

	sigemptyset(&sigs_blocked);
	sigaddset(&sigs_blocked, SIGCHLD);
	sigaddset(&sigs_blocked, SIGTERM);
	sigaddset(&sigs_blocked, SIGINT);
	sigprocmask(SIG_BLOCK, &sigs_blocked, NULL);
	if ((sfd = signalfd(-1, &sigs_blocked, SFD_CLOEXEC | SFD_NONBLOCK)) <
	    0) {
		ln_say("signalfd: %s", strerror(errno));
		return (2);
	}

	ln_say("starting in %s (gateway port %s)", data_dir,
	    lc_cfg_env("PORT", "8080"));
	for (i = 0; i < LC_NELEM(children); i++) {
		struct child *c = &children[i];

		if (!c->enabled) {
			continue;
		}
		if (child_start(c) == 0) {
			ln_say("started %s (pid %d)", c->name, (int) c->pid);
		} else {
			c->restart_at = lc_mono_ms() + BACKOFF_MIN_MS;
		}
	}

	for (;;) {
		size_t n = 0;
		int    timeout;

		if (stopping && !any_running()) {
			break;
		}
		if (stopping && lc_mono_ms() >= deadline) {
			ln_say("grace period over: killing what is left");
			signal_all(SIGKILL);
			while (any_running()) {
				reap(1, 1);
			}
			break;
		}
		pfd[n]   = (struct pollfd) { .fd = sfd, .events = POLLIN };
		owner[n] = NULL;
		n++;
		for (i = 0; i < LC_NELEM(children); i++) {
			if (children[i].fd >= 0) {
				pfd[n] =
				    (struct pollfd) { .fd = children[i].fd,
					    .events       = POLLIN };
				owner[n] = &children[i];
				n++;
			}
		}
		timeout = next_timeout(stopping, deadline);
		if (poll(pfd, (nfds_t) n, timeout) < 0 && errno != EINTR) {
			ln_say("poll: %s", strerror(errno));
			break;
		}
		for (i = 1; i < n; i++) {
			if (pfd[i].revents != 0 && owner[i]->fd == pfd[i].fd) {
				(void) read_output(owner[i]);
			}
		}
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGCHLD) {
					continue; // reaped below
				}
				if (stopping) {
					// A second signal: no more waiting.
					deadline = lc_mono_ms();
					continue;
				}
				ln_say("%s: stopping (up to %d s)",
				    strsignal((int) si.ssi_signo),
				    STOP_GRACE_MS / 1000);
				stopping = 1;
				deadline = lc_mono_ms() + STOP_GRACE_MS;
				for (i = 0; i < LC_NELEM(children); i++) {
					children[i].restart_at = 0;
				}
				signal_all(SIGTERM);
			}
		}
		reap(stopping, 0);
		if (!stopping) {
			start_due();
		}
	}
	for (i = 0; i < LC_NELEM(children); i++) {
		if (children[i].fd >= 0) {
			(void) read_output(&children[i]);
			if (children[i].fd >= 0) {
				close(children[i].fd);
			}
		}
	}
	ln_say("stopped");
	return (0);
}
