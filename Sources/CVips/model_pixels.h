// Model input for Iris: a photo decoded, resized, oriented, cropped and colour-managed to the
// 8-bit sRGB pixels a neural network takes. Included by shim.h. Written for Iris; no libvips,
// libjpeg or lcms code is copied.
//
// Two shortcuts make this a fifth to a quarter cheaper than the plain libvips pipeline on photos
// (measured in docs/DESIGN.md, "Model input: JPEGs through libjpeg"):
// - JPEGs are decoded by libjpeg straight at 1/2, 1/4 or 1/8 scale into memory; libvips's own
//   loader costs 2-4 ms more per 4 MP baseline photo for the same scaled decode. Progressive
//   files, which libvips decodes faster, and anything unusual (CMYK, a damaged file, a libjpeg
//   warning) go to libvips's loader instead, which gives its own verdict.
// - Embedded RGB ICC profiles are applied with an lcms transform kept per distinct profile
//   (icc.h), after the image is small. vips_icc_transform builds its transforms anew on every
//   call (about 12 ms), and most photos of a collection share a handful of profiles.
#ifndef IRIS_CVIPS_MODEL_PIXELS_H
#define IRIS_CVIPS_MODEL_PIXELS_H

#include "icc.h"
#include "jpeg.h"

// ---- JPEGs decoded by libjpeg at a reduced scale ----

// The JPEG at `path` decoded at 1/shrink into a new image in memory (RGB, or grey), or NULL
// when libvips's own loader should take it: a progressive file, a colour space other than
// YCbCr, RGB or grey, any warning (damaged or truncated data), or any error. Nothing is
// reported: libvips reports.
static inline VipsImage *iris_jpeg_scaled(const char *path, int shrink) {
    FILE *file = fopen(path, "rb");
    if (file == NULL) return NULL;
    struct jpeg_decompress_struct info;
    iris_jpeg_error error;
    unsigned char *volatile pixels = NULL;
    iris_jpeg_error_init(&info, &error, 0);
    if (setjmp(error.escape)) {
        jpeg_destroy_decompress(&info);
        fclose(file);
        g_free(pixels);
        return NULL;
    }
    jpeg_create_decompress(&info);
    jpeg_stdio_src(&info, file);
    jpeg_read_header(&info, TRUE);
    J_COLOR_SPACE space = info.jpeg_color_space;
    if (space != JCS_YCbCr && space != JCS_RGB && space != JCS_GRAYSCALE) longjmp(error.escape, 1);
    // Progressive files decode faster through libvips's loader (49 vs 63 ms for the bench's
    // progressive wallpaper, C harness, best of 20); only baseline ones gain from coming here.
    if (info.progressive_mode) longjmp(error.escape, 1);
    info.scale_num = 1;
    info.scale_denom = (unsigned int)shrink;
    info.out_color_space = space == JCS_GRAYSCALE ? JCS_GRAYSCALE : JCS_RGB;
    // Chroma by plain replication: at a reduced scale the difference is below a level, and
    // smooth upsampling costs a fifth of a progressive photo's decode.
    if (shrink > 1) info.do_fancy_upsampling = FALSE;
    jpeg_start_decompress(&info);
    size_t stride = (size_t)info.output_width * (size_t)info.output_components;
    pixels = g_malloc(stride * info.output_height);
    while (info.output_scanline < info.output_height) {
        JSAMPROW row = pixels + stride * info.output_scanline;
        jpeg_read_scanlines(&info, &row, 1);
    }
    jpeg_finish_decompress(&info);
    if (error.base.num_warnings > 0) longjmp(error.escape, 1);
    int width = (int)info.output_width, height = (int)info.output_height, bands = info.output_components;
    jpeg_destroy_decompress(&info);
    fclose(file);
    VipsImage *image = vips_image_new_from_memory_copy(pixels, stride * (size_t)height, width, height, bands, VIPS_FORMAT_UCHAR);
    g_free(pixels);
    if (image != NULL) image->Type = bands == 1 ? VIPS_INTERPRETATION_B_W : VIPS_INTERPRETATION_sRGB;
    return image;
}

// ---- Model input ----

// Decode with shrink-on-load to the smallest JPEG scale (1/2, 1/4, 1/8) that still covers the
// target, then one linear-kernel resize (as torchvision's bilinear Resize), EXIF orientation,
// centre crop, embedded ICC profile to sRGB, alpha flattened on white, 3 bands of uchar.
// mode 0: shorter side to short_side, then the centre width x height; 1: exactly width x height;
// 2: inside width x height keeping the aspect ratio. `pixels` gets a g_malloc'd buffer of
// width*height*3 bytes (RGB, row-major); `source_size` the upright original's width and height.
static inline int iris_vips_model_pixels(const char *path, int mode, int short_side, int width, int height,
                                         void **pixels, int *out_width, int *out_height, int *source_size) {
    VipsImage *header = vips_image_new_from_file(path, "access", VIPS_ACCESS_SEQUENTIAL, "fail_on", VIPS_FAIL_ON_TRUNCATED, NULL);
    if (header == NULL) return -1;
    int stored_width = vips_image_get_width(header), stored_height = vips_image_get_height(header);
    int swap = vips_image_get_orientation_swap(header);
    int orientation = vips_image_get_orientation(header);
    const char *loader = NULL;
    int jpeg = vips_image_get_string(header, VIPS_META_LOADER, &loader) == 0 && loader != NULL && strcmp(loader, "jpegload") == 0;
    int source_width = swap ? stored_height : stored_width, source_height = swap ? stored_width : stored_height;
    source_size[0] = source_width;
    source_size[1] = source_height;
    // The size wanted, upright.
    int out_w, out_h;
    if (mode == 0) {
        double scale = (double)short_side / (source_width < source_height ? source_width : source_height);
        out_w = (int)(source_width * scale + 0.5);
        out_h = (int)(source_height * scale + 0.5);
        if (out_w < width) out_w = width;
        if (out_h < height) out_h = height;
    } else if (mode == 1) {
        out_w = width;
        out_h = height;
    } else {
        double sx = (double)width / source_width, sy = (double)height / source_height, scale = sx < sy ? sx : sy;
        out_w = (int)(source_width * scale + 0.5);
        out_h = (int)(source_height * scale + 0.5);
        if (out_w < 1) out_w = 1;
        if (out_h < 1) out_h = 1;
    }
    double largest = (double)out_w / source_width > (double)out_h / source_height ? (double)out_w / source_width : (double)out_h / source_height;
    int shrink = 1;
    if (jpeg) {
        while (shrink < 8 && largest * shrink * 2 <= 1.0) shrink *= 2;
    }
    VipsImage *step = jpeg ? iris_jpeg_scaled(path, shrink) : NULL, *next = NULL;
    if (step != NULL) {
        // What libvips's loader would have attached: the orientation and the profile.
        vips_image_set_int(step, VIPS_META_ORIENTATION, orientation);
        const void *profile = NULL;
        size_t length = 0;
        if (vips_image_get_typeof(header, VIPS_META_ICC_NAME) && vips_image_get_blob(header, VIPS_META_ICC_NAME, &profile, &length) == 0) {
            vips_image_set_blob_copy(step, VIPS_META_ICC_NAME, profile, length);
        }
    } else if (shrink > 1) {
        if (vips_jpegload(path, &step, "shrink", shrink, "access", VIPS_ACCESS_SEQUENTIAL, "fail_on", VIPS_FAIL_ON_TRUNCATED, NULL)) {
            g_object_unref(header);
            return -1;
        }
    } else {
        step = vips_image_new_from_file(path, "access", VIPS_ACCESS_SEQUENTIAL, "fail_on", VIPS_FAIL_ON_TRUNCATED, NULL);
        if (step == NULL) {
            g_object_unref(header);
            return -1;
        }
    }
    g_object_unref(header);
    // From what was loaded (still in stored orientation) to the wanted size.
    double hscale = (double)(swap ? out_h : out_w) / vips_image_get_width(step);
    double vscale = (double)(swap ? out_w : out_h) / vips_image_get_height(step);
    if (iris_vips_step(vips_resize(step, &next, hscale, "vscale", vscale, "kernel", VIPS_KERNEL_LINEAR, NULL), &step, &next)) return -1;
    if (vips_image_get_orientation(step) > 1) {
        // Rotating reads out of order, which a sequential load cannot give: the small image goes to memory first.
        next = vips_image_copy_memory(step);
        if (iris_vips_step(next == NULL ? -1 : 0, &step, &next)) return -1;
        if (iris_vips_step(vips_autorot(step, &next, NULL), &step, &next)) return -1;
    }
    if (mode == 0) {
        int w = vips_image_get_width(step), h = vips_image_get_height(step);
        int left = (w - width) / 2, top = (h - height) / 2;
        if (left < 0 || top < 0) { g_object_unref(step); vips_error("iris", "resized image is smaller than the crop"); return -1; }
        if (iris_vips_step(vips_extract_area(step, &next, left, top, width, height, NULL), &step, &next)) return -1;
    }
    // The embedded profile to sRGB (icc.h): a kept transform for 8-bit RGB(A), libvips's own for
    // anything else; nothing for sRGB's own profile or one that cannot be used.
    if (iris_vips_step(iris_vips_to_srgb(step, &next), &step, &next)) return -1;
    if (vips_image_hasalpha(step)) {
        double white[3] = {255.0, 255.0, 255.0};
        VipsArrayDouble *background = vips_array_double_new(white, 3);
        int result = vips_flatten(step, &next, "background", background, NULL);
        vips_area_unref(VIPS_AREA(background));
        if (iris_vips_step(result, &step, &next)) return -1;
    }
    if (iris_vips_step(vips_colourspace(step, &next, VIPS_INTERPRETATION_sRGB, NULL), &step, &next)) return -1;
    if (iris_vips_step(vips_cast(step, &next, VIPS_FORMAT_UCHAR, NULL), &step, &next)) return -1;
    if (vips_image_get_bands(step) != 3) {
        if (iris_vips_step(vips_extract_band(step, &next, 0, "n", 3, NULL), &step, &next)) return -1;
    }
    size_t length = 0;
    *pixels = vips_image_write_to_memory(step, &length);
    *out_width = vips_image_get_width(step);
    *out_height = vips_image_get_height(step);
    g_object_unref(step);
    return *pixels == NULL ? -1 : 0;
}

#endif
