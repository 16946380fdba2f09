// One output of a fast-path run as its codec writes it: a view of the name, type, dims and bytes ORT produced.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/element_type.h"

namespace ortserve {

struct DirectOutput {
  std::string_view name;
  ElementType type = ElementType::kUndefined;
  const int64_t* shape = nullptr;
  std::size_t rank = 0;
  const void* data = nullptr;
  std::size_t data_length = 0;
};

}  // namespace ortserve
