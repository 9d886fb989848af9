// zlib (Debian: zlib1g-dev). Only the gz* file API is used; it reads plain and gzip input alike.
#include <zlib.h>
