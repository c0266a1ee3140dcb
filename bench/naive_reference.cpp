//===- naive_reference.cpp - Plain sequential LiZA loops, for comparison --===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// The baseline of bench/run_cpu.py: the recurrent operator and the whole
// linear branch written as the straightforward sequential loops a user would
// write from SEMANTICS.md, compiled with -O3. It times itself on
// deterministic inputs of the given shape and prints one line:
//   <milliseconds> <checksum>
//
//   naive-reference operator B H S d n
//   naive-reference branch   B S D H Hkv n
//
//===----------------------------------------------------------------------===//

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

/// Deterministic pseudo-random values in [-0.5, 0.5).
std::vector<float> filled(size_t size, unsigned seed) {
  std::vector<float> values(size);
  unsigned state = seed * 2654435761u + 1;
  for (float &value : values) {
    state = state * 1664525u + 1013904223u;
    value = static_cast<float>(state >> 8) / 16777216.0f - 0.5f;
  }
  return values;
}

/// The recurrent operator for one head (α = 1): over virtual tokens,
/// u = β ⊙ v − Sᵀ(β ⊙ k), S += k uᵀ; o_t = Sᵀ q_t after the token's last one.
/// The products run over rows of S (contiguous, so -O3 vectorizes them).
void operatorHead(const float *q, const float *k, const float *v,
                  const float *beta, float *out, int seq, int dim, int order) {
  std::vector<float> state(static_cast<size_t>(dim) * dim, 0.0f);
  std::vector<float> w(dim), u(dim);
  for (int t = 0; t < seq; ++t) {
    const float *b = beta + static_cast<size_t>(t) * dim;
    for (int j = 0; j < order; ++j) {
      const float *kj = k + (static_cast<size_t>(t) * order + j) * dim;
      const float *vj = v + (static_cast<size_t>(t) * order + j) * dim;
      for (int a = 0; a < dim; ++a)
        w[a] = b[a] * kj[a];
      for (int e = 0; e < dim; ++e)
        u[e] = b[e] * vj[e];
      for (int a = 0; a < dim; ++a)
        for (int e = 0; e < dim; ++e)
          u[e] -= state[a * dim + e] * w[a];
      for (int a = 0; a < dim; ++a)
        for (int e = 0; e < dim; ++e)
          state[a * dim + e] += kj[a] * u[e];
    }
    const float *qt = q + static_cast<size_t>(t) * dim;
    float *ot = out + static_cast<size_t>(t) * dim;
    for (int e = 0; e < dim; ++e)
      ot[e] = 0.0f;
    for (int a = 0; a < dim; ++a)
      for (int e = 0; e < dim; ++e)
        ot[e] += state[a * dim + e] * qt[a];
  }
}

int runOperator(int batch, int heads, int seq, int dim, int order) {
  size_t tokens = static_cast<size_t>(batch) * heads * seq;
  std::vector<float> q = filled(tokens * dim, 1),
                     beta = filled(tokens * dim, 2);
  std::vector<float> k = filled(tokens * order * dim, 3);
  // Unit keys and write strengths in (0, 1), as the feature map and the
  // sigmoid gates produce, keep the recurrence bounded.
  for (float &value : beta)
    value += 0.5f;
  for (size_t row = 0; row < tokens * order; ++row) {
    float norm = 0.0f;
    for (int c = 0; c < dim; ++c)
      norm += k[row * dim + c] * k[row * dim + c];
    for (int c = 0; c < dim; ++c)
      k[row * dim + c] /= std::sqrt(norm);
  }
  std::vector<float> v = filled(tokens * order * dim, 4);
  std::vector<float> out(tokens * dim);
  auto start = Clock::now();
  for (int bh = 0; bh < batch * heads; ++bh) {
    size_t token = static_cast<size_t>(bh) * seq;
    operatorHead(q.data() + token * dim, k.data() + token * order * dim,
                 v.data() + token * order * dim, beta.data() + token * dim,
                 out.data() + token * dim, seq, dim, order);
  }
  double ms =
      std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  double checksum = 0.0;
  for (float value : out)
    checksum += value;
  std::printf("%.3f %.6g\n", ms, checksum);
  return 0;
}

/// y[s, o] = Σ_i x[s, i] W[o, i] + bias[o].
void linear(const float *x, const float *weight, const float *bias, float *y,
            int rows, int in, int out) {
  for (int s = 0; s < rows; ++s)
    for (int o = 0; o < out; ++o) {
      float sum = bias[o];
      for (int i = 0; i < in; ++i)
        sum += x[static_cast<size_t>(s) * in + i] *
               weight[static_cast<size_t>(o) * in + i];
      y[static_cast<size_t>(s) * out + o] = sum;
    }
}

/// The delta_product linear branch (order n, dt trick, α = 1, β = σ(pool(k)))
/// of one sequence: projections, gates, feature map, virtual tokens, the
/// operator per head, RMS head merge and the output projection.
int runBranch(int batch, int seq, int hidden, int heads, int kvHeads,
              int order) {
  int dim = hidden / heads, kvDim = kvHeads * dim, groups = heads / kvHeads;
  std::vector<float> x = filled(static_cast<size_t>(batch) * seq * hidden, 1);
  std::vector<float> wq = filled(static_cast<size_t>(hidden) * hidden, 2);
  std::vector<float> wk = filled(static_cast<size_t>(kvDim) * hidden, 3);
  std::vector<float> wv = filled(static_cast<size_t>(kvDim) * hidden, 4);
  std::vector<float> wo = filled(static_cast<size_t>(hidden) * hidden, 5);
  std::vector<float> bq(hidden, 0.0f), bk(kvDim, 0.0f), bo(hidden, 0.0f);
  std::vector<float> out(static_cast<size_t>(batch) * seq * hidden);
  auto start = Clock::now();
  std::vector<float> q(static_cast<size_t>(seq) * hidden),
      k(static_cast<size_t>(seq) * kvDim), v(k.size());
  std::vector<float> qh(static_cast<size_t>(seq) * dim), beta(qh.size()),
      kh(static_cast<size_t>(seq) * order * dim), vh(kh.size()),
      y(static_cast<size_t>(seq) * hidden), head(qh.size());
  float dtCoefficient = std::ldexp(1.0f, -(order - 1));
  for (int b = 0; b < batch; ++b) {
    const float *xb = x.data() + static_cast<size_t>(b) * seq * hidden;
    linear(xb, wq.data(), bq.data(), q.data(), seq, hidden, hidden);
    linear(xb, wk.data(), bk.data(), k.data(), seq, hidden, kvDim);
    linear(xb, wv.data(), bk.data(), v.data(), seq, hidden, kvDim);
    for (int h = 0; h < heads; ++h) {
      int kvh = h / groups;
      for (int t = 0; t < seq; ++t) {
        // β = σ(causal mean of k), q̂ and k̂ = silu then L2, v̂ = v/√d.
        auto row = [&](const std::vector<float> &m, int tt, int width,
                       int offset) {
          return m.data() + static_cast<size_t>(tt < 0 ? 0 : tt) * width +
                 offset;
        };
        const float *k0 = row(k, t, kvDim, kvh * dim);
        const float *k1 = row(k, t - 1, kvDim, kvh * dim);
        const float *k2 = row(k, t - 2, kvDim, kvh * dim);
        float qNorm = 0.0f, kNorm = 0.0f;
        std::vector<float> sq(dim), sk(dim);
        for (int c = 0; c < dim; ++c) {
          float pooled = (k0[c] + k1[c] + k2[c]) / 3.0f;
          beta[static_cast<size_t>(t) * dim + c] =
              1.0f / (1.0f + std::exp(-pooled));
          float qc = q[static_cast<size_t>(t) * hidden + h * dim + c];
          sq[c] = qc / (1.0f + std::exp(-qc));
          sk[c] = k0[c] / (1.0f + std::exp(-k0[c]));
          qNorm += sq[c] * sq[c];
          kNorm += sk[c] * sk[c];
        }
        qNorm = std::fmax(std::sqrt(qNorm), 1e-6f);
        kNorm = std::fmax(std::sqrt(kNorm), 1e-6f);
        for (int c = 0; c < dim; ++c) {
          qh[static_cast<size_t>(t) * dim + c] = sq[c] / qNorm;
          for (int j = 0; j < order; ++j) {
            // dt: e_{t,j} = c_{n−1−j} x_{t−j} (±2^{1−n} for n ≤ 2).
            int lag = t - j;
            float sign = ((order - 1 - j) % 2) ? -1.0f : 1.0f;
            size_t at = (static_cast<size_t>(t) * order + j) * dim + c;
            if (lag < 0) {
              kh[at] = vh[at] = 0.0f;
              continue;
            }
            const float *kl = row(k, lag, kvDim, kvh * dim);
            const float *vl = row(v, lag, kvDim, kvh * dim);
            float kc = kl[c] / (1.0f + std::exp(-kl[c]));
            float klNorm = 0.0f;
            for (int e = 0; e < dim; ++e) {
              float s = kl[e] / (1.0f + std::exp(-kl[e]));
              klNorm += s * s;
            }
            kh[at] =
                sign * dtCoefficient * kc / std::fmax(std::sqrt(klNorm), 1e-6f);
            vh[at] = sign * dtCoefficient * vl[c] /
                     std::sqrt(static_cast<float>(dim));
          }
        }
      }
      operatorHead(qh.data(), kh.data(), vh.data(), beta.data(), head.data(),
                   seq, dim, order);
      for (int t = 0; t < seq; ++t)
        for (int c = 0; c < dim; ++c)
          y[static_cast<size_t>(t) * hidden + h * dim + c] =
              head[static_cast<size_t>(t) * dim + c];
    }
    for (int t = 0; t < seq; ++t) {
      float *yt = y.data() + static_cast<size_t>(t) * hidden;
      float mean = 0.0f;
      for (int c = 0; c < hidden; ++c)
        mean += yt[c] * yt[c];
      float scale = 1.0f / std::sqrt(mean / hidden + 1e-6f);
      for (int c = 0; c < hidden; ++c)
        yt[c] *= scale;
    }
    linear(y.data(), wo.data(), bo.data(),
           out.data() + static_cast<size_t>(b) * seq * hidden, seq, hidden,
           hidden);
  }
  double ms =
      std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  double checksum = 0.0;
  for (float value : out)
    checksum += value;
  std::printf("%.3f %.6g\n", ms, checksum);
  return 0;
}

int usage() {
  std::fprintf(stderr, "usage: naive-reference operator B H S d n\n"
                       "       naive-reference branch B S D H Hkv n\n");
  return 2;
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 2)
    return usage();
  std::string mode = argv[1];
  std::vector<int> args;
  for (int i = 2; i < argc; ++i)
    args.push_back(std::atoi(argv[i]));
  if (mode == "operator" && args.size() == 5)
    return runOperator(args[0], args[1], args[2], args[3], args[4]);
  if (mode == "branch" && args.size() == 6)
    return runBranch(args[0], args[1], args[2], args[3], args[4], args[5]);
  return usage();
}
