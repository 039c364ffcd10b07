/*
 * reply.c - every answer cliproxyd makes itself (DESIGN 2): one table of
 * reason phrases, and one error path that spells an error in the client's
 * own format (pivot.h enum pv_err, each codec's error_body).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "proxyd.h"

static bool reply_closing;   /* shutting down: ask clients to close */

static const struct {
	int status;
	const char *reason;
} reasons[] = {
	{ 200, "OK" },
	{ 400, "Bad Request" },
	{ 401, "Unauthorized" },
	{ 402, "Payment Required" },
	{ 403, "Forbidden" },
	{ 404, "Not Found" },
	{ 405, "Method Not Allowed" },
	{ 408, "Request Timeout" },
	{ 409, "Conflict" },
	{ 413, "Content Too Large" },
	{ 415, "Unsupported Media Type" },
	{ 422, "Unprocessable Content" },
	{ 429, "Too Many Requests" },
	{ 431, "Request Header Fields Too Large" },
	{ 499, "Client Closed Request" },
	{ 500, "Internal Server Error" },
	{ 501, "Not Implemented" },
	{ 502, "Bad Gateway" },
	{ 503, "Service Unavailable" },
	{ 504, "Gateway Timeout" },
	{ 529, "Overloaded" },
};

const char *
reply_reason(int status)
{
	size_t i;

	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].status == status)
			return reasons[i].reason;
	return status < 300 ? "OK" : status < 400 ? "Redirect" : status < 500 ?
	    "Client Error" : "Server Error";
}

void
reply_set_closing(bool on)
{
	reply_closing = on;
}

void
reply_json(struct evhttp_request *req, int status, const char *body, size_t len)
{
	struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
	struct evbuffer *eb = evbuffer_new();

	evhttp_add_header(oh, "Content-Type", "application/json");
	if (reply_closing)
		evhttp_add_header(oh, "Connection", "close");
	if (eb == NULL || evbuffer_add(eb, body, len) != 0) {
		evhttp_send_error(req, 500, reply_reason(500));
		if (eb != NULL)
			evbuffer_free(eb);
		return;
	}
	evhttp_send_reply(req, status, reply_reason(status), eb);
	evbuffer_free(eb);
}

void
reply_error(struct evhttp_request *req, const struct codec *c, int status,
    const char *message, const char *type, const char *code)
{
	enum pv_err kind = pv_err_of_status(status);
	struct buf b;
	int rc;

	buf_init(&b, 64 * 1024);
	if (c != NULL && c->error_body != NULL)
		rc = c->error_body(&b, status, kind, message, type, code);
	else
		rc = fmt_openai_error(&b, status, kind, message, type, code);
	if (rc != CP_OK || b.p == NULL)
		reply_json(req, status, "{}", 2);
	else
		reply_json(req, status, b.p, b.len);
	buf_release(&b);
}
