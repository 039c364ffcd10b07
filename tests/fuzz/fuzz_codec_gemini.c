/*
 * fuzz_codec_gemini.c - the gemini codec (src/proxyd/formats/gemini.c): client
 * requests and upstream answers in any split. See fuzz_codec.h.
 */
#define FUZZ_CODEC codec_gemini

// needs: src/proxyd/formats/pivot.c src/proxyd/formats/claude.c src/proxyd/formats/gemini.c src/proxyd/formats/openai_chat.c src/proxyd/formats/openai_responses.c src/proxyd/sse.c

#include "fuzz_codec.h"
