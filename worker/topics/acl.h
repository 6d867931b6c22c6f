/*
 * acl.h: the ACL file of esm-topics, one rule per line:
 *
 *   PRINCIPAL OPERATION RESOURCE_TYPE PATTERN NAME
 *   User:relay-tasks WRITE topic literal task-events
 *   User:notifier READ group literal notification-service-group
 *   User:relay-tasks IDEMPOTENT_WRITE cluster literal kafka-cluster
 *
 * Fields are separated by blanks. A line whose first non-blank character
 * is '#' is a comment, and so is whatever follows '#' after the fifth
 * field; blank lines are skipped. Every rule allows (there is no deny) from
 * any host. Words are matched without regard to case. Parsing is strict and
 * all-or-nothing: an unknown word, a missing or extra field, an operation
 * the resource type does not have, a bad topic name or a cluster not named
 * kafka-cluster refuses the whole file, naming the line.
 *
 * Pure; tested in tests/unit/test_topicsacl.c.
 */
#ifndef ESM_TOPICS_ACL_H
#define ESM_TOPICS_ACL_H

#include <stddef.h>
#include "kafka.h"
#include "util.h"

#define TOPICS_ACL_MAX 1000			/* rules in one file */
#define TOPICS_ACL_FILE_MAX (256 * 1024)	/* bytes of one file */
#define TOPICS_ACL_NAME_MAX 249			/* Kafka's longest topic name */

/* Parses the NUL-terminated text of an ACL file, which it modifies: the
 * rules written to out[0..*n) point into it, so text must outlive them.
 * 0, or -1 with "line N: what is wrong" in why (nothing in out is then
 * meant to be used). At most max rules. */
int topics_acl_parse(char *text, struct kafka_acl *out, size_t max, size_t *n,
    char *why, size_t len) ESM_WUR;
/* The rule in the file's words ("User:x WRITE topic literal task-events"). */
void topics_acl_format(const struct kafka_acl *acl, char *buf, size_t len);

#endif
