/*
 * claude.c - the Claude Messages API (POST /v1/messages) codec (DESIGN 6, formats/pivot.h).
 * Not written yet: only the descriptor exists, so that routes and the
 * relay can name it.
 */
#include "config.h"

#include "proxyd.h"

const struct codec codec_claude = {
	.id = FMT_CLAUDE,
	.name = "claude",
};
