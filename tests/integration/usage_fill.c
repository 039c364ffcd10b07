/*
 * usage_fill.c - fills a usage database through the core writer
 * (usage_writer_open/usage_push/usage_writer_close), as cliproxyd will:
 * the integration tests and bench/ give it rows on stdin, one per line,
 * tab-separated in the order of struct usage_row:
 *   ts_ms key model upstream_model provider credential format status
 *   in out cached reasoning ttfb_ms total_ms bytes_in bytes_out retries
 * With no input it only creates the schema. Prints the writer's counters.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

#define FILL_LINE_MAX 4096   /* bytes of one input line */
#define FILL_FIELDS 17       /* fields of one line */

static int
num(const char *s, long long *out)
{
	return str_to_ll(s, strlen(s), -1, INT64_MAX, out);
}

int
main(int argc, char **argv)
{
	struct usage_writer_opts o = { NULL, 1u << 20, 36500, 36500 };
	struct usage_writer *w = NULL;
	struct usage_stats st;
	struct usage_row row;
	char line[FILL_LINE_MAX], err[256] = "";
	long long lineno = 0;
	int rc = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: usage_fill DB < rows.tsv\n");
		return 2;
	}
	o.path = argv[1];
	if (usage_writer_open(&o, &w, err, sizeof(err)) != CP_OK) {
		fprintf(stderr, "usage_fill: %s\n", err);
		return 1;
	}
	while (fgets(line, sizeof(line), stdin) != NULL) {
		char *f[FILL_FIELDS], *rest = line, *p;
		long long v[FILL_FIELDS];
		int n = 0;

		lineno++;
		line[strcspn(line, "\n")] = '\0';
		/* strsep keeps empty fields (an empty credential is a value) */
		while ((p = strsep(&rest, "\t")) != NULL && n < FILL_FIELDS)
			f[n++] = p;
		if (p != NULL)
			n++;
		if (n != FILL_FIELDS) {
			fprintf(stderr, "usage_fill: line %lld: %d fields\n", lineno, n);
			goto out;
		}
		for (int i = 0; i < FILL_FIELDS; i++)
			if ((i == 0 || i >= 7) && num(f[i], &v[i]) != CP_OK) {
				fprintf(stderr, "usage_fill: line %lld: field %d\n", lineno, i + 1);
				goto out;
			}
		memset(&row, 0, sizeof(row));
		row.ts_ms = v[0];
		usage_set_text(row.key_id, f[1]);
		usage_set_text(row.model, f[2]);
		usage_set_text(row.upstream_model, f[3]);
		usage_set_text(row.provider, f[4]);
		usage_set_text(row.credential, f[5]);
		usage_set_text(row.format, f[6]);
		row.status = (int)v[7];
		row.in_tok = v[8];
		row.out_tok = v[9];
		row.cached_tok = v[10];
		row.reasoning_tok = v[11];
		row.ttfb_ms = v[12];
		row.total_ms = v[13];
		row.bytes_in = v[14];
		row.bytes_out = v[15];
		row.retries = (int)v[16];
		if (!usage_push(w, &row)) {
			fprintf(stderr, "usage_fill: queue full at line %lld\n", lineno);
			goto out;
		}
	}
	rc = 0;
out:
	usage_writer_close(w, &st);
	printf("dropped %" PRIu64 " failed %" PRIu64 "\n", st.dropped, st.failed);
	return rc != 0 || st.failed > 0 ? 1 : 0;
}
