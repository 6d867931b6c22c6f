/*
 * cfg.h: configuration from the environment, with defaults. Invalid values
 * are fatal, which is fine because configuration is only read at start-up.
 * Secrets come from NAME or from the 0600 file named by NAME_FILE.
 */
#ifndef ESM_CFG_H
#define ESM_CFG_H

#include <stdint.h>

/* getenv(name) when set and non-empty, else def (may be NULL). Borrowed. */
const char *cfg_str(const char *name, const char *def);
/* Integer in [min, max]; exits with a message when set but invalid. */
int64_t cfg_int(const char *name, int64_t def, int64_t min, int64_t max);
/* 1/0 from "1,true,yes,on" / "0,false,no,off". */
int cfg_bool(const char *name, int def);
/* Secret value from NAME, else the contents of the file at NAME_FILE (which
 * must not be group/world readable; one trailing newline is dropped).
 * Returns a malloc'd string or NULL when neither is set. */
char *cfg_secret(const char *name);

#endif
