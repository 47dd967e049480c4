// Sorted constant name -> value tables: the one way kernel and OCI names
// ("CAP_CHOWN", "SCMP_ACT_ERRNO") become values, shared by spec/ and
// `ward features`.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

namespace ward::model {

// One entry of a name -> value table.
template <class V>
struct NameValue {
  std::string_view name;
  V value;
};

// True when `t` is strictly sorted by name (no duplicates); tables
// static_assert this so lookup() can binary-search.
template <class T, std::size_t N>
constexpr bool sorted_by_name(const std::array<T, N>& t) {
  for (std::size_t i = 1; i < N; ++i)
    if (!(t[i - 1].name < t[i].name)) return false;
  return true;
}

// The value named `name` in the sorted table `t`, or nullopt.
template <class Table>
constexpr auto lookup(const Table& t, std::string_view name)
    -> std::optional<decltype(std::begin(t)->value)> {
  auto it = std::lower_bound(std::begin(t), std::end(t), name,
                             [](const auto& e, std::string_view n) { return e.name < n; });
  if (it != std::end(t) && it->name == name) return it->value;
  return std::nullopt;
}

// The name of `value` in table `t` (linear scan), or "" when absent.
template <class Table, class V>
constexpr std::string_view name_of(const Table& t, const V& value) {
  for (const auto& e : t)
    if (e.value == value) return e.name;
  return {};
}

}  // namespace ward::model
