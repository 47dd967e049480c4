// libFuzzer target: state.json bytes -> Store::load -> what every command then
// derives from the state (the OCI state JSON, a re-save). Loading must fail
// with an error naming the container, never crash, throw or abort.
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "base/log.hpp"
#include "state/state.hpp"

using namespace ward;

namespace {
std::string g_root;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

void write_all(const std::string& path, const uint8_t* data, size_t size) {
  FILE* f = std::fopen(path.c_str(), "w");
  check(f != nullptr);
  check(std::fwrite(data, 1, size, f) == size);
  std::fclose(f);
}
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  log::setup("/dev/null", log::Format::text, false);
  char tmpl[] = "/tmp/ward-fuzz-state.XXXXXX";
  check(::mkdtemp(tmpl) != nullptr);
  g_root = tmpl;
  check(::mkdir((g_root + "/fz").c_str(), 0700) == 0);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  state::Store store(g_root);
  write_all(g_root + "/fz/state.json", data, size);
  auto st = store.load("fz", false);
  if (!st) {
    check(st.error().what().find("fz") != std::string::npos);
    return 0;
  }
  (void)state::to_oci_json(*st, state::Status::stopped).dump();
  (void)state::to_oci_json(*st, state::Status::running).dump();
  st->id = "fz";
  (void)store.save(*st);
  ::unlink((g_root + "/fz/config.json").c_str());
  return 0;
}
