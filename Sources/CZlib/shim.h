// Iris's bridge to zlib (Debian's zlib1g-dev). zlib's init functions are macros that pass
// the library version and the stream's size; Swift cannot call macros with arguments, so
// they are wrapped here. Written for Iris; no zlib code is copied.
#ifndef IRIS_CZLIB_SHIM_H
#define IRIS_CZLIB_SHIM_H

#include <string.h>
#include <zlib.h>

/// A raw deflate decoder (no zlib or gzip wrapper), as zip entries store them.
static inline int iris_inflate_init_raw(z_stream *stream) {
    memset(stream, 0, sizeof(*stream));
    return inflateInit2(stream, -15);
}

/// A raw deflate encoder (tests build zips with it).
static inline int iris_deflate_init_raw(z_stream *stream, int level) {
    memset(stream, 0, sizeof(*stream));
    return deflateInit2(stream, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
}

#endif
