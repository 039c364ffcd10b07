/*
 * catalogue.c - model families by name prefix, and the built-in list of
 * names (catalogue.def) that /v1/models shows per family (PROVIDERS.md 1).
 */
#include "config.h"

#include <string.h>

#include "proxyd.h"

/* Prefixes that put a model in a family (PROVIDERS.md 1 table). */
static const struct {
	const char *prefix;
	enum cat_family f;
} cat_prefixes[] = {
	{ "gemini-", CAT_GEMINI },
	{ "claude-", CAT_CLAUDE },
	{ "gpt-", CAT_CODEX },
	{ "o1", CAT_CODEX },
	{ "o3", CAT_CODEX },
	{ "o4", CAT_CODEX },
	{ "codex-", CAT_CODEX },
	{ "qwen", CAT_QWEN },
};

static const struct {
	enum cat_family f;
	const char *name;
} cat_models[] = {
#define CAT_MODEL(fam, name) { fam, name },
#include "providers/catalogue.def"
#undef CAT_MODEL
};

/* catalogue.def lists each family's names together: one view per family,
 * filled on first use (the table is constant, so this is too). */
static const char *cat_names[CAT__COUNT][sizeof(cat_models) / sizeof(cat_models[0])];
static size_t cat_n[CAT__COUNT];
static bool cat_ready;

enum cat_family
catalogue_family(const char *model)
{
	size_t i;

	for (i = 0; i < sizeof(cat_prefixes) / sizeof(cat_prefixes[0]); i++)
		if (strncmp(model, cat_prefixes[i].prefix, strlen(cat_prefixes[i].prefix)) == 0)
			return cat_prefixes[i].f;
	return CAT_NONE;
}

const char *const *
catalogue_names(enum cat_family f, size_t *n)
{
	size_t i;

	if (!cat_ready) {
		for (i = 0; i < sizeof(cat_models) / sizeof(cat_models[0]); i++)
			cat_names[cat_models[i].f][cat_n[cat_models[i].f]++] = cat_models[i].name;
		cat_ready = true;
	}
	if ((unsigned)f >= CAT__COUNT) {
		*n = 0;
		return cat_names[CAT_NONE];
	}
	*n = cat_n[f];
	return cat_names[f];
}

const char *
catalogue_owner(enum cat_family f)
{
	static const char *const owners[CAT__COUNT] = {
		[CAT_NONE] = "cliproxy",
		[CAT_GEMINI] = "google",
		[CAT_CLAUDE] = "anthropic",
		[CAT_CODEX] = "openai",
		[CAT_QWEN] = "qwen",
	};

	return (unsigned)f < CAT__COUNT ? owners[f] : "cliproxy";
}
