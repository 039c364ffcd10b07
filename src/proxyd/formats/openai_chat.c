/*
 * openai_chat.c - the OpenAI Chat Completions format (and its legacy
 * Completions sibling): where the model is, how to rewrite it, and the
 * OpenAI error shape {"error":{"message","type","code"}} (DESIGN 6).
 *
 * Only passthrough exists now: when the upstream speaks the client's
 * format, the body goes through untouched apart from "model". The pivot
 * decoder/encoder (DESIGN 6) will live here too.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "proxyd.h"

static int
oa_request_model(const cJSON *req, const char *path_model, bool path_stream,
    const char **model, bool *stream)
{
	const cJSON *m, *s;

	(void)path_model;
	(void)path_stream;
	if (!cJSON_IsObject(req))
		return CP_EINVAL;
	m = cJSON_GetObjectItemCaseSensitive(req, "model");
	if (!cJSON_IsString(m) || m->valuestring[0] == '\0')
		return CP_EINVAL;
	*model = m->valuestring;
	*stream = false;
	s = cJSON_GetObjectItemCaseSensitive(req, "stream");
	if (s != NULL) {
		/* OpenAI accepts only a boolean here; null means absent. */
		if (cJSON_IsBool(s))
			*stream = cJSON_IsTrue(s);
		else if (!cJSON_IsNull(s))
			return CP_EINVAL;
	}
	return CP_OK;
}

static int
oa_set_model(cJSON *req, const char *model)
{
	cJSON *m;

	m = cJSON_CreateString(model);
	if (m == NULL)
		return CP_ENOMEM;
	/* Replace in place so that member order stays as the client sent it. */
	if (!cJSON_ReplaceItemInObjectCaseSensitive(req, "model", m)) {
		cJSON_Delete(m);
		return CP_EINVAL;
	}
	return CP_OK;
}

/* OpenAI's "type" for each kind (their documented error types). */
static const char *const oa_err_type[PVE__COUNT] = {
	[PVE_INVALID] = "invalid_request_error",
	[PVE_AUTH] = "authentication_error",
	[PVE_PERMISSION] = "permission_error",
	[PVE_NOT_FOUND] = "invalid_request_error",
	[PVE_TOO_LARGE] = "invalid_request_error",
	[PVE_RATE_LIMIT] = "rate_limit_error",
	[PVE_SERVER] = "server_error",
	[PVE_UPSTREAM] = "upstream_error",
	[PVE_UNAVAILABLE] = "server_error",
	[PVE_TIMEOUT] = "server_error",
};

int
fmt_openai_error(struct buf *out, int status, enum pv_err kind, const char *message,
    const char *type, const char *code)
{
	cJSON *root = NULL, *err;
	char *txt = NULL;
	int rc = CP_ENOMEM;

	(void)status;
	if (type == NULL)
		type = (unsigned)kind < PVE__COUNT ? oa_err_type[kind] : "server_error";
	buf_reset(out);
	if ((root = cJSON_CreateObject()) == NULL)
		goto out;
	if ((err = cJSON_AddObjectToObject(root, "error")) == NULL)
		goto out;
	if (cJSON_AddStringToObject(err, "message", message) == NULL ||
	    cJSON_AddStringToObject(err, "type", type != NULL ? type : "server_error") == NULL)
		goto out;
	if (code != NULL) {
		if (cJSON_AddStringToObject(err, "code", code) == NULL)
			goto out;
	} else if (cJSON_AddNullToObject(err, "code") == NULL)
		goto out;
	if ((txt = cJSON_PrintUnformatted(root)) == NULL)
		goto out;
	rc = buf_appends(out, txt);
out:
	free(txt);
	cJSON_Delete(root);
	return rc;
}

const struct codec codec_openai_chat = {
	.id = FMT_OPENAI_CHAT,
	.name = "openai-chat",
	.request_model = oa_request_model,
	.set_model = oa_set_model,
	.error_body = fmt_openai_error,
};

const struct codec codec_openai_completions = {
	.id = FMT_OPENAI_COMPLETIONS,
	.name = "openai-completions",
	.request_model = oa_request_model,
	.set_model = oa_set_model,
	.error_body = fmt_openai_error,
};
