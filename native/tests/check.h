// A minimal test harness for native/core unit tests: TEST() registers a case, CHECK*() record failures.
#pragma once

#include <cstdio>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace ortserve_test {

struct Case {
  const char* name;
  std::function<void()> body;
};

inline std::vector<Case>& Registry() {
  static std::vector<Case> cases;
  return cases;
}

inline int& Failures() {
  static int failures = 0;
  return failures;
}

struct Registrar {
  Registrar(const char* name, std::function<void()> body) { Registry().push_back({name, std::move(body)}); }
};

inline void Fail(const char* file, int line, const std::string& what) {
  ++Failures();
  std::fprintf(stderr, "  FAILED %s:%d: %s\n", file, line, what.c_str());
}

}  // namespace ortserve_test

#define TEST(name)                                                              \
  static void name();                                                           \
  static ::ortserve_test::Registrar name##_registrar(#name, name);              \
  static void name()

#define CHECK(cond)                                                             \
  do {                                                                          \
    if (!(cond)) ::ortserve_test::Fail(__FILE__, __LINE__, "CHECK(" #cond ")"); \
  } while (0)

#define CHECK_EQ(a, b)                                                                      \
  do {                                                                                      \
    const auto& check_a = (a);                                                              \
    const auto& check_b = (b);                                                              \
    if (!(check_a == check_b)) {                                                            \
      std::ostringstream check_out;                                                         \
      check_out << "CHECK_EQ(" #a ", " #b "): " << check_a << " != " << check_b;            \
      ::ortserve_test::Fail(__FILE__, __LINE__, check_out.str());                           \
    }                                                                                       \
  } while (0)
