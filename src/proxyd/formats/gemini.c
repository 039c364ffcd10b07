/*
 * gemini.c - the Gemini generateContent API (/v1beta/models/{m}:...) codec (DESIGN 6, formats/pivot.h).
 * Not written yet: only the descriptor exists, so that routes and the
 * relay can name it.
 */
#include "config.h"

#include "proxyd.h"

const struct codec codec_gemini = {
	.id = FMT_GEMINI,
	.name = "gemini",
};
