// libcsv (Debian: libcsv-dev). Debian ships no pkg-config file for it.
#include <stddef.h>
#include <stdio.h>
#include <csv.h>

/* libcsv trims spaces and tabs around unquoted fields unless a space function says no byte is
 * a space. It is called for every byte, so it lives here in C, not behind a Swift thunk. */
static inline int deid_csv_no_space(unsigned char c) { (void)c; return 0; }
