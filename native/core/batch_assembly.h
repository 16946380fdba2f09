// Batch assembly: concatenating the tasks' inputs along dim 0 (one copy each), and handing each task its rows of
// the batch outputs as views that share the batch output's memory (no copy).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/batch_former.h"
#include "core/status.h"
#include "core/tensor_data.h"

namespace ortserve {

// Memory the assembled batch inputs live in, freed once the run is over.
struct BatchInputStorage {
  std::vector<std::unique_ptr<uint8_t[]>> buffers;
};

// Builds the inputs for one ORT run of `batch`. A batch of one task that needs no padding gets that task's own
// views (zero-copy). Otherwise each input is one new buffer of padded_rows rows: every task's rows are copied in
// once, padded rows and (with pad_variable_length_inputs) padded positions are zero / empty strings.
Status AssembleBatchInputs(const Batch& batch, bool pad_variable_length_inputs, std::vector<InputTensor>* inputs,
                           BatchInputStorage* storage);

// The outputs to request from the model: every name some task asked for, in model order (all when one asks all).
std::vector<std::string> BatchOutputNames(const Batch& batch, const std::vector<std::string>& model_outputs);

// Gives each numeric output that ORT placed inside one of `inputs` (an Identity may hand its input back: seen on
// inline runs) memory of its own, copied here on the worker. The inputs are the request's buffers (released, or lent
// again by the large-buffer pool, once the answer is written) or the batch's assembly storage, which is gone when
// the run returns: an output left pointing into it would be read after it was freed. js_tensors.cc's own check,
// which copies on the JS thread, stays for inline runs.
void CopyOutputsAliasingInputs(const std::vector<InputTensor>& inputs, std::vector<OutputTensor>* outputs);

// Gives each task its requested outputs. For a batch of one, outputs are moved as they are. Otherwise each numeric
// output must have dim 0 == padded_rows; task i gets a view of its rows that shares `owner` (the batch output is
// freed when the last view is), and string outputs are split by copy. Fails naming the output that cannot be split.
Status SplitBatchOutputs(const Batch& batch, const std::vector<std::string>& batch_output_names,
                         std::vector<OutputTensor>* batch_outputs);

}  // namespace ortserve
