// SHA-256 (FIPS 180-4), for the compiled-program cache: names a cache entry by
// its key and checks the entry's content. Pure, no allocation beyond the result.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace ward::seccomp {

using Digest = std::array<uint8_t, 32>;

// Incremental SHA-256: update() any number of times, then final() once.
class Sha256 {
 public:
  Sha256();
  void update(std::string_view data);
  Digest final();

 private:
  void block(const uint8_t* p);
  std::array<uint32_t, 8> h_;
  std::array<uint8_t, 64> buf_{};
  size_t used_ = 0;
  uint64_t total_ = 0;
};

Digest sha256(std::string_view data);
// Lower-case hex of `d`.
std::string hex(const Digest& d);

}  // namespace ward::seccomp
