/*
 * fuzz_codec_openai_chat.c - the OpenAI Chat codec (formats/openai_chat.c):
 * client requests and upstream answers (chunks and chat.completion), under
 * any split of the bytes; see codec_fuzz.h for what is checked.
 */
#include "config.h"

// needs: src/proxyd/sse.c src/proxyd/formats/pivot.c src/proxyd/formats/openai_chat.c src/proxyd/formats/openai_responses.c src/proxyd/formats/claude.c src/proxyd/formats/gemini.c

#define FUZZ_CODEC codec_openai_chat
#include "codec_fuzz.h"
