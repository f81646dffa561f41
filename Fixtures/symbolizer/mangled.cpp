// Symbolizer fixture: C++ names for __cxa_demangle, with an inlined method.
#include <vector>

namespace fixture {
template <typename T> struct Accumulator {
  std::vector<T> values;
  __attribute__((always_inline)) inline void add(T v) { values.push_back(v * 2); }
  __attribute__((noinline)) T sum(int limit) const {
    T s = 0;
    for (int i = 0; i < limit && i < (int)values.size(); i++) s += values[i];
    return s;
  }
};

__attribute__((noinline)) int build(int n) {
  Accumulator<int> acc;
  for (int i = 0; i < n; i++) acc.add(i);
  return acc.sum(n);
}
}  // namespace fixture

extern "C" int cxx_entry(int n) { return fixture::build(n); }
