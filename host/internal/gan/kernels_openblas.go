//go:build openblas

package gan

/*
#cgo CFLAGS: -O3
#cgo LDFLAGS: -lm
#include <math.h>
#include <immintrin.h>

// Scalar versions: the reference semantics and the fallback without AVX2.

static inline float fexp(float x) {
	x = x < -87.0f ? -87.0f : x;
	x = x > 88.0f ? 88.0f : x;
	// round to nearest by the 1.5·2^23 trick: floorf is a libm call
	// without SSE4.1
	const float big = 12582912.0f;
	float k = (x * 1.44269504088896341f + big) - big;
	float r = x - k * 0.693359375f + k * 2.12194440e-4f;
	float p = 1.9875691500e-4f;
	p = p * r + 1.3981999507e-3f;
	p = p * r + 8.3334519073e-3f;
	p = p * r + 4.1665795894e-2f;
	p = p * r + 1.6666665459e-1f;
	p = p * r + 5.0000001201e-1f;
	float y = p * r * r + r + 1.0f;
	int bits = ((int)k + 127) << 23;
	float scale;
	__builtin_memcpy(&scale, &bits, 4);
	return y * scale;
}

static inline float fsigmoid(float x) { return 1.0f / (1.0f + fexp(-x)); }
static inline float ftanh(float x) { return 2.0f / (1.0f + fexp(-2.0f * x)) - 1.0f; }

static void lstm_row(float *gi, float *gf, float *gg_, float *go, const float *cp,
                     float *cr, float *tr, float *hr, long j0, long H) {
	for (long j = j0; j < H; j++) {
		float i = fsigmoid(gi[j]), f = fsigmoid(gf[j]);
		float gg = ftanh(gg_[j]), o = fsigmoid(go[j]);
		gi[j] = i; gf[j] = f; gg_[j] = gg; go[j] = o;
		float cc = f * cp[j] + i * gg;
		float t = ftanh(cc);
		cr[j] = cc; tr[j] = t; hr[j] = o * t;
	}
}

static void adam_range(float *w, float *g, float *m, float *v, long j0, long n,
                       float lr, float b1, float b2, float isc2, float eps) {
	for (long j = j0; j < n; j++) {
		float gj = g[j];
		float mj = b1 * m[j] + (1 - b1) * gj;
		float vj = b2 * v[j] + (1 - b2) * gj * gj;
		m[j] = mj;
		v[j] = vj;
		w[j] -= lr * mj / (sqrtf(vj) * isc2 + eps);
		g[j] = 0;
	}
}

// AVX2+FMA versions, eight lanes at a time; gcc's autovectoriser gives up
// on these loops (sqrtf's errno, the exponent-bit trick).

__attribute__((target("avx2,fma"))) static inline __m256 exp8(__m256 x) {
	x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.0f));
	__m256 k = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
	                           _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	__m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.693359375f), x);
	r = _mm256_fnmadd_ps(k, _mm256_set1_ps(-2.12194440e-4f), r);
	__m256 p = _mm256_set1_ps(1.9875691500e-4f);
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
	__m256 y = _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
	__m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
	return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

__attribute__((target("avx2,fma"))) static inline __m256 sigmoid8(__m256 x) {
	__m256 one = _mm256_set1_ps(1.0f);
	return _mm256_div_ps(one, _mm256_add_ps(one, exp8(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}

__attribute__((target("avx2,fma"))) static inline __m256 tanh8(__m256 x) {
	__m256 one = _mm256_set1_ps(1.0f);
	__m256 e = exp8(_mm256_mul_ps(x, _mm256_set1_ps(-2.0f)));
	return _mm256_sub_ps(_mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(one, e)), one);
}

__attribute__((target("avx2,fma")))
static void lstm_cell_avx2(float *gates, long ldg, const float *cprev, long ldc,
                           float *c, float *tc, float *h, long ldo, long n, long H) {
	for (long r = 0; r < n; r++) {
		float *gi = gates + r * ldg, *gf = gi + H, *gg_ = gi + 2 * H, *go = gi + 3 * H;
		const float *cp = cprev + r * ldc;
		float *cr = c + r * ldo, *tr = tc + r * ldo, *hr = h + r * ldo;
		long j = 0;
		for (; j + 8 <= H; j += 8) {
			__m256 i = sigmoid8(_mm256_loadu_ps(gi + j)), f = sigmoid8(_mm256_loadu_ps(gf + j));
			__m256 gg = tanh8(_mm256_loadu_ps(gg_ + j)), o = sigmoid8(_mm256_loadu_ps(go + j));
			_mm256_storeu_ps(gi + j, i); _mm256_storeu_ps(gf + j, f);
			_mm256_storeu_ps(gg_ + j, gg); _mm256_storeu_ps(go + j, o);
			__m256 cc = _mm256_fmadd_ps(f, _mm256_loadu_ps(cp + j), _mm256_mul_ps(i, gg));
			__m256 t = tanh8(cc);
			_mm256_storeu_ps(cr + j, cc); _mm256_storeu_ps(tr + j, t); _mm256_storeu_ps(hr + j, _mm256_mul_ps(o, t));
		}
		lstm_row(gi, gf, gg_, go, cp, cr, tr, hr, j, H);
	}
}

__attribute__((target("avx2,fma")))
static void adam_avx2(float *w, float *g, float *m, float *v, long n,
                      float lr, float b1, float b2, float isc2, float eps) {
	__m256 vb1 = _mm256_set1_ps(b1), vb2 = _mm256_set1_ps(b2), c1 = _mm256_set1_ps(1 - b1), c2 = _mm256_set1_ps(1 - b2);
	__m256 vlr = _mm256_set1_ps(lr), vis = _mm256_set1_ps(isc2), veps = _mm256_set1_ps(eps), zero = _mm256_setzero_ps();
	long j = 0;
	for (; j + 8 <= n; j += 8) {
		__m256 gj = _mm256_loadu_ps(g + j);
		__m256 mj = _mm256_add_ps(_mm256_mul_ps(vb1, _mm256_loadu_ps(m + j)), _mm256_mul_ps(c1, gj));
		__m256 vj = _mm256_add_ps(_mm256_mul_ps(vb2, _mm256_loadu_ps(v + j)), _mm256_mul_ps(c2, _mm256_mul_ps(gj, gj)));
		_mm256_storeu_ps(m + j, mj);
		_mm256_storeu_ps(v + j, vj);
		__m256 den = _mm256_add_ps(_mm256_mul_ps(_mm256_sqrt_ps(vj), vis), veps);
		_mm256_storeu_ps(w + j, _mm256_sub_ps(_mm256_loadu_ps(w + j), _mm256_div_ps(_mm256_mul_ps(vlr, mj), den)));
		_mm256_storeu_ps(g + j, zero);
	}
	adam_range(w, g, m, v, j, n, lr, b1, b2, isc2, eps);
}

// sigmoid_row_avx2 sets t = exp(−|x|) and y = sigmoid(x) for a whole row,
// eight lanes at a time; other activations then overwrite their slices.
__attribute__((target("avx2,fma")))
static void sigmoid_row_avx2(const float *x, float *t, float *y, long n) {
	__m256 sign = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
	long j = 0;
	for (; j + 8 <= n; j += 8) {
		__m256 v = _mm256_loadu_ps(x + j);
		__m256 e = exp8(_mm256_or_ps(v, sign)); // exp(−|x|)
		__m256 d = _mm256_div_ps(one, _mm256_add_ps(one, e));
		__m256 neg = _mm256_cmp_ps(v, zero, _CMP_LT_OQ);
		_mm256_storeu_ps(t + j, e);
		_mm256_storeu_ps(y + j, _mm256_blendv_ps(d, _mm256_mul_ps(e, d), neg));
	}
	for (; j < n; j++) {
		t[j] = fexp(-fabsf(x[j]));
		float d = 1.0f / (1.0f + t[j]);
		y[j] = x[j] >= 0 ? d : t[j] * d;
	}
}

static int have_avx2(void);

// act_rows applies per-slice activations (0 softmax, 1 sigmoid, 2 tanh, as
// tensor.Activation) to rows of width w. Sigmoid and tanh come from
// t = exp(−|x|), computed for the whole row at once and stable both ways.
static void act_rows_f32(const float *x, float *y, long rows, long w, long ns,
                         const int *off, const int *wid, const int *act, float *t) {
	int avx = have_avx2();
	for (long r = 0; r < rows; r++) {
		const float *xr = x + r * w;
		float *yr = y + r * w;
		if (avx) {
			sigmoid_row_avx2(xr, t, yr, w);
		} else {
			for (long j = 0; j < w; j++) t[j] = fexp(-fabsf(xr[j]));
		}
		for (long s = 0; s < ns; s++) {
			const float *xs = xr + off[s];
			float *ys = yr + off[s], *ts = t + off[s];
			long n = wid[s];
			switch (act[s]) {
			case 0: {
				if (n == 2) { // one exponential: p = sigmoid(x0 − x1)
					float d = xs[0] - xs[1], e = fexp(-fabsf(d)), big = 1.0f / (1.0f + e);
					ys[d >= 0 ? 0 : 1] = big;
					ys[d >= 0 ? 1 : 0] = e * big;
					break;
				}
				float m = xs[0], sum = 0;
				for (long j = 1; j < n; j++) m = xs[j] > m ? xs[j] : m;
				for (long j = 0; j < n; j++) { ys[j] = fexp(xs[j] - m); sum += ys[j]; }
				float inv = 1.0f / sum;
				for (long j = 0; j < n; j++) ys[j] *= inv;
				break;
			}
			case 1:
				if (avx) break; // done for the whole row
				for (long j = 0; j < n; j++) {
					float d = 1.0f / (1.0f + ts[j]);
					ys[j] = xs[j] >= 0 ? d : ts[j] * d;
				}
				break;
			default:
				for (long j = 0; j < n; j++) {
					float t2 = ts[j] * ts[j];
					float v = (1.0f - t2) / (1.0f + t2);
					ys[j] = xs[j] >= 0 ? v : -v;
				}
			}
		}
	}
}

static int have_avx2(void) {
	static int cached = -1;
	if (cached < 0) {
		__builtin_cpu_init();
		cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
	}
	return cached;
}

static void adam_f32(float *w, float *g, float *m, float *v, long n,
                     float lr, float b1, float b2, float isc2, float eps) {
	if (have_avx2()) {
		adam_avx2(w, g, m, v, n, lr, b1, b2, isc2, eps);
	} else {
		adam_range(w, g, m, v, 0, n, lr, b1, b2, isc2, eps);
	}
}

static void lstm_cell_f32(float *gates, long ldg, const float *cprev, long ldc,
                          float *c, float *tc, float *h, long ldo, long n, long H) {
	if (have_avx2()) {
		lstm_cell_avx2(gates, ldg, cprev, ldc, c, tc, h, ldo, n, H);
		return;
	}
	for (long r = 0; r < n; r++) {
		float *gi = gates + r * ldg;
		lstm_row(gi, gi + H, gi + 2 * H, gi + 3 * H, cprev + r * ldc, c + r * ldo, tc + r * ldo, h + r * ldo, 0, H);
	}
}
*/
import "C"

import "unsafe"

// adamF32 is the Adam update in C: vectorised sqrt and division make it
// several times faster than the scalar Go loop, which cost ~10% of an
// iteration.
func adamF32(w, g, m, v []float32, lr, b1, b2, isc2, eps float32) {
	if len(g) == 0 {
		return
	}
	C.adam_f32((*C.float)(unsafe.Pointer(&w[0])), (*C.float)(unsafe.Pointer(&g[0])),
		(*C.float)(unsafe.Pointer(&m[0])), (*C.float)(unsafe.Pointer(&v[0])), C.long(len(g)),
		C.float(lr), C.float(b1), C.float(b2), C.float(isc2), C.float(eps))
}

// lstmCellF32 is the LSTM cell in C: its five exponentials per unit were
// half of generation time in Go.
func lstmCellF32(gates []float32, ldg int, cprev []float32, ldc int, c, tc, h []float32, ldo, n, H int) {
	if n == 0 {
		return
	}
	C.lstm_cell_f32((*C.float)(unsafe.Pointer(&gates[0])), C.long(ldg), (*C.float)(unsafe.Pointer(&cprev[0])), C.long(ldc),
		(*C.float)(unsafe.Pointer(&c[0])), (*C.float)(unsafe.Pointer(&tc[0])), (*C.float)(unsafe.Pointer(&h[0])),
		C.long(ldo), C.long(n), C.long(H))
}

// actRowsF32 is activateRows in C; in Go it was a third of generation time.
func actRowsF32(x []float32, rows, w int, sl []slice, y []float32) {
	if rows == 0 {
		return
	}
	off, wid, act := make([]C.int, len(sl)), make([]C.int, len(sl)), make([]C.int, len(sl))
	for i, s := range sl {
		off[i], wid[i], act[i] = C.int(s.off), C.int(s.width), C.int(s.act)
	}
	tmp := make([]float32, w)
	C.act_rows_f32((*C.float)(unsafe.Pointer(&x[0])), (*C.float)(unsafe.Pointer(&y[0])), C.long(rows), C.long(w),
		C.long(len(sl)), &off[0], &wid[0], &act[0], (*C.float)(unsafe.Pointer(&tmp[0])))
}
