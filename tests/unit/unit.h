/*
 * unit.h: how a CUnit suite file registers itself. Each tests/unit/test_*.c
 * ends with UNIT_SUITE(name, tests) and needs no entry anywhere else: the
 * constructor adds it to the list that main.c runs.
 */
#ifndef ESM_TEST_UNIT_H
#define ESM_TEST_UNIT_H

#include <CUnit/CUnit.h>

void unit_add_suite(const char *name, CU_TestInfo *tests);

#define UNIT_SUITE(name, tests) \
	static void unit_register_##name(void) __attribute__((constructor)); \
	static void unit_register_##name(void) { unit_add_suite(#name, tests); }

#endif
