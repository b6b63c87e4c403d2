/* Transposes between planes and channels-last tiles (Design F2 in
 * maxpool.pyx, csrc/_tiles.pxi).
 *
 * A tile holds T planes' elements channels-last: tile[s * T + t] is element s
 * of plane t.  tile_in copies T planes (row pointers, each S contiguous
 * elements) into a tile and says whether any element was a NaN; tile_out
 * copies an output tile back into T planes of OS elements.  T is a multiple
 * of 8.  The element loops would be one scalar load and store per element
 * (43% of a 7x7 max pool's time); blocks of 8x8 (4x4) elements go through
 * registers and shuffles instead, with AVX where the variant is compiled
 * for it, SSE2 on any x86-64, plain loops elsewhere.  Then the folds of a
 * tile's window, 32 float32 lanes.  float32 only: _tiles_pay says why.
 */
#ifndef POOLING_TILES_H
#define POOLING_TILES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__AVX__)
#include <immintrin.h>
#define POOLING_TILE_AVX 1
#elif defined(__SSE2__)
#include <emmintrin.h>
#define POOLING_TILE_SSE 1
#endif

#if defined(POOLING_TILE_AVX)
static inline void pooling_t8x8(__m256* r) {
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
    r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
    r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}
#endif

/* 4-byte elements.  nan_check: float32 data (count NaNs); otherwise 0. */
static inline int pooling_tile_in4(const char* const* rows, ptrdiff_t S, ptrdiff_t T,
                                   void* tile, int nan_check) {
    uint32_t* dst = (uint32_t*)tile;
    ptrdiff_t s = 0, t, i;
    int nan = 0;
#if defined(POOLING_TILE_AVX)
    __m256 any = _mm256_setzero_ps();
    /* Eight planes at a time along their length: planes a power of two
       apart (64x64 float32: 16 KB) fall in one cache set, and reading all T
       of them at each step thrashed it (5x slower). */
    for (t = 0; t < T; t += 8) {
        for (s = 0; s + 8 <= S; s += 8) {
            __m256 r[8];
            for (i = 0; i < 8; i++)
                r[i] = _mm256_loadu_ps((const float*)rows[t + i] + s);
            if (nan_check)
                for (i = 0; i < 8; i++)
                    any = _mm256_or_ps(any, _mm256_cmp_ps(r[i], r[i], _CMP_UNORD_Q));
            pooling_t8x8(r);
            for (i = 0; i < 8; i++)
                _mm256_storeu_ps((float*)(dst + (s + i) * T + t), r[i]);
        }
    }
    s = S - S % 8;
    nan = _mm256_movemask_ps(any) != 0;
#elif defined(POOLING_TILE_SSE)
    __m128 any = _mm_setzero_ps();
    for (t = 0; t < T; t += 4) {
        for (s = 0; s + 4 <= S; s += 4) {
            __m128 r0 = _mm_loadu_ps((const float*)rows[t] + s);
            __m128 r1 = _mm_loadu_ps((const float*)rows[t + 1] + s);
            __m128 r2 = _mm_loadu_ps((const float*)rows[t + 2] + s);
            __m128 r3 = _mm_loadu_ps((const float*)rows[t + 3] + s);
            if (nan_check)
                any = _mm_or_ps(any, _mm_or_ps(_mm_or_ps(_mm_cmpunord_ps(r0, r0),
                                                         _mm_cmpunord_ps(r1, r1)),
                                               _mm_or_ps(_mm_cmpunord_ps(r2, r2),
                                                         _mm_cmpunord_ps(r3, r3))));
            _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
            _mm_storeu_ps((float*)(dst + s * T + t), r0);
            _mm_storeu_ps((float*)(dst + (s + 1) * T + t), r1);
            _mm_storeu_ps((float*)(dst + (s + 2) * T + t), r2);
            _mm_storeu_ps((float*)(dst + (s + 3) * T + t), r3);
        }
    }
    s = S - S % 4;
    nan = _mm_movemask_ps(any) != 0;
#endif
    for (; s < S; s++) {
        for (t = 0; t < T; t++) {
            uint32_t v;
            memcpy(&v, rows[t] + 4 * s, 4);
            dst[s * T + t] = v;
            if (nan_check && (v & 0x7fffffffu) > 0x7f800000u)
                nan = 1;
        }
    }
    return nan;
}

static inline void pooling_tile_out4(const void* tile, ptrdiff_t OS, ptrdiff_t T,
                                     char* const* rows) {
    const uint32_t* src = (const uint32_t*)tile;
    ptrdiff_t s = 0, t, i;
#if defined(POOLING_TILE_AVX)
    for (t = 0; t < T; t += 8) {     /* eight planes along their length (tile_in) */
        for (s = 0; s + 8 <= OS; s += 8) {
            __m256 r[8];
            for (i = 0; i < 8; i++)
                r[i] = _mm256_loadu_ps((const float*)(src + (s + i) * T + t));
            pooling_t8x8(r);
            for (i = 0; i < 8; i++)
                _mm256_storeu_ps((float*)rows[t + i] + s, r[i]);
        }
    }
    s = OS - OS % 8;
#elif defined(POOLING_TILE_SSE)
    for (t = 0; t < T; t += 4) {
        for (s = 0; s + 4 <= OS; s += 4) {
            __m128 r0 = _mm_loadu_ps((const float*)(src + s * T + t));
            __m128 r1 = _mm_loadu_ps((const float*)(src + (s + 1) * T + t));
            __m128 r2 = _mm_loadu_ps((const float*)(src + (s + 2) * T + t));
            __m128 r3 = _mm_loadu_ps((const float*)(src + (s + 3) * T + t));
            _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
            _mm_storeu_ps((float*)rows[t] + s, r0);
            _mm_storeu_ps((float*)rows[t + 1] + s, r1);
            _mm_storeu_ps((float*)rows[t + 2] + s, r2);
            _mm_storeu_ps((float*)rows[t + 3] + s, r3);
        }
    }
    s = OS - OS % 4;
#endif
    for (; s < OS; s++)
        for (t = 0; t < T; t++)
            memcpy(rows[t] + 4 * s, src + s * T + t, 4);
}

/* The max over a NaN-free tile's window (ne elements at x + off[e], in scan
   order) of 32 lanes, into out: `v > m ? v : m`, which is what max
   instructions do (the second operand on a tie, so the first maximum stays,
   its zero's sign included).  In 256-bit registers where the variant has
   AVX: the tile's lanes have no tails, unlike the rows of a plane, for
   which the variant's loops are kept 128 bits wide. */
static inline void pooling_tile_max_f32(const char* x, const ptrdiff_t* off, ptrdiff_t ne,
                                        float* out) {
    ptrdiff_t e;
#if defined(POOLING_TILE_AVX)
    const float* u = (const float*)(x + off[0]);
    __m256 m0 = _mm256_loadu_ps(u), m1 = _mm256_loadu_ps(u + 8);
    __m256 m2 = _mm256_loadu_ps(u + 16), m3 = _mm256_loadu_ps(u + 24);
    for (e = 1; e < ne; e++) {
        const float* v = (const float*)(x + off[e]);
        m0 = _mm256_max_ps(_mm256_loadu_ps(v), m0);
        m1 = _mm256_max_ps(_mm256_loadu_ps(v + 8), m1);
        m2 = _mm256_max_ps(_mm256_loadu_ps(v + 16), m2);
        m3 = _mm256_max_ps(_mm256_loadu_ps(v + 24), m3);
    }
    _mm256_storeu_ps(out, m0);
    _mm256_storeu_ps(out + 8, m1);
    _mm256_storeu_ps(out + 16, m2);
    _mm256_storeu_ps(out + 24, m3);
#elif defined(POOLING_TILE_SSE)
    __m128 m[8];
    int k;
    for (k = 0; k < 8; k++)
        m[k] = _mm_loadu_ps((const float*)(x + off[0]) + 4 * k);
    for (e = 1; e < ne; e++) {
        const float* v = (const float*)(x + off[e]);
        for (k = 0; k < 8; k++)
            m[k] = _mm_max_ps(_mm_loadu_ps(v + 4 * k), m[k]);
    }
    for (k = 0; k < 8; k++)
        _mm_storeu_ps(out + 4 * k, m[k]);
#else
    int k;
    for (k = 0; k < 32; k++)
        out[k] = ((const float*)(x + off[0]))[k];
    for (e = 1; e < ne; e++) {
        const float* v = (const float*)(x + off[e]);
        for (k = 0; k < 32; k++)
            out[k] = v[k] > out[k] ? v[k] : out[k];
    }
#endif
}

/* The average over a tile's window: the ne elements summed in scan order
   (the first two added, as the plane loops seed), then 0 + sum / dv
   (PyTorch's quotient added to its zeroed output), 32 lanes. */
static inline void pooling_tile_avg_f32(const char* x, const ptrdiff_t* off, ptrdiff_t ne,
                                        float dv, float* out) {
    ptrdiff_t e;
    int k;
#if defined(POOLING_TILE_AVX)
    __m256 m[4], d = _mm256_set1_ps(dv), z = _mm256_setzero_ps();
    for (k = 0; k < 4; k++)
        m[k] = _mm256_loadu_ps((const float*)(x + off[0]) + 8 * k);
    for (e = 1; e < ne; e++) {
        const float* v = (const float*)(x + off[e]);
        for (k = 0; k < 4; k++)
            m[k] = _mm256_add_ps(m[k], _mm256_loadu_ps(v + 8 * k));
    }
    for (k = 0; k < 4; k++)
        _mm256_storeu_ps(out + 8 * k, _mm256_add_ps(z, _mm256_div_ps(m[k], d)));
#elif defined(POOLING_TILE_SSE)
    __m128 m[8], d = _mm_set1_ps(dv), z = _mm_setzero_ps();
    for (k = 0; k < 8; k++)
        m[k] = _mm_loadu_ps((const float*)(x + off[0]) + 4 * k);
    for (e = 1; e < ne; e++) {
        const float* v = (const float*)(x + off[e]);
        for (k = 0; k < 8; k++)
            m[k] = _mm_add_ps(m[k], _mm_loadu_ps(v + 4 * k));
    }
    for (k = 0; k < 8; k++)
        _mm_storeu_ps(out + 4 * k, _mm_add_ps(z, _mm_div_ps(m[k], d)));
#else
    float m[32];
    for (k = 0; k < 32; k++)
        m[k] = ((const float*)(x + off[0]))[k];
    for (e = 1; e < ne; e++)
        for (k = 0; k < 32; k++)
            m[k] = m[k] + ((const float*)(x + off[e]))[k];
    for (k = 0; k < 32; k++)
        out[k] = 0.0f + m[k] / dv;
#endif
}

#endif
