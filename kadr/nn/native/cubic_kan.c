/* Uniform cubic B-spline KAN edges, 4 active bases per input (see kadr/nn/_native.py).
 *
 * Layout: x (N, I); C (I * KK, O) with KK = G + 4 rows per input: the K = G + 3 scaled spline
 * coefficients then the SiLU base weight; scale, shift (I,) with t = x * scale + shift the knot
 * position. Beyond the grid range the spline continues linearly (weights w(u) + d * w'(u)).
 * float32 only; single-threaded; no allocation.
 */
#include <math.h>

static inline void cell(float xv, float sc, float sh, int G, float *u, int *j, float *d) {
    float t = xv * sc + sh;
    float tc = t < 3.0f ? 3.0f : (t > (float)(G + 3) ? (float)(G + 3) : t);
    float jf = floorf(tc);
    if (jf > (float)(G + 2)) jf = (float)(G + 2);
    *u = tc - jf;
    *j = (int)jf;
    *d = t - tc;
}

static inline void weights(float u, float w[4], float dw[4]) {
    float u2 = u * u, u3 = u2 * u, om = 1.0f - u;
    w[0] = om * om * om * (1.0f / 6.0f);
    w[1] = u3 * 0.5f - u2 + (2.0f / 3.0f);
    w[2] = (u2 + u - u3) * 0.5f + (1.0f / 6.0f);
    w[3] = u3 * (1.0f / 6.0f);
    dw[0] = om * om * -0.5f;
    dw[1] = 1.5f * u2 - 2.0f * u;
    dw[2] = 0.5f + u - 1.5f * u2;
    dw[3] = 0.5f * u2;
}

void kan_cubic_forward(const float *restrict x, const float *restrict C, const float *restrict scale,
                       const float *restrict shift, float *restrict y, int N, int I, int O, int G) {
    const int KK = G + 4;
    for (int n = 0; n < N; n++) {
        float *restrict yr = y + (long)n * O;
        for (int o = 0; o < O; o++) yr[o] = 0.0f;
        for (int i = 0; i < I; i++) {
            float xv = x[(long)n * I + i], u, d, w[4], dw[4];
            int j;
            cell(xv, scale[i], shift[i], G, &u, &j, &d);
            weights(u, w, dw);
            for (int a = 0; a < 4; a++) w[a] += d * dw[a];
            float s = xv / (1.0f + expf(-xv));
            const float *restrict c0 = C + ((long)i * KK + j - 3) * O;
            const float *restrict c1 = c0 + O, *restrict c2 = c1 + O, *restrict c3 = c2 + O;
            const float *restrict cs = C + ((long)i * KK + KK - 1) * O;
            for (int o = 0; o < O; o++)
                yr[o] += w[0] * c0[o] + w[1] * c1[o] + w[2] * c2[o] + w[3] * c3[o] + s * cs[o];
        }
    }
}

/* scratch: float[N * 6] (w0..w3, silu per sample) and int[2 * N + G + 1] (cells, sorted samples, counts). */
void kan_cubic_backward(const float *restrict x, const float *restrict C, const float *restrict scale,
                        const float *restrict shift, const float *restrict g, float *restrict gx,
                        float *restrict gC, float *restrict wbuf, int *restrict ibuf,
                        int N, int I, int O, int G, int want_gx, int want_gC) {
    const int KK = G + 4;
    int *restrict cellof = ibuf, *restrict sorted = ibuf + N, *restrict cnt = ibuf + 2 * N;
    if (want_gC)
        for (long k = 0; k < (long)I * KK * O; k++) gC[k] = 0.0f;
    for (int i = 0; i < I; i++) {  /* input-major: the C and gC blocks of input i stay in cache */
        for (int c = 0; c <= G; c++) cnt[c] = 0;
        for (int n = 0; n < N; n++) {
            float xv = x[(long)n * I + i], u, d, w[4], dw[4];
            int j;
            cell(xv, scale[i], shift[i], G, &u, &j, &d);
            weights(u, w, dw);
            for (int a = 0; a < 4; a++) w[a] += d * dw[a];
            float e = expf(-xv), sg = 1.0f / (1.0f + e), s = xv * sg;
            float *restrict wn = wbuf + (long)n * 6;
            for (int a = 0; a < 4; a++) wn[a] = w[a];
            wn[4] = s;
            cellof[n] = j - 3;  /* in-range cell 0..G-1 */
            cnt[j - 2]++;
            if (want_gx) {
                const float *restrict gr = g + (long)n * O;
                const float *restrict c0 = C + ((long)i * KK + j - 3) * O, *restrict c1 = c0 + O, *restrict c2 = c1 + O,
                                      *restrict c3 = c2 + O, *restrict cs = C + ((long)i * KK + KK - 1) * O;
                float d0 = 0, d1 = 0, d2 = 0, d3 = 0, ds = 0;
                for (int o = 0; o < O; o++) {
                    float gv = gr[o];
                    d0 += gv * c0[o]; d1 += gv * c1[o]; d2 += gv * c2[o]; d3 += gv * c3[o]; ds += gv * cs[o];
                }
                gx[(long)n * I + i] = (dw[0] * d0 + dw[1] * d1 + dw[2] * d2 + dw[3] * d3) * scale[i]
                                      + ds * (sg * (1.0f + xv * (1.0f - sg)));
            }
        }
        if (!want_gC) continue;
        /* counting sort of the samples by cell: then cnt[c] is where cell c ends */
        for (int c = 1; c <= G; c++) cnt[c] += cnt[c - 1];
        for (int n = 0; n < N; n++) sorted[cnt[cellof[n]]++] = n;
        float *restrict qs = gC + ((long)i * KK + KK - 1) * O;
        int begin = 0;
        for (int c = 0; c < G; c++) {
            int end = cnt[c];
            if (end > begin) {
                const int j = c + 3;
                float *restrict q0 = gC + ((long)i * KK + j - 3) * O;
                for (int o0 = 0; o0 < O; o0 += 16) {
                    const int len = O - o0 < 16 ? O - o0 : 16;
                    float a0[16] = {0}, a1[16] = {0}, a2[16] = {0}, a3[16] = {0}, as[16] = {0};
                    for (int k = begin; k < end; k++) {
                        const int n = sorted[k];
                        const float *restrict wn = wbuf + (long)n * 6;
                        const float *restrict gr = g + (long)n * O + o0;
                        const float w0 = wn[0], w1 = wn[1], w2 = wn[2], w3 = wn[3], s = wn[4];
                        if (len == 16) {
                            for (int o = 0; o < 16; o++) {
                                float gv = gr[o];
                                a0[o] += w0 * gv; a1[o] += w1 * gv; a2[o] += w2 * gv; a3[o] += w3 * gv; as[o] += s * gv;
                            }
                        } else {
                            for (int o = 0; o < len; o++) {
                                float gv = gr[o];
                                a0[o] += w0 * gv; a1[o] += w1 * gv; a2[o] += w2 * gv; a3[o] += w3 * gv; as[o] += s * gv;
                            }
                        }
                    }
                    for (int o = 0; o < len; o++) {
                        q0[o0 + o] += a0[o]; q0[O + o0 + o] += a1[o]; q0[2 * O + o0 + o] += a2[o];
                        q0[3 * O + o0 + o] += a3[o]; qs[o0 + o] += as[o];
                    }
                }
            }
            begin = end;
        }
    }
}
