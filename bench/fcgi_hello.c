/*
 * fcgi_hello.c - the FastCGI ceiling of bench/run (issue 7, figure 1): a
 * libfcgi responder that answers every request with a fixed small JSON
 * body and does nothing else. Whatever cliproxy-mgmt loses against it is
 * our own work (parsing, auth, config cache, JSON); whatever it loses
 * against a static file is the web server's FastCGI path. Not part of the
 * product; bench/run compiles it with `cc -O2 fcgi_hello.c -lfcgi`.
 */
#include <fcgiapp.h>
#include <stdio.h>

int
main(void)
{
	static const char body[] = "{\"api-keys\":[\"key-one\",\"key-two\"]}";
	FCGX_Request r;

	if (FCGX_Init() != 0 || FCGX_InitRequest(&r, 0, 0) != 0)
		return 1;
	while (FCGX_Accept_r(&r) >= 0) {
		FCGX_FPrintF(r.out, "Status: 200 OK\r\nContent-Type: application/json\r\n"
		    "Content-Length: %u\r\n\r\n%s", (unsigned)(sizeof(body) - 1), body);
		FCGX_Finish_r(&r);
	}
	return 0;
}
