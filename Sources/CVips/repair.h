// The libvips calls image repair needs (crop, scale, blend, paste, raw pixels), each wrapped
// in a fixed-signature function because Swift cannot call libvips's variadic ones.
// Written for Iris.
#ifndef IRIS_CVIPS_REPAIR_H
#define IRIS_CVIPS_REPAIR_H

#include <vips/vips.h>

/// Opens a file for random access (repair reads regions of it) with EXIF orientation applied.
static inline int iris_vips_open_oriented(const char *path, VipsImage **out) {
    VipsImage *image = vips_image_new_from_file(path, "access", VIPS_ACCESS_RANDOM, "fail_on",
                                                VIPS_FAIL_ON_TRUNCATED, NULL);
    if (image == NULL) return -1;
    int result = vips_autorot(image, out, NULL);
    g_object_unref(image);
    return result;
}

/// A mask as one band of 0 or 255: white (after flattening any transparency onto black) marks.
static inline int iris_vips_mask_from(VipsImage *in, VipsImage **out) {
    VipsImage *flat = NULL, *grey = NULL, *band = NULL;
    int result = -1;
    if (vips_image_hasalpha(in)) {
        double black[1] = {0.0};
        VipsArrayDouble *background = vips_array_double_new(black, 1);
        result = vips_flatten(in, &flat, "background", background, NULL);
        vips_area_unref(VIPS_AREA(background));
    } else {
        result = vips_copy(in, &flat, NULL);
    }
    if (result == 0) result = vips_colourspace(flat, &grey, VIPS_INTERPRETATION_B_W, NULL);
    if (result == 0) result = vips_extract_band(grey, &band, 0, NULL);
    if (result == 0) {
        // 16-bit greys run to 65535: compare against the middle of the range either way.
        double middle = vips_image_get_format(band) == VIPS_FORMAT_USHORT ? 32768.0 : 128.0;
        result = vips_moreeq_const1(band, out, middle, NULL);
    }
    if (flat) g_object_unref(flat);
    if (grey) g_object_unref(grey);
    if (band) g_object_unref(band);
    return result;
}

static inline int iris_vips_extract_area(VipsImage *in, VipsImage **out, int left, int top, int width, int height) {
    return vips_extract_area(in, out, left, top, width, height, NULL);
}

/// Scales to exactly `width` × `height` (linear for masks, lanczos for pictures).
static inline int iris_vips_resize_to(VipsImage *in, VipsImage **out, int width, int height, int linear) {
    double h = (double)width / vips_image_get_width(in), v = (double)height / vips_image_get_height(in);
    return vips_resize(in, out, h, "vscale", v, "kernel", linear ? VIPS_KERNEL_LINEAR : VIPS_KERNEL_LANCZOS3, NULL);
}

static inline int iris_vips_cast(VipsImage *in, VipsImage **out, int format) {
    return vips_cast(in, out, (VipsBandFormat)format, NULL);
}

/// Every pixel into a g_malloc'd buffer (free with iris_vips_free).
static inline void *iris_vips_pixels(VipsImage *in, size_t *length) {
    return vips_image_write_to_memory(in, length);
}

static inline int iris_vips_from_pixels(const void *data, size_t length, int width, int height, int bands, int format,
                                        VipsImage **out) {
    VipsImage *image = vips_image_new_from_memory_copy(data, length, width, height, bands, (VipsBandFormat)format);
    if (image == NULL) return -1;
    *out = image;
    return 0;
}

/// Where the repaired crop replaces the original: the mask grown by `grow` pixels and
/// blurred by `sigma`, as 0–255.
static inline int iris_vips_feather(VipsImage *mask, VipsImage **out, int grow, double sigma) {
    VipsImage *grown = NULL;
    int result = vips_rank(mask, &grown, 2 * grow + 1, 2 * grow + 1, (2 * grow + 1) * (2 * grow + 1) - 1, NULL);
    if (result == 0) result = vips_gaussblur(grown, out, sigma, "precision", VIPS_PRECISION_INTEGER, NULL);
    if (grown) g_object_unref(grown);
    return result;
}

/// `over` where `weight` is 255, `under` where it is 0, mixed between.
static inline int iris_vips_blend(VipsImage *weight, VipsImage *over, VipsImage *under, VipsImage **out) {
    return vips_ifthenelse(weight, over, under, out, "blend", TRUE, NULL);
}

static inline int iris_vips_insert(VipsImage *main, VipsImage *sub, VipsImage **out, int x, int y) {
    return vips_insert(main, sub, out, x, y, NULL);
}

static inline int iris_vips_png(VipsImage *in, void **buffer, size_t *length) {
    return vips_pngsave_buffer(in, buffer, length, "compression", 6, "strip", TRUE, NULL);
}

/// 255 where a one-band image is at least `value`, else 0.
static inline int iris_vips_at_least(VipsImage *in, VipsImage **out, double value) {
    return vips_moreeq_const1(in, out, value, NULL);
}

/// The pixels of `in`, described as `interpretation` (e.g. 16-bit RGB rather than multiband).
static inline int iris_vips_interpreted(VipsImage *in, VipsImage **out, int interpretation) {
    return vips_copy(in, out, "interpretation", (VipsInterpretation)interpretation, NULL);
}

/// The usual interpretation of pixels with `bands` bands, 8- or 16-bit.
static inline int iris_vips_usual_interpretation(int bands, int sixteen) {
    if (bands <= 2) return sixteen ? VIPS_INTERPRETATION_GREY16 : VIPS_INTERPRETATION_B_W;
    return sixteen ? VIPS_INTERPRETATION_RGB16 : VIPS_INTERPRETATION_sRGB;
}

static inline int iris_vips_format(VipsImage *in) { return (int)vips_image_get_format(in); }
static inline int iris_vips_interpretation(VipsImage *in) { return (int)vips_image_get_interpretation(in); }

#endif
