/*
 * httpc.c - one blocking HTTP exchange with libcurl's easy interface, for
 * the OAuth calls of cliproxyctl and cliproxy-mgmt (PROVIDERS.md 4, 6):
 * a token endpoint, a device endpoint, userinfo, Code Assist. Blocking is
 * right there (a CLI, one FastCGI request); cliproxyd uses curl multi on
 * its loop instead. TLS is verified, the whole exchange has a deadline,
 * the answer has a cap, redirects are not followed (a token endpoint
 * that redirects is misconfigured), and no error message carries a
 * request or answer body: tokens travel in both.
 */
#include "config.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "core.h"

#define HTTPC_CONNECT_MS 10000     /* connect phase of the deadline */
#define HTTPC_HEADERS_MAX 4        /* extra request headers we send */

void
httpc_resp_init(struct httpc_resp *r)
{
	r->status = 0;
	buf_init(&r->body, HTTPC_ANSWER_MAX);
}

void
httpc_resp_release(struct httpc_resp *r)
{
	if (r->body.p != NULL)
		cp_wipe(r->body.p, r->body.len);
	buf_release(&r->body);
	r->status = 0;
}

static size_t
httpc_write(char *data, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;

	/* past the cap: a short count makes curl stop with a write error */
	if (buf_append(b, data, size * n) != CP_OK)
		return 0;
	return size * n;
}

/* An exchange's stop flag (httpc_request_stop): curl calls this at
 * least once a second while a transfer runs, so a stop is seen within
 * about a second even when the peer sends nothing. */
static int
httpc_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
    curl_off_t ulnow)
{
	const atomic_bool *stop = arg;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return atomic_load(stop) ? 1 : 0;
}

static int
httpc_global(void)
{
	static bool done;

	/* single-threaded callers (the CLI, one responder process); a
	 * threaded one (cliproxyd's refresh workers) calls httpc_init on its
	 * main thread before it starts them */
	if (!done) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return CP_EIO;
		done = true;
	}
	return CP_OK;
}

int
httpc_init(void)
{
	return httpc_global();
}

int
httpc_request(const char *url, const char *ctype, const char *body, size_t len,
    const char *bearer, const char *proxy, long timeout_ms, struct httpc_resp *r,
    char *err, size_t errlen)
{
	return httpc_request_stop(url, ctype, body, len, bearer, proxy, timeout_ms, NULL, r,
	    err, errlen);
}

int
httpc_request_stop(const char *url, const char *ctype, const char *body, size_t len,
    const char *bearer, const char *proxy, long timeout_ms, const atomic_bool *stop,
    struct httpc_resp *r, char *err, size_t errlen)
{
	char ebuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = NULL, *nh;
	struct buf auth;
	CURL *h = NULL;
	CURLcode cc;
	int rc = CP_EIO;

	buf_init(&auth, 16384);
	buf_reset(&r->body);
	r->status = 0;
	if (httpc_global() != CP_OK || (h = curl_easy_init()) == NULL) {
		cp_seterr(err, errlen, "cannot start an http client");
		goto out;
	}
	if (ctype != NULL && body != NULL) {
		if (buf_printf(&auth, "Content-Type: %s", ctype) != CP_OK ||
		    (nh = curl_slist_append(hdrs, auth.p)) == NULL)
			goto nomem;
		hdrs = nh;
	}
	if ((nh = curl_slist_append(hdrs, "Accept: application/json")) == NULL)
		goto nomem;
	hdrs = nh;
	if (bearer != NULL) {
		buf_reset(&auth);
		if (buf_printf(&auth, "Authorization: Bearer %s", bearer) != CP_OK ||
		    (nh = curl_slist_append(hdrs, auth.p)) == NULL)
			goto nomem;
		hdrs = nh;
	}
	/* Expect: 100-continue would add a second round trip for nothing */
	if ((nh = curl_slist_append(hdrs, "Expect:")) == NULL)
		goto nomem;
	hdrs = nh;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : HTTPC_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, HTTPC_CONNECT_MS);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)HTTPC_ANSWER_MAX);
	/* "" disables proxies, including http_proxy from the environment */
	curl_easy_setopt(h, CURLOPT_PROXY, proxy != NULL ? proxy : "");
	curl_easy_setopt(h, CURLOPT_USERAGENT, "cliproxy/" PACKAGE_VERSION);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, httpc_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &r->body);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
	if (stop != NULL) {
		curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, httpc_progress);
		curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)stop);
		curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	}
	if (body != NULL) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	cc = curl_easy_perform(h);
	if (cc == CURLE_WRITE_ERROR || cc == CURLE_FILESIZE_EXCEEDED) {
		cp_seterr(err, errlen, "answer larger than %u bytes", HTTPC_ANSWER_MAX);
		rc = CP_ETOOBIG;
		goto out;
	}
	if (cc == CURLE_ABORTED_BY_CALLBACK) {
		cp_seterr(err, errlen, "stopped");
		goto out;
	}
	if (cc != CURLE_OK) {
		/* curl's message names the host and the failure; it never
		 * quotes what was sent */
		cp_seterr(err, errlen, "%s", ebuf[0] != '\0' ? ebuf : curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	rc = CP_OK;
	goto out;
nomem:
	cp_seterr(err, errlen, "out of memory");
	rc = CP_ENOMEM;
out:
	if (h != NULL)
		curl_easy_cleanup(h);
	/* the Authorization line is in the list and in auth */
	for (nh = hdrs; nh != NULL; nh = nh->next)
		cp_wipe(nh->data, strlen(nh->data));
	curl_slist_free_all(hdrs);
	if (auth.p != NULL)
		cp_wipe(auth.p, auth.len);
	buf_release(&auth);
	return rc;
}
