// A small path-tracking reader over nlohmann::json: every value carries the
// JSON path that reached it ("linux.namespaces[2].type"), so every error
// names it as "<file>: <path>: <problem>". Never throws.
#pragma once

#include <cmath>
#include <concepts>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.hpp"

namespace ward::spec {

using Json = nlohmann::json;

// The deepest nesting of arrays and objects parse_json() accepts. No OCI
// document comes near it; it keeps every recursive walk of a value (copy,
// dump, comparison) far from the stack's end.
inline constexpr std::size_t kMaxJsonDepth = 1000;

// Parse `text` as JSON; malformed input fails with "<label>: invalid JSON:
// parse error at line L, column C: <reason>", nesting deeper than
// kMaxJsonDepth with "<label>: invalid JSON: nesting deeper than 1000 levels".
Result<Json> parse_json(std::string_view text, std::string_view label);

// The JSON type of `j` with an article, for messages ("an array", "null").
std::string_view type_phrase(const Json& j);

// One JSON value plus its path. Holds references: the Json and the label
// must outlive it.
class Node {
 public:
  Node(const Json& j, std::string path, std::string_view label)
      : j_(&j), path_(std::move(path)), label_(label) {}

  const Json& json() const { return *j_; }
  const std::string& path() const { return path_; }
  std::string_view label() const { return label_; }

  // An error located at this node: "<label>: <path>: <message>".
  template <class... A>
  std::unexpected<Error> fail(fmt::format_string<A...> f, A&&... a) const {
    return error_at(path_, fmt::format(f, std::forward<A>(a)...));
  }
  // An error located at `path` (for checks that span several fields).
  std::unexpected<Error> error_at(std::string_view path, std::string_view msg) const;

  // True when object member `key` is present and not null (null = absent, as
  // in the Go reference implementation).
  bool has(std::string_view key) const;
  // Object member `key` (precondition: has(key)); path "a.key".
  Node field(std::string_view key) const;
  // Array element `i`; path "a[i]".
  Node index(std::size_t i) const;

  // Type checks: fail with "expected an object, got array" style messages.
  Result<void> expect_object() const;
  Result<void> expect_array() const;

  // Typed reads of this value.
  Result<std::string> str() const;
  Result<bool> boolean() const;
  template <std::integral T>
  Result<T> integer() const;

  // Read member `key` into `out` when present; absence leaves `out` alone.
  template <class T>
  Result<void> opt(std::string_view key, T& out) const;
  // Like opt(), but absence fails with "<path>.key: missing required field".
  template <class T>
  Result<void> req(std::string_view key, T& out) const;

  // Call f(Node element, index) for each element of an array.
  template <class F>
  Result<void> each(F&& f) const;
  // Call f(key, Node value) for each member of an object; the value's path is
  // a["key"] so keys containing dots stay readable.
  template <class F>
  Result<void> each_member(F&& f) const;

 private:
  const Json* j_;
  std::string path_;
  std::string_view label_;
};

// The generic readers; spec/ adds overloads for each model struct, found by
// argument-dependent lookup.
Result<void> read(const Node& n, std::string& out);
Result<void> read(const Node& n, bool& out);
template <std::integral T>
  requires(!std::same_as<T, bool> && !std::same_as<T, char>)
Result<void> read(const Node& n, T& out) {
  auto v = n.template integer<T>();
  if (!v) return std::unexpected(std::move(v.error()));
  out = *v;
  return {};
}
template <class T>
Result<void> read(const Node& n, std::optional<T>& out) {
  T v{};
  WARD_TRY(read(n, v));
  out = std::move(v);
  return {};
}
template <class T>
Result<void> read(const Node& n, std::vector<T>& out) {
  WARD_TRY(n.expect_array());
  std::vector<T> v(n.json().size());
  WARD_TRY(n.each([&](const Node& e, std::size_t i) { return read(e, v[i]); }));
  out = std::move(v);
  return {};
}
template <class T>
Result<void> read(const Node& n, std::map<std::string, T>& out) {
  WARD_TRY(n.expect_object());
  std::map<std::string, T> m;
  WARD_TRY(n.each_member([&](const std::string& k, const Node& e) { return read(e, m[k]); }));
  out = std::move(m);
  return {};
}

template <std::integral T>
Result<T> Node::integer() const {
  using L = std::numeric_limits<T>;
  if (j_->is_number_unsigned()) {
    auto v = j_->get<uint64_t>();
    if (v > static_cast<uint64_t>(L::max()))
      return fail("value {} is out of range [{}, {}]", v, L::min(), L::max());
    return static_cast<T>(v);
  }
  if (j_->is_number_integer()) {
    auto v = j_->get<int64_t>();
    if constexpr (!L::is_signed) {
      if (v < 0) return fail("expected an unsigned integer, got {}", v);
      if (static_cast<uint64_t>(v) > static_cast<uint64_t>(L::max()))
        return fail("value {} is out of range [{}, {}]", v, L::min(), L::max());
    } else {
      if (v < static_cast<int64_t>(L::min()) || v > static_cast<int64_t>(L::max()))
        return fail("value {} is out of range [{}, {}]", v, L::min(), L::max());
    }
    return static_cast<T>(v);
  }
  if (j_->is_number_float()) {
    // A whole number too large for 64 bits arrives as a double: say so.
    double d = j_->get<double>();
    if (std::isfinite(d) && std::nearbyint(d) == d && std::fabs(d) >= 9.2e18)
      return fail("value {} is out of range [{}, {}]", j_->dump(), L::min(), L::max());
    return fail("expected an integer, got {}", j_->dump());
  }
  return fail("expected an integer, got {}", type_phrase(*j_));
}

template <class T>
Result<void> Node::opt(std::string_view key, T& out) const {
  if (!has(key)) return {};
  return read(field(key), out);
}

template <class T>
Result<void> Node::req(std::string_view key, T& out) const {
  if (!has(key)) return error_at(path_.empty() ? std::string(key) : path_ + "." + std::string(key),
                                 "missing required field");
  return read(field(key), out);
}

template <class F>
Result<void> Node::each(F&& f) const {
  WARD_TRY(expect_array());
  for (std::size_t i = 0; i < j_->size(); ++i) WARD_TRY(f(index(i), i));
  return {};
}

template <class F>
Result<void> Node::each_member(F&& f) const {
  WARD_TRY(expect_object());
  for (const auto& [k, v] : j_->items()) {
    Node child(v, fmt::format("{}[\"{}\"]", path_, k), label_);
    WARD_TRY(f(k, child));
  }
  return {};
}

}  // namespace ward::spec
