#include "spec/json_reader.hpp"

namespace ward::spec {

namespace {

// The deepest nesting of arrays and objects in `text` (a linear scan that
// skips strings), stopping once it exceeds `limit`; the byte offset where it
// did goes to `at`. Malformed text is the parser's to report.
std::size_t nesting_depth(std::string_view text, std::size_t limit, std::size_t& at) {
  std::size_t depth = 0, deepest = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest) deepest = depth;
      if (deepest > limit) {
        at = i;
        return deepest;
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

}  // namespace

Result<Json> parse_json(std::string_view text, std::string_view label) {
  // Refused before parsing: nlohmann::json copies and dumps values
  // recursively, so a document nested 10^6 deep would overflow the stack
  // later (runc refuses it too; Go's encoding/json stops at 10000).
  std::size_t at = 0;
  if (nesting_depth(text, kMaxJsonDepth, at) > kMaxJsonDepth)
    return fail("{}: invalid JSON: nesting deeper than {} levels (at byte {})", label, kMaxJsonDepth, at);
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const Json::parse_error& e) {
    // what() reads "[json.exception.parse_error.101] parse error at line 1,
    // column 2: <reason>"; drop the exception id, keep position and reason.
    std::string_view what = e.what();
    auto close = what.find("] ");
    if (close != std::string_view::npos) what.remove_prefix(close + 2);
    // The reason quotes the bytes last read, which may be anything: keep the
    // one-line message printable (and UTF-8, for --log-format json).
    std::string reason;
    for (char ch : what) {
      auto u = static_cast<unsigned char>(ch);
      if (u >= 0x20 && u < 0x7f) reason += ch;
      else reason += fmt::format("\\x{:02x}", u);
    }
    return fail("{}: invalid JSON: {}", label, reason);
  } catch (const std::exception& e) {
    return fail("{}: invalid JSON: {}", label, e.what());
  }
}

std::string_view type_phrase(const Json& j) {
  switch (j.type()) {
    case Json::value_t::object: return "an object";
    case Json::value_t::array: return "an array";
    case Json::value_t::string: return "a string";
    case Json::value_t::boolean: return "a boolean";
    case Json::value_t::null: return "null";
    default: return "a number";
  }
}

std::unexpected<Error> Node::error_at(std::string_view path, std::string_view msg) const {
  if (path.empty()) return ward::fail("{}: {}", label_, msg);
  return ward::fail("{}: {}: {}", label_, path, msg);
}

bool Node::has(std::string_view key) const {
  if (!j_->is_object()) return false;
  auto it = j_->find(key);
  return it != j_->end() && !it->is_null();
}

Node Node::field(std::string_view key) const {
  std::string p = path_.empty() ? std::string(key) : fmt::format("{}.{}", path_, key);
  return Node(*j_->find(key), std::move(p), label_);
}

Node Node::index(std::size_t i) const {
  return Node((*j_)[i], fmt::format("{}[{}]", path_, i), label_);
}

Result<void> Node::expect_object() const {
  if (!j_->is_object()) return fail("expected an object, got {}", type_phrase(*j_));
  return {};
}

Result<void> Node::expect_array() const {
  if (!j_->is_array()) return fail("expected an array, got {}", type_phrase(*j_));
  return {};
}

Result<std::string> Node::str() const {
  if (!j_->is_string()) return fail("expected a string, got {}", type_phrase(*j_));
  return j_->get<std::string>();
}

Result<bool> Node::boolean() const {
  if (!j_->is_boolean()) return fail("expected a boolean, got {}", type_phrase(*j_));
  return j_->get<bool>();
}

Result<void> read(const Node& n, std::string& out) {
  auto v = n.str();
  if (!v) return std::unexpected(std::move(v.error()));
  out = std::move(*v);
  return {};
}

Result<void> read(const Node& n, bool& out) {
  auto v = n.boolean();
  if (!v) return std::unexpected(std::move(v.error()));
  out = *v;
  return {};
}

}  // namespace ward::spec
