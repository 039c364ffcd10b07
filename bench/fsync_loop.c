/*
 * fsync_loop.c - the reference of bench/run figure 3: how many durable
 * replacements of a small file one writer can make per second on this
 * disk, doing what every management write does (DESIGN 4 steps 4-5):
 * write a temp file beside the target, fsync it, rename it over the
 * target, fsync the directory. Not part of the product.
 *
 *   fsync_loop DIR SECONDS SIZE   -> prints "<ops> <elapsed seconds>"
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	char tmp[4096], dst[4096], buf[65536];
	double t0, secs;
	long ops = 0;
	size_t size;
	int dfd;

	if (argc != 4)
		return 2;
	secs = strtod(argv[2], NULL);
	size = strtoul(argv[3], NULL, 10);
	if (size > sizeof(buf))
		size = sizeof(buf);
	memset(buf, 'x', sizeof(buf));
	snprintf(tmp, sizeof(tmp), "%s/.fsync-loop.tmp", argv[1]);
	snprintf(dst, sizeof(dst), "%s/fsync-loop.yaml", argv[1]);
	dfd = open(argv[1], O_RDONLY | O_DIRECTORY);
	if (dfd < 0)
		return 1;
	t0 = now();
	while (now() - t0 < secs) {
		int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (fd < 0 || write(fd, buf, size) != (ssize_t)size || fsync(fd) != 0 ||
		    close(fd) != 0 || rename(tmp, dst) != 0 || fsync(dfd) != 0)
			return 1;
		ops++;
	}
	printf("%ld %.6f\n", ops, now() - t0);
	return 0;
}
