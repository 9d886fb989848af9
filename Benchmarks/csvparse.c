/* The ceiling of the mandated parser: libcsv parse only, from C, reading through zlib's gzread
 * with a 1 MiB buffer (plain and gzip input alike), spaces kept, strict mode, counting fields.
 * Built and run by Benchmarks/run.sh. */
#include <csv.h>
#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>

static size_t fields, records;
static void on_field(void *s, size_t n, void *d) { (void)s; (void)n; (void)d; fields++; }
static void on_record(int c, void *d) { (void)c; (void)d; records++; }
static int no_space(unsigned char c) { (void)c; return 0; }

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: csvparse FILE\n"); return 2; }
    gzFile in = gzopen(argv[1], "rb");
    if (!in) { perror(argv[1]); return 2; }
    gzbuffer(in, 1 << 20);
    struct csv_parser p;
    csv_init(&p, CSV_STRICT | CSV_STRICT_FINI);
    csv_set_space_func(&p, no_space);
    static char buf[1 << 20];
    int n;
    while ((n = gzread(in, buf, sizeof buf)) > 0) {
        if (csv_parse(&p, buf, (size_t)n, on_field, on_record, NULL) != (size_t)n) {
            fprintf(stderr, "parse error: %s\n", csv_strerror(csv_error(&p)));
            return 2;
        }
    }
    int err; gzerror(in, &err);
    if (n < 0 || (err != Z_OK && err != Z_STREAM_END)) { fprintf(stderr, "read error\n"); return 2; }
    csv_fini(&p, on_field, on_record, NULL);
    csv_free(&p);
    gzclose(in);
    printf("records %zu fields %zu\n", records, fields);
    return 0;
}
