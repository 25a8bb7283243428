// Exemplar-based image repair (inpainting), written for Iris: PatchMatch nearest-neighbour
// fields (Barnes et al. 2009) inside an image pyramid, with expectation-maximisation patch
// voting from coarse to fine (Wexler, Shechtman & Irani 2007). Pixels are interleaved floats
// (any range; Iris uses 0–255) with 1 to 4 channels; alpha is one more channel.
#ifndef IRIS_CREPAIR_H
#define IRIS_CREPAIR_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// One image patches may be copied from besides the one repaired (a domain exemplar).
typedef struct {
    const float *pixels;  // width × height × channels (the repaired image's channel count)
    int width;
    int height;
    const uint8_t *excluded;  // optional: nonzero pixels are never copied from
} iris_repair_exemplar;

typedef struct {
    /// Patches are (2 × radius + 1)² pixels (default 3: 7 × 7).
    int patch_radius;
    /// EM iterations at the finest level; coarser levels run more (default 3).
    int iterations;
    /// PatchMatch passes per EM iteration (default 2).
    int passes;
    /// Threads (default 2). The result does not depend on it: work is split into fixed bands.
    int threads;
    /// The random seed: the same seed, image and mask give the same result.
    uint64_t seed;
    /// How the fill ends deep in the hole: IRIS_REPAIR_TEXTURE (0, the default) keeps the copied
    /// texture at full strength everywhere; IRIS_REPAIR_SMOOTH fades it with the distance into the
    /// hole towards the fill's local mean, which is closer to the lost pixels on average (higher
    /// PSNR and SSIM) but looks blurred in the middle of a large hole.
    int finish;
} iris_repair_options;

enum { IRIS_REPAIR_TEXTURE = 0, IRIS_REPAIR_SMOOTH = 1 };

/// Called after each EM iteration with the share done (0–1); a nonzero answer cancels.
typedef int (*iris_repair_progress)(void *context, double fraction);

enum {
    IRIS_REPAIR_OK = 0,
    IRIS_REPAIR_CANCELLED = 1,
    IRIS_REPAIR_NO_MEMORY = -1,
    IRIS_REPAIR_BAD_ARGUMENTS = -2,
    /// No patch of the image (or of an exemplar) lies wholly outside the hole.
    IRIS_REPAIR_NO_SOURCE = -3,
    /// The mask marks no pixel.
    IRIS_REPAIR_EMPTY_MASK = -4,
};

/// Fills the pixels where `hole` is nonzero, in place; the others are left exactly as they are.
int iris_repair(float *pixels, int width, int height, int channels, const uint8_t *hole,
                const iris_repair_exemplar *exemplars, int exemplar_count, const iris_repair_options *options,
                iris_repair_progress progress, void *context);

/// A box around one part of a mask.
typedef struct {
    int x, y, width, height;
    int64_t pixels;  // marked pixels inside
} iris_repair_box;

/// The bounding boxes of the mask's 8-connected parts, each grown by `margin` (clipped to the
/// image), with boxes that then overlap merged. Writes up to `capacity` boxes and answers how
/// many there are (more than `capacity` means the caller should ask again with more room), or
/// -1 when memory runs out.
int iris_repair_boxes(const uint8_t *mask, int width, int height, int margin, iris_repair_box *boxes,
                      int capacity);

#ifdef __cplusplus
}
#endif

#endif
