// JS ⇄ native for sequences: a stateful model's sequence options, a request's sequence fields, the state budget
// handle, and the table's counters as a JS object.
#pragma once

#include <napi.h>

#include <memory>
#include <optional>

#include "core/sequence_table.h"

namespace ortserve {

// options.sequence of loadSession, or nothing when absent: {controls: [{input, kind: 'START'|'END'|'READY'|'CORRID',
// dtype, falseValue?, trueValue?, shape}], states: [{input, output, dtype, shape, initial?: Uint8Array}],
// maxSequences, idleMicros, budget (from createStateBudget)}. Throws (ThrowInvalidArgument) naming the field.
struct SequenceOptions {
  SequenceConfig config;
  std::shared_ptr<StateBudget> budget;
};
std::optional<SequenceOptions> ParseSequenceOptions(const Napi::Value& options);

// options.sequence of run/runInline: {id: bigint (uint64) | string, start?: boolean, end?: boolean}, or nothing.
struct SequenceRequest {
  SequenceId id;
  bool start = false;
  bool end = false;
};
std::optional<SequenceRequest> ParseSequenceRequest(Napi::Env env, const Napi::Object& options);

// [sync] createStateBudget(limitBytes: number) → an opaque handle shared by the versions of one model.
Napi::Value CreateStateBudget(const Napi::CallbackInfo& info);

// {open, started, ended, expired, stateBytes}.
Napi::Object SequenceStatsToJs(Napi::Env env, const SequenceStats& stats);

}  // namespace ortserve
