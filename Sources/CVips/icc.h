// Colour management for Iris: pixels described by an embedded ICC profile, converted to sRGB
// (what browsers assume for JPEG thumbnails without a profile, and what models were trained
// on). Included by shim.h. Written for Iris; no libvips or lcms code is copied.
//
// vips_icc_transform builds its lcms transforms anew on every call (about 12 ms a photo);
// here one transform is kept per distinct profile, and a profile that describes sRGB itself
// (most cameras' "sRGB IEC61966-2.1") needs none.
#ifndef IRIS_CVIPS_ICC_H
#define IRIS_CVIPS_ICC_H

#include <lcms2.h>
#include <math.h>
#include <pthread.h>
#include <string.h>
#include <vips/vips.h>

typedef struct {
    size_t length;
    unsigned char *profile;
    int bands;                // 3 (RGB) or 4 (RGB + alpha, copied through)
    cmsHTRANSFORM transform;  // NULL: nothing to do (the profile is sRGB's, or lcms cannot use it)
} iris_icc_entry;

enum { IRIS_ICC_KEPT = 32 };

// The process's transforms. Entries are only ever added (at most IRIS_ICC_KEPT, a few hundred
// KB each at most), so a transform handed out is never freed under its user. Transforms are
// made with cmsFLAGS_NOCACHE, which lets threads share them.
typedef struct {
    pthread_mutex_t lock;
    int count;
    iris_icc_entry entries[IRIS_ICC_KEPT];
} iris_icc_cache;

static inline iris_icc_cache *iris_icc_shared(void) {
    static iris_icc_cache cache = {PTHREAD_MUTEX_INITIALIZER, 0, {{0, NULL, 0, NULL}}};
    return &cache;
}

// The kept transform for a profile and band count; 1 when found (*transform set, possibly
// NULL), 0 when not. Call with the lock held.
static inline int iris_icc_find(iris_icc_cache *cache, const void *profile, size_t length, int bands, cmsHTRANSFORM *transform) {
    for (int index = 0; index < cache->count; index++) {
        iris_icc_entry *entry = &cache->entries[index];
        if (entry->length == length && entry->bands == bands && memcmp(entry->profile, profile, length) == 0) {
            *transform = entry->transform;
            return 1;
        }
    }
    return 0;
}

// An ICC profile's data colour space (bytes 16-19 of its header) is RGB.
static inline int iris_icc_is_rgb(const void *profile, size_t length) {
    return length >= 128 && memcmp((const unsigned char *)profile + 16, "RGB ", 4) == 0;
}

// sRGB's tone curve (IEC 61966-2-1), from encoded value to linear light.
static inline double iris_srgb_linear(double value) {
    return value <= 0.04045 ? value / 12.92 : pow((value + 0.055) / 1.055, 2.4);
}

// The profile describes sRGB: a matrix/TRC profile (no lookup tables) whose colorants are
// sRGB's primaries adapted to D50 and whose three tone curves are sRGB's, all within what
// 8-bit pixels can show.
static inline int iris_icc_is_srgb(cmsHPROFILE profile) {
    if (cmsIsTag(profile, cmsSigAToB0Tag) || cmsIsTag(profile, cmsSigAToB1Tag) || cmsIsTag(profile, cmsSigAToB2Tag) ||
        cmsIsTag(profile, cmsSigDToB0Tag)) {
        return 0;
    }
    // sRGB's red, green and blue colorants (XYZ, D50), as ICC profiles store them.
    static const double colorants[3][3] = {{0.4361, 0.2225, 0.0139}, {0.3851, 0.7169, 0.0971}, {0.1431, 0.0606, 0.7141}};
    const cmsTagSignature colorantTags[3] = {cmsSigRedColorantTag, cmsSigGreenColorantTag, cmsSigBlueColorantTag};
    const cmsTagSignature curveTags[3] = {cmsSigRedTRCTag, cmsSigGreenTRCTag, cmsSigBlueTRCTag};
    static const float samples[6] = {0.02f, 0.1f, 0.25f, 0.5f, 0.75f, 1.0f};
    for (int channel = 0; channel < 3; channel++) {
        const cmsCIEXYZ *colorant = cmsReadTag(profile, colorantTags[channel]);
        const cmsToneCurve *curve = cmsReadTag(profile, curveTags[channel]);
        if (colorant == NULL || curve == NULL) return 0;
        if (fabs(colorant->X - colorants[channel][0]) > 0.002 || fabs(colorant->Y - colorants[channel][1]) > 0.002 ||
            fabs(colorant->Z - colorants[channel][2]) > 0.002) {
            return 0;
        }
        for (int index = 0; index < 6; index++) {
            if (fabs(cmsEvalToneCurveFloat(curve, samples[index]) - iris_srgb_linear(samples[index])) > 0.002) return 0;
        }
    }
    return 1;
}

// A transform from the profile to sRGB for 8-bit pixels of `bands` (3 or 4), or NULL when
// there is nothing to do: the profile is sRGB's, or lcms cannot use it.
static inline cmsHTRANSFORM iris_icc_make(const void *profile, size_t length, int bands) {
    cmsHPROFILE source = cmsOpenProfileFromMem(profile, (cmsUInt32Number)length);
    if (source == NULL) return NULL;
    cmsHTRANSFORM transform = NULL;
    if (cmsGetColorSpace(source) == cmsSigRgbData && !iris_icc_is_srgb(source)) {
        cmsHPROFILE srgb = cmsCreate_sRGBProfile();
        if (srgb != NULL) {
            cmsUInt32Number format = bands == 4 ? TYPE_RGBA_8 : TYPE_RGB_8;
            // Relative colorimetric, as vips_icc_transform's default intent.
            transform = cmsCreateTransform(source, format, srgb, format, INTENT_RELATIVE_COLORIMETRIC,
                                           cmsFLAGS_NOCACHE | (bands == 4 ? cmsFLAGS_COPY_ALPHA : 0));
            cmsCloseProfile(srgb);
        }
    }
    cmsCloseProfile(source);
    return transform;
}

// The kept transform from an RGB profile to sRGB for 8-bit pixels of `bands`, or NULL when
// there is nothing to do. *owned is 1 when no more can be kept and the caller must delete it.
static inline cmsHTRANSFORM iris_icc_to_srgb(const void *profile, size_t length, int bands, int *owned) {
    iris_icc_cache *cache = iris_icc_shared();
    cmsHTRANSFORM transform = NULL;
    *owned = 0;
    pthread_mutex_lock(&cache->lock);
    int found = iris_icc_find(cache, profile, length, bands, &transform);
    pthread_mutex_unlock(&cache->lock);
    if (found) return transform;
    // Made outside the lock (it takes milliseconds); when two threads make the same one, the first kept wins.
    cmsHTRANSFORM made = iris_icc_make(profile, length, bands);
    pthread_mutex_lock(&cache->lock);
    if (iris_icc_find(cache, profile, length, bands, &transform)) {
        pthread_mutex_unlock(&cache->lock);
        if (made != NULL) cmsDeleteTransform(made);
        return transform;
    }
    if (cache->count < IRIS_ICC_KEPT) {
        unsigned char *copy = g_malloc(length);
        memcpy(copy, profile, length);
        cache->entries[cache->count++] = (iris_icc_entry){length, copy, bands, made};
    } else {
        *owned = made != NULL;
    }
    pthread_mutex_unlock(&cache->lock);
    return made;
}

/// The image with its embedded ICC profile applied: sRGB pixels, no profile. An image without
/// a profile, with sRGB's, or with one lcms cannot use comes back as it is (a new reference).
/// 8-bit RGB(A) goes through a kept transform; anything else (CMYK, 16 bits) through libvips's.
static inline int iris_vips_to_srgb(VipsImage *in, VipsImage **out) {
    const void *profile = NULL;
    size_t length = 0;
    int bands = vips_image_get_bands(in);
    if (!vips_image_get_typeof(in, VIPS_META_ICC_NAME) || vips_image_get_blob(in, VIPS_META_ICC_NAME, &profile, &length) != 0) {
        g_object_ref(in);
        *out = in;
        return 0;
    }
    if (vips_image_get_format(in) == VIPS_FORMAT_UCHAR && (bands == 3 || bands == 4) && iris_icc_is_rgb(profile, length)) {
        int owned = 0;
        cmsHTRANSFORM transform = iris_icc_to_srgb(profile, length, bands, &owned);
        if (transform == NULL) {
            g_object_ref(in);
            *out = in;
            return 0;
        }
        size_t size = 0;
        void *pixels = vips_image_write_to_memory(in, &size);
        if (pixels != NULL) {
            int width = vips_image_get_width(in), height = vips_image_get_height(in);
            cmsDoTransform(transform, pixels, pixels, (cmsUInt32Number)width * (cmsUInt32Number)height);
            *out = vips_image_new_from_memory_copy(pixels, size, width, height, bands, VIPS_FORMAT_UCHAR);
            g_free(pixels);
        }
        if (owned) cmsDeleteTransform(transform);
        if (pixels == NULL || *out == NULL) return -1;
        (*out)->Type = VIPS_INTERPRETATION_sRGB;
        return 0;
    }
    if (vips_icc_transform(in, out, "srgb", "embedded", TRUE, NULL) == 0) return 0;
    // A profile that libvips cannot use either: the pixels are taken as they are, as browsers do.
    vips_error_clear();
    g_object_ref(in);
    *out = in;
    return 0;
}

#endif
