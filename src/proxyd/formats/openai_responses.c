/*
 * openai_responses.c - the OpenAI Responses API (POST /v1/responses) codec (DESIGN 6, formats/pivot.h).
 * Not written yet: only the descriptor exists, so that routes and the
 * relay can name it.
 */
#include "config.h"

#include "proxyd.h"

const struct codec codec_openai_responses = {
	.id = FMT_OPENAI_RESPONSES,
	.name = "openai-responses",
};
