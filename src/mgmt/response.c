/*
 * response.c - building and sending answers: every response is JSON with
 * Access-Control-Allow-Origin (DESIGN 5), every error body is exactly
 * {"error": "..."}, and core error codes map to HTTP statuses in one table.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt.h"

#define RESP_HDR_MAX  8192             /* header bytes we emit */
/* The largest answer: a GET of a list that fills a config of
 * CP_CONFIG_MAX bytes (JSON may take up to 1.5 times the YAML: "\x01" is
 * "\u0001"), more than a listing of CP_AUTHDIR_FILES_MAX files (200-byte
 * names, 64-byte types: about 3.4 MB) or a download. A cap that counted
 * only a download refused GET of a list the API had just written. */
#define RESP_BODY_MAX (2u * CP_CONFIG_MAX)

/* The one table from core error codes to HTTP (STYLE.md "Errors"). */
static const struct {
	int status;                /* HTTP status */
	const char *msg;           /* default error text */
} err_http[] = {
	[CP_OK] = { 200, "ok" },
	[CP_ENOMEM] = { 500, "out of memory" },
	[CP_EINVAL] = { 400, "invalid body" },
	[CP_ENOTFOUND] = { 404, "not found" },
	[CP_EBUSY] = { 503, "config is busy" },
	[CP_EIO] = { 500, "i/o error" },
	[CP_EPARSE] = { 400, "invalid body" },
	[CP_ETOOBIG] = { 413, "request body too large" },
	[CP_ETYPE] = { 400, "invalid body" },
	[CP_EEXIST] = { 409, "already exists" },
	[CP_EPERM] = { 403, "not permitted" },
	[CP_ELIMIT] = { 409, "limit reached" },
	[CP_ECHANGED] = { 412, "config changed since it was read" },
};

static const struct {
	int status;                /* HTTP status */
	const char *reason;        /* reason phrase */
} reasons[] = {
	{ 200, "OK" }, { 204, "No Content" }, { 304, "Not Modified" }, { 400, "Bad Request" },
	{ 401, "Unauthorized" }, { 403, "Forbidden" }, { 404, "Not Found" },
	{ 405, "Method Not Allowed" }, { 409, "Conflict" }, { 412, "Precondition Failed" },
	{ 413, "Payload Too Large" }, { 500, "Internal Server Error" },
	{ 503, "Service Unavailable" },
};

int
resp_status_of(int err)
{
	if (err < 0 || (size_t)err >= sizeof(err_http) / sizeof(err_http[0]) ||
	    err_http[err].status == 0)
		return 500;
	return err_http[err].status;
}

void
resp_init(struct mgmt_resp *rs)
{
	rs->status = 0;
	rs->is_json = true;
	rs->stream = NULL;
	rs->stream_arg = NULL;
	rs->stream_free = NULL;
	rs->head = false;
	buf_init(&rs->hdr, RESP_HDR_MAX);
	buf_init(&rs->body, RESP_BODY_MAX);
}

void
resp_release(struct mgmt_resp *rs)
{
	buf_release(&rs->hdr);
	buf_release(&rs->body);
	if (rs->stream_free != NULL)
		rs->stream_free(rs->stream_arg);
	rs->stream = NULL;
	rs->stream_arg = NULL;
	rs->stream_free = NULL;
}

void
resp_stream(struct mgmt_resp *rs, int status, resp_stream_fn fn, void *arg,
    void (*free_fn)(void *arg))
{
	buf_reset(&rs->body);
	rs->status = status;
	rs->is_json = false;
	rs->stream = fn;
	rs->stream_arg = arg;
	rs->stream_free = free_fn;
}

void
resp_header(struct mgmt_resp *rs, const char *name, const char *value)
{
	if (strpbrk(name, "\r\n") != NULL || strpbrk(value, "\r\n") != NULL)
		return;
	(void)buf_printf(&rs->hdr, "%s: %s\r\n", name, value);
}

void
resp_json(struct mgmt_resp *rs, int status, const cJSON *obj)
{
	char *s = json_print(obj);

	buf_reset(&rs->body);
	if (s == NULL) {
		rs->status = 500;
		(void)buf_appends(&rs->body, "{\"error\":\"out of memory\"}");
		return;
	}
	rs->status = status;
	if (buf_appends(&rs->body, s) != CP_OK) {
		rs->status = 500;
		buf_reset(&rs->body);
		(void)buf_appends(&rs->body, "{\"error\":\"response too large\"}");
	}
	free(s);
}

void
resp_error(struct mgmt_resp *rs, int status, const char *msg)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL || cJSON_AddStringToObject(o, "error", msg) == NULL) {
		cJSON_Delete(o);
		rs->status = 500;
		buf_reset(&rs->body);
		(void)buf_appends(&rs->body, "{\"error\":\"out of memory\"}");
		return;
	}
	resp_json(rs, status, o);
	cJSON_Delete(o);
}

void
resp_cp_error(struct mgmt_resp *rs, int err, const char *msg)
{
	const char *m = msg;

	if (m == NULL) {
		if (err >= 0 && (size_t)err < sizeof(err_http) / sizeof(err_http[0]) &&
		    err_http[err].msg != NULL)
			m = err_http[err].msg;
		else
			m = "internal error";
	}
	resp_error(rs, resp_status_of(err), m);
}

void
resp_ok(struct mgmt_resp *rs)
{
	buf_reset(&rs->body);
	rs->status = 200;
	(void)buf_appends(&rs->body, "{\"status\":\"ok\"}");
}

void
resp_keyed(struct mgmt_resp *rs, const char *key, const cJSON *value)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *dup = cJSON_Duplicate(value, true);

	if (o == NULL || dup == NULL) {
		cJSON_Delete(o);
		cJSON_Delete(dup);
		resp_cp_error(rs, CP_ENOMEM, NULL);
		return;
	}
	cJSON_AddItemToObject(o, key, dup);
	resp_json(rs, 200, o);
	cJSON_Delete(o);
}

void
resp_tx_error(struct mgmt_resp *rs, int rc, bool fn_ran, const char *err)
{
	char msg[512];

	/* If-Match failed under the lock (DESIGN 5): nothing was written. */
	if (rc == CP_ECHANGED) {
		resp_cp_error(rs, CP_ECHANGED, "config changed since it was read");
		return;
	}
	/* DESIGN 4: a lock wait that times out is 503 "config is busy". */
	if (rc == CP_EBUSY) {
		resp_cp_error(rs, CP_EBUSY, "config is busy");
		return;
	}
	/* Our change passed our checks but not the full validation of the
	 * new document: the request is at fault, the file is untouched. */
	if (rc == CP_EINVAL && fn_ran) {
		resp_cp_error(rs, CP_EINVAL, err != NULL && err[0] != '\0' ? err : "invalid body");
		return;
	}
	/* The current file does not parse, or the write failed: 500, the
	 * file on disk is unchanged (DESIGN 3, spec "Error Responses"). */
	snprintf(msg, sizeof(msg), "failed to save config: %s",
	    err != NULL && err[0] != '\0' ? err : cp_strerror(rc));
	resp_cp_error(rs, CP_EIO, msg);
}

void
resp_etag(struct mgmt_resp *rs, const char *etag)
{
	resp_header(rs, "ETag", etag);
}

void
resp_not_modified(struct mgmt_resp *rs, const char *etag)
{
	buf_reset(&rs->body);
	rs->status = 304;
	rs->is_json = false;
	resp_etag(rs, etag);
}

static const char *
reason_of(int status)
{
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].status == status)
			return reasons[i].reason;
	return "Unknown";
}

int
resp_send(const struct mgmt_resp *rs, const struct mgmt_io *io)
{
	struct buf h;
	int status = rs->status != 0 ? rs->status : 500;
	bool bodyless = status == 204 || status == 304; /* RFC 9110 15.3.5, 15.4.5 */
	int rc;

	buf_init(&h, RESP_HDR_MAX * 2);
	rc = buf_printf(&h, "Status: %d %s\r\n", status, reason_of(status));
	if (rc == CP_OK && rs->is_json)
		rc = buf_appends(&h, "Content-Type: application/json\r\n");
	if (rc == CP_OK)
		rc = buf_appends(&h, "Access-Control-Allow-Origin: *\r\n"
		    "Access-Control-Expose-Headers: ETag\r\n"
		    "Cache-Control: no-store\r\n");
	if (rc == CP_OK && !bodyless && rs->stream == NULL)
		rc = buf_printf(&h, "Content-Length: %zu\r\n", rs->body.len);
	if (rc == CP_OK && rs->hdr.len > 0)
		rc = buf_append(&h, rs->hdr.p, rs->hdr.len);
	if (rc == CP_OK)
		rc = buf_appends(&h, "\r\n");
	if (rc == CP_OK)
		rc = io->write(io->ctx, h.p, h.len);
	if (rc == CP_OK && rs->stream != NULL && !rs->head)
		rc = rs->stream(io, rs->stream_arg);
	else if (rc == CP_OK && rs->stream == NULL && !bodyless && !rs->head &&
	    rs->body.len > 0)
		rc = io->write(io->ctx, rs->body.p, rs->body.len);
	buf_release(&h);
	return rc;
}
