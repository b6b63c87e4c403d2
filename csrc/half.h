/* IEEE binary16 <-> binary32 conversions for the float16 gradient scatter.
 *
 * PyTorch and NumPy both add two halves by converting to float, adding in
 * float and rounding back to half (round to nearest even).  Doing the same per
 * addition keeps overlapping-window gradients bit-identical to theirs; a single
 * float accumulation rounded once at the end would not be.  Portable C, no
 * _Float16 or F16C needed.
 */
#ifndef POOLING_HALF_H
#define POOLING_HALF_H
#include <stdint.h>
#include <string.h>

static inline float pooling_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    uint32_t bits;
    float f;
    if (exp == 0x1fu) {                 /* inf or NaN */
        bits = sign | 0x7f800000u | (mant << 13);
    } else if (exp != 0) {              /* normal */
        bits = sign | ((exp + 112u) << 23) | (mant << 13);
    } else if (mant == 0) {             /* signed zero */
        bits = sign;
    } else {                            /* subnormal: mant * 2^-24, exact */
        f = (float)mant * 5.9604644775390625e-08f;
        memcpy(&bits, &f, 4);
        bits |= sign;
    }
    memcpy(&f, &bits, 4);
    return f;
}

static inline uint16_t pooling_float_to_half(float value)
{
    uint32_t f, sign;
    uint16_t out;
    memcpy(&f, &value, 4);
    sign = f & 0x80000000u;
    f ^= sign;
    if (f >= 0x47800000u) {             /* >= 2^16: inf, or NaN (kept quiet) */
        out = (uint16_t)(f > 0x7f800000u ? 0x7e00u : 0x7c00u);
    } else if (f < 0x38800000u) {       /* below 2^-14: half subnormal or zero */
        /* Adding 0.5 aligns the 10 mantissa bits at the bottom; the float
         * addition itself rounds to nearest even. */
        float g, magic = 0.5f;
        memcpy(&g, &f, 4);
        g += magic;
        memcpy(&f, &g, 4);
        out = (uint16_t)(f - 0x3f000000u);
    } else {
        uint32_t odd = (f >> 13) & 1u;
        f += 0xc8000fffu + odd;         /* rebias exponent, round half to even */
        out = (uint16_t)(f >> 13);
    }
    return (uint16_t)(out | (sign >> 16));
}

#endif
