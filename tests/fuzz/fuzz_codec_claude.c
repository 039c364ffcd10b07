/*
 * fuzz_codec_claude.c - the claude codec (src/proxyd/formats/claude.c): client
 * requests and upstream answers in any split. See fuzz_codec.h.
 */
#define FUZZ_CODEC codec_claude

// needs: src/proxyd/formats/pivot.c src/proxyd/formats/claude.c src/proxyd/formats/gemini.c src/proxyd/formats/openai_chat.c src/proxyd/formats/openai_responses.c src/proxyd/sse.c

#include "fuzz_codec.h"
