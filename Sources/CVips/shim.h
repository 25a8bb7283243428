// Iris's own bridge to libvips. Swift cannot call C variadic functions, so each
// libvips call that takes "name", value, ..., NULL options is wrapped here in a
// fixed-signature static inline function. Written for Iris; no libvips code is copied.
#ifndef IRIS_CVIPS_SHIM_H
#define IRIS_CVIPS_SHIM_H

#include <string.h>
#include <vips/vips.h>

/// Starts libvips once per process and blocks every loader except the six image
/// formats Iris accepts, plus anything libvips itself marks untrusted.
static inline int iris_vips_start(void) {
    if (vips_init("iris") != 0) return -1;
    vips_block_untrusted_set(TRUE);
    vips_operation_block_set("VipsForeignLoad", TRUE);
    vips_operation_block_set("VipsForeignLoadJpeg", FALSE);
    vips_operation_block_set("VipsForeignLoadPng", FALSE);
    vips_operation_block_set("VipsForeignLoadWebp", FALSE);
    vips_operation_block_set("VipsForeignLoadHeif", FALSE);
    vips_operation_block_set("VipsForeignLoadNsgif", FALSE);  // libvips names its GIF loader after libnsgif
    vips_operation_block_set("VipsForeignLoadTiff", FALSE);
    // Ingest touches each file once; an operation cache only holds memory.
    vips_cache_set_max(0);
    return 0;
}

/// Where libvips's warnings and messages (its "VIPS" GLib log domain: odd files, such as
/// an unknown EXIF unit or a damaged tile) go instead of standard error: `sink` gets the level
/// (a GLogLevelFlags value) and the message.
typedef void (*iris_vips_log_sink)(int level, const char *message);

static void iris_vips_log_forward(const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer sink) {
    (void)domain;
    ((iris_vips_log_sink)sink)((int)level, message);
}

static inline void iris_vips_route_log(iris_vips_log_sink sink) {
    g_log_set_handler("VIPS", G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE,
                      iris_vips_log_forward, (gpointer)sink);
}

/// Opens a file lazily: only the header is read until pixels are asked for.
static inline VipsImage *iris_vips_open(const char *path) {
    return vips_image_new_from_file(path, "access", VIPS_ACCESS_SEQUENTIAL, NULL);
}

/// Decodes every pixel, failing on truncated or corrupt data instead of padding it with grey.
static inline int iris_vips_verify(const char *path) {
    VipsImage *image = vips_image_new_from_file(path, "access", VIPS_ACCESS_SEQUENTIAL,
                                                "fail_on", VIPS_FAIL_ON_TRUNCATED, NULL);
    if (image == NULL) return -1;
    double average = 0;
    int result = vips_avg(image, &average, NULL);
    g_object_unref(image);
    return result;
}

/// Shrink-on-load thumbnail no larger than `size` on its longest side, EXIF orientation applied.
static inline int iris_vips_thumbnail_file(const char *path, VipsImage **out, int size) {
    return vips_thumbnail(path, out, size, "height", size, "size", VIPS_SIZE_DOWN,
                          "fail_on", VIPS_FAIL_ON_TRUNCATED, NULL);
}

/// Thumbnail of an image already in memory (used to make 256 px from the 1024 px one).
static inline int iris_vips_thumbnail_image(VipsImage *in, VipsImage **out, int size) {
    return vips_thumbnail_image(in, out, size, "height", size, "size", VIPS_SIZE_DOWN, NULL);
}

/// Flattens transparency onto white so a JPEG derivative does not turn it black.
static inline int iris_vips_flatten_white(VipsImage *in, VipsImage **out) {
    double white[3] = {255.0, 255.0, 255.0};
    VipsArrayDouble *background = vips_array_double_new(white, 3);
    int result = vips_flatten(in, out, "background", background, NULL);
    vips_area_unref(VIPS_AREA(background));
    return result;
}

/// JPEG with every piece of metadata (EXIF, GPS, XMP, ICC) stripped.
static inline int iris_vips_jpeg_stripped(VipsImage *in, void **buffer, size_t *length, int quality) {
    return vips_jpegsave_buffer(in, buffer, length, "Q", quality, "strip", TRUE, NULL);
}

/// Encoders used by tests and tools to make fixtures in every accepted format.
static inline int iris_vips_save_buffer(VipsImage *in, const char *suffix, void **buffer, size_t *length) {
    return vips_image_write_to_buffer(in, suffix, buffer, length, NULL);
}

/// PNG at a chosen bit depth (1 makes tiny files of huge dimensions: pixel-bomb fixtures).
static inline int iris_vips_png_bitdepth(VipsImage *in, int bitdepth, void **buffer, size_t *length) {
    return vips_pngsave_buffer(in, buffer, length, "bitdepth", bitdepth, "compression", 9, NULL);
}

/// Decodes an in-memory image (tests and tools inspect derivatives this way).
static inline int iris_vips_load_buffer(const void *data, size_t length, VipsImage **out) {
    VipsImage *image = vips_image_new_from_buffer(data, length, "", NULL);
    if (image == NULL) return -1;
    *out = image;
    return 0;
}

static inline int iris_vips_black(VipsImage **out, int width, int height, int bands) {
    return vips_black(out, width, height, "bands", bands, NULL);
}

static inline int iris_vips_linear1(VipsImage *in, VipsImage **out, double a, double b) {
    return vips_linear1(in, out, a, b, "uchar", TRUE, NULL);
}

static inline int iris_vips_xyz(VipsImage **out, int width, int height) {
    return vips_xyz(out, width, height, NULL);
}

static inline int iris_vips_cast_uchar(VipsImage *in, VipsImage **out) {
    return vips_cast(in, out, VIPS_FORMAT_UCHAR, NULL);
}

static inline int iris_vips_bandjoin2(VipsImage *a, VipsImage *b, VipsImage **out) {
    return vips_bandjoin2(a, b, out, NULL);
}

static inline int iris_vips_copy_memory(VipsImage *in, VipsImage **out) {
    VipsImage *copy = vips_image_copy_memory(in);
    if (copy == NULL) return -1;
    *out = copy;
    return 0;
}

// Replaces *step with the result of an operation that wrote *next (0), or frees both (-1).
static inline int iris_vips_step(int result, VipsImage **step, VipsImage **next) {
    g_object_unref(*step);
    if (result != 0) { *step = NULL; return -1; }
    *step = *next;
    *next = NULL;
    return 0;
}

#include "model_pixels.h"
#include "repair.h"

static inline void iris_vips_unref(VipsImage *image) {
    if (image != NULL) g_object_unref(image);
}

static inline void iris_vips_free(void *pointer) { g_free(pointer); }

#endif
