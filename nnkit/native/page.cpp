// What a page needs of the native program besides its training steps, so that a browser with
// only the WebAssembly module computes the mathematics Python computes for the server's page:
// the plane datasets and the seven-segment digits, the shuffles, the input features, the
// initial weights, a split's cost, the learning rate of a schedule and one step explained.
//
// Built with program.cpp (included below) by nnkit.native.wasm; nnkit.native.page drives the
// same functions from the native library's build of this file, for the tests.

#include "program.cpp"

namespace {

// splitmix64: a seed and a stream (an epoch, a replica) name a sequence of numbers; the same
// seed, the same data on every machine.
struct Random {
  uint64_t state;
  Random(int64_t seed, int64_t stream)
      : state(uint64_t(seed) * 0x9E3779B97F4A7C15ull ^ (uint64_t(stream) + 1) * 0xD1B54A32D192ED03ull) {}
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }  // in [0, 1)
  double normal() {  // Box and Muller's
    const double u = 1.0 - uniform(), v = uniform();
    return std::sqrt(-2.0 * std::log(u)) * std::cos(2.0 * M_PI * v);
  }
  int64_t below(int64_t n) {  // in [0, n), n < 2³²: Lemire's multiply, no division
    return int64_t(((next() >> 32) * uint64_t(n)) >> 32);
  }
};

#define NNKIT_PLANES(X) \
  X(kCircular, "circular") X(kXor, "xor") X(kSpiral, "spiral") X(kGaussians, "gaussians") \
  X(kPlaneData, "plane") X(kBump, "bump")
#define NNKIT_FEATURES(X) \
  X(kX1, "x1") X(kX2, "x2") X(kX1Sq, "x1_sq") X(kX2Sq, "x2_sq") X(kX1X2, "x1x2") \
  X(kSinX1, "sin_x1") X(kSinX2, "sin_x2")
#define NNKIT_INITS(X) \
  X(kDefault, "default") X(kXavierUniform, "xavier_uniform") X(kXavierNormal, "xavier_normal") \
  X(kKaimingUniform, "kaiming_uniform") X(kKaimingNormal, "kaiming_normal") X(kNormal, "normal") \
  X(kSmallRandom, "small_random") X(kZeros, "zeros") X(kOnes, "ones")
#define NNKIT_SCHEDULES(X) \
  X(kConstant, "none") X(kStepDecay, "step") X(kMultistep, "multistep") \
  X(kExponential, "exponential") X(kCosine, "cosine") X(kLinearWarmup, "linear_warmup") \
  X(kWarmupCosine, "warmup_cosine")

enum Plane : int32_t { NNKIT_PLANES(NNKIT_ENUM_VALUE) };
enum Feature : int32_t { NNKIT_FEATURES(NNKIT_ENUM_VALUE) };
enum Init : int32_t { NNKIT_INITS(NNKIT_ENUM_VALUE) };
enum Schedule : int32_t { NNKIT_SCHEDULES(NNKIT_ENUM_VALUE) };

// Point i of a plane dataset before its noise: its two coordinates and its target (a class,
// or a regression's value), as nnkit.data.planar and nnkit.data.regression define them.
void plane_point(int32_t kind, int64_t i, double shape, int32_t classes, Random& random,
                 double* x, double* y) {
  if (kind == kSpiral) {
    const double label = double(i % 2), radius = random.uniform() * 0.95 + 0.05;
    const double angle = 2.0 * M_PI * shape * radius + M_PI * label;
    x[0] = radius * std::cos(angle); x[1] = radius * std::sin(angle); *y = label;
    return;
  }
  if (kind == kGaussians) {
    const int64_t label = i % classes;
    double cx = (2.0 * double(label) - 1.0) * 0.5, cy = cx;  // two blobs at ±(0.5, 0.5)
    if (classes > 2) {
      const double angle = 2.0 * M_PI * double(label) / classes + M_PI / 4;
      cx = 0.6 * std::cos(angle); cy = 0.6 * std::sin(angle);
    }
    x[0] = cx + shape * random.normal(); x[1] = cy + shape * random.normal(); *y = double(label);
    return;
  }
  x[0] = 2.0 * random.uniform() - 1.0; x[1] = 2.0 * random.uniform() - 1.0;
  const double r2 = x[0] * x[0] + x[1] * x[1];
  switch (kind) {
    case kCircular: *y = std::sqrt(r2) < shape; break;
    case kXor: *y = x[0] * x[1] < 0; break;
    case kPlaneData: *y = (x[0] + x[1]) / 2; break;
    default: *y = std::exp(-r2 / (2 * shape * shape)); break;  // the bump
  }
}

double feature(int32_t kind, double x1, double x2) {
  switch (kind) {
    case kX1: return x1;
    case kX2: return x2;
    case kX1Sq: return x1 * x1;
    case kX2Sq: return x2 * x2;
    case kX1X2: return x1 * x2;
    case kSinX1: return std::sin(x1);
    default: return std::sin(x2);
  }
}

// One linear layer's start (out x in weights, out biases), as nnkit.initializers draws it;
// option: the initializer's one number (a gain, a standard deviation), NaN for its default.
void initialize_layer(int32_t kind, double option, int64_t in, int64_t out, Random& random,
                      double* weight, double* bias) {
  const double fan_in = double(in), fans = double(in + out);
  double bound = 0, std_dev = 0, bias_value = 0, bias_bound = 0;
  switch (kind) {
    case kDefault: bound = bias_bound = 1.0 / std::sqrt(fan_in); break;  // nn.Linear's own
    case kXavierUniform: bound = (std::isnan(option) ? 1.0 : option) * std::sqrt(6.0 / fans); break;
    case kXavierNormal: std_dev = (std::isnan(option) ? 1.0 : option) * std::sqrt(2.0 / fans); break;
    case kKaimingUniform: bound = (std::isnan(option) ? M_SQRT2 : option) * std::sqrt(3.0 / fan_in); break;
    case kKaimingNormal: std_dev = (std::isnan(option) ? M_SQRT2 : option) / std::sqrt(fan_in); break;
    case kNormal: std_dev = std::isnan(option) ? 0.01 : option; break;
    case kSmallRandom: bound = 0.5; bias_value = 0.1; break;
    case kOnes: bias_value = 1; break;
    default: break;  // zeros
  }
  for (int64_t i = 0; i < in * out; ++i) {
    weight[i] = kind == kOnes ? 1.0 : std_dev > 0 ? std_dev * random.normal()
                                                  : bound * (2.0 * random.uniform() - 1.0);
  }
  for (int64_t j = 0; j < out; ++j) {
    bias[j] = bias_bound > 0 ? bias_bound * (2.0 * random.uniform() - 1.0) : bias_value;
  }
}

// A closed-form schedule's rate after t intervals of total (torch's StepLR, MultiStepLR,
// ExponentialLR, CosineAnnealingLR, LinearLR, and LinearLR then cosine); options: step_size
// or warmup, gamma or start_factor, eta_min, then the milestones.
double rate_at(int32_t kind, double lr, double t, double total, const double* o, int32_t count) {
  const double cosine_t = kind == kWarmupCosine ? t - o[0] : t;
  const double cosine_total = kind == kWarmupCosine ? total - o[0] : total;
  switch (kind) {
    case kStepDecay: return lr * std::pow(o[1], std::floor(t / o[0]));
    case kMultistep: {
      int passed = 0;
      for (int32_t k = 3; k < count; ++k) passed += t >= o[k];
      return lr * std::pow(o[1], passed);
    }
    case kExponential: return lr * std::pow(o[1], t);
    case kLinearWarmup: case kWarmupCosine:
      if (t < o[0]) return lr * (o[1] + (1.0 - o[1]) * t / o[0]);
      if (kind == kLinearWarmup) return lr;
      [[fallthrough]];
    case kCosine: {
      const double phase = cosine_total > 0 ? std::min(cosine_t, cosine_total) / cosine_total : 1.0;
      return o[2] + (lr - o[2]) * (1.0 + std::cos(M_PI * phase)) / 2.0;
    }
    default: return lr;
  }
}

// A hidden layer's part of an explained step (nnkit_explain_f64), after its corrections.
double* explain_hidden(const Spec& s, const Net<double>& net, const Rows<double>& b, int l, double* out) {
  const int width = s.widths[l + 1];
  const double* u = s.norms[l] != kNoNorm ? b.u[l] : b.z[l];
  for (int j = 0; j < width; ++j) *out++ = u[j];
  for (int j = 0; j < width; ++j) *out++ = b.a[l + 1][j];
  double mean = 0, var = 0;
  for (int j = 0; j < width; ++j) mean += b.z[l][j];
  mean /= width;
  for (int j = 0; j < width; ++j) var += (b.z[l][j] - mean) * (b.z[l][j] - mean);
  var /= width;
  const bool running = s.norms[l] == kBatchNorm;
  for (int j = 0; j < width; ++j) *out++ = running ? net.running_mean[l][j] : mean;
  for (int j = 0; j < width; ++j) *out++ = running ? net.running_var[l][j] : var;
  return out;
}

}  // namespace

extern "C" {

const char* nnkit_plane_names() { return NNKIT_PLANES(NNKIT_NAME); }
const char* nnkit_feature_names() { return NNKIT_FEATURES(NNKIT_NAME); }
const char* nnkit_init_names() { return NNKIT_INITS(NNKIT_NAME); }
const char* nnkit_schedule_names() { return NNKIT_SCHEDULES(NNKIT_NAME); }

// n points of a plane dataset (Plane; shape: the circle's radius, the spiral's turns, the
// blobs' spread or the bump's width): x (n x 2), each Gaussian-jittered by noise after it was
// labelled (a regression's value instead), and y (n).
void nnkit_plane(int32_t kind, int64_t n, double shape, double noise, int64_t seed,
                 int32_t classes, double* x, double* y) {
  Random random(seed, 0);
  for (int64_t i = 0; i < n; ++i) plane_point(kind, i, shape, classes, random, x + 2 * i, y + i);
  Random jitter(seed, 1);
  const bool regression = kind == kPlaneData || kind == kBump;
  for (int64_t i = 0; i < n; ++i) {
    if (regression) { y[i] += noise * jitter.normal(); continue; }
    x[2 * i] += noise * jitter.normal(); x[2 * i + 1] += noise * jitter.normal();
  }
}

// The ten digits of a seven-segment display, then copies noisy copies of them, each segment
// flipped with probability noise (nnkit.data.seven_segment): x (10 (copies + 1) x 7), y.
void nnkit_digits(int64_t copies, double noise, int64_t seed, double* x, double* y) {
  static const char* kDigits[10] = {"1111110", "0110000", "1101101", "1111001", "0110011",
                                    "1011011", "1011111", "1110000", "1111111", "1111011"};
  Random random(seed, 0);
  for (int64_t row = 0; row < 10 * (copies + 1); ++row) {
    for (int k = 0; k < 7; ++k) {
      const double bit = kDigits[row % 10][k] == '1';
      x[row * 7 + k] = row >= 10 && random.uniform() < noise ? 1.0 - bit : bit;
    }
    y[row] = double(row % 10);
  }
}

// A random order of n rows, for the seed and a stream (the data's split; an epoch).
void nnkit_permutation(int64_t seed, int64_t stream, int64_t n, int64_t* order) {
  Random random(seed, stream);
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  for (int64_t i = n - 1; i > 0; --i) std::swap(order[i], order[random.below(i + 1)]);
}

// The rows of x (n x in) and, where given, of their dense targets (n x out) and labels put in a
// new random order in place: a new epoch's minibatches.
void nnkit_shuffle_rows(int64_t seed, int64_t stream, int64_t n, double* x, int32_t in,
                        double* dense, int32_t out, int64_t* labels) {
  Random random(seed, stream);
  for (int64_t i = n - 1; i > 0; --i) {
    const int64_t j = random.below(i + 1);
    std::swap_ranges(x + i * in, x + (i + 1) * in, x + j * in);
    if (dense) std::swap_ranges(dense + i * out, dense + (i + 1) * out, dense + j * out);
    if (labels) std::swap(labels[i], labels[j]);
  }
}

// Each of n rows' dropout masks (every hidden unit, layer after layer): 0 with each layer's
// probability rates[l], else 1 / (1 − rates[l]), as a training step drops units.
void nnkit_dropout_masks(int64_t seed, int64_t stream, int64_t n, const int32_t* widths,
                         const double* rates, int32_t layers, double* masks) {
  Random random(seed, stream);
  for (int64_t i = 0; i < n; ++i) {
    for (int32_t l = 0; l < layers; ++l) {
      for (int32_t j = 0; j < widths[l]; ++j) *masks++ = random.uniform() < rates[l] ? 0.0 : 1.0 / (1.0 - rates[l]);
    }
  }
}

// The chosen features (Feature) of n points (n x 2) into out (n x count).
void nnkit_features(const int32_t* chosen, int32_t count, const double* points, int64_t n,
                    double* out) {
  for (int64_t i = 0; i < n; ++i) {
    for (int32_t f = 0; f < count; ++f) out[i * count + f] = feature(chosen[f], points[2 * i], points[2 * i + 1]);
  }
}

// Every replica's start (Init, with its option): each layer's weights and biases, each
// normalization's scale 1 and shift 0, batch normalization's running mean 0 and variance 1.
void nnkit_initialize(const Spec* spec, int32_t kind, double option, int64_t seed, double** params) {
  const Spec& s = *spec;
  for (int r = 0; r < s.replicas; ++r) {
    Random random(seed, r);
    for (int l = 0; l < s.layers; ++l) {
      const int64_t in = s.widths[l], out = s.widths[l + 1];
      initialize_layer(kind, option, in, out, random, params[2 * l] + r * in * out, params[2 * l + 1] + r * out);
    }
  }
  const std::vector<int64_t> widths = sizes(s, true);
  const int scales = tensors(s, false);
  for (size_t t = 2 * s.layers; t < widths.size(); ++t) {  // γ, β pairs, then mean, variance pairs
    const bool ones = int(t) < scales ? (t - 2 * s.layers) % 2 == 0 : (t - scales) % 2 == 1;
    std::fill(params[t], params[t] + s.replicas * widths[t], ones ? 1.0 : 0.0);
  }
}

// A split's cost for replica r (as the training steps count it), its raw outputs into outputs.
double nnkit_evaluate_f64(const Spec* s, int32_t r, double** params, const double* x,
                          const double* dense, const int64_t* labels, int64_t n, double* outputs) {
  return evaluate<double>(*s, r, params, x, dense, labels, n, outputs);
}

// The learning rate of a schedule (Schedule) after t intervals of total.
double nnkit_rate(int32_t kind, double lr, double t, double total, const double* options,
                  int32_t count) {
  return rate_at(kind, lr, t, total, options, count);
}

// One step of one point explained (nnkit.explain), for replica r at learning rate lr, as in
// evaluation (batch normalization by its running statistics, no unit dropped): for each layer,
// input first, its weighted sums, its activations (the output's raw), its errors dC/dz and its
// weights' corrections −lr · dC/dW (out x in; the biases' are −lr times the errors); for a
// hidden layer then its activations' inputs (γ · x̂ + β where it is normalized), what it
// passes on (its input added, with a residual connection) and its normalization's mean and
// variance (a layer normalization's of the point, in every place; a batch normalization's
// running ones); then the answer (through the squashing sigmoid where the cost takes one).
// Returns the cost.
double nnkit_explain_f64(const Spec* spec, int32_t r, double** params, const double* x,
                         const double* dense, int64_t label, double lr, double* out) {
  const Spec& s = *spec;
  const std::vector<int64_t> widths = sizes(s, false);
  std::vector<std::vector<double>> grads(widths.size());
  std::vector<double*> tables(widths.size());
  for (size_t t = 0; t < widths.size(); ++t) {
    grads[t].assign(widths[t] * s.replicas, 0.0);
    tables[t] = grads[t].data();
  }
  Net<double> net = replica<double>(s, r, params, tables.data(), nullptr, nullptr);
  Rows<double> b(s, 1);
  forward(s, net, x, 1, static_cast<const double*>(nullptr), false, b);
  const int outs = s.widths[s.layers];
  const double count = !s.mean ? 1.0 : s.loss == kCrossEntropy ? 1.0 : double(outs);
  const double cost = cost_and_error(s, b.z[s.layers - 1], dense, label, b.error) / count;
  for (int j = 0; j < outs; ++j) b.error[j] /= count;
  backward(s, net, static_cast<const double*>(nullptr), b, 1);
  for (int l = 0; l < s.layers; ++l) {
    const int width = s.widths[l + 1], in = s.widths[l];
    const double* activated = l + 1 < s.layers ? b.y[l] : b.z[l];
    for (int j = 0; j < width; ++j) *out++ = b.z[l][j];
    for (int j = 0; j < width; ++j) *out++ = activated[j];
    for (int j = 0; j < width; ++j) *out++ = net.grad_b[l][j];
    for (int64_t k = 0; k < int64_t(width) * in; ++k) *out++ = -lr * net.grad_w[l][k];
    if (l + 1 < s.layers) out = explain_hidden(s, net, b, l, out);
  }
  for (int j = 0; j < outs; ++j) *out++ = s.squash ? sigmoid(b.z[s.layers - 1][j]) : b.z[s.layers - 1][j];
  return cost;
}

}  // extern "C"
