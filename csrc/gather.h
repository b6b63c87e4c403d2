/* The lane loops of the compact backward's gather (_scatter.pxi,
   _gather_row): a pixel's channels add one covering output's gradient
   where its argmax offset names the pixel, +0.0 elsewhere.  The select is a
   mask on the value's bits: written as a branch or a conditional, GCC
   turned the first pass (0.0 + v, which it may not fold) into a
   conditional store and left it scalar; as bits both passes vectorise. */
#ifndef POOLING_GATHER_H
#define POOLING_GATHER_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline float pooling_pick_f32(float g, uint8_t loc, uint8_t t) {
    uint32_t b;
    memcpy(&b, &g, sizeof b);
    b &= (uint32_t)0 - (uint32_t)(loc == t);
    memcpy(&g, &b, sizeof b);
    return g;
}

static inline double pooling_pick_f64(double g, uint8_t loc, uint8_t t) {
    uint64_t b;
    memcpy(&b, &g, sizeof b);
    b &= (uint64_t)0 - (uint64_t)(loc == t);
    memcpy(&g, &b, sizeof b);
    return g;
}

/* first: the pixel's first covering output (its sums start at +0.0). */
static inline void pooling_gather_f32(float* px, const float* go, const uint8_t* loc,
                                      uint8_t t, ptrdiff_t C, int first) {
    ptrdiff_t c;
    if (first)
        for (c = 0; c < C; c++) px[c] = 0.0f + pooling_pick_f32(go[c], loc[c], t);
    else
        for (c = 0; c < C; c++) px[c] = px[c] + pooling_pick_f32(go[c], loc[c], t);
}

static inline void pooling_gather_f64(double* px, const double* go, const uint8_t* loc,
                                      uint8_t t, ptrdiff_t C, int first) {
    ptrdiff_t c;
    if (first)
        for (c = 0; c < C; c++) px[c] = 0.0 + pooling_pick_f64(go[c], loc[c], t);
    else
        for (c = 0; c < C; c++) px[c] = px[c] + pooling_pick_f64(go[c], loc[c], t);
}

#endif
