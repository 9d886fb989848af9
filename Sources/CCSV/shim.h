// libcsv (Debian: libcsv-dev). Debian ships no pkg-config file for it.
#include <stddef.h>
#include <stdio.h>
#include <csv.h>

/* libcsv trims spaces and tabs around unquoted fields unless a space function says no byte is
 * a space. libcsv calls it for every byte, so it lives here in C, not behind a Swift thunk.
 * Swift compiles this header with frame pointers, which would more than double the cost of the
 * call (5 instructions instead of 2); on x86-64 the function is written as the two it needs. */
#if defined(__x86_64__) && defined(__clang__)
__attribute__((naked)) static int deid_csv_no_space(unsigned char c) {
    __asm__ volatile("xorl %eax, %eax\n\tret");
}
#else
static inline int deid_csv_no_space(unsigned char c) { (void)c; return 0; }
#endif
