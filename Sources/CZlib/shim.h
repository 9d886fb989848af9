// zlib (Debian: zlib1g-dev). Input is decoded with the inflate API (deid reads the file itself,
// so it knows every byte offset); output is written with the gz* file API.
#include <zlib.h>

/* inflateInit2 is a macro (it passes the library's version and the stream's size): wrapped so
 * that Swift can call it. 15 + 16: a window of 32 KiB, gzip framing only. */
static inline int deid_inflate_init_gzip(z_stream *stream) {
    return inflateInit2(stream, 15 + 16);
}
