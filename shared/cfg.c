/*
 * cfg.c: configuration from the environment. Only used at start-up, so an
 * invalid value ends the program with a message naming the variable.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include "cfg.h"
#include "log.h"
#include "util.h"

const char *
cfg_str(const char *name, const char *def)
{
	const char *v = getenv(name);

	return (v != NULL && *v != '\0') ? v : def;
}

int64_t
cfg_int(const char *name, int64_t def, int64_t min, int64_t max)
{
	const char *v = cfg_str(name, NULL);
	int64_t out;

	if (v == NULL)
		return def;
	if (util_parse_i64(v, min, max, &out) == -1) {
		log_crit("config %s: not an integer in [%lld, %lld]", name,
		    (long long)min, (long long)max);
		exit(2);
	}
	return out;
}

int
cfg_bool(const char *name, int def)
{
	const char *v = cfg_str(name, NULL);

	if (v == NULL)
		return def;
	if (!strcasecmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") ||
	    !strcasecmp(v, "on"))
		return 1;
	if (!strcasecmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no") ||
	    !strcasecmp(v, "off"))
		return 0;
	log_crit("config %s: expected a boolean", name);
	exit(2);
}

char *
cfg_secret(const char *name)
{
	char fname[128];
	const char *path;
	struct stat st;
	char *out = NULL;
	ssize_t n;
	int fd = -1;

	if ((path = cfg_str(name, NULL)) != NULL)
		return strdup(path);
	snprintf(fname, sizeof(fname), "%s_FILE", name);
	if ((path = cfg_str(fname, NULL)) == NULL)
		return NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 || fstat(fd, &st) == -1) {
		log_crit("config %s: cannot open the secret file", fname);
		goto out;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		log_crit("config %s: the secret file is readable by others", fname);
		goto out;
	}
	if (st.st_size > 65536 || (out = calloc(1, (size_t)st.st_size + 1)) == NULL)
		goto out;
	if ((n = read(fd, out, (size_t)st.st_size)) < 0) {
		free(out);
		out = NULL;
		goto out;
	}
	out[n] = '\0';
	if (n > 0 && out[n - 1] == '\n')
		out[n - 1] = '\0';
out:
	if (fd != -1)
		close(fd);
	return out;
}
