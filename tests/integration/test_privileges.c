/*
 * test_privileges.c: the processes of the stack run unprivileged. Started
 * as root, scripts/stack.sh runs every long-running process (lighttpd, the
 * FastCGI pools, workers, brokers, the SMTP sink) as its service user, so no
 * process named in a pid file of $ESM_VAR, nor any descendant of one, may
 * hold uid 0 (real, effective, saved or filesystem). Started by anyone else,
 * nothing changes: every process runs as the invoking user.
 *
 * Leaves out PostgreSQL (run as postgres by pg_ctl, no pid file of ours)
 * and processes the other suites start themselves.
 */
#include <dirent.h>
#include <signal.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "itest.h"

#define PRIV_PIDS_MAX 512

struct pidset {
	pid_t pid[PRIV_PIDS_MAX];
	int n;
};

static int
pidset_has(const struct pidset *s, pid_t p)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (s->pid[i] == p)
			return 1;
	return 0;
}

static void
pidset_add(struct pidset *s, pid_t p)
{
	if (p > 1 && s->n < PRIV_PIDS_MAX && !pidset_has(s, p) && kill(p, 0) == 0)
		s->pid[s->n++] = p;
}

/* Adds every pid listed in the files matching pattern (one or more a file). */
static void
add_pid_files(struct pidset *s, const char *pattern)
{
	glob_t g;
	size_t i;
	long p;
	FILE *f;

	if (glob(pattern, 0, NULL, &g) != 0)
		return;
	for (i = 0; i < g.gl_pathc; i++) {
		if ((f = fopen(g.gl_pathv[i], "r")) == NULL)
			continue;
		while (fscanf(f, "%ld", &p) == 1)
			pidset_add(s, (pid_t)p);
		fclose(f);
	}
	globfree(&g);
}

/* The parent of pid, or -1. */
static pid_t
ppid_of(pid_t pid)
{
	char path[64], buf[512], *rp;
	FILE *f;
	long pp = -1;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	/* comm may hold spaces and parentheses: the state follows the last ')' */
	if (fgets(buf, sizeof(buf), f) != NULL && (rp = strrchr(buf, ')')) != NULL)
		sscanf(rp + 1, " %*c %ld", &pp);
	fclose(f);
	return (pid_t)pp;
}

/* Adds the descendants of the pids in s (a Kafka launcher's java, say). */
static void
add_descendants(struct pidset *s)
{
	int grew = 1;
	struct dirent *d;
	DIR *proc;
	pid_t p;

	while (grew) {
		grew = 0;
		if ((proc = opendir("/proc")) == NULL)
			return;
		while ((d = readdir(proc)) != NULL) {
			p = (pid_t)strtol(d->d_name, NULL, 10);
			if (p <= 1 || pidset_has(s, p) || !pidset_has(s, ppid_of(p)))
				continue;
			pidset_add(s, p);
			grew = 1;
		}
		closedir(proc);
	}
}

/* The four uids of pid (real, effective, saved, filesystem) and its name;
 * 0 on success, -1 when it is gone. */
static int
uids_of(pid_t pid, long uid[4], char *name, size_t n)
{
	char path[64], line[256];
	FILE *f;
	int got = 0;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	snprintf(name, n, "?");
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "Name:", 5) == 0) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(name, n, "%s", line + 5 + strspn(line + 5, " \t"));
		} else if (sscanf(line, "Uid: %ld %ld %ld %ld", &uid[0], &uid[1], &uid[2], &uid[3]) == 4) {
			got = 1;
		}
	}
	fclose(f);
	return got ? 0 : -1;
}

static void
test_no_process_runs_as_root(void)
{
	const char *var = getenv("ESM_VAR");
	static struct pidset s;
	char pat[1024], name[64], lpid[1024];
	uid_t me = getuid();
	long uid[4];
	int i, k, checked = 0, bad = 0;
	FILE *f;
	long lp = 0;

	CU_ASSERT_FATAL(var != NULL);
	s.n = 0;
	snprintf(pat, sizeof(pat), "%s/*.pid", var);
	add_pid_files(&s, pat);
	snprintf(pat, sizeof(pat), "%s/*.pids", var);
	add_pid_files(&s, pat);
	add_descendants(&s);
	for (i = 0; i < s.n; i++) {
		if (uids_of(s.pid[i], uid, name, sizeof(name)) != 0)
			continue;
		checked++;
		for (k = 0; k < 4; k++) {
			if (me == 0 ? uid[k] == 0 : uid[k] != (long)me) {
				fprintf(stderr, "  pid %d (%s) runs as uid %ld/%ld/%ld/%ld\n", (int)s.pid[i],
				    name, uid[0], uid[1], uid[2], uid[3]);
				bad++;
				break;
			}
		}
	}
	fprintf(stderr, "  %d processes checked, %d %s\n", checked, bad,
	    me == 0 ? "as root" : "not as the invoking user");
	/* Not vacuous: the stack's lighttpd and a pool are among them. */
	snprintf(lpid, sizeof(lpid), "%s/lighttpd.pid", var);
	if ((f = fopen(lpid, "r")) != NULL) {
		if (fscanf(f, "%ld", &lp) != 1)
			lp = 0;
		fclose(f);
	}
	CU_ASSERT(lp > 0 && pidset_has(&s, (pid_t)lp));
	CU_ASSERT(checked >= 3);
	CU_ASSERT_EQUAL(bad, 0);
}

static CU_TestInfo tests[] = {
	{ "no process of the stack runs as root", test_no_process_runs_as_root },
	CU_TEST_INFO_NULL,
};
ITEST_SUITE(privileges, tests)
