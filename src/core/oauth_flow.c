/*
 * oauth_flow.c - the network steps of a login (PROVIDERS.md 3, 4, 6),
 * shared by cliproxyctl and cliproxy-mgmt: the code exchange, qwen's
 * device code and one device poll, Google userinfo, Code Assist project
 * discovery (loadCodeAssist, onboardUser polled until done), and saving
 * the new auth file with DESIGN 4's name rule and atomic write. Request
 * bodies come from oauth.c; the exchange goes through httpc.c. Errors
 * name the step and the HTTP status or RFC 6749 code, never a token.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core.h"

#define OFLOW_ONBOARD_POLLS_MAX 60   /* onboardUser polls before we give up */
#define OFLOW_BODY_MAX 16384         /* request bodies we build */

/* POST body to url and parse a token answer into t. */
static int
oflow_token_call(const struct cfg *c, const struct oauth_provider *p, const char *url,
    const struct buf *body, const char *ctype, struct oauth_tokens *t, char *err, size_t errlen)
{
	struct httpc_resp r;
	char e[256] = "";
	int rc;

	httpc_resp_init(&r);
	memset(t, 0, sizeof(*t));
	t->expires_in = -1;
	rc = httpc_request(url, ctype, body->p, body->len, NULL, c != NULL ? c->proxy_url : NULL, 0,
	    &r, e, sizeof(e));
	if (rc != CP_OK) {
		cp_seterr(err, errlen, "token endpoint: %s", e);
		goto out;
	}
	rc = oauth_parse_tokens(p, r.body.p != NULL ? r.body.p : "", r.body.len, t, e, sizeof(e));
	if (rc == CP_EPARSE)
		cp_seterr(err, errlen, "token endpoint answered HTTP %ld without a JSON object", r.status);
	else if (rc != CP_OK)
		cp_seterr(err, errlen, "%s (HTTP %ld)", e, r.status);
	else if (r.status != 200) {
		cp_seterr(err, errlen, "token endpoint answered HTTP %ld", r.status);
		rc = CP_EIO;
	}
out:
	httpc_resp_release(&r);
	return rc;
}

int
oflow_exchange(const struct cfg *c, const struct oauth_pending *pd, const char *code,
    const char *redirect_uri, struct oauth_tokens *t, char *err, size_t errlen)
{
	const char *ctype, *url = oauth_url(c, pd->p, OAUTH_EP_TOKEN);
	struct buf b;
	int rc;

	buf_init(&b, OFLOW_BODY_MAX);
	memset(t, 0, sizeof(*t));
	t->expires_in = -1;
	if ((rc = oauth_exchange_body(pd->p, code, redirect_uri, pd, &b, &ctype)) != CP_OK) {
		cp_seterr(err, errlen, "cannot build the code exchange");
		goto out;
	}
	rc = oflow_token_call(c, pd->p, url, &b, ctype, t, err, errlen);
out:
	if (b.p != NULL)
		cp_wipe(b.p, b.len);
	buf_release(&b);
	return rc;
}

void
oflow_device_release(struct oflow_device *d)
{
	free(d->device_code);
	free(d->user_code);
	free(d->verification_uri);
	memset(d, 0, sizeof(*d));
}

int
oflow_device_start(const struct cfg *c, const struct oauth_pending *pd, struct oflow_device *d,
    char *err, size_t errlen)
{
	struct httpc_resp r;
	struct buf b;
	cJSON *doc = NULL;
	const char *s;
	long long n;
	char e[256] = "";
	int rc;

	memset(d, 0, sizeof(*d));
	httpc_resp_init(&r);
	buf_init(&b, OFLOW_BODY_MAX);
	if ((rc = oauth_device_body(pd->p, pd, &b)) != CP_OK)
		goto out;
	rc = httpc_request(oauth_url(c, pd->p, OAUTH_EP_DEVICE), "application/x-www-form-urlencoded",
	    b.p, b.len, NULL, c != NULL ? c->proxy_url : NULL, 0, &r, e, sizeof(e));
	if (rc != CP_OK) {
		cp_seterr(err, errlen, "device endpoint: %s", e);
		goto out;
	}
	rc = CP_EIO;
	if (r.status != 200) {
		cp_seterr(err, errlen, "device endpoint answered HTTP %ld", r.status);
		goto out;
	}
	if (json_parse_strict(r.body.p != NULL ? r.body.p : "", r.body.len, &doc) != CP_OK ||
	    !cJSON_IsObject(doc) || json_get_string(doc, "device_code", &s) != CP_OK) {
		cp_seterr(err, errlen, "device endpoint answered without a device_code");
		goto out;
	}
	rc = CP_ENOMEM;
	if ((d->device_code = cp_strdup(s)) == NULL)
		goto out;
	if (json_get_string(doc, "user_code", &s) == CP_OK && (d->user_code = cp_strdup(s)) == NULL)
		goto out;
	if ((json_get_string(doc, "verification_uri_complete", &s) == CP_OK ||
	    json_get_string(doc, "verification_uri", &s) == CP_OK) &&
	    (d->verification_uri = cp_strdup(s)) == NULL)
		goto out;
	d->interval = 5;              /* PROVIDERS 4: every 5 s */
	if (json_get_int(doc, "interval", 1, 60, &n) == CP_OK)
		d->interval = (int)n;
	d->expires_in = 600;
	if (json_get_int(doc, "expires_in", 1, 86400, &n) == CP_OK)
		d->expires_in = (int)n;
	rc = CP_OK;
out:
	if (rc != CP_OK)
		oflow_device_release(d);
	cJSON_Delete(doc);
	httpc_resp_release(&r);
	buf_release(&b);
	return rc;
}

int
oflow_device_poll(const struct cfg *c, const struct oauth_pending *pd, const char *device_code,
    struct oauth_tokens *t, char *err, size_t errlen)
{
	struct buf b;
	int rc;

	buf_init(&b, OFLOW_BODY_MAX);
	memset(t, 0, sizeof(*t));
	t->expires_in = -1;
	if ((rc = oauth_device_poll_body(pd->p, device_code, pd, &b)) == CP_OK)
		rc = oflow_token_call(c, pd->p, oauth_url(c, pd->p, OAUTH_EP_TOKEN), &b,
		    "application/x-www-form-urlencoded", t, err, errlen);
	if (b.p != NULL)
		cp_wipe(b.p, b.len);
	buf_release(&b);
	return rc;
}

/* POST (body != NULL) or GET url with a Bearer token; *doc the JSON object. */
static int
oflow_json_call(const struct cfg *c, const char *what, const char *url, const char *body,
    const char *bearer, cJSON **doc, char *err, size_t errlen)
{
	struct httpc_resp r;
	char e[256] = "";
	int rc;

	*doc = NULL;
	httpc_resp_init(&r);
	rc = httpc_request(url, body != NULL ? "application/json" : NULL, body,
	    body != NULL ? strlen(body) : 0, bearer, c != NULL ? c->proxy_url : NULL, 0, &r, e,
	    sizeof(e));
	if (rc != CP_OK) {
		cp_seterr(err, errlen, "%s: %s", what, e);
		goto out;
	}
	if (r.status != 200) {
		cp_seterr(err, errlen, "%s answered HTTP %ld", what, r.status);
		rc = CP_EIO;
		goto out;
	}
	if (json_parse_strict(r.body.p != NULL ? r.body.p : "", r.body.len, doc) != CP_OK ||
	    !cJSON_IsObject(*doc)) {
		cJSON_Delete(*doc);
		*doc = NULL;
		cp_seterr(err, errlen, "%s answered something that is not a JSON object", what);
		rc = CP_EPARSE;
	}
out:
	httpc_resp_release(&r);
	return rc;
}

int
oflow_gemini_email(const struct cfg *c, const char *access, char **email, char *err, size_t errlen)
{
	const struct oauth_provider *p = oauth_provider(OAUTH_GEMINI);
	cJSON *doc = NULL;
	const char *s;
	int rc;

	*email = NULL;
	rc = oflow_json_call(c, "userinfo", oauth_url(c, p, OAUTH_EP_USERINFO), NULL, access, &doc,
	    err, errlen);
	if (rc != CP_OK)
		return rc;
	if (json_get_string(doc, "email", &s) != CP_OK || s[0] == '\0') {
		cp_seterr(err, errlen, "userinfo answered without an email");
		rc = CP_EINVAL;
	} else if ((*email = cp_strdup(s)) == NULL) {
		rc = CP_ENOMEM;
	}
	cJSON_Delete(doc);
	return rc;
}

#define OFLOW_METADATA "{\"ideType\":\"IDE_UNSPECIFIED\",\"platform\":\"PLATFORM_UNSPECIFIED\"," \
	"\"pluginType\":\"GEMINI\"}"

/* A project given as a string or as {"id": ...}. */
static const char *
oflow_project_of(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	const char *s;

	if (cJSON_IsString(v) && v->valuestring[0] != '\0')
		return v->valuestring;
	if (cJSON_IsObject(v) && json_get_string(v, "id", &s) == CP_OK && s[0] != '\0')
		return s;
	return NULL;
}

int
oflow_gemini_project(const struct cfg *c, const char *access, const char *want,
    int poll_ms, char **project, char *err, size_t errlen)
{
	const struct oauth_provider *p = oauth_provider(OAUTH_GEMINI);
	const char *base = oauth_url(c, p, OAUTH_EP_API), *s, *tier = "free-tier";
	const cJSON *tiers, *it;
	cJSON *doc = NULL, *body = NULL, *md = NULL;
	char *text = NULL;
	struct buf url;
	int rc, i;

	*project = NULL;
	buf_init(&url, 4096);
	/* PROVIDERS 3: loadCodeAssist {metadata} -> cloudaicompanionProject */
	if ((rc = CP_ENOMEM, buf_printf(&url, "%s/v1internal:loadCodeAssist", base)) != CP_OK ||
	    (body = cJSON_CreateObject()) == NULL ||
	    (md = cJSON_Parse(OFLOW_METADATA)) == NULL)
		goto out;
	if (want != NULL && want[0] != '\0' &&
	    cJSON_AddStringToObject(body, "cloudaicompanionProject", want) == NULL)
		goto out;
	if (!cJSON_AddItemToObject(body, "metadata", md))
		goto out;
	md = NULL;
	if ((text = cJSON_PrintUnformatted(body)) == NULL)
		goto out;
	if ((rc = oflow_json_call(c, "loadCodeAssist", url.p, text, access, &doc, err, errlen)) != CP_OK)
		goto out;
	if ((s = oflow_project_of(doc, "cloudaicompanionProject")) != NULL) {
		rc = (*project = cp_strdup(s)) == NULL ? CP_ENOMEM : CP_OK;
		goto out;
	}
	if (json_get_array(doc, "allowedTiers", &tiers) == CP_OK)
		cJSON_ArrayForEach(it, tiers) {
			cJSON *d = cJSON_GetObjectItemCaseSensitive(it, "isDefault");

			if (cJSON_IsTrue(d) && json_get_string(it, "id", &s) == CP_OK)
				tier = s;
		}
	/* onboardUser {tierId, metadata}, polled until done */
	cJSON_Delete(body);
	free(text);
	text = NULL;
	rc = CP_ENOMEM;
	if ((body = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(body, "tierId", tier) == NULL ||
	    (md = cJSON_Parse(OFLOW_METADATA)) == NULL || !cJSON_AddItemToObject(body, "metadata", md))
		goto out;
	md = NULL;
	if (want != NULL && want[0] != '\0' &&
	    cJSON_AddStringToObject(body, "cloudaicompanionProject", want) == NULL)
		goto out;
	if ((text = cJSON_PrintUnformatted(body)) == NULL)
		goto out;
	buf_reset(&url);
	if (buf_printf(&url, "%s/v1internal:onboardUser", base) != CP_OK)
		goto out;
	for (i = 0; i < OFLOW_ONBOARD_POLLS_MAX; i++) {
		const cJSON *resp;
		cJSON *done;

		cJSON_Delete(doc);
		doc = NULL;
		if ((rc = oflow_json_call(c, "onboardUser", url.p, text, access, &doc, err,
		    errlen)) != CP_OK)
			goto out;
		done = cJSON_GetObjectItemCaseSensitive(doc, "done");
		if (cJSON_IsTrue(done)) {
			s = NULL;
			if (json_get_object(doc, "response", &resp) == CP_OK)
				s = oflow_project_of(resp, "cloudaicompanionProject");
			if (s == NULL)
				s = want;
			if (s == NULL || s[0] == '\0') {
				cp_seterr(err, errlen, "onboarding finished without a project");
				rc = CP_EINVAL;
				goto out;
			}
			rc = (*project = cp_strdup(s)) == NULL ? CP_ENOMEM : CP_OK;
			goto out;
		}
		usleep((useconds_t)poll_ms * 1000);
	}
	cp_seterr(err, errlen, "onboarding did not finish after %d polls", OFLOW_ONBOARD_POLLS_MAX);
	rc = CP_EBUSY;
out:
	cJSON_Delete(md);
	cJSON_Delete(body);
	cJSON_Delete(doc);
	free(text);
	buf_release(&url);
	return rc;
}

int
oflow_save(const struct cfg *c, const struct oauth_provider *p, const struct oauth_tokens *t,
    const char *email, const char *project, char *name, size_t namelen, char *err, size_t errlen)
{
	cJSON *doc = NULL;
	char *text = NULL;
	int rc;

	if (p->kind == OAUTH_CODEX && t->account_id == NULL) {
		cp_seterr(err, errlen, "the id_token carries no account id");
		return CP_EINVAL;
	}
	if ((rc = oauth_file_name(p, email, project, name, namelen)) != CP_OK) {
		cp_seterr(err, errlen, "cannot make a file name");
		return rc;
	}
	if ((rc = oauth_auth_file(p, t, email, project, time(NULL), &doc)) != CP_OK)
		goto out;
	if ((text = cJSON_Print(doc)) == NULL) {
		rc = CP_ENOMEM;
		goto out;
	}
	rc = authstore_write(c->auth_dir, name, text, strlen(text), err, errlen);
out:
	if (text != NULL)
		cp_wipe(text, strlen(text));
	free(text);
	cJSON_Delete(doc);
	return rc;
}
