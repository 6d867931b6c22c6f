/*
 * acl.c: the parser of esm-topics' ACL file (format in acl.h). The words
 * are tables; which operations a resource type has follows Kafka's own
 * kafka-acls tool, so a rule that the broker would store but never use
 * (WRITE on a group) is refused here with the line it came from.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "acl.h"

#define ACL_FIELDS 5
#define ACL_ECHO_MAX 40		/* bytes of an unknown word quoted back */
#define ACL_CLUSTER_NAME "kafka-cluster"

#define OP(x) (1u << (x))

/* A word of the file and the value it stands for; for a resource type,
 * also the operations it has. */
struct acl_word {
	const char *word;
	int value;
	unsigned ops;
};

static const struct acl_word acl_ops[] = {
	{ "ALL", KAFKA_ACL_ALL, 0 },
	{ "READ", KAFKA_ACL_READ, 0 },
	{ "WRITE", KAFKA_ACL_WRITE, 0 },
	{ "CREATE", KAFKA_ACL_CREATE, 0 },
	{ "DELETE", KAFKA_ACL_DELETE, 0 },
	{ "ALTER", KAFKA_ACL_ALTER, 0 },
	{ "DESCRIBE", KAFKA_ACL_DESCRIBE, 0 },
	{ "CLUSTER_ACTION", KAFKA_ACL_CLUSTER_ACTION, 0 },
	{ "DESCRIBE_CONFIGS", KAFKA_ACL_DESCRIBE_CONFIGS, 0 },
	{ "ALTER_CONFIGS", KAFKA_ACL_ALTER_CONFIGS, 0 },
	{ "IDEMPOTENT_WRITE", KAFKA_ACL_IDEMPOTENT_WRITE, 0 },
};

static const struct acl_word acl_res[] = {
	{ "topic", KAFKA_RES_TOPIC,
	  OP(KAFKA_ACL_ALL) | OP(KAFKA_ACL_READ) | OP(KAFKA_ACL_WRITE) | OP(KAFKA_ACL_CREATE) |
	  OP(KAFKA_ACL_DELETE) | OP(KAFKA_ACL_ALTER) | OP(KAFKA_ACL_DESCRIBE) |
	  OP(KAFKA_ACL_DESCRIBE_CONFIGS) | OP(KAFKA_ACL_ALTER_CONFIGS) },
	{ "group", KAFKA_RES_GROUP,
	  OP(KAFKA_ACL_ALL) | OP(KAFKA_ACL_READ) | OP(KAFKA_ACL_DELETE) | OP(KAFKA_ACL_DESCRIBE) },
	{ "cluster", KAFKA_RES_CLUSTER,
	  OP(KAFKA_ACL_ALL) | OP(KAFKA_ACL_CREATE) | OP(KAFKA_ACL_ALTER) | OP(KAFKA_ACL_DESCRIBE) |
	  OP(KAFKA_ACL_CLUSTER_ACTION) | OP(KAFKA_ACL_DESCRIBE_CONFIGS) |
	  OP(KAFKA_ACL_ALTER_CONFIGS) | OP(KAFKA_ACL_IDEMPOTENT_WRITE) },
};

static const struct acl_word acl_pats[] = {
	{ "literal", KAFKA_PAT_LITERAL, 0 },
	{ "prefixed", KAFKA_PAT_PREFIXED, 0 },
};

/* The entry of tab[0..n) spelled w (in any case), NULL when none is. */
static const struct acl_word *
acl_by_word(const struct acl_word *tab, size_t n, const char *w)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcasecmp(tab[i].word, w) == 0)
			return &tab[i];
	return NULL;
}

/* The word of value in tab[0..n), "?" when none has it. */
static const char *
acl_word_of(const struct acl_word *tab, size_t n, int value)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (tab[i].value == value)
			return tab[i].word;
	return "?";
}

/* 1 when line is UTF-8 text whose only control characters are blanks
 * (tab, and the CR of a file written on Windows). */
static int
acl_text(const char *line)
{
	const char *s;

	for (s = line; *s != '\0'; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t' && *s != '\r') || *s == 0x7f)
			return 0;
	return util_utf8_valid(line, strlen(line));
}

/* 1 when name is a topic name Kafka accepts: [A-Za-z0-9._-], 1..249. */
static int
acl_topic_name(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0 || n > TOPICS_ACL_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '.' && name[i] != '_' &&
		    name[i] != '-')
			return 0;
	return 1;
}

/* 1 when p is TYPE:NAME with a type of letters and a name of printable
 * characters (the line has no blanks left to worry about). */
static int
acl_principal(const char *p)
{
	const char *colon = strchr(p, ':');
	const char *s;

	if (colon == NULL || colon == p || colon[1] == '\0')
		return 0;
	for (s = p; s < colon; s++)
		if (!isalpha((unsigned char)*s))
			return 0;
	return 1;
}

/* The name of a rule of resource type res and pattern pat: NULL when it is
 * fine, else what is wrong with it. */
static const char *
acl_name_problem(int res, int pat, const char *name)
{
	if (strcmp(name, "*") == 0)
		return pat == KAFKA_PAT_LITERAL ? NULL : "\"*\" (every name) is literal, not prefixed";
	if (res == KAFKA_RES_CLUSTER)
		return pat == KAFKA_PAT_LITERAL && strcmp(name, ACL_CLUSTER_NAME) == 0 ? NULL :
		    "the cluster is \"" ACL_CLUSTER_NAME "\", literal";
	if (res == KAFKA_RES_TOPIC && !acl_topic_name(name))
		return "not a topic name ([A-Za-z0-9._-], at most 249)";
	if (strlen(name) > TOPICS_ACL_NAME_MAX)
		return "a name longer than 249 bytes";
	return NULL;
}

/* Splits line at blanks into f[0..*nf) (at most ACL_FIELDS; a sixth field
 * that is not a comment makes *nf ACL_FIELDS + 1). */
static void
acl_fields(char *line, char **f, int *nf)
{
	char *save = NULL, *t;

	*nf = 0;
	for (t = strtok_r(line, " \t\r", &save); t != NULL; t = strtok_r(NULL, " \t\r", &save)) {
		if (*nf == ACL_FIELDS) {
			if (*t != '#')
				(*nf)++;
			return;
		}
		f[(*nf)++] = t;
	}
}

/* Parses one line that is not blank or a comment. 0 / -1 (why, no line
 * number). */
static int
acl_line(char *line, struct kafka_acl *out, char *why, size_t len)
{
	char *f[ACL_FIELDS];
	const struct acl_word *op, *res, *pat;
	const char *problem;
	int nf;

	acl_fields(line, f, &nf);
	if (nf != ACL_FIELDS) {
		snprintf(why, len, "%s fields, expected PRINCIPAL OPERATION RESOURCE_TYPE PATTERN NAME",
		    nf < ACL_FIELDS ? "too few" : "too many");
		return -1;
	}
	if (!acl_principal(f[0])) {
		snprintf(why, len, "principal \"%.*s\" is not TYPE:NAME (User:name)", ACL_ECHO_MAX, f[0]);
		return -1;
	}
	if ((op = acl_by_word(acl_ops, ESM_NELEM(acl_ops), f[1])) == NULL) {
		snprintf(why, len, "unknown operation \"%.*s\"", ACL_ECHO_MAX, f[1]);
		return -1;
	}
	if ((res = acl_by_word(acl_res, ESM_NELEM(acl_res), f[2])) == NULL) {
		snprintf(why, len, "unknown resource type \"%.*s\" (topic, group, cluster)",
		    ACL_ECHO_MAX, f[2]);
		return -1;
	}
	if ((pat = acl_by_word(acl_pats, ESM_NELEM(acl_pats), f[3])) == NULL) {
		snprintf(why, len, "unknown pattern \"%.*s\" (literal, prefixed)", ACL_ECHO_MAX, f[3]);
		return -1;
	}
	if (!(res->ops & OP(op->value))) {
		snprintf(why, len, "a %s has no operation %s", res->word, op->word);
		return -1;
	}
	if ((problem = acl_name_problem(res->value, pat->value, f[4])) != NULL) {
		snprintf(why, len, "name \"%.*s\": %s", ACL_ECHO_MAX, f[4], problem);
		return -1;
	}
	out->principal = f[0];
	out->op = (enum kafka_acl_op)op->value;
	out->res = (enum kafka_acl_resource)res->value;
	out->pat = (enum kafka_acl_pattern)pat->value;
	out->name = f[4];
	return 0;
}

int
topics_acl_parse(char *text, struct kafka_acl *out, size_t max, size_t *n, char *why,
    size_t len)
{
	char err[160], *line, *next, *s;
	size_t lineno;

	*n = 0;
	for (line = text, lineno = 1; line != NULL; line = next, lineno++) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (!acl_text(line)) {
			snprintf(why, len, "line %zu: not text (invalid UTF-8 or a control character)", lineno);
			return -1;
		}
		s = line + strspn(line, " \t\r");
		if (*s == '\0' || *s == '#')
			continue;
		if (*n == max) {
			snprintf(why, len, "line %zu: more than %zu rules", lineno, max);
			return -1;
		}
		if (acl_line(s, &out[*n], err, sizeof(err)) == -1) {
			snprintf(why, len, "line %zu: %s", lineno, err);
			return -1;
		}
		(*n)++;
	}
	*why = '\0';
	return 0;
}

void
topics_acl_format(const struct kafka_acl *acl, char *buf, size_t len)
{
	snprintf(buf, len, "%s %s %s %s %s", acl->principal,
	    acl_word_of(acl_ops, ESM_NELEM(acl_ops), (int)acl->op),
	    acl_word_of(acl_res, ESM_NELEM(acl_res), (int)acl->res),
	    acl_word_of(acl_pats, ESM_NELEM(acl_pats), (int)acl->pat), acl->name);
}
