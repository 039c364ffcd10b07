/*
 * test_proxyd_pool.c - round-robin and cooldowns of the credential pool
 * (src/proxyd/pool.c, DESIGN 6 "Credentials").
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proxyd.h"

static struct cred creds_a[3], creds_b[1];
static struct prov pa, pb;
static struct model_target targets[2];
static struct route_model model;

static int
setup(void **state)
{
	int i;

	(void)state;
	memset(&pa, 0, sizeof(pa));
	memset(&pb, 0, sizeof(pb));
	for (i = 0; i < 3; i++) {
		creds_a[i].prov = &pa;
		snprintf(creds_a[i].id, sizeof(creds_a[i].id), "a%d", i);
	}
	creds_b[0].prov = &pb;
	snprintf(creds_b[0].id, sizeof(creds_b[0].id), "b0");
	pa.creds = creds_a;
	pa.n_creds = 3;
	pb.creds = creds_b;
	pb.n_creds = 1;
	targets[0].prov = &pa;
	targets[0].upstream = "up-a";
	targets[1].prov = &pb;
	targets[1].upstream = "up-b";
	model.alias = "m";
	model.t = targets;
	model.n = 2;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	pool_free_all();
	return 0;
}

static void
test_rotation(void **state)
{
	const char *want_first[] = { "a0", "a1", "a2", "b0", "a0" };
	size_t k;

	(void)state;
	for (k = 0; k < 5; k++) {
		struct candidate *c = NULL;
		size_t n = 0;

		assert_int_equal(pool_candidates(&model, "m", &c, &n), CP_OK);
		assert_int_equal(n, 4);
		/* Each request starts one further on, and still sees all. */
		assert_string_equal(c[0].cred->id, want_first[k]);
		assert_string_equal(c[1].cred->id, want_first[(k + 1) % 4]);
		assert_string_equal(c[3].cred->id, c[3].cred->id[0] == 'b' ? "b0" : c[3].cred->id);
		for (size_t i = 0; i < n; i++)
			assert_string_equal(c[i].upstream, c[i].cred->prov == &pa ? "up-a" : "up-b");
		free(c);
	}
}

static void
test_rotation_survives_new_tables(void **state)
{
	struct route_model copy = model; /* a reload builds new structs */
	struct candidate *c = NULL;
	size_t n = 0;

	(void)state;
	pool_free_all();
	assert_int_equal(pool_candidates(&model, "m", &c, &n), CP_OK);
	assert_string_equal(c[0].cred->id, "a0");
	free(c);
	copy.alias = "m"; /* same alias, different memory */
	assert_int_equal(pool_candidates(&copy, "m", &c, &n), CP_OK);
	assert_string_equal(c[0].cred->id, "a1");
	free(c);
}

static void
test_cooldown(void **state)
{
	time_t now = time(NULL), until = 0;
	struct prov *pp = &pa;
	struct snapshot s;

	(void)state;
	assert_false(pool_cooling("a1", "m1", now, NULL));
	pool_cooldown("a1", "m1", now + 60, false);
	pool_cooldown("b0", "m1", now + 1, false);
	assert_true(pool_cooling("a1", "m1", now, &until));
	assert_int_equal(until, now + 60);
	assert_true(pool_cooling("a1", "m1", now + 59, NULL));
	assert_false(pool_cooling("a1", "m1", now + 60, NULL));
	assert_false(pool_cooling("a0", "m1", now, NULL));
	/* PROVIDERS 5: a cooldown is for that model only. */
	assert_false(pool_cooling("a1", "m2", now, NULL));
	memset(&s, 0, sizeof(s));
	s.provs = &pp;
	s.n_provs = 1;
	assert_int_equal(pool_n_cooling(&s, now), 1);
	/* Extending one keeps one entry. */
	pool_cooldown("a1", "m1", now + 120, false);
	assert_int_equal(pool_state("a1", false)->n_cools, 1);
	assert_true(pool_cooling("a1", "m1", now + 100, NULL));
	pool_cooldown("a1", "m2", now + 10, false);
	assert_int_equal(pool_state("a1", false)->n_cools, 2);
	pool_gc(now + 30);
	assert_false(pool_cooling("b0", "m1", now, NULL));
	assert_null(pool_state("b0", false)); /* nothing left: gone */
	assert_true(pool_cooling("a1", "m1", now + 30, NULL));
	assert_false(pool_cooling("a1", "m2", now, NULL));
	pool_gc(now + 1000);
	assert_false(pool_cooling("a1", "m1", now + 30, NULL));
	assert_null(pool_state("a1", false));
}

/* Failures and successes are counted per credential. */
static void
test_results(void **state)
{
	time_t now = time(NULL);

	(void)state;
	pool_result("a2", true, now); /* a success alone keeps no state */
	assert_null(pool_state("a2", false));
	pool_result("a2", false, now);
	pool_result("a2", false, now);
	assert_int_equal(pool_state("a2", false)->failures, 2);
	pool_result("a2", true, now + 5);
	assert_int_equal(pool_state("a2", false)->failures, 0);
	assert_int_equal(pool_state("a2", false)->last_ok, now + 5);
}

/* A prefix route (no upstream name) sends the client's name. */
static void
test_prefix_target(void **state)
{
	struct model_target t = { &pb, NULL };
	struct route_model m = { "google", &t, 1 };
	struct candidate *c = NULL;
	size_t n = 0;

	(void)state;
	assert_int_equal(pool_candidates(&m, "gemini-2.5-pro", &c, &n), CP_OK);
	assert_int_equal(n, 1);
	assert_string_equal(c[0].upstream, "gemini-2.5-pro");
	free(c);
}

static void
test_no_creds(void **state)
{
	struct prov empty;
	struct model_target t = { &empty, "x" };
	struct route_model m = { "e", &t, 1 };
	struct candidate *c = (struct candidate *)1;
	size_t n = 99;

	(void)state;
	memset(&empty, 0, sizeof(empty));
	assert_int_equal(pool_candidates(&m, "e", &c, &n), CP_OK);
	assert_int_equal(n, 0);
	assert_null(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rotation),
		cmocka_unit_test(test_rotation_survives_new_tables),
		cmocka_unit_test(test_cooldown),
		cmocka_unit_test(test_results),
		cmocka_unit_test(test_prefix_target),
		cmocka_unit_test(test_no_creds),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
