// Runs every registered native/core test, prints one line per test and "N passed, N failed", and writes the counts
// to $NATIVE_TEST_SUMMARY (JSON) when set, so .ci/run can add them to the total.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "tests/check.h"

int main(int argc, char** argv) {
  const char* filter = argc > 1 ? argv[1] : nullptr;
  int passed = 0, failed = 0;
  for (const auto& test : ortserve_test::Registry()) {
    if (filter != nullptr && std::strstr(test.name, filter) == nullptr) continue;
    const int before = ortserve_test::Failures();
    test.body();
    const bool ok = ortserve_test::Failures() == before;
    std::printf("%s %s\n", ok ? "ok  " : "FAIL", test.name);
    (ok ? passed : failed)++;
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  if (const char* path = std::getenv("NATIVE_TEST_SUMMARY")) {
    if (FILE* out = std::fopen(path, "w")) {
      std::fprintf(out, "{\"passed\": %d, \"failed\": %d}\n", passed, failed);
      std::fclose(out);
    }
  }
  return failed == 0 ? 0 : 1;
}
