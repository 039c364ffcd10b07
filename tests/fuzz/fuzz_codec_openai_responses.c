/*
 * fuzz_codec_openai_responses.c - the OpenAI Responses codec
 * (formats/openai_responses.c): client requests and upstream answers (the
 * event stream and the response object), under any split of the bytes;
 * see codec_fuzz.h for what is checked.
 */
#include "config.h"

// needs: src/proxyd/sse.c src/proxyd/formats/pivot.c src/proxyd/formats/openai_chat.c src/proxyd/formats/openai_responses.c src/proxyd/formats/claude.c src/proxyd/formats/gemini.c

#define FUZZ_CODEC codec_openai_responses
#include "codec_fuzz.h"
