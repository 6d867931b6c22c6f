/*
 * main.c: runs every registered integration suite against the running test
 * stack (tests/run.sh starts it). Arguments name the suites to run (all
 * by default); "-x NAME" leaves a suite out (make test runs the fault suite
 * apart, on a three-node Kafka cluster).
 */
#include <stdio.h>
#include <string.h>
#include <CUnit/Basic.h>
#include <curl/curl.h>
#include "itest.h"
#include "../cu_report.h"

#define MAX_SUITES 64

static struct {
	const char *name;
	CU_TestInfo *tests;
	void (*setup)(void), (*teardown)(void);
} suites[MAX_SUITES];
static int nsuites;

void
itest_add_suite_hooks(const char *name, CU_TestInfo *tests, void (*setup)(void),
    void (*teardown)(void))
{
	if (nsuites < MAX_SUITES) {
		suites[nsuites].name = name;
		suites[nsuites].tests = tests;
		suites[nsuites].setup = setup;
		suites[nsuites].teardown = teardown;
		nsuites++;
	}
}

void
itest_add_suite(const char *name, CU_TestInfo *tests)
{
	itest_add_suite_hooks(name, tests, NULL, NULL);
}

/* 1 when the command line selects suite name. */
static int
selected(int argc, char **argv, const char *name)
{
	int i, named = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-x") == 0 && i + 1 < argc) {
			if (strcmp(argv[++i], name) == 0)
				return 0;
			continue;
		}
		if (strcmp(argv[i], name) == 0)
			return 1;
		named = 1;
	}
	return !named;
}

int
main(int argc, char **argv)
{
	unsigned failed;
	int i, registered = 0;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	for (i = 0; i < nsuites; i++) {
		CU_SuiteInfo si[2] = { { suites[i].name, NULL, NULL, suites[i].setup,
					 suites[i].teardown, suites[i].tests },
				       CU_SUITE_INFO_NULL };
		if (!selected(argc, argv, suites[i].name))
			continue;
		if (CU_register_suites(si) != CUE_SUCCESS)
			return 2;
		registered++;
	}
	if (registered == 0) {
		fprintf(stderr, "integration: no suite matches\n");
		return 2;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_tests_failed();
	cu_report_failures();
	printf("\nintegration: %u passed, %u failed\n", CU_get_number_of_tests_run() - failed, failed);
	CU_cleanup_registry();
	curl_global_cleanup();
	return failed ? 1 : 0;
}
