// Exemplar-based repair, written for Iris from the papers named in CRepair.h.
//
// Each pyramid level keeps, for every pixel whose patch touches the hole (the "region"), the
// best-matching patch centre found so far in one of the sources: the image itself (patches
// wholly outside the hole) and any exemplars. An EM iteration first improves those matches
// with PatchMatch (propagation from neighbours, then a shrinking random search) against the
// current estimate, then re-estimates every hole pixel as the weighted mean of what the
// overlapping matched patches say it is. Levels run coarse to fine; a level's matches,
// scaled up, start the next one.
#include "CRepair.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

// Rows are split into this many bands whatever the thread count, so results do not depend on it.
#define BANDS 16
#define MAX_LEVELS 12
#ifndef TEXTURE_WEIGHT
#define TEXTURE_WEIGHT 4.0
#endif
#ifndef FINAL_SHARPEN
#define FINAL_SHARPEN 1.0f
#endif
#ifndef HOLE_PATCHES
#define HOLE_PATCHES 4
#endif
#ifndef TRUST_FALLOFF
#define TRUST_FALLOFF 2.0f
#endif

// MARK: - Random numbers (splitmix64 to seed, xorshift64* to draw)

static uint64_t splitmix(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

typedef struct { uint64_t s; } rng_t;

static rng_t rng_for(uint64_t seed, uint64_t a, uint64_t b, uint64_t c) {
    uint64_t state = seed ^ (a * 0x100000001B3ull) ^ (b << 20) ^ (c << 40);
    rng_t rng = {splitmix(&state) | 1};
    return rng;
}

static uint64_t rng_next(rng_t *rng) {
    rng->s ^= rng->s >> 12;
    rng->s ^= rng->s << 25;
    rng->s ^= rng->s >> 27;
    return rng->s * 0x2545F4914F6CDD1Dull;
}

static int rng_below(rng_t *rng, int n) { return n <= 1 ? 0 : (int)((rng_next(rng) >> 33) % (uint64_t)n); }

// MARK: - Levels

typedef struct {
    int w, h;
    float *img;       // w × h × channels
    uint8_t *masked;  // the hole (target) or excluded pixels (exemplar)
    uint8_t *valid;   // a patch centred here lies inside the image and touches no masked pixel
    int32_t *centres; // the valid centres, for random draws
    int ncentres;
} level_t;

typedef struct {
    level_t levels[MAX_LEVELS];
} pyramid_t;

static void level_free(level_t *level) {
    free(level->img);
    free(level->masked);
    free(level->valid);
    free(level->centres);
    memset(level, 0, sizeof *level);
}

// Halves a level: each pixel the mean of its 2 × 2 block (clipped at odd edges), masked
// when any pixel of the block is.
static int level_down(const level_t *from, level_t *to, int channels) {
    int w = (from->w + 1) / 2, h = (from->h + 1) / 2;
    to->w = w;
    to->h = h;
    to->img = malloc((size_t)w * h * channels * sizeof(float));
    to->masked = calloc((size_t)w * h, 1);
    if (!to->img || !to->masked) return -1;
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            float sum[8] = {0};
            int count = 0;
            uint8_t masked = 0;
            for (int dy = 0; dy < 2; dy++) {
                int sy = 2 * y + dy;
                if (sy >= from->h) continue;
                for (int dx = 0; dx < 2; dx++) {
                    int sx = 2 * x + dx;
                    if (sx >= from->w) continue;
                    size_t i = (size_t)sy * from->w + sx;
                    for (int c = 0; c < channels; c++) sum[c] += from->img[i * channels + c];
                    masked |= from->masked[i];
                    count++;
                }
            }
            size_t o = (size_t)y * w + x;
            for (int c = 0; c < channels; c++) to->img[o * channels + c] = sum[c] / (float)count;
            to->masked[o] = masked ? 1 : 0;
        }
    }
    return 0;
}

// A summed-area table of `mask` (w + 1) × (h + 1), to count masked pixels in any window.
static int64_t *summed(const uint8_t *mask, int w, int h) {
    int64_t *table = calloc((size_t)(w + 1) * (h + 1), sizeof(int64_t));
    if (!table) return NULL;
    for (int y = 0; y < h; y++) {
        int64_t row = 0;
        for (int x = 0; x < w; x++) {
            row += mask[(size_t)y * w + x] ? 1 : 0;
            table[(size_t)(y + 1) * (w + 1) + x + 1] = table[(size_t)y * (w + 1) + x + 1] + row;
        }
    }
    return table;
}

static int64_t window_count(const int64_t *table, int w, int h, int x0, int y0, int x1, int y1) {
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > w - 1) x1 = w - 1;
    if (y1 > h - 1) y1 = h - 1;
    if (x1 < x0 || y1 < y0) return 0;
    size_t stride = (size_t)w + 1;
    return table[(size_t)(y1 + 1) * stride + x1 + 1] - table[(size_t)y0 * stride + x1 + 1] -
           table[(size_t)(y1 + 1) * stride + x0] + table[(size_t)y0 * stride + x0];
}

static int level_centres(level_t *level, int r) {
    int w = level->w, h = level->h;
    level->valid = calloc((size_t)w * h, 1);
    if (!level->valid) return -1;
    level->ncentres = 0;
    if (w < 2 * r + 1 || h < 2 * r + 1) return 0;
    int64_t *table = summed(level->masked, w, h);
    if (!table) return -1;
    int count = 0;
    for (int y = r; y < h - r; y++)
        for (int x = r; x < w - r; x++)
            if (window_count(table, w, h, x - r, y - r, x + r, y + r) == 0) {
                level->valid[(size_t)y * w + x] = 1;
                count++;
            }
    free(table);
    level->centres = malloc((size_t)(count > 0 ? count : 1) * sizeof(int32_t));
    if (!level->centres) return -1;
    for (int i = 0, n = 0; i < w * h; i++)
        if (level->valid[i]) level->centres[n++] = i;
    level->ncentres = count;
    return 0;
}

// MARK: - The repair's state

typedef struct {
    int channels, r, levels, sources;
    pyramid_t *pyramids;  // [0] the image repaired, then the exemplars
    // The region and the matches, per level of the image repaired.
    uint8_t *region[MAX_LEVELS];
    int32_t *match_source[MAX_LEVELS];
    int32_t *match_at[MAX_LEVELS];
    float *match_cost[MAX_LEVELS];
    // How much a patch centred here is trusted in the vote: 1 outside the hole, falling with
    // the distance into it (Wexler et al.'s γ^−distance), so the hole fills from its edge.
    float *trust[MAX_LEVELS];
    float *next;  // the voted estimate, the size of the finest level
    float sigma2[MAX_LEVELS];  // the vote's weight scale per level
    uint64_t seed;
} repair_t;

// The mean squared difference per value between the target patch at (px, py) and the source
// patch at (qx, qy), over the target patch's pixels inside the image; stops early once it
// cannot beat `limit`.
static float patch_cost(const level_t *t, int px, int py, const level_t *s, int qx, int qy, int r, int channels,
                        float limit) {
    int y0 = py - r < 0 ? -py : -r, y1 = py + r >= t->h ? t->h - 1 - py : r;
    int x0 = px - r < 0 ? -px : -r, x1 = px + r >= t->w ? t->w - 1 - px : r;
    int run = (x1 - x0 + 1) * channels;
    float count = (float)((y1 - y0 + 1) * run);
    float bound = limit * count, sum = 0;
    for (int dy = y0; dy <= y1; dy++) {
        const float *a = t->img + ((size_t)(py + dy) * t->w + px + x0) * channels;
        const float *b = s->img + ((size_t)(qy + dy) * s->w + qx + x0) * channels;
        float row = 0;
        for (int i = 0; i < run; i++) {
            float d = a[i] - b[i];
            row += d * d;
        }
        sum += row;
        if (sum >= bound) return INFINITY;
    }
    return sum / count;
}

static const level_t *source_level(const repair_t *rp, int source, int l) { return &rp->pyramids[source].levels[l]; }

// A random valid centre: from the image itself half the time when there are exemplars.
static int random_match(const repair_t *rp, int l, rng_t *rng, int32_t *source, int32_t *at) {
    for (int attempt = 0; attempt < 8; attempt++) {
        int s = rp->sources == 1 || rng_below(rng, 2) == 0 ? 0 : 1 + rng_below(rng, rp->sources - 1);
        const level_t *level = source_level(rp, s, l);
        if (level->ncentres == 0) continue;
        *source = s;
        *at = level->centres[rng_below(rng, level->ncentres)];
        return 1;
    }
    for (int s = 0; s < rp->sources; s++) {
        const level_t *level = source_level(rp, s, l);
        if (level->ncentres == 0) continue;
        *source = s;
        *at = level->centres[rng_below(rng, level->ncentres)];
        return 1;
    }
    return 0;
}

// MARK: - Work split over threads in fixed bands

typedef struct {
    repair_t *rp;
    int level, iteration, pass;
    atomic_int next_band;
    void (*work)(repair_t *, int level, int band, int y0, int y1, int iteration, int pass);
} phase_t;

static void *phase_thread(void *argument) {
    phase_t *phase = argument;
    const level_t *t = source_level(phase->rp, 0, phase->level);
    int rows = (t->h + BANDS - 1) / BANDS;
    for (;;) {
        int band = atomic_fetch_add(&phase->next_band, 1);
        if (band >= BANDS) break;
        int y0 = band * rows, y1 = y0 + rows > t->h ? t->h : y0 + rows;
        if (y0 < y1) phase->work(phase->rp, phase->level, band, y0, y1, phase->iteration, phase->pass);
    }
    return NULL;
}

static void run_phase(repair_t *rp, int threads, int level, int iteration, int pass,
                      void (*work)(repair_t *, int, int, int, int, int, int)) {
    phase_t phase = {.rp = rp, .level = level, .iteration = iteration, .pass = pass, .work = work};
    atomic_init(&phase.next_band, 0);
    pthread_t helpers[7];
    int started = 0;
    for (int i = 1; i < threads && i < 8; i++)
        if (pthread_create(&helpers[started], NULL, phase_thread, &phase) == 0) started++;
    phase_thread(&phase);
    for (int i = 0; i < started; i++) pthread_join(helpers[i], NULL);
}

// MARK: - Phases

// The cost of every current match against the current estimate.
static void costs_band(repair_t *rp, int l, int band, int y0, int y1, int iteration, int pass) {
    (void)band, (void)iteration, (void)pass;
    const level_t *t = source_level(rp, 0, l);
    for (int y = y0; y < y1; y++)
        for (int x = 0; x < t->w; x++) {
            size_t p = (size_t)y * t->w + x;
            if (!rp->region[l][p]) continue;
            const level_t *s = source_level(rp, rp->match_source[l][p], l);
            int at = rp->match_at[l][p];
            rp->match_cost[l][p] = patch_cost(t, x, y, s, at % s->w, at / s->w, rp->r, rp->channels, INFINITY);
        }
}

static void try_match(repair_t *rp, int l, size_t p, int x, int y, int source, int qx, int qy) {
    const level_t *s = source_level(rp, source, l);
    if (qx < rp->r || qy < rp->r || qx >= s->w - rp->r || qy >= s->h - rp->r) return;
    int at = qy * s->w + qx;
    if (!s->valid[at]) return;
    if (source == rp->match_source[l][p] && at == rp->match_at[l][p]) return;
    float cost = patch_cost(source_level(rp, 0, l), x, y, s, qx, qy, rp->r, rp->channels, rp->match_cost[l][p]);
    if (cost < rp->match_cost[l][p]) {
        rp->match_cost[l][p] = cost;
        rp->match_source[l][p] = source;
        rp->match_at[l][p] = at;
    }
}

// One PatchMatch pass over a band: forward (from the left and above) on even passes,
// backward (from the right and below) on odd ones; neighbours outside the band are not used.
static void patchmatch_band(repair_t *rp, int l, int band, int y0, int y1, int iteration, int pass) {
    const level_t *t = source_level(rp, 0, l);
    rng_t rng = rng_for(rp->seed, (uint64_t)l * 1000 + iteration, (uint64_t)pass, (uint64_t)band + 1);
    int forward = pass % 2 == 0, step = forward ? 1 : -1;
    for (int yi = 0; yi < y1 - y0; yi++) {
        int y = forward ? y0 + yi : y1 - 1 - yi;
        for (int xi = 0; xi < t->w; xi++) {
            int x = forward ? xi : t->w - 1 - xi;
            size_t p = (size_t)y * t->w + x;
            if (!rp->region[l][p]) continue;
            // Propagation: the neighbour's match, shifted by one.
            int nx = x - step, ny = y - step;
            if (nx >= 0 && nx < t->w && rp->region[l][(size_t)y * t->w + nx]) {
                size_t n = (size_t)y * t->w + nx;
                const level_t *s = source_level(rp, rp->match_source[l][n], l);
                int at = rp->match_at[l][n];
                try_match(rp, l, p, x, y, rp->match_source[l][n], at % s->w + step, at / s->w);
            }
            if (ny >= y0 && ny < y1 && rp->region[l][(size_t)ny * t->w + x]) {
                size_t n = (size_t)ny * t->w + x;
                const level_t *s = source_level(rp, rp->match_source[l][n], l);
                int at = rp->match_at[l][n];
                try_match(rp, l, p, x, y, rp->match_source[l][n], at % s->w, at / s->w + step);
            }
            // Random search around the best, in windows halving from the whole source.
            int source = rp->match_source[l][p];
            const level_t *s = source_level(rp, source, l);
            int bx = rp->match_at[l][p] % s->w, by = rp->match_at[l][p] / s->w;
            for (int radius = s->w > s->h ? s->w : s->h; radius >= 1; radius /= 2) {
                int qx = bx + rng_below(&rng, 2 * radius + 1) - radius;
                int qy = by + rng_below(&rng, 2 * radius + 1) - radius;
                if (qx < rp->r) qx = rp->r;
                if (qy < rp->r) qy = rp->r;
                if (qx > s->w - 1 - rp->r) qx = s->w - 1 - rp->r;
                if (qy > s->h - 1 - rp->r) qy = s->h - 1 - rp->r;
                try_match(rp, l, p, x, y, source, qx, qy);
                bx = rp->match_at[l][p] % s->w;
                by = rp->match_at[l][p] / s->w;
            }
            // And one jump anywhere (to another exemplar, or out of a poor neighbourhood).
            int32_t jump_source, jump_at;
            if (random_match(rp, l, &rng, &jump_source, &jump_at)) {
                const level_t *js = source_level(rp, jump_source, l);
                try_match(rp, l, p, x, y, jump_source, jump_at % js->w, jump_at / js->w);
            }
        }
    }
}

// The vote: each hole pixel becomes the mean of what the matched patches over it say,
// weighted by how well each patch matched (exp(−cost / 2σ²), σ² the region's mean cost).

static void vote_band(repair_t *rp, int l, int band, int y0, int y1, int iteration, int pass) {
    (void)band, (void)iteration, (void)pass;
    const level_t *t = source_level(rp, 0, l);
    int r = rp->r, channels = rp->channels;
    float inverse = 1.0f / (2.0f * rp->sigma2[l] + 1e-6f);
    for (int y = y0; y < y1; y++)
        for (int x = 0; x < t->w; x++) {
            size_t i = (size_t)y * t->w + x;
            if (!t->masked[i]) continue;
            double sum[8] = {0}, total = 0;
            for (int dy = -r; dy <= r; dy++) {
                int py = y + dy;
                if (py < 0 || py >= t->h) continue;
                for (int dx = -r; dx <= r; dx++) {
                    int px = x + dx;
                    if (px < 0 || px >= t->w) continue;
                    size_t p = (size_t)py * t->w + px;
                    if (!rp->region[l][p]) continue;
                    const level_t *s = source_level(rp, rp->match_source[l][p], l);
                    int at = rp->match_at[l][p];
                    int qx = at % s->w - dx, qy = at / s->w - dy;
                    float cost = rp->match_cost[l][p];
                    double weight = rp->trust[l][p] * (isfinite(cost) ? exp(-(double)cost * inverse) + 1e-12 : 1e-12);
                    const float *value = s->img + ((size_t)qy * s->w + qx) * channels;
                    for (int c = 0; c < channels; c++) sum[c] += weight * value[c];
                    total += weight;
                }
            }
            for (int c = 0; c < channels; c++)
                rp->next[i * channels + c] = total > 0 ? (float)(sum[c] / total) : t->img[i * channels + c];
        }
}

static void commit_vote(repair_t *rp, int l) {
    level_t *t = &rp->pyramids[0].levels[l];
    size_t n = (size_t)t->w * t->h;
    for (size_t i = 0; i < n; i++)
        if (t->masked[i]) memcpy(t->img + i * rp->channels, rp->next + i * rp->channels, rp->channels * sizeof(float));
}

static void update_sigma(repair_t *rp, int l) {
    const level_t *t = source_level(rp, 0, l);
    double sum = 0;
    size_t count = 0;
    for (size_t p = 0; p < (size_t)t->w * t->h; p++)
        if (rp->region[l][p] && isfinite(rp->match_cost[l][p])) {
            sum += rp->match_cost[l][p];
            count++;
        }
    rp->sigma2[l] = count ? (float)(sum / (double)count) : 1.0f;
}

// MARK: - Start of the coarsest level

// Fills the hole from its edge inwards, each pixel the mean of its neighbours already known
// or filled (breadth first: every pixel is visited once).
static int onion_fill(level_t *t, int channels) {
    int w = t->w, h = t->h;
    size_t n = (size_t)w * h;
    uint8_t *done = malloc(n);
    int32_t *queue = malloc(n * sizeof(int32_t));
    if (!done || !queue) {
        free(done);
        free(queue);
        return -1;
    }
    size_t head = 0, tail = 0;
    for (size_t i = 0; i < n; i++) done[i] = t->masked[i] ? 0 : 2;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;
            if (done[i]) continue;
            int edge = 0;
            for (int dy = -1; dy <= 1 && !edge; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int nx = x + dx, ny = y + dy;
                    if (nx >= 0 && ny >= 0 && nx < w && ny < h && done[(size_t)ny * w + nx] == 2) edge = 1;
                }
            if (edge) {
                done[i] = 1;
                queue[tail++] = (int32_t)i;
            }
        }
    while (head < tail) {
        int32_t i = queue[head++];
        int x = i % w, y = i / w;
        float sum[8] = {0};
        int count = 0;
        for (int dy = -1; dy <= 1; dy++)
            for (int dx = -1; dx <= 1; dx++) {
                int nx = x + dx, ny = y + dy;
                if (nx < 0 || ny < 0 || nx >= w || ny >= h) continue;
                size_t j = (size_t)ny * w + nx;
                if (done[j] == 2) {
                    for (int c = 0; c < channels; c++) sum[c] += t->img[j * channels + c];
                    count++;
                } else if (done[j] == 0) {
                    done[j] = 1;
                    queue[tail++] = (int32_t)j;
                }
            }
        for (int c = 0; c < channels; c++) t->img[(size_t)i * channels + c] = count ? sum[c] / (float)count : 0;
        done[i] = 2;
    }
    free(done);
    free(queue);
    return 0;
}

// MARK: - The whole repair

// Distances (chamfer 1, √2, two passes) from each masked pixel to the nearest unmasked one; 0 outside.
static void chamfer(const uint8_t *masked, int w, int h, float *d) {
    size_t n = (size_t)w * h;
    for (size_t p = 0; p < n; p++) d[p] = masked[p] ? 1e9f : 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float *v = &d[(size_t)y * w + x];
            if (x > 0 && v[-1] + 1 < *v) *v = v[-1] + 1;
            if (y > 0 && v[-w] + 1 < *v) *v = v[-w] + 1;
            if (x > 0 && y > 0 && v[-w - 1] + 1.414f < *v) *v = v[-w - 1] + 1.414f;
            if (x < w - 1 && y > 0 && v[-w + 1] + 1.414f < *v) *v = v[-w + 1] + 1.414f;
        }
    for (int y = h - 1; y >= 0; y--)
        for (int x = w - 1; x >= 0; x--) {
            float *v = &d[(size_t)y * w + x];
            if (x < w - 1 && v[1] + 1 < *v) *v = v[1] + 1;
            if (y < h - 1 && v[w] + 1 < *v) *v = v[w] + 1;
            if (x < w - 1 && y < h - 1 && v[w + 1] + 1.414f < *v) *v = v[w + 1] + 1.414f;
            if (x > 0 && y < h - 1 && v[w - 1] + 1.414f < *v) *v = v[w - 1] + 1.414f;
        }
}

// How deep the hole reaches: its largest distance to a pixel outside it (-1: no memory).
static float hole_depth(const uint8_t *hole, int w, int h) {
    float *d = malloc((size_t)w * h * sizeof(float));
    if (!d) return -1;
    chamfer(hole, w, h, d);
    float deepest = 0;
    for (size_t p = 0; p < (size_t)w * h; p++)
        if (d[p] > deepest && d[p] < 1e8f) deepest = d[p];
    free(d);
    return deepest;
}

static int region_of(repair_t *rp, int l) {
    const level_t *t = source_level(rp, 0, l);
    size_t n = (size_t)t->w * t->h;
    rp->region[l] = calloc(n, 1);
    rp->match_source[l] = calloc(n, sizeof(int32_t));
    rp->match_at[l] = calloc(n, sizeof(int32_t));
    rp->match_cost[l] = malloc(n * sizeof(float));
    if (!rp->region[l] || !rp->match_source[l] || !rp->match_at[l] || !rp->match_cost[l]) return -1;
    int64_t *table = summed(t->masked, t->w, t->h);
    if (!table) return -1;
    int r = rp->r;
    for (int y = 0; y < t->h; y++)
        for (int x = 0; x < t->w; x++)
            rp->region[l][(size_t)y * t->w + x] = window_count(table, t->w, t->h, x - r, y - r, x + r, y + r) > 0;
    free(table);
    for (size_t p = 0; p < n; p++) rp->match_cost[l][p] = INFINITY;
    // Chamfer distances into the hole, then the trust they give.
    rp->trust[l] = malloc(n * sizeof(float));
    if (!rp->trust[l]) return -1;
    float *d = rp->trust[l];
    chamfer(t->masked, t->w, t->h, d);
    for (size_t p = 0; p < n; p++) d[p] = d[p] > 60 ? 1e-7f : powf(TRUST_FALLOFF, -d[p]);
    return 0;
}

static void release(repair_t *rp) {
    if (rp->pyramids)
        for (int s = 0; s < rp->sources; s++)
            for (int l = 0; l < rp->levels; l++) level_free(&rp->pyramids[s].levels[l]);
    free(rp->pyramids);
    for (int l = 0; l < rp->levels; l++) {
        free(rp->region[l]);
        free(rp->match_source[l]);
        free(rp->match_at[l]);
        free(rp->match_cost[l]);
        free(rp->trust[l]);
    }
    free(rp->next);
}

static int repair_channels(float *pixels, int width, int height, int channels, const uint8_t *hole,
                           const iris_repair_exemplar *exemplars, int exemplar_count,
                           const iris_repair_options *options, iris_repair_progress progress, void *context) {
    if (!pixels || !hole || width < 1 || height < 1 || channels < 1 || channels > 8 || exemplar_count < 0 ||
        (exemplar_count > 0 && !exemplars) || (int64_t)width * height > (int64_t)1 << 28)
        return IRIS_REPAIR_BAD_ARGUMENTS;
    iris_repair_options o = options ? *options : (iris_repair_options){0};
    int r = o.patch_radius > 0 && o.patch_radius <= 8 ? o.patch_radius : 3;
    int iterations = o.iterations > 0 && o.iterations <= 50 ? o.iterations : 3;
    int passes = o.passes > 0 && o.passes <= 20 ? o.passes : 2;
    int threads = o.threads > 0 && o.threads <= 8 ? o.threads : 2;

    size_t n = (size_t)width * height;
    int64_t holes = 0;
    for (size_t i = 0; i < n; i++) holes += hole[i] ? 1 : 0;
    if (holes == 0) return IRIS_REPAIR_EMPTY_MASK;

    repair_t rp = {.channels = channels, .r = r, .sources = 1 + exemplar_count, .seed = o.seed};
    // Levels: halve until the hole is about HOLE_PATCHES patch radii deep at the coarsest, while
    // the smaller side stays at least 4 patch widths.
    float depth = hole_depth(hole, width, height);
    if (depth < 0) return IRIS_REPAIR_NO_MEMORY;
    int levels = 1;
    for (int w = width, h = height; levels < MAX_LEVELS && (w < h ? w : h) / 2 >= 4 * (2 * r + 1) &&
                                    depth / (float)(1 << levels) >= HOLE_PATCHES * r;
         levels++) {
        w = (w + 1) / 2;
        h = (h + 1) / 2;
    }
    rp.levels = levels;
    rp.pyramids = calloc((size_t)rp.sources, sizeof(pyramid_t));
    rp.next = malloc(n * channels * sizeof(float));
    int status = IRIS_REPAIR_NO_MEMORY;
    if (!rp.pyramids || !rp.next) goto done;

    for (int s = 0; s < rp.sources; s++) {
        level_t *base = &rp.pyramids[s].levels[0];
        int w = s == 0 ? width : exemplars[s - 1].width, h = s == 0 ? height : exemplars[s - 1].height;
        const float *from = s == 0 ? pixels : exemplars[s - 1].pixels;
        const uint8_t *mask = s == 0 ? hole : exemplars[s - 1].excluded;
        if (w < 1 || h < 1 || !from || (int64_t)w * h > (int64_t)1 << 28) {
            status = IRIS_REPAIR_BAD_ARGUMENTS;
            goto done;
        }
        base->w = w;
        base->h = h;
        base->img = malloc((size_t)w * h * channels * sizeof(float));
        base->masked = calloc((size_t)w * h, 1);
        if (!base->img || !base->masked) goto done;
        memcpy(base->img, from, (size_t)w * h * channels * sizeof(float));
        if (mask)
            for (size_t i = 0; i < (size_t)w * h; i++) base->masked[i] = mask[i] ? 1 : 0;
        for (int l = 1; l < levels; l++)
            if (level_down(&rp.pyramids[s].levels[l - 1], &rp.pyramids[s].levels[l], channels) != 0) goto done;
        for (int l = 0; l < levels; l++)
            if (level_centres(&rp.pyramids[s].levels[l], r) != 0) goto done;
    }
    int any = 0;
    for (int s = 0; s < rp.sources; s++) any |= rp.pyramids[s].levels[0].ncentres > 0;
    if (!any) {
        status = IRIS_REPAIR_NO_SOURCE;
        goto done;
    }
    for (int l = 0; l < levels; l++)
        if (region_of(&rp, l) != 0) goto done;

    // The work per level, for progress: pixels of the region × iterations.
    double total = 0, finished = 0;
    int per_level[MAX_LEVELS];
    for (int l = 0; l < levels; l++) {
        int depth = levels - 1 - l;
        per_level[l] = iterations + (2 * depth < 8 ? 2 * depth : 8);
        const level_t *t = source_level(&rp, 0, l);
        total += (double)t->w * t->h * per_level[l];
    }

    for (int l = levels - 1, previous = -1; l >= 0; l--) {
        level_t *t = &rp.pyramids[0].levels[l];
        // A level with no source of its own (too small) is skipped; the next finer starts afresh.
        int usable = 0;
        for (int s = 0; s < rp.sources; s++) usable |= rp.pyramids[s].levels[l].ncentres > 0;
        if (!usable) continue;
        rng_t rng = rng_for(rp.seed, (uint64_t)l, 77, 0);
        size_t count = (size_t)t->w * t->h;
        int started_coarser = 0;
        if (previous == l + 1) {
            // The coarser level's matches, scaled up.
            const level_t *c = source_level(&rp, 0, l + 1);
            for (int y = 0; y < t->h; y++)
                for (int x = 0; x < t->w; x++) {
                    size_t p = (size_t)y * t->w + x;
                    if (!rp.region[l][p]) continue;
                    int cx = x / 2 < c->w ? x / 2 : c->w - 1, cy = y / 2 < c->h ? y / 2 : c->h - 1;
                    size_t cp = (size_t)cy * c->w + cx;
                    int placed = 0;
                    if (rp.region[l + 1][cp] && isfinite(rp.match_cost[l + 1][cp])) {
                        int source = rp.match_source[l + 1][cp];
                        const level_t *cs = source_level(&rp, source, l + 1);
                        const level_t *fs = source_level(&rp, source, l);
                        int at = rp.match_at[l + 1][cp];
                        int qx = 2 * (at % cs->w) + (x - 2 * cx), qy = 2 * (at / cs->w) + (y - 2 * cy);
                        if (qx >= r && qy >= r && qx < fs->w - r && qy < fs->h - r && fs->valid[qy * fs->w + qx]) {
                            rp.match_source[l][p] = source;
                            rp.match_at[l][p] = qy * fs->w + qx;
                            placed = 1;
                        }
                    }
                    if (!placed) random_match(&rp, l, &rng, &rp.match_source[l][p], &rp.match_at[l][p]);
                    rp.match_cost[l][p] = 0;
                }
            started_coarser = 1;
        } else {
            if (onion_fill(t, channels) != 0) goto done;
            for (size_t p = 0; p < count; p++)
                if (rp.region[l][p]) random_match(&rp, l, &rng, &rp.match_source[l][p], &rp.match_at[l][p]);
        }
        if (started_coarser) {
            // The estimate from the scaled-up matches, equally weighted.
            rp.sigma2[l] = 1e30f;
            run_phase(&rp, threads, l, 0, 0, vote_band);
            commit_vote(&rp, l);
        }
        for (int iteration = 0; iteration < per_level[l]; iteration++) {
            run_phase(&rp, threads, l, iteration, 0, costs_band);
            int level_passes = passes + (iteration == 0 && !started_coarser ? 2 : 0);
            for (int pass = 0; pass < level_passes; pass++) run_phase(&rp, threads, l, iteration, pass, patchmatch_band);
            update_sigma(&rp, l);
            // The last vote at full size favours the best-matched patches, so the fill stays sharp.
            if (l == 0 && iteration == per_level[l] - 1) rp.sigma2[l] *= FINAL_SHARPEN;
            run_phase(&rp, threads, l, iteration, 0, vote_band);
            commit_vote(&rp, l);
            finished += (double)t->w * t->h;
            if (progress && progress(context, finished / total) != 0) {
                status = IRIS_REPAIR_CANCELLED;
                goto done;
            }
        }
        previous = l;
    }
    {
        const level_t *t = source_level(&rp, 0, 0);
        for (size_t i = 0; i < n; i++)
            if (hole[i]) memcpy(pixels + i * channels, t->img + i * channels, channels * sizeof(float));
    }
    status = IRIS_REPAIR_OK;
done:
    release(&rp);
    return status;
}

// MARK: - Boxes around the mask's parts

int iris_repair_boxes(const uint8_t *mask, int width, int height, int margin, iris_repair_box *boxes,
                      int capacity) {
    if (!mask || width < 1 || height < 1) return 0;
    size_t n = (size_t)width * height;
    uint8_t *seen = calloc(n, 1);
    int32_t *stack = malloc(n * sizeof(int32_t));
    int found = 0, room = 64;
    iris_repair_box *all = malloc((size_t)room * sizeof(iris_repair_box));
    if (!seen || !stack || !all) {
        free(seen);
        free(stack);
        free(all);
        return -1;
    }
    for (size_t start = 0; start < n; start++) {
        if (!mask[start] || seen[start]) continue;
        int x0 = width, y0 = height, x1 = -1, y1 = -1;
        int64_t pixels = 0;
        size_t top = 0;
        stack[top++] = (int32_t)start;
        seen[start] = 1;
        while (top > 0) {
            int32_t i = stack[--top];
            int x = i % width, y = i / width;
            pixels++;
            if (x < x0) x0 = x;
            if (x > x1) x1 = x;
            if (y < y0) y0 = y;
            if (y > y1) y1 = y;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int nx = x + dx, ny = y + dy;
                    if (nx < 0 || ny < 0 || nx >= width || ny >= height) continue;
                    size_t j = (size_t)ny * width + nx;
                    if (mask[j] && !seen[j]) {
                        seen[j] = 1;
                        stack[top++] = (int32_t)j;
                    }
                }
        }
        if (found == room) {
            room *= 2;
            iris_repair_box *grown = realloc(all, (size_t)room * sizeof(iris_repair_box));
            if (!grown) {
                free(seen);
                free(stack);
                free(all);
                return -1;
            }
            all = grown;
        }
        int bx0 = x0 - margin < 0 ? 0 : x0 - margin, by0 = y0 - margin < 0 ? 0 : y0 - margin;
        int bx1 = x1 + margin >= width ? width - 1 : x1 + margin, by1 = y1 + margin >= height ? height - 1 : y1 + margin;
        all[found++] = (iris_repair_box){bx0, by0, bx1 - bx0 + 1, by1 - by0 + 1, pixels};
    }
    free(seen);
    free(stack);
    // Very many parts (a speckled mask) are one box around them all; fewer are merged where
    // they overlap, until none do (each merge removes a box: at most 64³ comparisons).
    if (found > 64) {
        iris_repair_box around = all[0];
        for (int i = 1; i < found; i++) {
            iris_repair_box *q = &all[i];
            int x1 = around.x + around.width > q->x + q->width ? around.x + around.width : q->x + q->width;
            int y1 = around.y + around.height > q->y + q->height ? around.y + around.height : q->y + q->height;
            around.x = around.x < q->x ? around.x : q->x;
            around.y = around.y < q->y ? around.y : q->y;
            around.width = x1 - around.x;
            around.height = y1 - around.y;
            around.pixels += q->pixels;
        }
        all[0] = around;
        found = 1;
    }
    for (int merged = 1; merged;) {
        merged = 0;
        for (int a = 0; a < found && !merged; a++)
            for (int b = a + 1; b < found; b++) {
                iris_repair_box *p = &all[a], *q = &all[b];
                if (p->x >= q->x + q->width || q->x >= p->x + p->width || p->y >= q->y + q->height ||
                    q->y >= p->y + p->height)
                    continue;
                int x0 = p->x < q->x ? p->x : q->x, y0 = p->y < q->y ? p->y : q->y;
                int x1 = p->x + p->width > q->x + q->width ? p->x + p->width : q->x + q->width;
                int y1 = p->y + p->height > q->y + q->height ? p->y + p->height : q->y + q->height;
                *p = (iris_repair_box){x0, y0, x1 - x0, y1 - y0, p->pixels + q->pixels};
                all[b] = all[--found];
                merged = 1;
                break;
            }
    }
    for (int i = 0; i < found && i < capacity; i++) boxes[i] = all[i];
    free(all);
    return found;
}

// MARK: - Texture features

// Two more channels per pixel, after Newson et al. (2014): the mean absolute horizontal and
// vertical brightness differences over a window around it (known pixels only), times
// TEXTURE_WEIGHT. Repaired along with the colours, they keep a textured area's fill
// textured: without them a blurry first estimate draws smooth patches, which keep it blurry.
// Answers a new buffer of width × height × (channels + 2), or NULL when memory runs out.
static float *with_texture(const float *pixels, int width, int height, int channels, const uint8_t *masked,
                           int window) {
    size_t n = (size_t)width * height;
    int out_channels = channels + 2;
    float *out = malloc(n * out_channels * sizeof(float));
    float *grey = malloc(n * sizeof(float));
    double *table = calloc((size_t)(width + 1) * (height + 1) * 3, sizeof(double));
    if (!out || !grey || !table) {
        free(out);
        free(grey);
        free(table);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        float sum = 0;
        for (int c = 0; c < channels; c++) sum += pixels[i * channels + c];
        grey[i] = sum / (float)channels;
    }
    // Summed-area tables of |dx|, |dy| and of the pixels where both are known.
    size_t stride = (size_t)width + 1;
    for (int y = 0; y < height; y++) {
        double row[3] = {0, 0, 0};
        for (int x = 0; x < width; x++) {
            size_t i = (size_t)y * width + x;
            int known = !(masked && masked[i]) && x + 1 < width && y + 1 < height &&
                        !(masked && (masked[i + 1] || masked[i + width]));
            if (known) {
                row[0] += fabsf(grey[i + 1] - grey[i]);
                row[1] += fabsf(grey[i + width] - grey[i]);
                row[2] += 1;
            }
            for (int k = 0; k < 3; k++)
                table[((size_t)(y + 1) * stride + x + 1) * 3 + k] = table[((size_t)y * stride + x + 1) * 3 + k] + row[k];
        }
    }
    int half = window / 2;
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++) {
            int x0 = x - half < 0 ? 0 : x - half, y0 = y - half < 0 ? 0 : y - half;
            int x1 = x + half >= width ? width - 1 : x + half, y1 = y + half >= height ? height - 1 : y + half;
            double value[3];
            for (int k = 0; k < 3; k++)
                value[k] = table[((size_t)(y1 + 1) * stride + x1 + 1) * 3 + k] - table[((size_t)y0 * stride + x1 + 1) * 3 + k] -
                           table[((size_t)(y1 + 1) * stride + x0) * 3 + k] + table[((size_t)y0 * stride + x0) * 3 + k];
            size_t i = (size_t)y * width + x;
            memcpy(out + i * out_channels, pixels + i * channels, channels * sizeof(float));
            out[i * out_channels + channels] = value[2] > 0 ? (float)(TEXTURE_WEIGHT * value[0] / value[2]) : 0;
            out[i * out_channels + channels + 1] = value[2] > 0 ? (float)(TEXTURE_WEIGHT * value[1] / value[2]) : 0;
        }
    free(grey);
    free(table);
    return out;
}

// MARK: - The smooth finish

// Texture copied far from any known pixel is a guess whose grain rarely lines up with what was
// lost, and a wrong guess costs more than none. The smooth finish keeps the fill's detail (its
// difference from a Gaussian blur of it, σ = 2 patch radii) at full strength at the hole's edge
// and fades it as exp(-d / (radius + 1)) with the distance d into the hole, leaving the blurred
// fill in the middle: the least wrong on average, softer to the eye.
static int smooth_finish(float *pixels, int width, int height, int channels, const uint8_t *hole, int r) {
    size_t n = (size_t)width * height;
    int x0 = width, y0 = height, x1 = -1, y1 = -1;
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
            if (hole[(size_t)y * width + x]) {
                x0 = x < x0 ? x : x0, x1 = x > x1 ? x : x1;
                y0 = y < y0 ? y : y0, y1 = y > y1 ? y : y1;
            }
    if (x1 < 0) return 0;
    float sigma = 2.0f * (float)r;
    int k = (int)ceilf(3 * sigma);
    float weight[2 * 24 + 1];
    if (k > 24) k = 24;
    for (int i = -k; i <= k; i++) weight[i + k] = expf(-(float)(i * i) / (2 * sigma * sigma));
    // Rows of the blur the columns of the hole's box need, then the columns at hole pixels.
    int ry0 = y0 - k < 0 ? 0 : y0 - k, ry1 = y1 + k >= height ? height - 1 : y1 + k;
    int bw = x1 - x0 + 1, bh = ry1 - ry0 + 1;
    float *rows = malloc((size_t)bw * bh * channels * sizeof(float));
    float *d = malloc(n * sizeof(float));
    if (!rows || !d) {
        free(rows);
        free(d);
        return -1;
    }
    chamfer(hole, width, height, d);
    for (int y = ry0; y <= ry1; y++)
        for (int x = x0; x <= x1; x++) {
            float *out = rows + ((size_t)(y - ry0) * bw + (x - x0)) * channels;
            float total = 0;
            for (int c = 0; c < channels; c++) out[c] = 0;
            for (int i = -k; i <= k; i++) {
                int xx = x + i;
                if (xx < 0 || xx >= width) continue;
                const float *in = pixels + ((size_t)y * width + xx) * channels;
                for (int c = 0; c < channels; c++) out[c] += weight[i + k] * in[c];
                total += weight[i + k];
            }
            for (int c = 0; c < channels; c++) out[c] /= total;
        }
    float blurred[8];
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) {
            size_t p = (size_t)y * width + x;
            if (!hole[p]) continue;
            float total = 0;
            for (int c = 0; c < channels; c++) blurred[c] = 0;
            for (int i = -k; i <= k; i++) {
                int yy = y + i;
                if (yy < ry0 || yy > ry1) continue;
                const float *in = rows + ((size_t)(yy - ry0) * bw + (x - x0)) * channels;
                for (int c = 0; c < channels; c++) blurred[c] += weight[i + k] * in[c];
                total += weight[i + k];
            }
            float keep = expf(-d[p] / (float)(r + 1));
            float *v = pixels + p * channels;
            for (int c = 0; c < channels; c++) v[c] = blurred[c] / total + keep * (v[c] - blurred[c] / total);
        }
    free(rows);
    free(d);
    return 0;
}

int iris_repair(float *pixels, int width, int height, int channels, const uint8_t *hole,
                const iris_repair_exemplar *exemplars, int exemplar_count, const iris_repair_options *options,
                iris_repair_progress progress, void *context) {
    if (!pixels || !hole || width < 1 || height < 1 || channels < 1 || channels > 4 || exemplar_count < 0 ||
        (exemplar_count > 0 && !exemplars) || (int64_t)width * height > (int64_t)1 << 28)
        return IRIS_REPAIR_BAD_ARGUMENTS;
    for (int e = 0; e < exemplar_count; e++)
        if (!exemplars[e].pixels || exemplars[e].width < 1 || exemplars[e].height < 1 ||
            (int64_t)exemplars[e].width * exemplars[e].height > (int64_t)1 << 28)
            return IRIS_REPAIR_BAD_ARGUMENTS;
    // The texture window: about the size of a patch at the coarsest level, 8 to 32 pixels.
    int window = (width < height ? width : height) / 16;
    window = window < 8 ? 8 : window > 32 ? 32 : window;
    int status = IRIS_REPAIR_NO_MEMORY;
    float *work = with_texture(pixels, width, height, channels, hole, window);
    iris_repair_exemplar *textured = exemplar_count ? calloc((size_t)exemplar_count, sizeof *textured) : NULL;
    if (!work || (exemplar_count && !textured)) goto done;
    for (int e = 0; e < exemplar_count; e++) {
        textured[e] = exemplars[e];
        textured[e].pixels =
            with_texture(exemplars[e].pixels, exemplars[e].width, exemplars[e].height, channels, exemplars[e].excluded, window);
        if (!textured[e].pixels) goto done;
    }
    status = repair_channels(work, width, height, channels + 2, hole, textured, exemplar_count, options, progress, context);
    if (status == IRIS_REPAIR_OK) {
        for (size_t i = 0; i < (size_t)width * height; i++)
            if (hole[i]) memcpy(pixels + i * channels, work + i * (channels + 2), channels * sizeof(float));
        int r = options && options->patch_radius > 0 && options->patch_radius <= 8 ? options->patch_radius : 3;
        if (options && options->finish == IRIS_REPAIR_SMOOTH && smooth_finish(pixels, width, height, channels, hole, r) != 0)
            status = IRIS_REPAIR_NO_MEMORY;
    }
done:
    if (textured)
        for (int e = 0; e < exemplar_count; e++) free((void *)textured[e].pixels);
    free(textured);
    free(work);
    return status;
}
