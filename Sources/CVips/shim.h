// Iris's own bridge to libvips. Swift cannot call C variadic functions, so each
// libvips call that takes "name", value, ..., NULL options is wrapped here in a
// fixed-signature static inline function. Written for Iris; no libvips code is copied.
#ifndef IRIS_CVIPS_SHIM_H
#define IRIS_CVIPS_SHIM_H

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

/// Pixels for a neural network: decoded with shrink-on-load straight to about the size
/// wanted, EXIF orientation applied, transparency flattened onto white, converted to 8-bit
/// sRGB with 3 bands, and written to a g_malloc'd buffer of width*height*3 bytes (RGB,
/// row-major); `source_size` gets the upright original's width and height. `mode` 0: scale so the shorter side is `short_side`, then cut the centre
/// `width` x `height`. 1: stretch to exactly `width` x `height`. 2: fit inside `width` x
/// `height` keeping the aspect ratio (the result may be smaller).
static inline int iris_vips_model_pixels(const char *path, int mode, int short_side, int width, int height,
                                         void **pixels, int *out_width, int *out_height, int *source_size) {
    VipsImage *header = vips_image_new_from_file(path, "access", VIPS_ACCESS_SEQUENTIAL, NULL);
    if (header == NULL) return -1;
    int source_width = vips_image_get_width(header), source_height = vips_image_get_height(header);
    if (vips_image_get_orientation_swap(header)) { int t = source_width; source_width = source_height; source_height = t; }
    g_object_unref(header);
    source_size[0] = source_width;
    source_size[1] = source_height;
    VipsImage *scaled = NULL;
    int result;
    if (mode == 0) {
        double scale = (double)short_side / (source_width < source_height ? source_width : source_height);
        int box_width = (int)(source_width * scale + 0.5), box_height = (int)(source_height * scale + 0.5);
        if (box_width < width) box_width = width;
        if (box_height < height) box_height = height;
        result = vips_thumbnail(path, &scaled, box_width, "height", box_height, "size", VIPS_SIZE_FORCE,
                                "fail_on", VIPS_FAIL_ON_TRUNCATED, NULL);
    } else {
        result = vips_thumbnail(path, &scaled, width, "height", height, "size", mode == 1 ? VIPS_SIZE_FORCE : VIPS_SIZE_BOTH,
                                "fail_on", VIPS_FAIL_ON_TRUNCATED, NULL);
    }
    if (result != 0) return -1;
    VipsImage *step = scaled, *next = NULL;
    if (mode == 0) {
        int left = (vips_image_get_width(step) - width) / 2, top = (vips_image_get_height(step) - height) / 2;
        result = vips_extract_area(step, &next, left, top, width, height, NULL);
        g_object_unref(step); if (result != 0) return -1; step = next;
    }
    if (vips_image_hasalpha(step)) {
        double white[3] = {255.0, 255.0, 255.0};
        VipsArrayDouble *background = vips_array_double_new(white, 3);
        result = vips_flatten(step, &next, "background", background, NULL);
        vips_area_unref(VIPS_AREA(background));
        g_object_unref(step); if (result != 0) return -1; step = next;
    }
    result = vips_colourspace(step, &next, VIPS_INTERPRETATION_sRGB, NULL);
    g_object_unref(step); if (result != 0) return -1; step = next;
    result = vips_cast(step, &next, VIPS_FORMAT_UCHAR, NULL);
    g_object_unref(step); if (result != 0) return -1; step = next;
    if (vips_image_get_bands(step) != 3) {
        result = vips_extract_band(step, &next, 0, "n", 3, NULL);
        g_object_unref(step); if (result != 0) return -1; step = next;
    }
    size_t length = 0;
    *pixels = vips_image_write_to_memory(step, &length);
    *out_width = vips_image_get_width(step);
    *out_height = vips_image_get_height(step);
    g_object_unref(step);
    return *pixels == NULL ? -1 : 0;
}

static inline void iris_vips_unref(VipsImage *image) {
    if (image != NULL) g_object_unref(image);
}

static inline void iris_vips_free(void *pointer) { g_free(pointer); }

#endif
