/*
 * main.c: runs every registered unit suite with CUnit's basic runner and
 * exits non-zero on any failure. An optional argument runs one suite.
 */
#include <stdio.h>
#include <string.h>
#include <CUnit/Basic.h>
#include "unit.h"
#include "../cu_report.h"

#define MAX_SUITES 64

static struct {
	const char *name;
	CU_TestInfo *tests;
} suites[MAX_SUITES];
static int nsuites;

void
unit_add_suite(const char *name, CU_TestInfo *tests)
{
	if (nsuites < MAX_SUITES) {
		suites[nsuites].name = name;
		suites[nsuites].tests = tests;
		nsuites++;
	} else {
		fprintf(stderr, "unit: too many suites, raise MAX_SUITES\n");
	}
}

int
main(int argc, char **argv)
{
	unsigned failed;
	int i;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	for (i = 0; i < nsuites; i++) {
		CU_SuiteInfo si[2] = { { suites[i].name, NULL, NULL, NULL, NULL, suites[i].tests },
				       CU_SUITE_INFO_NULL };
		if (argc > 1 && strcmp(argv[1], suites[i].name) != 0)
			continue;
		if (CU_register_suites(si) != CUE_SUCCESS) {
			fprintf(stderr, "unit: cannot register %s\n", suites[i].name);
			return 2;
		}
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	cu_report_failures();
	printf("\nunit: %u passed, %u failed\n",
	    CU_get_number_of_tests_run() - CU_get_number_of_tests_failed(),
	    CU_get_number_of_tests_failed());
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
