/*
 * bare.c: the ceiling for the HTTP benchmarks: a FastCGI responder that does
 * nothing but answer a small JSON body, run under spawn-fcgi behind the same
 * lighttpd with the same process count as the service it is compared to.
 */
#include <fcgiapp.h>
#include <stdio.h>
#include <string.h>

int
main(void)
{
	static const char reply[] = "Status: 200 OK\r\nContent-Type: application/json\r\n"
	    "Content-Length: 27\r\n\r\n{\"user\":{\"userId\":1000000}}";
	FCGX_Request r;

	if (FCGX_Init() != 0 || FCGX_InitRequest(&r, 0, 0) != 0)
		return 1;
	while (FCGX_Accept_r(&r) >= 0) {
		FCGX_PutStr(reply, (int)strlen(reply), r.out);
		/* The services' early close (shared/http.c close_early) for
		 * the bodyless requests this answers, so the ceiling is not
		 * slowed by a wait they do not have. */
		if (FCGX_GetChar(r.in) == EOF && FCGX_HasSeenEOF(r.in))
			(void)FCGX_Detach(&r);
		FCGX_Finish_r(&r);
	}
	return 0;
}
