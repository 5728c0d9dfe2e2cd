// nnkit's native program: many optimizer steps of a small fully connected network in one call.
//
// The same mathematics as nnkit.maths.network's whole-network step, written as the article
// tells it, one sample at a time: the forward pass keeps every unit's weighted sum and value,
// the cost's derivative is the error at the output, the error walks back through each layer
// (multiplied by its activation's derivative), and every weight and bias gathers its
// correction; after each minibatch the optimizer (SGD or Adam, as torch defines them) moves the
// weights. No tensor library is called: for networks of a few units, each of torch's
// operations costs more to dispatch than the arithmetic it does.
//
// Built by nnkit.native.build with -ffp-contract=off, so that no multiply-add is fused and the
// results are the same on every x86-64 machine, with or without FMA.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <poll.h>
#include <vector>

namespace {

constexpr int kMaxLayers = 32;

// The program's activations and costs, each with the name Python knows it by (a Pair's or a
// LossPair's ``native``): the enums and the names nnkit_activation_names and nnkit_loss_names
// give nnkit.native.program are both made from these lists, so no order is written twice.
#define NNKIT_ACTIVATIONS(X) \
  X(kIdentity, "identity") X(kRelu, "relu") X(kSigmoid, "sigmoid") \
  X(kStepIdentity, "step_identity") X(kStepClipped, "step_clipped") X(kStepNone, "step_none") \
  X(kTanh, "tanh") X(kLeakyRelu, "leaky_relu") X(kElu, "elu") X(kSoftplus, "softplus") \
  X(kSilu, "silu") X(kGelu, "gelu") X(kMish, "mish") X(kSine, "sine")
#define NNKIT_LOSSES(X) X(kMse, "mse") X(kBce, "bce") X(kCrossEntropy, "cross_entropy")
#define NNKIT_ENUM_VALUE(id, name) id,
#define NNKIT_NAME(id, name) name ","

enum Activation : int32_t { NNKIT_ACTIVATIONS(NNKIT_ENUM_VALUE) };
enum Loss : int32_t { NNKIT_LOSSES(NNKIT_ENUM_VALUE) };
enum Optimizer : int32_t { kSgd, kAdam, kAdamW };
enum Penalty : int32_t { kNoPenalty, kL1, kL2 };
enum Norm : int32_t { kNoNorm, kLayerNorm, kBatchNorm };

}  // namespace

extern "C" {

// What one call trains: mirrored field for field by nnkit.native.program.Spec.
struct Spec {
  int32_t layers;      // linear layers (hidden layers + the output layer)
  int32_t replicas;    // networks trained side by side, each on its own batches
  int32_t loss;        // Loss
  int32_t mean;        // 1: the cost is a mean, 0: a sum
  int32_t squash;      // 1: a sigmoid on the output before the cost
  int32_t optimizer;   // Optimizer
  int32_t steps;       // optimizer steps in this call
  int32_t rows;        // rows of x per replica: every step's batch, one after the other
  int32_t penalty;     // Penalty: regularization of the weights (not the biases)
  int32_t widths[kMaxLayers + 1];
  int32_t activations[kMaxLayers];
  double arguments[kMaxLayers];  // each hidden activation's one number (slope, alpha)
  double lr, beta1, beta2, eps, weight_decay, momentum;
  double adam_step;    // Adam's step count before this call
  double penalty_rate;
  const double* lrs;   // each step's learning rate (a schedule's), or nullptr: lr for all
  int32_t norms[kMaxLayers];     // each hidden layer's Norm
  int32_t residual[kMaxLayers];  // 1: the hidden layer adds its input to its output
  double norm_eps, norm_momentum;  // the normalizations' ε, batch normalization's momentum
  const void* masks;   // each training row's dropout masks (every hidden unit, layer after
                       // layer; replica after replica, as x's rows), or nullptr: no dropout
};

}  // extern "C"

namespace {

inline double sigmoid(double x) {
  const double e = std::exp(-std::fabs(x));
  return x >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
}

// tanh in float32 through double precision's exp: the correctly rounded value but for about
// one input in ten million (libm's tanhf misses one in seven), at two thirds of its cost.
inline float tanh_of(float x) {
  if (std::fabs(x) < 1e-3f) return std::tanh(x);  // 1 - 2/(e + 1) loses x's digits near 0
  return float(1.0 - 2.0 / (std::exp(2.0 * double(x)) + 1.0));
}
inline double tanh_of(double x) { return std::tanh(x); }

inline double softplus(double x) { return std::fmax(x, 0.0) + std::log1p(std::exp(-std::fabs(x))); }

template <typename T>
inline T activate(int32_t kind, T x, double arg) {
  switch (kind) {
    case kRelu: return x > 0 ? x : T(0);
    case kSigmoid: return T(sigmoid(x));
    case kStepIdentity: case kStepClipped: case kStepNone: return x >= 0 ? T(1) : T(0);
    case kTanh: return tanh_of(x);
    case kLeakyRelu: return x > 0 ? x : T(x * arg);
    case kElu: return x > 0 ? x : T(arg * std::expm1(x));
    case kSoftplus: return T(softplus(x));
    case kSilu: return T(x * sigmoid(x));
    case kGelu: return T(x * 0.5 * (1.0 + std::erf(x * M_SQRT1_2)));
    case kMish: return T(x * std::tanh(softplus(x)));
    case kSine: return std::sin(x);
    default: return x;
  }
}

// df/dx at the weighted sum x, whose activation is y.
template <typename T>
inline T slope(int32_t kind, T x, T y, double arg) {
  switch (kind) {
    case kRelu: return y > 0 ? T(1) : T(0);
    case kSigmoid: return y * (T(1) - y);
    case kStepClipped: return std::fabs(x) <= 1 ? T(1) : T(0);
    case kStepNone: return T(0);
    case kTanh: return T(1) - y * y;
    case kLeakyRelu: return x > 0 ? T(1) : T(arg);
    case kElu: return x > 0 ? T(1) : T(arg * std::exp(x));
    case kSoftplus: return T(sigmoid(x));
    case kSilu: { const double s = sigmoid(x); return T(s * (1.0 + x * (1.0 - s))); }
    case kGelu: {
      const double cdf = 0.5 * (1.0 + std::erf(x * M_SQRT1_2));
      return T(cdf + x * (0.5 * M_2_SQRTPI * M_SQRT1_2) * std::exp(-0.5 * x * x));
    }
    case kMish: { const double u = std::tanh(softplus(x)); return T(u + x * (1.0 - u * u) * sigmoid(x)); }
    case kSine: return std::cos(x);
    default: return T(1);  // identity, and the step's identity estimator
  }
}

// One replica's network: its weights, Adam's moments and the gradients, layer by layer; for a
// normalized hidden layer its scale and shift (with theirs) and batch normalization's running
// statistics (nullptr where the layer has none).
template <typename T>
struct Net {
  T* weight[kMaxLayers]; T* bias[kMaxLayers];
  T* grad_w[kMaxLayers]; T* grad_b[kMaxLayers];
  T* m_w[kMaxLayers]; T* m_b[kMaxLayers];  // Adam's first moments, or SGD's momentum
  T* v_w[kMaxLayers]; T* v_b[kMaxLayers];  // Adam's second moments
  T* gamma[kMaxLayers]; T* beta[kMaxLayers];
  T* grad_gamma[kMaxLayers]; T* grad_beta[kMaxLayers];
  T* m_gamma[kMaxLayers]; T* m_beta[kMaxLayers];
  T* v_gamma[kMaxLayers]; T* v_beta[kMaxLayers];
  T* running_mean[kMaxLayers]; T* running_var[kMaxLayers];
};

// The tensors of a parameter array (the weights, or the gradients, or a moment): W, b of every
// layer, then γ, β of every normalized hidden layer; in the weights' array, the running mean
// and variance of every batch-normalized layer after them.
int normalized(const Spec& s) {
  int count = 0;
  for (int l = 0; l + 1 < s.layers; ++l) count += s.norms[l] != kNoNorm;
  return count;
}

int tensors(const Spec& s, bool with_running) {
  int count = 2 * s.layers + 2 * normalized(s);
  if (with_running) {
    for (int l = 0; l + 1 < s.layers; ++l) count += 2 * (s.norms[l] == kBatchNorm);
  }
  return count;
}

// The width (per replica) of each tensor of a parameter array, in its order.
std::vector<int64_t> sizes(const Spec& s, bool with_running) {
  std::vector<int64_t> out;
  for (int l = 0; l < s.layers; ++l) {
    out.push_back(int64_t(s.widths[l]) * s.widths[l + 1]);
    out.push_back(s.widths[l + 1]);
  }
  for (int l = 0; l + 1 < s.layers; ++l) {
    if (s.norms[l] != kNoNorm) { out.push_back(s.widths[l + 1]); out.push_back(s.widths[l + 1]); }
  }
  for (int l = 0; with_running && l + 1 < s.layers; ++l) {
    if (s.norms[l] == kBatchNorm) { out.push_back(s.widths[l + 1]); out.push_back(s.widths[l + 1]); }
  }
  return out;
}

template <typename T>
Net<T> replica(const Spec& s, int r, T** params, T** grads, T** first, T** second) {
  Net<T> net{};
  for (int l = 0; l < s.layers; ++l) {
    const int64_t out = s.widths[l + 1], n = out * s.widths[l];
    net.weight[l] = params[2 * l] + r * n;
    net.bias[l] = params[2 * l + 1] + r * out;
    net.grad_w[l] = grads[2 * l] + r * n;
    net.grad_b[l] = grads[2 * l + 1] + r * out;
    if (first) { net.m_w[l] = first[2 * l] + r * n; net.m_b[l] = first[2 * l + 1] + r * out; }
    if (second) { net.v_w[l] = second[2 * l] + r * n; net.v_b[l] = second[2 * l + 1] + r * out; }
  }
  int at = 2 * s.layers, running = tensors(s, false);
  for (int l = 0; l + 1 < s.layers; ++l) {
    if (s.norms[l] == kNoNorm) continue;
    const int64_t offset = int64_t(r) * s.widths[l + 1];
    net.gamma[l] = params[at] + offset; net.beta[l] = params[at + 1] + offset;
    net.grad_gamma[l] = grads[at] + offset; net.grad_beta[l] = grads[at + 1] + offset;
    if (first) { net.m_gamma[l] = first[at] + offset; net.m_beta[l] = first[at + 1] + offset; }
    if (second) { net.v_gamma[l] = second[at] + offset; net.v_beta[l] = second[at + 1] + offset; }
    at += 2;
    if (s.norms[l] == kBatchNorm) {
      net.running_mean[l] = params[running] + offset;
      net.running_var[l] = params[running + 1] + offset;
      running += 2;
    }
  }
  return net;
}

// Every value of a block of rows, layer by layer (row i of a layer's array at i · width):
// each layer's input a, weighted sum z; for a hidden layer its normalized sum x̂ (with the
// reciprocal standard deviations: one per row for layer normalization, one per unit for batch
// normalization), the activation's input u and output y.
template <typename T>
struct Rows {
  int64_t capacity = 0;
  std::vector<T> store;
  T* a[kMaxLayers + 1]; T* z[kMaxLayers]; T* xhat[kMaxLayers]; T* u[kMaxLayers];
  T* y[kMaxLayers]; T* rstd[kMaxLayers];
  T* error; T* carried; T* above;  // the backward pass's dL/dz, dL/da, and dL/da of the layer above
  bool evaluating = false;  // the last forward pass's: batch normalization by its running statistics

  Rows(const Spec& s, int64_t n) : capacity(n) {
    int64_t total = 0, widest = 0;
    for (int l = 0; l <= s.layers; ++l) widest = widest > s.widths[l] ? widest : s.widths[l];
    for (int l = 0; l < s.layers; ++l) total += s.widths[l] + 5 * int64_t(s.widths[l + 1]);
    store.assign(n * (total + 3 * widest) + n + widest * s.layers + 64, T(0));
    T* cursor = store.data();
    auto take = [&](int64_t count) { T* p = cursor; cursor += count; return p; };
    for (int l = 0; l < s.layers; ++l) {
      const int64_t out = s.widths[l + 1];
      a[l] = take(n * s.widths[l]); z[l] = take(n * out); xhat[l] = take(n * out);
      u[l] = take(n * out); y[l] = take(n * out); rstd[l] = take(n > out ? n : out);
    }
    error = take(n * widest); carried = take(n * widest); above = take(n * widest);
  }
};

// The program's normalizations: μ and σ² of the values at `values[i · step]` (count of them),
// then x̂ = (v − μ) · r with r = 1 / sqrt(σ² + ε); the biased σ² returned through var.
template <typename T>
T normalize(const T* values, int64_t count, int64_t step, double eps, T* xhat, T& mean_out, T& var_out) {
  T mean = 0, var = 0;
  for (int64_t i = 0; i < count; ++i) mean += values[i * step];
  mean = mean / T(count);
  for (int64_t i = 0; i < count; ++i) { const T d = values[i * step] - mean; var += d * d; }
  var = var / T(count);
  const T r = T(1) / std::sqrt(var + T(eps));
  for (int64_t i = 0; i < count; ++i) xhat[i * step] = (values[i * step] - mean) * r;
  mean_out = mean; var_out = var;
  return r;
}

// A hidden layer's normalization of its weighted sums z into u = γ · x̂ + β, for n rows: layer
// normalization row by row, batch normalization unit by unit over the rows (in training, with
// its running statistics moved as nn.BatchNorm1d moves them), or with those statistics.
template <typename T>
void normalize_layer(const Spec& s, const Net<T>& net, int l, Rows<T>& b, int64_t n, bool training) {
  const int out = s.widths[l + 1];
  T* z = b.z[l]; T* xhat = b.xhat[l]; T* u = b.u[l]; T* rstd = b.rstd[l];
  T mean, var;
  if (s.norms[l] == kLayerNorm) {
    for (int64_t i = 0; i < n; ++i) rstd[i] = normalize(z + i * out, out, 1, s.norm_eps, xhat + i * out, mean, var);
  } else if (training) {
    const T m = T(s.norm_momentum);
    for (int j = 0; j < out; ++j) {
      rstd[j] = normalize(z + j, n, out, s.norm_eps, xhat + j, mean, var);
      net.running_mean[l][j] = (T(1) - m) * net.running_mean[l][j] + m * mean;
      net.running_var[l][j] = (T(1) - m) * net.running_var[l][j] + m * (var * T(double(n) / double(n - 1)));
    }
  } else {
    for (int j = 0; j < out; ++j) {
      rstd[j] = T(1) / std::sqrt(net.running_var[l][j] + T(s.norm_eps));
      for (int64_t i = 0; i < n; ++i) xhat[i * out + j] = (z[i * out + j] - net.running_mean[l][j]) * rstd[j];
    }
  }
  for (int64_t i = 0; i < n; ++i) {
    for (int j = 0; j < out; ++j) u[i * out + j] = xhat[i * out + j] * net.gamma[l][j] + net.beta[l][j];
  }
}

// A linear layer's three loops over its inputs — the weighted sums, the weights' corrections
// gathered, the error carried back to the inputs — with the width known at compile time for
// networks of a few units (In > 0), so that the compiler unrolls the innermost loop; every sum
// runs in the loop's own order, whatever the width.
template <typename T, int In>
struct Kernels {
  static void sums(const T* w, const T* bias, const T* a, int64_t n, int in, int out, T* z) {
    const int width = In ? In : in;
    for (int64_t i = 0; i < n; ++i) {
      const T* row = a + i * width;
      for (int j = 0; j < out; ++j) {
        const T* wj = w + int64_t(j) * width;
        T sum = 0;
        for (int k = 0; k < width; ++k) sum += wj[k] * row[k];
        z[i * out + j] = sum + bias[j];
      }
    }
  }

  static void gather(const T* error, const T* a, int64_t n, int in, int out, T* grad_w, T* grad_b) {
    const int width = In ? In : in;
    for (int64_t i = 0; i < n; ++i) {
      const T* row = a + i * width;
      for (int j = 0; j < out; ++j) {
        T* g = grad_w + int64_t(j) * width;
        const T e = error[i * out + j];
        for (int k = 0; k < width; ++k) g[k] += e * row[k];
        grad_b[j] += e;
      }
    }
  }

  static void carry(const T* w, const T* error, int64_t n, int in, int out, T* carried) {
    const int width = In ? In : in;
    for (int64_t i = 0; i < n; ++i) {
      T* c = carried + i * width; const T* e = error + i * out;
      for (int k = 0; k < width; ++k) c[k] = 0;
      for (int j = 0; j < out; ++j) {
        const T* wj = w + int64_t(j) * width;
        for (int k = 0; k < width; ++k) c[k] += e[j] * wj[k];
      }
    }
  }
};

// Kernels<T, in> where in is a width of a few units, else Kernels<T, 0> (any width).
#define NNKIT_BY_WIDTH(in, KERNEL, ...) \
  switch (in) { \
    case 1: return Kernels<T, 1>::KERNEL(__VA_ARGS__); case 2: return Kernels<T, 2>::KERNEL(__VA_ARGS__); \
    case 3: return Kernels<T, 3>::KERNEL(__VA_ARGS__); case 4: return Kernels<T, 4>::KERNEL(__VA_ARGS__); \
    case 5: return Kernels<T, 5>::KERNEL(__VA_ARGS__); case 6: return Kernels<T, 6>::KERNEL(__VA_ARGS__); \
    case 7: return Kernels<T, 7>::KERNEL(__VA_ARGS__); case 8: return Kernels<T, 8>::KERNEL(__VA_ARGS__); \
    default: return Kernels<T, 0>::KERNEL(__VA_ARGS__); \
  }

template <typename T>
void weighted_sums(const T* w, const T* bias, const T* a, int64_t n, int in, int out, T* z) {
  NNKIT_BY_WIDTH(in, sums, w, bias, a, n, in, out, z)
}

template <typename T>
void gather(const T* error, const T* a, int64_t n, int in, int out, T* grad_w, T* grad_b) {
  NNKIT_BY_WIDTH(in, gather, error, a, n, in, out, grad_w, grad_b)
}

template <typename T>
void carry(const T* w, const T* error, int64_t n, int in, int out, T* carried) {
  NNKIT_BY_WIDTH(in, carry, w, error, n, in, out, carried)
}

// Every unit's value for n rows of input x (n · widths[0]); masks: each row's dropout masks
// (the hidden units of every layer, one after another), or nullptr. The outputs are z[layers-1].
template <typename T>
void forward(const Spec& s, const Net<T>& net, const T* x, int64_t n, const T* masks, bool training,
             Rows<T>& b) {
  std::memcpy(b.a[0], x, sizeof(T) * n * s.widths[0]);
  b.evaluating = !training;
  int64_t units = 0, unit_at = 0;
  for (int l = 0; l + 1 < s.layers; ++l) units += s.widths[l + 1];
  for (int l = 0; l < s.layers; ++l) {
    const int in = s.widths[l], out = s.widths[l + 1];
    weighted_sums(net.weight[l], net.bias[l], b.a[l], n, in, out, b.z[l]);
    if (l + 1 == s.layers) break;
    const T* u = b.z[l];
    if (s.norms[l] != kNoNorm) { normalize_layer(s, net, l, b, n, training); u = b.u[l]; }
    for (int64_t i = 0; i < n; ++i) {
      const T* mask = masks ? masks + i * units + unit_at : nullptr;
      for (int j = 0; j < out; ++j) {
        const T y = activate(s.activations[l], u[i * out + j], s.arguments[l]);
        b.y[l][i * out + j] = y;
        const T h = mask ? y * mask[j] : y;
        b.a[l + 1][i * out + j] = s.residual[l] ? b.a[l][i * in + j] + h : h;
      }
    }
    unit_at += out;
  }
}

// The cost of one sample's output and its derivative there (into error), before the division
// by the batch's count.
template <typename T>
double cost_and_error(const Spec& s, const T* output, const T* dense, int64_t label, T* error) {
  const int out = s.widths[s.layers];
  double cost = 0;
  if (s.loss == kCrossEntropy) {
    double top = output[0];
    for (int j = 1; j < out; ++j) top = std::fmax(top, double(output[j]));
    double total = 0;
    for (int j = 0; j < out; ++j) total += std::exp(output[j] - top);
    for (int j = 0; j < out; ++j) error[j] = T(std::exp(output[j] - top) / total) - (j == label);
    return top + std::log(total) - output[label];
  }
  for (int j = 0; j < out; ++j) {
    const T t = dense[j];
    if (s.loss == kBce) {
      const T z = output[j];
      cost += softplus(z) - z * t;
      error[j] = T(sigmoid(z)) - t;
      continue;
    }
    const T value = s.squash ? T(sigmoid(output[j])) : output[j];
    const T diff = value - t;
    cost += diff * diff;
    error[j] = T(2) * diff;
    if (s.squash) error[j] = error[j] * value * (T(1) - value);
  }
  return cost;
}

// dL/dz of hidden layer l for n rows (into b.error) from dL/du (in b.error too): back through
// the normalization, its scale and shift receiving their corrections. With batch
// normalization's running statistics (a step explained after an evaluating pass), dL/dz = r ĝ;
// with the statistics of the values themselves, dL/dz = r (ĝ − mean(ĝ) − x̂ mean(ĝ x̂)), ĝ = g γ, the means over the
// values that share the statistics (a row's units, or a unit's rows).
template <typename T>
void normalize_back(const Spec& s, const Net<T>& net, int l, Rows<T>& b, int64_t n) {
  const int out = s.widths[l + 1];
  T* g = b.error; const T* xhat = b.xhat[l];
  for (int64_t i = 0; i < n; ++i) {
    for (int j = 0; j < out; ++j) {
      net.grad_gamma[l][j] += g[i * out + j] * xhat[i * out + j];
      net.grad_beta[l][j] += g[i * out + j];
      g[i * out + j] = g[i * out + j] * net.gamma[l][j];  // ĝ
    }
  }
  if (s.norms[l] == kBatchNorm && b.evaluating) {  // running statistics: constants, dL/dz = r ĝ
    for (int64_t i = 0; i < n; ++i) {
      for (int j = 0; j < out; ++j) g[i * out + j] = b.rstd[l][j] * g[i * out + j];
    }
    return;
  }
  const bool rows = s.norms[l] == kLayerNorm;  // the statistics of a row, else of a unit
  const int64_t groups = rows ? n : out, count = rows ? out : n, step = rows ? 1 : out;
  for (int64_t k = 0; k < groups; ++k) {
    T* gk = g + (rows ? k * out : k); const T* xk = xhat + (rows ? k * out : k);
    T mean = 0, along = 0;
    for (int64_t i = 0; i < count; ++i) { mean += gk[i * step]; along += gk[i * step] * xk[i * step]; }
    mean = mean / T(count); along = along / T(count);
    const T r = b.rstd[l][k];
    for (int64_t i = 0; i < count; ++i) gk[i * step] = r * (gk[i * step] - mean - xk[i * step] * along);
  }
}

// The corrections of n rows: the error at the outputs (b.error, n · out) walks back to every
// weight and bias; a residual connection adds the error at a layer's output to that at its input.
template <typename T>
void backward(const Spec& s, const Net<T>& net, const T* masks, Rows<T>& b, int64_t n) {
  int64_t units = 0;
  for (int l = 0; l + 1 < s.layers; ++l) units += s.widths[l + 1];
  int64_t unit_at = units;
  for (int l = s.layers - 1; l >= 0; --l) {
    const int in = s.widths[l], out = s.widths[l + 1];
    gather(b.error, b.a[l], n, in, out, net.grad_w[l], net.grad_b[l]);
    if (l == 0) break;
    const int below = l - 1;  // the hidden layer whose output this layer read
    unit_at -= in;
    carry(net.weight[l], b.error, n, in, out, b.carried);
    if (l + 1 < s.layers && s.residual[l]) {
      for (int64_t i = 0; i < n * in; ++i) b.carried[i] += b.above[i];
    }
    std::memcpy(b.above, b.carried, sizeof(T) * n * in);  // dL/da of this layer's input
    const T* u = s.norms[below] != kNoNorm ? b.u[below] : b.z[below];
    for (int64_t i = 0; i < n; ++i) {
      const T* mask = masks ? masks + i * units + unit_at : nullptr;
      for (int k = 0; k < in; ++k) {
        const T g = mask ? b.carried[i * in + k] * mask[k] : b.carried[i * in + k];
        const int64_t at = i * in + k;
        b.error[at] = g * slope(s.activations[below], u[at], b.y[below][at], s.arguments[below]);
      }
    }
    if (s.norms[below] != kNoNorm) normalize_back(s, net, below, b, n);
  }
}

// The penalty's derivative on every weight's gradient: rate · sign(w) (L1) or rate · w (L2).
template <typename T>
void penalise(const Spec& s, const Net<T>& net) {
  const T rate = T(s.penalty_rate);
  for (int l = 0; l < s.layers; ++l) {
    const int64_t n = int64_t(s.widths[l]) * s.widths[l + 1];
    const T* w = net.weight[l];
    T* g = net.grad_w[l];
    for (int64_t i = 0; i < n; ++i) {
      const T slope = s.penalty == kL1 ? T((w[i] > 0) - (w[i] < 0)) : w[i];
      g[i] = g[i] + rate * slope;
    }
  }
}

template <typename T>
void update(const Spec& s, double rate, T* p, T* g, T* m, T* v, int64_t n, double step) {
  const T lr = T(rate), wd = T(s.weight_decay);
  if (s.optimizer == kSgd) {
    for (int64_t i = 0; i < n; ++i) {
      T d = wd != 0 ? g[i] + wd * p[i] : g[i];
      if (s.momentum != 0) {
        m[i] = T(s.momentum) * m[i] + d;  // the buffer exists: torch's first step made it
        d = m[i];
      }
      p[i] -= lr * d;
    }
    return;
  }
  const T b1 = T(s.beta1), b2 = T(s.beta2), eps = T(s.eps);
  const double correction1 = 1 - std::pow(s.beta1, step);
  const double root2 = std::sqrt(1 - std::pow(s.beta2, step));
  const T step_size = T(rate / correction1);
  for (int64_t i = 0; i < n; ++i) {
    T d = g[i];
    if (s.optimizer == kAdamW) p[i] = p[i] * (T(1) - lr * wd);
    else if (wd != 0) d = d + wd * p[i];
    m[i] = b1 * m[i] + (T(1) - b1) * d;
    v[i] = b2 * v[i] + (T(1) - b2) * d * d;
    p[i] -= step_size * (m[i] / (std::sqrt(v[i]) / T(root2) + eps));
  }
}

// Every parameter of a replica moved by the optimizer: each layer's weights and bias, each
// normalization's scale and shift.
template <typename T>
void update_all(const Spec& s, const Net<T>& net, bool first, bool second, double rate, double at) {
  auto pick = [](bool has, T* p) { return has ? p : nullptr; };
  for (int l = 0; l < s.layers; ++l) {
    const int64_t n_w = int64_t(s.widths[l]) * s.widths[l + 1];
    update(s, rate, net.weight[l], net.grad_w[l], pick(first, net.m_w[l]), pick(second, net.v_w[l]), n_w, at);
    update(s, rate, net.bias[l], net.grad_b[l], pick(first, net.m_b[l]), pick(second, net.v_b[l]),
           s.widths[l + 1], at);
    if (l + 1 == s.layers || s.norms[l] == kNoNorm) continue;
    update(s, rate, net.gamma[l], net.grad_gamma[l], pick(first, net.m_gamma[l]),
           pick(second, net.v_gamma[l]), s.widths[l + 1], at);
    update(s, rate, net.beta[l], net.grad_beta[l], pick(first, net.m_beta[l]),
           pick(second, net.v_beta[l]), s.widths[l + 1], at);
  }
}

template <typename T>
void zero_grads(const Spec& s, const Net<T>& net) {
  for (int l = 0; l < s.layers; ++l) {
    std::memset(net.grad_w[l], 0, sizeof(T) * s.widths[l] * s.widths[l + 1]);
    std::memset(net.grad_b[l], 0, sizeof(T) * s.widths[l + 1]);
    if (l + 1 == s.layers || s.norms[l] == kNoNorm) continue;
    std::memset(net.grad_gamma[l], 0, sizeof(T) * s.widths[l + 1]);
    std::memset(net.grad_beta[l], 0, sizeof(T) * s.widths[l + 1]);
  }
}

bool batch_normalized(const Spec& s) {
  for (int l = 0; l + 1 < s.layers; ++l) if (s.norms[l] == kBatchNorm) return true;
  return false;
}

constexpr int64_t kBlock = 16;  // rows a pass takes at once where each row is its own

template <typename T>
void train(const Spec& s, T** params, T** grads, T** first, T** second, const T* x,
           const T* dense, const int64_t* labels, const int64_t* offsets, T* losses, T* outputs) {
  int64_t block = kBlock;  // batch normalization: the whole batch at once
  for (int step = 0; batch_normalized(s) && step < s.steps; ++step) {
    block = std::max(block, offsets[step + 1] - offsets[step]);
  }
  Rows<T> b(s, block);
  const T* masks = static_cast<const T*>(s.masks);
  int64_t units = 0;
  for (int l = 0; l + 1 < s.layers; ++l) units += s.widths[l + 1];
  const int in = s.widths[0], out = s.widths[s.layers];
  std::vector<Net<T>> nets;  // each replica's pointers, found once for every step
  for (int r = 0; r < s.replicas; ++r) nets.push_back(replica(s, r, params, grads, first, second));
  for (int step = 0; step < s.steps; ++step) {
    const int64_t begin = offsets[step], end = offsets[step + 1], n = end - begin;
    const double count = !s.mean ? 1.0 : double(n) * (s.loss == kCrossEntropy ? 1 : out);
    losses[step] = 0;
    for (int r = 0; r < s.replicas; ++r) {
      const Net<T>& net = nets[r];
      zero_grads(s, net);
      double cost = 0;
      for (int64_t start = begin; start < end; start += block) {
        const int64_t rows = std::min(block, end - start), row = int64_t(r) * s.rows + start;
        const T* mask = masks ? masks + row * units : nullptr;
        forward(s, net, x + row * in, rows, mask, true, b);
        const T* output = b.z[s.layers - 1];
        std::memcpy(outputs + row * out, output, sizeof(T) * rows * out);
        for (int64_t i = 0; i < rows; ++i) {
          T* error = b.error + i * out;
          cost += cost_and_error(s, output + i * out, dense ? dense + (row + i) * out : nullptr,
                                 labels ? labels[row + i] : 0, error);
          for (int j = 0; j < out; ++j) error[j] = error[j] / T(count);
        }
        backward(s, net, mask, b, rows);
      }
      losses[step] += T(cost / count);
      if (s.penalty != kNoPenalty && s.penalty_rate > 0) penalise(s, net);
      const double rate = s.lrs ? s.lrs[step] : s.lr;
      update_all(s, net, first != nullptr, second != nullptr, rate, s.adam_step + step + 1);
    }
  }
}

// Every unit's value at each of n points, for one replica: (n, hidden units + outputs), as in
// evaluation (no dropout; batch normalization with its running statistics).
template <typename T>
void maps(const Spec& s, int r, T** params, const T* x, int64_t n, T* values) {
  std::vector<T*> grads(params, params + tensors(s, false));
  Net<T> net = replica<T>(s, r, params, grads.data(), nullptr, nullptr);
  Rows<T> b(s, kBlock);
  int64_t units = 0;
  for (int l = 0; l < s.layers; ++l) units += s.widths[l + 1];
  for (int64_t start = 0; start < n; start += kBlock) {
    const int64_t rows = std::min(kBlock, n - start);
    forward(s, net, x + start * s.widths[0], rows, static_cast<const T*>(nullptr), false, b);
    for (int64_t i = 0; i < rows; ++i) {
      T* into = values + (start + i) * units;
      for (int l = 0; l < s.layers; ++l) {
        const int out = s.widths[l + 1];
        const T* from = l + 1 < s.layers ? b.a[l + 1] : b.z[l];
        std::memcpy(into, from + i * out, sizeof(T) * out);
        into += out;
      }
    }
  }
}

// The tensors of each group (the weights with the running statistics, the optimizer's moments,
// the gradients) copied one after another into `into` (nullptr: only counted); the values written.
template <typename T>
int64_t copy_state(const Spec& s, std::initializer_list<T**> groups, T* into) {
  int64_t at = 0;
  bool weights = true;  // the first group holds the running statistics too
  for (T** group : groups) {
    const std::vector<int64_t> widths = sizes(s, weights);
    weights = false;
    if (!group) continue;
    for (size_t t = 0; t < widths.size(); ++t) {
      if (into) std::memcpy(into + at, group[t], sizeof(T) * widths[t]);
      at += widths[t];
    }
  }
  return at;
}

// A split's cost (as the training steps count it) and raw outputs, for replica r's network.
template <typename T>
double evaluate(const Spec& s, int r, T** params, const T* x, const T* dense,
                const int64_t* labels, int64_t n, T* outputs) {
  std::vector<T*> grads(params, params + tensors(s, false));
  Net<T> net = replica<T>(s, r, params, grads.data(), nullptr, nullptr);
  Rows<T> b(s, kBlock);
  const int in = s.widths[0], out = s.widths[s.layers];
  std::vector<T> error(out);
  double cost = 0;
  for (int64_t start = 0; start < n; start += kBlock) {
    const int64_t rows = std::min(kBlock, n - start);
    forward(s, net, x + start * in, rows, static_cast<const T*>(nullptr), false, b);
    std::memcpy(outputs + start * out, b.z[s.layers - 1], sizeof(T) * rows * out);
    for (int64_t i = 0; i < rows; ++i) {
      cost += cost_and_error(s, b.z[s.layers - 1] + i * out, dense ? dense + (start + i) * out : nullptr,
                             labels ? labels[start + i] : 0, error.data());
    }
  }
  const double count = !s.mean ? 1.0 : double(n) * (s.loss == kCrossEntropy ? 1 : out);
  return cost / count;
}

}  // namespace

extern "C" {

// Several data epochs of one network in one call (nnkit.training.epoch_loop): each epoch's
// training rows in its own order, its optimizer steps, then the validation split's cost and
// outputs, and the state after it kept (so the best epoch's, or an earlier stop's, is at hand).
struct Epochs {
  int64_t count;            // data epochs in this call
  int64_t rows;             // training rows
  int64_t val_rows;         // validation rows
  const int64_t* order;     // count x rows: each epoch's order of the training rows
  const void* x;            // the training split: inputs, dense targets or class labels
  const void* dense;
  const int64_t* labels;
  const void* val_x;        // the validation split, the same way
  const void* val_dense;
  const int64_t* val_labels;
  void* losses;             // count x steps: each step's cost
  void* outputs;            // count x rows x out: the raw outputs, in the epoch's order
  void* val_costs;          // count
  void* val_outputs;        // count x val_rows x out
  void* kept;               // count x state: after each, the weights, the optimizer's
                            // moments and the last step's gradients
  int64_t stop_fd;          // a byte readable here ends the call after the epoch under way
                            // (Python's signal wakeup fd: a signal writes one); -1: none
};

}  // extern "C"

namespace {

// Whether a byte waits on fd, without waiting for one.
bool readable(int fd) {
  pollfd wanted{fd, POLLIN, 0};
  return poll(&wanted, 1, 0) > 0;
}

// The epochs run, in order (each one's results and state after it kept); the number run: all
// of them, or fewer where stop_fd became readable; -1 where the program does not run them.
template <typename T>
int epochs(const Spec& spec, const Epochs& e, T** params, T** grads, T** first, T** second,
           const int64_t* offsets) {
  if (spec.replicas != 1 || spec.rows != e.rows) return -1;
  const int in = spec.widths[0], out = spec.widths[spec.layers];
  int64_t units = 0;  // hidden units: a row's dropout masks
  for (int l = 0; l + 1 < spec.layers; ++l) units += spec.widths[l + 1];
  const int64_t state = copy_state<T>(spec, {params, first, second, grads}, nullptr);
  std::vector<T> x(e.rows * in), dense(e.dense ? e.rows * out : 0);
  std::vector<int64_t> labels(e.labels ? e.rows : 0);
  const T* all_x = static_cast<const T*>(e.x);
  const T* all_dense = static_cast<const T*>(e.dense);
  Spec s = spec;
  for (int64_t k = 0; k < e.count; ++k) {
    const int64_t* order = e.order + k * e.rows;
    for (int64_t i = 0; i < e.rows; ++i) {
      std::memcpy(x.data() + i * in, all_x + order[i] * in, sizeof(T) * in);
      if (e.dense) std::memcpy(dense.data() + i * out, all_dense + order[i] * out, sizeof(T) * out);
      if (e.labels) labels[i] = e.labels[order[i]];
    }
    s.adam_step = spec.adam_step + double(k) * spec.steps;
    s.lrs = spec.lrs ? spec.lrs + k * spec.steps : nullptr;
    s.masks = spec.masks ? static_cast<const T*>(spec.masks) + k * e.rows * units : nullptr;
    train<T>(s, params, grads, first, second, x.data(), e.dense ? dense.data() : nullptr,
             e.labels ? labels.data() : nullptr, offsets,
             static_cast<T*>(e.losses) + k * spec.steps,
             static_cast<T*>(e.outputs) + k * e.rows * out);
    static_cast<T*>(e.val_costs)[k] = T(evaluate<T>(
        spec, 0, params, static_cast<const T*>(e.val_x), static_cast<const T*>(e.val_dense),
        e.val_labels, e.val_rows, static_cast<T*>(e.val_outputs) + k * e.val_rows * out));
    copy_state<T>(spec, {params, first, second, grads}, static_cast<T*>(e.kept) + k * state);
    if (e.stop_fd >= 0 && readable(int(e.stop_fd))) return int(k + 1);
  }
  return int(e.count);
}

}  // namespace

extern "C" {

int nnkit_abi_version() { return 6; }

// Spec's fields, in its order, with their element types: a caller that writes the struct byte
// by byte (the WebAssembly module's JavaScript, where pointers are 4 bytes wide) learns from
// nnkit_spec_fields and nnkit_spec_layout what to write and where.
#define NNKIT_SPEC_FIELDS(X) \
  X(layers, "i32") X(replicas, "i32") X(loss, "i32") X(mean, "i32") X(squash, "i32") \
  X(optimizer, "i32") X(steps, "i32") X(rows, "i32") X(penalty, "i32") X(widths, "i32") \
  X(activations, "i32") X(arguments, "f64") X(lr, "f64") X(beta1, "f64") X(beta2, "f64") \
  X(eps, "f64") X(weight_decay, "f64") X(momentum, "f64") X(adam_step, "f64") \
  X(penalty_rate, "f64") X(lrs, "ptr") X(norms, "i32") X(residual, "i32") X(norm_eps, "f64") \
  X(norm_momentum, "f64") X(masks, "ptr")
#define NNKIT_OFFSET(name, type) int32_t(offsetof(Spec, name)),
#define NNKIT_FIELD(name, type) #name " " type ","

// Where each field lies, in nnkit_spec_fields' order, then the struct's size.
const int32_t* nnkit_spec_layout() {
  static const int32_t layout[] = {NNKIT_SPEC_FIELDS(NNKIT_OFFSET) int32_t(sizeof(Spec))};
  return layout;
}

// "name type," for every field, in its order.
const char* nnkit_spec_fields() { return NNKIT_SPEC_FIELDS(NNKIT_FIELD); }

int nnkit_epochs_f32(const Spec* s, const Epochs* e, float** params, float** grads,
                     float** first, float** second, const int64_t* offsets) {
  return epochs<float>(*s, *e, params, grads, first, second, offsets);
}

int nnkit_epochs_f64(const Spec* s, const Epochs* e, double** params, double** grads,
                     double** first, double** second, const int64_t* offsets) {
  return epochs<double>(*s, *e, params, grads, first, second, offsets);
}

// The names of the activations and costs, comma-separated, in their enums' order.
const char* nnkit_activation_names() { return NNKIT_ACTIVATIONS(NNKIT_NAME); }
const char* nnkit_loss_names() { return NNKIT_LOSSES(NNKIT_NAME); }

int nnkit_train_f32(const Spec* s, float** params, float** grads, float** first, float** second,
                    const float* x, const float* dense, const int64_t* labels,
                    const int64_t* offsets, float* losses, float* outputs) {
  train<float>(*s, params, grads, first, second, x, dense, labels, offsets, losses, outputs);
  return 0;
}

int nnkit_train_f64(const Spec* s, double** params, double** grads, double** first,
                    double** second, const double* x, const double* dense,
                    const int64_t* labels, const int64_t* offsets, double* losses,
                    double* outputs) {
  train<double>(*s, params, grads, first, second, x, dense, labels, offsets, losses, outputs);
  return 0;
}

int nnkit_maps_f32(const Spec* s, int r, float** params, const float* x, int64_t n, float* v) {
  maps<float>(*s, r, params, x, n, v);
  return 0;
}

int nnkit_maps_f64(const Spec* s, int r, double** params, const double* x, int64_t n, double* v) {
  maps<double>(*s, r, params, x, n, v);
  return 0;
}

}  // extern "C"
