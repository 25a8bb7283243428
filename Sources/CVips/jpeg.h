// JPEGs decoded by libjpeg itself, for Iris: the strict decode that is ingest's integrity check
// and the source of every JPEG's thumbnails, and the error handling model_pixels.h shares.
// Included by model_pixels.h. Written for Iris; no libjpeg or libvips code is copied.
//
// Why not libvips's loader with fail_on: libvips decodes in several threads, and whether a
// JPEG missing only its final EOI marker failed depended on which thread finished first
// (`vips thumbnail --fail-on=truncated` exited 0 in 7 of 20 runs, 0 of 10 with
// VIPS_CONCURRENCY=1); and libvips reports through one process-wide error buffer, so a
// refusal could carry another request's message. Here one thread decodes and the message is
// this decode's own.
#ifndef IRIS_CVIPS_JPEG_H
#define IRIS_CVIPS_JPEG_H

#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <jpeglib.h>

typedef struct {
    struct jpeg_error_mgr base;
    jmp_buf escape;
    // Strict decodes stop at the first warning (libjpeg's report of damaged data).
    int strict;
    // The first error or warning, formatted by libjpeg: this decode's alone.
    char message[JMSG_LENGTH_MAX];
} iris_jpeg_error;

static void iris_jpeg_keep_message(j_common_ptr info) {
    iris_jpeg_error *error = (iris_jpeg_error *)info->err;
    if (error->message[0] == 0) info->err->format_message(info, error->message);
}

static void iris_jpeg_escape(j_common_ptr info) {
    iris_jpeg_keep_message(info);
    longjmp(((iris_jpeg_error *)info->err)->escape, 1);
}

// Counts warnings and prints nothing (trace lines are dropped); a strict decode stops at the first.
static void iris_jpeg_warning(j_common_ptr info, int level) {
    if (level >= 0) return;
    info->err->num_warnings++;
    iris_jpeg_error *error = (iris_jpeg_error *)info->err;
    if (error->strict) iris_jpeg_escape(info);
}

static inline void iris_jpeg_error_init(struct jpeg_decompress_struct *info, iris_jpeg_error *error, int strict) {
    info->err = jpeg_std_error(&error->base);
    error->base.error_exit = iris_jpeg_escape;
    error->base.emit_message = iris_jpeg_warning;
    error->strict = strict;
    error->message[0] = 0;
}

// The source of a JPEG's thumbnails, decoded strictly: every scan, to the end of the file,
// with any libjpeg warning (corrupt entropy data, a missing EOI marker, a truncated file) an
// error. Decoded at the largest of 1/1, 1/2, 1/4, 1/8 whose longest side still reaches
// `target`, with the orientation and ICC profile of libvips's reading of the header attached
// (`header`), so libvips's thumbnailing treats it as it would its own load.
// Answers 0 with *out set (RGB or grey); 1 when the file is sound but its colour space is one
// libvips should convert (CMYK, YCCK: the whole file was still decoded and checked); -1 when
// it is damaged, with libjpeg's words in `message`.
static inline int iris_jpeg_thumbnail_source(const char *path, VipsImage *header, int target, VipsImage **out, char *message,
                                             size_t message_size) {
    *out = NULL;
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        snprintf(message, message_size, "the file cannot be read back");
        return -1;
    }
    struct jpeg_decompress_struct info;
    iris_jpeg_error error;
    unsigned char *volatile pixels = NULL;
    iris_jpeg_error_init(&info, &error, 1);
    if (setjmp(error.escape)) {
        snprintf(message, message_size, "%s", error.message);
        jpeg_destroy_decompress(&info);
        fclose(file);
        g_free(pixels);
        return -1;
    }
    jpeg_create_decompress(&info);
    jpeg_stdio_src(&info, file);
    jpeg_read_header(&info, TRUE);
    J_COLOR_SPACE space = info.jpeg_color_space;
    int convertible = space == JCS_YCbCr || space == JCS_RGB || space == JCS_GRAYSCALE;
    unsigned int longest = info.image_width > info.image_height ? info.image_width : info.image_height;
    unsigned int shrink = 1;
    while (shrink < 8 && longest / (shrink * 2) >= (unsigned int)target) shrink *= 2;
    info.scale_num = 1;
    info.scale_denom = convertible ? shrink : 8;
    if (convertible) info.out_color_space = space == JCS_GRAYSCALE ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&info);
    size_t stride = (size_t)info.output_width * (size_t)info.output_components;
    // A CMYK file is only checked here (one row at a time); libvips makes its thumbnails.
    pixels = g_malloc(convertible ? stride * info.output_height : stride);
    while (info.output_scanline < info.output_height) {
        JSAMPROW row = convertible ? pixels + stride * info.output_scanline : pixels;
        jpeg_read_scanlines(&info, &row, 1);
    }
    // Reads on to the EOI marker: a file cut just before it warns here.
    jpeg_finish_decompress(&info);
    int width = (int)info.output_width, height = (int)info.output_height, bands = info.output_components;
    jpeg_destroy_decompress(&info);
    fclose(file);
    if (!convertible) {
        g_free(pixels);
        return 1;
    }
    VipsImage *image = vips_image_new_from_memory_copy(pixels, stride * (size_t)height, width, height, bands, VIPS_FORMAT_UCHAR);
    g_free(pixels);
    if (image == NULL) {
        snprintf(message, message_size, "the decoded image could not be kept");
        return -1;
    }
    image->Type = bands == 1 ? VIPS_INTERPRETATION_B_W : VIPS_INTERPRETATION_sRGB;
    vips_image_set_int(image, VIPS_META_ORIENTATION, vips_image_get_orientation(header));
    const void *profile = NULL;
    size_t length = 0;
    if (vips_image_get_typeof(header, VIPS_META_ICC_NAME) && vips_image_get_blob(header, VIPS_META_ICC_NAME, &profile, &length) == 0) {
        vips_image_set_blob_copy(image, VIPS_META_ICC_NAME, profile, length);
    }
    *out = image;
    return 0;
}

#endif
