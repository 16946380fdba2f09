// Times native/core hot paths (MpmcQueue, batch assembly and splitting) beside their obvious alternatives, alternating
// the two over several rounds, and prints the per-round speed-up with its median and spread (optionally as JSON).
//
// Usage: ortserve_core_bench [--json <file>] [--rounds N] [--time-ms N]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>

#include "core/batch_assembly.h"
#include "core/batch_former.h"
#include "core/mpmc_queue.h"
#include "core/task.h"
#include "core/tensor_data.h"

namespace {

using ortserve::Batch;
using ortserve::BatchInputStorage;
using ortserve::BufferOwner;
using ortserve::ElementType;
using ortserve::InputTensor;
using ortserve::MpmcQueue;
using ortserve::OutputTensor;
using ortserve::Status;
using ortserve::Task;
using Clock = std::chrono::steady_clock;

// The request queue's default bound (BatchPolicy::max_queued_requests), so both queues wrap the same way.
constexpr std::size_t kQueueCapacity = 1024;

struct Settings {
  int rounds = 5;
  std::chrono::milliseconds measure{250};
  // Long enough to fault in buffers, warm caches and let the allocator settle, short against the measurement.
  std::chrono::milliseconds warmup{30};
};
Settings g_settings;

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "core_bench: %s\n", message.c_str());
  std::exit(1);
}

// Results flow here once per measurement so the optimiser cannot discard the work that produced them.
std::atomic<std::uintptr_t> g_sink{0};
void Consume(std::uintptr_t value) { g_sink.fetch_add(value, std::memory_order_relaxed); }

// Tells the compiler memory may have been read through `pointer`, so stores into it are not elided.
inline void KeepAlive(const void* pointer) { asm volatile("" : : "r"(pointer) : "memory"); }

double SecondsBetween(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

// ---------------------------------------------------------------------------------------------------------------
// Queues

// The obvious alternative to MpmcQueue: a bounded std::deque behind one std::mutex, with the same try_* contract.
template <typename T>
class MutexDequeQueue {
 public:
  explicit MutexDequeQueue(std::size_t capacity) : capacity_(capacity) {}

  bool try_push(T&& value) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (items_.size() >= capacity_) return false;
    items_.push_back(std::move(value));
    return true;
  }

  bool try_pop(T& out) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (items_.empty()) return false;
    out = std::move(items_.front());
    items_.pop_front();
    return true;
  }

 protected:
  const std::size_t capacity_;
  std::mutex mutex_;
  std::deque<T> items_;
};

// The textbook blocking queue: the same deque and mutex, but the consumer sleeps on a condition variable instead of
// polling. Producers never wait (a full queue refuses, as on the request path); they notify after unlocking.
template <typename T>
class MutexCondvarQueue : private MutexDequeQueue<T> {
 public:
  using MutexDequeQueue<T>::MutexDequeQueue;

  bool try_push(T&& value) {
    if (!MutexDequeQueue<T>::try_push(std::move(value))) return false;
    not_empty_.notify_one();
    return true;
  }

  // Waits up to `timeout` for an element; false when none came.
  bool pop_for(T& out, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(this->mutex_);
    if (!not_empty_.wait_for(lock, timeout, [&] { return !this->items_.empty(); })) return false;
    out = std::move(this->items_.front());
    this->items_.pop_front();
    return true;
  }

 private:
  std::condition_variable not_empty_;
};

// What the scheduler's queue carries is a Task*: a pointer-sized item. Nonzero, distinct, never dereferenced.
using QueueItem = void*;
QueueItem ItemFor(std::uintptr_t n) { return reinterpret_cast<QueueItem>((n + 1) * alignof(std::max_align_t)); }

// One thread pushes and immediately pops, over and over; returns ns per push+pop pair.
template <typename Queue>
double UncontendedNsPerPair(std::chrono::milliseconds duration) {
  Queue queue(kQueueCapacity);
  constexpr std::uint64_t kPairsPerClockRead = 4096;
  std::uint64_t pairs = 0;
  std::uintptr_t sum = 0;
  bool all_succeeded = true;
  const auto start = Clock::now();
  const auto end_at = start + duration;
  Clock::time_point now;
  do {
    for (std::uint64_t i = 0; i < kPairsPerClockRead; ++i) {
      QueueItem in = ItemFor(pairs + i);
      QueueItem out = nullptr;
      all_succeeded &= queue.try_push(std::move(in));
      all_succeeded &= queue.try_pop(out);
      sum += reinterpret_cast<std::uintptr_t>(out);
    }
    pairs += kPairsPerClockRead;
    now = Clock::now();
  } while (now < end_at);
  if (!all_succeeded) Die("a push or pop failed on an uncontended queue");
  Consume(sum);
  return SecondsBetween(start, now) * 1e9 / static_cast<double>(pairs);
}

// `producer_count` threads push as fast as they can (yielding when the queue is full) while this thread consumes with
// `pop(queue, item)` (yielding when it reports nothing); returns elements moved through the queue per second.
// With more threads than free cores much of this is bulk hand-off (one side fills or drains while the other is
// descheduled), so it measures throughput, not the latency of one element crossing between threads.
template <typename Queue, typename Pop>
double ThroughputOpsPerSecond(int producer_count, std::chrono::milliseconds duration, Pop pop) {
  Queue queue(kQueueCapacity);
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::atomic<bool> stop{false};
  std::vector<std::thread> producers;
  for (int p = 0; p < producer_count; ++p) {
    producers.emplace_back([&, p] {
      ready.fetch_add(1, std::memory_order_acq_rel);
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      std::uintptr_t next = static_cast<std::uintptr_t>(p);
      while (!stop.load(std::memory_order_relaxed)) {
        QueueItem item = ItemFor(next);
        if (queue.try_push(std::move(item))) {
          next += static_cast<std::uintptr_t>(producer_count);
        } else {
          std::this_thread::yield();
        }
      }
    });
  }
  while (ready.load(std::memory_order_acquire) < producer_count) std::this_thread::yield();

  // Timed from the consumer's side: what counts is elements that made it all the way through.
  go.store(true, std::memory_order_release);
  const auto start = Clock::now();
  const auto end_at = start + duration;
  Clock::time_point now = start;
  std::uint64_t popped = 0;
  std::uintptr_t sum = 0;
  for (;;) {
    QueueItem item = nullptr;
    if (pop(queue, item)) {
      ++popped;
      sum += reinterpret_cast<std::uintptr_t>(item);
      if ((popped & 1023) != 0) continue;   // read the clock every 1024 elements while they flow
    } else {
      std::this_thread::yield();
    }
    now = Clock::now();
    if (now >= end_at) break;
  }
  stop.store(true, std::memory_order_relaxed);
  for (auto& t : producers) t.join();
  Consume(sum);
  return static_cast<double>(popped) / SecondsBetween(start, now);
}

template <typename Queue>
double PollingThroughput(int producer_count, std::chrono::milliseconds duration) {
  return ThroughputOpsPerSecond<Queue>(producer_count, duration,
                                       [](Queue& queue, QueueItem& item) { return queue.try_pop(item); });
}

double BlockingThroughput(int producer_count, std::chrono::milliseconds duration) {
  using Queue = MutexCondvarQueue<QueueItem>;
  return ThroughputOpsPerSecond<Queue>(producer_count, duration, [](Queue& queue, QueueItem& item) {
    return queue.pop_for(item, std::chrono::milliseconds(1));
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Batch assembly

int64_t ElementCount(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// A batch output's memory, as ORT would hand it over (one owner shared by every view into it).
class BytesOwner final : public BufferOwner {
 public:
  explicit BytesOwner(std::size_t bytes) : bytes_(bytes) {}
  BytesOwner(const uint8_t* begin, const uint8_t* end) : bytes_(begin, end) {}
  uint8_t* data() { return bytes_.data(); }

 private:
  std::vector<uint8_t> bytes_;
};

// `requests` single-row float32 requests of one input "x" of `request_shape`, formed into one batch, plus a batch
// output "y" of the same shape as if the model had run.
class BatchFixture {
 public:
  BatchFixture(int requests, std::vector<int64_t> request_shape) : request_shape_(std::move(request_shape)) {
    const auto elements = static_cast<std::size_t>(ElementCount(request_shape_));
    request_data_.reserve(static_cast<std::size_t>(requests));
    for (int r = 0; r < requests; ++r) {
      request_data_.emplace_back(elements);
      for (std::size_t i = 0; i < elements; ++i) request_data_.back()[i] = static_cast<float>(r * 1000 + i % 997);
      auto task = std::make_unique<Task>();
      InputTensor x;
      x.name = "x";
      x.type = ElementType::kFloat32;
      x.shape = request_shape_;
      x.data = request_data_.back().data();
      x.byte_length = elements * sizeof(float);
      task->inputs.push_back(std::move(x));
      task->rows = request_shape_[0];
      batch_.tasks.push_back(task.get());
      batch_.rows += task->rows;
      tasks_.push_back(std::move(task));
    }
    batch_.padded_rows = batch_.rows;

    OutputTensor y;
    y.name = "y";
    y.type = ElementType::kFloat32;
    y.shape = request_shape_;
    y.shape[0] = batch_.rows;
    y.byte_length = static_cast<std::size_t>(ElementCount(y.shape)) * sizeof(float);
    auto owner = std::make_shared<BytesOwner>(y.byte_length);
    auto* values = reinterpret_cast<float*>(owner->data());
    for (std::size_t i = 0; i < y.byte_length / sizeof(float); ++i) values[i] = static_cast<float>(i % 4093) * 0.5f;
    y.data = owner->data();
    y.owner = std::move(owner);
    batch_outputs_.push_back(std::move(y));
  }

  const Batch& batch() const { return batch_; }
  const std::vector<std::string>& output_names() const { return output_names_; }
  std::vector<OutputTensor>* batch_outputs() { return &batch_outputs_; }

 private:
  std::vector<int64_t> request_shape_;
  std::vector<std::vector<float>> request_data_;
  std::vector<std::unique_ptr<Task>> tasks_;
  Batch batch_;
  std::vector<std::string> output_names_{"y"};
  std::vector<OutputTensor> batch_outputs_;
};

// The obvious alternative to AssembleBatchInputs (no padding): per input, append each request's bytes to a
// std::vector<uint8_t>, left to grow as it goes or (`reserve_batch_size`) reserved to the batch's size up front.
// `storage` keeps the vectors alive as long as the returned tensors point into them.
std::vector<InputTensor> VectorAssemble(const Batch& batch, bool reserve_batch_size,
                                        std::vector<std::vector<uint8_t>>* storage) {
  const std::size_t count = batch.tasks.front()->inputs.size();
  std::vector<InputTensor> inputs(count);
  for (std::size_t i = 0; i < count; ++i) {
    const InputTensor& first = batch.tasks.front()->inputs[i];
    InputTensor& out = inputs[i];
    out.name = first.name;
    out.type = first.type;
    out.shape = first.shape;
    out.shape[0] = batch.rows;
    storage->emplace_back();
    std::vector<uint8_t>& bytes = storage->back();
    if (reserve_batch_size) bytes.reserve(static_cast<std::size_t>(batch.rows) * first.byte_length / first.shape[0]);
    for (const Task* task : batch.tasks) {
      const auto* begin = static_cast<const uint8_t*>(task->inputs[i].data);
      bytes.insert(bytes.end(), begin, begin + task->inputs[i].byte_length);
    }
    out.data = bytes.data();
    out.byte_length = bytes.size();
  }
  return inputs;
}

// The obvious alternative to SplitBatchOutputs' views: copy each task's rows of each output into a buffer of its own.
void CopyingSplit(const Batch& batch, const std::vector<std::string>& names, const std::vector<OutputTensor>& whole) {
  int64_t start = 0;
  for (Task* task : batch.tasks) {
    task->outputs.clear();
    for (std::size_t i = 0; i < names.size(); ++i) {
      const OutputTensor& batch_output = whole[i];
      const std::size_t row_bytes = batch_output.byte_length / static_cast<std::size_t>(batch_output.shape[0]);
      const auto* begin = static_cast<const uint8_t*>(batch_output.data) + static_cast<std::size_t>(start) * row_bytes;
      auto owner = std::make_shared<BytesOwner>(begin, begin + static_cast<std::size_t>(task->rows) * row_bytes);
      OutputTensor part;
      part.name = batch_output.name;
      part.type = batch_output.type;
      part.shape = batch_output.shape;
      part.shape[0] = task->rows;
      part.data = owner->data();
      part.byte_length = static_cast<std::size_t>(task->rows) * row_bytes;
      part.owner = std::move(owner);
      task->outputs.push_back(std::move(part));
    }
    start += task->rows;
  }
}

void AssembleWithOurs(const Batch& batch) {
  std::vector<InputTensor> inputs;
  BatchInputStorage storage;
  const Status status = AssembleBatchInputs(batch, false, &inputs, &storage);
  if (!status.ok()) Die("AssembleBatchInputs: " + status.message());
  KeepAlive(inputs[0].data);
}

void AssembleWithVector(const Batch& batch, bool reserve_batch_size) {
  std::vector<std::vector<uint8_t>> storage;
  const std::vector<InputTensor> inputs = VectorAssemble(batch, reserve_batch_size, &storage);
  KeepAlive(inputs[0].data);
}

void SplitWithOurs(BatchFixture& fixture) {
  const Status status = SplitBatchOutputs(fixture.batch(), fixture.output_names(), fixture.batch_outputs());
  if (!status.ok()) Die("SplitBatchOutputs: " + status.message());
  KeepAlive(fixture.batch().tasks.back()->outputs[0].data);
}

void SplitByCopying(BatchFixture& fixture) {
  CopyingSplit(fixture.batch(), fixture.output_names(), *fixture.batch_outputs());
  KeepAlive(fixture.batch().tasks.back()->outputs[0].data);
}

// Before timing anything: both sides of each batch comparison must produce the same bytes.
void CheckBatchSidesAgree(BatchFixture& fixture) {
  const Batch& batch = fixture.batch();
  std::vector<InputTensor> ours;
  BatchInputStorage our_storage;
  if (!AssembleBatchInputs(batch, false, &ours, &our_storage).ok()) Die("AssembleBatchInputs failed");
  for (const bool reserve : {false, true}) {
    std::vector<std::vector<uint8_t>> their_storage;
    const std::vector<InputTensor> theirs = VectorAssemble(batch, reserve, &their_storage);
    if (ours[0].byte_length != theirs[0].byte_length || ours[0].shape != theirs[0].shape ||
        std::memcmp(ours[0].data, theirs[0].data, ours[0].byte_length) != 0) {
      Die("the assembled batches differ");
    }
  }
  std::vector<std::vector<uint8_t>> copies;
  CopyingSplit(batch, fixture.output_names(), *fixture.batch_outputs());
  for (const Task* task : batch.tasks) {
    const auto* data = static_cast<const uint8_t*>(task->outputs[0].data);
    copies.emplace_back(data, data + task->outputs[0].byte_length);
  }
  if (!SplitBatchOutputs(batch, fixture.output_names(), fixture.batch_outputs()).ok()) Die("SplitBatchOutputs failed");
  for (std::size_t t = 0; t < batch.tasks.size(); ++t) {
    const OutputTensor& view = batch.tasks[t]->outputs[0];
    if (view.byte_length != copies[t].size() || std::memcmp(view.data, copies[t].data(), copies[t].size()) != 0) {
      Die("a split view differs from the copied rows of task " + std::to_string(t));
    }
  }
}

// One measurement in its comparison's unit, with the minor page faults per operation where they were counted
// (negative: not counted). Faults are shown because on a VM each costs microseconds, which can swamp the copying.
struct Measurement {
  double value = 0;
  double minor_faults_per_op = -1;
};

long MinorFaultsSoFar() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

// Calls `op` for about `duration` (after a warm-up) and returns the mean µs per call.
Measurement MicrosPerCall(const std::function<void()>& op, std::chrono::milliseconds duration) {
  const auto warm_until = Clock::now() + g_settings.warmup;
  while (Clock::now() < warm_until) op();
  std::uint64_t calls = 0;
  const long faults_before = MinorFaultsSoFar();
  const auto start = Clock::now();
  const auto end_at = start + duration;
  Clock::time_point now;
  do {   // one clock read per call: a call is microseconds, a clock read tens of nanoseconds
    op();
    ++calls;
    now = Clock::now();
  } while (now < end_at);
  const double faults = static_cast<double>(MinorFaultsSoFar() - faults_before);
  return {SecondsBetween(start, now) * 1e6 / static_cast<double>(calls), faults / static_cast<double>(calls)};
}

// ---------------------------------------------------------------------------------------------------------------
// Side-by-side runner and reporting

struct Side {
  std::string name;
  std::function<Measurement()> measure;
  std::vector<double> rounds;
  std::vector<double> minor_faults_per_op;   // per round, where counted
};

struct Comparison {
  std::string name;
  std::string unit;
  bool higher_is_better = false;   // ops/s: higher is better; ns/op and µs/batch: lower is
  Side candidate;
  Side baseline;
  std::vector<double> ratios;      // speed-up of candidate over baseline, per round
};

std::string FormatValue(double value, const std::string& unit) {
  char text[64];
  if (unit == "ops/s") {
    std::snprintf(text, sizeof text, "%.2f M ops/s", value / 1e6);
  } else {
    std::snprintf(text, sizeof text, value < 10 ? "%.2f %s" : "%.1f %s", value, unit.c_str());   // 0.45, not 0.5
  }
  return text;
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

void Record(Side* side) {
  const Measurement m = side->measure();
  side->rounds.push_back(m.value);
  if (m.minor_faults_per_op >= 0) side->minor_faults_per_op.push_back(m.minor_faults_per_op);
}

std::string FaultsNote(const Side& side) {
  if (side.minor_faults_per_op.empty()) return "";
  char text[64];
  std::snprintf(text, sizeof text, " (%.1f page faults/op)", side.minor_faults_per_op.back());
  return text;
}

void Run(Comparison* c) {
  std::printf("\n## %s\n", c->name.c_str());
  std::fflush(stdout);
  for (int round = 0; round < g_settings.rounds; ++round) {
    // Alternate which side goes first so drift (the other core's load, frequency changes) hits both alike.
    if (round % 2 == 0) {
      Record(&c->candidate);
      Record(&c->baseline);
    } else {
      Record(&c->baseline);
      Record(&c->candidate);
    }
    const double candidate = c->candidate.rounds.back();
    const double baseline = c->baseline.rounds.back();
    const double ratio = c->higher_is_better ? candidate / baseline : baseline / candidate;
    c->ratios.push_back(ratio);
    std::printf("- round %d (%s first): %s %s%s, %s %s%s, speed-up %.2f×\n", round + 1,
                round % 2 == 0 ? "candidate" : "baseline", c->candidate.name.c_str(),
                FormatValue(candidate, c->unit).c_str(), FaultsNote(c->candidate).c_str(), c->baseline.name.c_str(),
                FormatValue(baseline, c->unit).c_str(), FaultsNote(c->baseline).c_str(), ratio);
    std::fflush(stdout);
  }
  const auto [min, max] = std::minmax_element(c->ratios.begin(), c->ratios.end());
  std::printf("- %s: median %s; %s: median %s\n", c->candidate.name.c_str(),
              FormatValue(Median(c->candidate.rounds), c->unit).c_str(), c->baseline.name.c_str(),
              FormatValue(Median(c->baseline.rounds), c->unit).c_str());
  std::printf("- speed-up of %s over %s: %.2f× (min %.2f×, max %.2f× over %d rounds)\n", c->candidate.name.c_str(),
              c->baseline.name.c_str(), Median(c->ratios), *min, *max, g_settings.rounds);
  std::fflush(stdout);
}

std::string JsonString(const std::string& text) {
  std::string out = "\"";
  for (const char ch : text) {
    const auto byte = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (byte < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", byte);
      out += escaped;
    } else {
      out += ch;   // UTF-8 (µ, ×) passes through: JSON text is UTF-8
    }
  }
  return out + "\"";
}

std::string JsonNumber(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", value);
  return text;
}

std::string JsonNumbers(const std::vector<double>& values) {
  std::string out = "[";
  for (std::size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + JsonNumber(values[i]);
  return out + "]";
}

// {"name", "rounds"}, plus "minorFaultsPerOp" per round where faults were counted.
std::string JsonSide(const Side& side) {
  std::string out = "{\"name\": " + JsonString(side.name) + ", \"rounds\": " + JsonNumbers(side.rounds);
  if (!side.minor_faults_per_op.empty()) out += ", \"minorFaultsPerOp\": " + JsonNumbers(side.minor_faults_per_op);
  return out + "}";
}

void WriteJson(const std::string& path, const std::vector<Comparison>& comparisons) {
  std::string json = "{\n  \"rounds\": " + std::to_string(g_settings.rounds) +
                     ",\n  \"measureMs\": " + std::to_string(g_settings.measure.count()) +
                     ",\n  \"hardwareConcurrency\": " + std::to_string(std::thread::hardware_concurrency()) +
                     ",\n  \"benchmarks\": [";
  for (std::size_t i = 0; i < comparisons.size(); ++i) {
    const Comparison& c = comparisons[i];
    const auto [min, max] = std::minmax_element(c.ratios.begin(), c.ratios.end());
    json += std::string(i ? "," : "") + "\n    {\n      \"name\": " + JsonString(c.name) +
            ",\n      \"unit\": " + JsonString(c.unit) +
            ",\n      \"candidate\": " + JsonSide(c.candidate) + ",\n      \"baseline\": " + JsonSide(c.baseline) +
            ",\n      \"ratio\": {\"median\": " + JsonNumber(Median(c.ratios)) + ", \"min\": " + JsonNumber(*min) +
            ", \"max\": " + JsonNumber(*max) + ", \"rounds\": " + JsonNumbers(c.ratios) + "}" +
            ",\n      \"ratioMeaning\": \"speed-up of candidate over baseline\"\n    }";
  }
  json += "\n  ]\n}\n";
  FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) Die("cannot write " + path + ": " + std::strerror(errno));
  const bool written = std::fwrite(json.data(), 1, json.size(), file) == json.size();
  if (std::fclose(file) != 0 || !written) Die("cannot write " + path);
}

int ParsePositive(const char* text, const char* flag) {
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || value < 1 || value > 1000000) Die(std::string(flag) + " needs a positive integer");
  return static_cast<int>(value);
}

}  // namespace

int main(int argc, char** argv) {
  std::string json_path;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) Die("usage: ortserve_core_bench [--json <file>] [--rounds N] [--time-ms N]");
    if (arg == "--json") {
      json_path = argv[++i];
    } else if (arg == "--rounds") {
      g_settings.rounds = ParsePositive(argv[++i], "--rounds");
    } else if (arg == "--time-ms") {
      g_settings.measure = std::chrono::milliseconds(ParsePositive(argv[++i], "--time-ms"));
    } else {
      Die("unknown argument " + arg);
    }
  }
  const auto measure = g_settings.measure;
  std::printf("# native/core micro-benchmarks: %d rounds of ~%lld ms per side, %u hardware threads\n",
              g_settings.rounds, static_cast<long long>(measure.count()), std::thread::hardware_concurrency());

  using Ours = MpmcQueue<QueueItem>;
  using Mutex = MutexDequeQueue<QueueItem>;
  const std::string our_queue = "ortserve MpmcQueue";
  const std::string mutex_queue = "std::mutex + std::deque";
  // Each throughput measurement warms up with a short run of its own first (threads started, queue touched).
  const auto warmed = [](std::function<double(std::chrono::milliseconds)> measure_for) {
    return [measure_for] {
      measure_for(g_settings.warmup);
      return Measurement{measure_for(g_settings.measure)};
    };
  };

  std::vector<Comparison> comparisons;
  comparisons.push_back({"queue: uncontended push+pop pair, one thread (capacity 1024)", "ns/op", false,
                         {our_queue, warmed(UncontendedNsPerPair<Ours>), {}, {}},
                         {mutex_queue, warmed(UncontendedNsPerPair<Mutex>), {}, {}},
                         {}});
  for (const int producers : {1, 2}) {
    const std::string shape = std::to_string(producers) + " producer" + (producers > 1 ? "s" : "") + " + 1 consumer";
    comparisons.push_back({"queue: " + shape + ", try_push/try_pop, yield when full/empty (capacity 1024)", "ops/s",
                           true,
                           {our_queue, warmed([producers](auto d) { return PollingThroughput<Ours>(producers, d); }), {}, {}},
                           {mutex_queue, warmed([producers](auto d) { return PollingThroughput<Mutex>(producers, d); }), {}, {}},
                           {}});
  }
  comparisons.push_back({"queue: 2 producers + 1 consumer, consumer polls (ours) or sleeps on a condition variable (baseline)",
                         "ops/s", true,
                         {our_queue + " (try_pop, yield when empty)",
                          warmed([](auto d) { return PollingThroughput<Ours>(2, d); }), {}, {}},
                         {"std::mutex + std::condition_variable (blocking pop)",
                          warmed([](auto d) { return BlockingThroughput(2, d); }), {}, {}},
                         {}});

  // Realistic batches: an embedding-sized row, and an OCR-sized image crop.
  struct BatchCase {
    std::string label;
    int requests;
    std::vector<int64_t> request_shape;
  };
  const std::vector<BatchCase> cases = {
      {"32 requests × [1,512] float32", 32, {1, 512}},
      {"8 requests × [1,3,48,192] float32", 8, {1, 3, 48, 192}},
  };
  std::vector<std::unique_ptr<BatchFixture>> fixtures;
  for (const auto& batch_case : cases) {
    fixtures.push_back(std::make_unique<BatchFixture>(batch_case.requests, batch_case.request_shape));
    BatchFixture* fixture = fixtures.back().get();
    CheckBatchSidesAgree(*fixture);
    const std::string ours = "ortserve AssembleBatchInputs (one buffer, a memcpy per request)";
    const auto assemble_with_ours = [fixture, measure] {
      return MicrosPerCall([fixture] { AssembleWithOurs(fixture->batch()); }, measure);
    };
    comparisons.push_back({"batch assembly: concatenate " + batch_case.label + " inputs into one batch tensor",
                           "µs/batch", false,
                           {ours, assemble_with_ours, {}, {}},
                           {"growing std::vector<uint8_t> (insert per request)",
                            [fixture, measure] { return MicrosPerCall([fixture] { AssembleWithVector(fixture->batch(), false); }, measure); },
                            {}, {}},
                           {}});
    // The stronger alternative: the same vector, sized once (no regrowth, and no zeroing either).
    comparisons.push_back({"batch assembly: concatenate " + batch_case.label + " inputs, against a pre-sized vector",
                           "µs/batch", false,
                           {ours, assemble_with_ours, {}, {}},
                           {"std::vector<uint8_t> reserved to the batch size (insert per request)",
                            [fixture, measure] { return MicrosPerCall([fixture] { AssembleWithVector(fixture->batch(), true); }, measure); },
                            {}, {}},
                           {}});
    comparisons.push_back({"batch split: hand each of " + batch_case.label + " its rows of the batch output",
                           "µs/batch", false,
                           {"ortserve SplitBatchOutputs (zero-copy views sharing the batch output)",
                            [fixture, measure] { return MicrosPerCall([fixture] { SplitWithOurs(*fixture); }, measure); },
                            {}, {}},
                           {"copy each request's rows into a buffer of its own",
                            [fixture, measure] { return MicrosPerCall([fixture] { SplitByCopying(*fixture); }, measure); },
                            {}, {}},
                           {}});
  }

  for (auto& comparison : comparisons) Run(&comparison);
  if (!json_path.empty()) {
    WriteJson(json_path, comparisons);
    std::printf("\nwrote %s\n", json_path.c_str());
  }
  return 0;
}
