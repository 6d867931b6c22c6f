/*
 * cu_report.h: after a CUnit run, one line per failed assertion,
 * "FAILED SUITE/TEST: FILE:LINE: CONDITION", so a runner's summary (and the
 * last lines of a long CI log) name what failed without the whole output.
 */
#ifndef ESM_TESTS_CU_REPORT_H
#define ESM_TESTS_CU_REPORT_H

#include <stdio.h>
#include <CUnit/CUnit.h>

static inline void
cu_report_failures(void)
{
	CU_pFailureRecord f;
	unsigned n = 0;

	for (f = CU_get_failure_list(); f != NULL; f = f->pNext) {
		/* Ten are enough to name the tests; the log has the rest. */
		if (++n > 10) {
			printf("FAILED ... %u more\n", CU_get_number_of_failure_records() - 10);
			break;
		}
		printf("FAILED %s/%s: %s:%u: %s\n", f->pSuite ? f->pSuite->pName : "?",
		    f->pTest ? f->pTest->pName : "(suite set-up)",
		    f->strFileName ? f->strFileName : "?", f->uiLineNumber,
		    f->strCondition ? f->strCondition : "");
	}
}

#endif
