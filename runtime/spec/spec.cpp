#include "spec/spec.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <filesystem>

#include "base/fd.hpp"
#include "spec/internal.hpp"

namespace ward::spec {

namespace {

// Whole contents of the file at `path`.
Result<std::string> read_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return fail_sys("open \"{}\"", path);
  std::string text;
  char buf[65536];
  while (true) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_sys("read \"{}\"", path);
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  return text;
}

// "2MB" -> 2048 (kB), as the kernel names /sys/kernel/mm/hugepages entries;
// the format was validated by the parser. 0 when it does not fit.
uint64_t page_size_kb(std::string_view s) {
  std::size_t digits = 0;
  uint64_t v = 0;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') {
    if (v > (UINT64_MAX - 9) / 10) return 0;
    v = v * 10 + static_cast<uint64_t>(s[digits++] - '0');
  }
  std::string_view unit = s.substr(digits);
  int shift = unit == "KB" ? 0 : unit == "MB" ? 10 : unit == "GB" ? 20 : unit == "TB" ? 30 : unit == "PB" ? 40 : -1;
  if (shift < 0 || v > (UINT64_MAX >> shift)) return 0;
  return v << shift;
}

// The kernel's name for a size in kB ("2048kB" -> "2MB"), for messages.
std::string page_size_name(uint64_t kb) {
  static constexpr const char* kUnits[] = {"KB", "MB", "GB", "TB", "PB"};
  int u = 0;
  while (u < 4 && kb % 1024 == 0 && kb >= 1024) kb /= 1024, ++u;
  return fmt::format("{}{}", kb, kUnits[u]);
}

}  // namespace

Result<void> check_host_resources(const model::Resources& r, std::string_view file_label, std::string_view path,
                                  const std::string& hugepages_dir) {
  for (std::size_t i = 0; i < r.hugepage_limits.size(); ++i) {
    const std::string& ps = r.hugepage_limits[i].page_size;
    uint64_t kb = page_size_kb(ps);
    struct stat st {};
    if (kb != 0 && ::stat(fmt::format("{}/hugepages-{}kB", hugepages_dir, kb).c_str(), &st) == 0 &&
        S_ISDIR(st.st_mode))
      continue;
    // Name what the host has, so the fix is obvious.
    std::vector<uint64_t> have;
    if (DIR* d = ::opendir(hugepages_dir.c_str())) {
      while (dirent* e = ::readdir(d)) {
        uint64_t v = 0;
        std::string_view n = e->d_name;
        if (!n.starts_with("hugepages-") || !n.ends_with("kB")) continue;
        n = n.substr(10, n.size() - 12);
        auto res = std::from_chars(n.data(), n.data() + n.size(), v);
        if (res.ec == std::errc() && res.ptr == n.data() + n.size()) have.push_back(v);
      }
      ::closedir(d);
    }
    std::sort(have.begin(), have.end());
    std::string sizes;
    for (uint64_t v : have) sizes += (sizes.empty() ? "" : ", ") + page_size_name(v);
    return fail_errno(EINVAL, "{}: {}hugepageLimits[{}].pageSize: hugepage size \"{}\" is not supported by this host ({})",
                      file_label, path, i, ps, sizes.empty() ? "it has no huge pages" : "it has " + sizes);
  }
  return {};
}

Result<void> check_host(const model::Config& c, std::string_view file_label, const std::string& hugepages_dir) {
  if (c.linux.resources)
    WARD_TRY(check_host_resources(*c.linux.resources, file_label, "linux.resources.", hugepages_dir));
  return {};
}

Result<model::Config> parse_config(std::string_view text, std::string_view bundle_dir,
                                   std::string_view file_label) {
  auto j = parse_json(text, file_label);
  if (!j) return std::unexpected(std::move(j.error()));
  return read_config(*j, bundle_dir, file_label);
}

Result<model::Config> load_bundle(std::string_view bundle_dir) {
  std::error_code ec;
  auto bundle = std::filesystem::absolute(std::string(bundle_dir), ec).lexically_normal();
  if (ec) return fail_errno(ec.value(), "bundle \"{}\"", bundle_dir);
  auto text = read_file((bundle / "config.json").string());
  if (!text) return std::unexpected(std::move(text.error()));
  auto c = parse_config(*text, bundle.string(), "config.json");
  if (!c) return c;
  WARD_TRY(refuse_unsupported(*c, "config.json"));
  // runc validator "rootfs": the root must exist and be a directory.
  struct stat st {};
  if (::stat(c->root.path.c_str(), &st) != 0)
    return fail_sys("config.json: root.path: \"{}\"", c->root.path);
  if (!S_ISDIR(st.st_mode)) return fail_errno(ENOTDIR, "config.json: root.path: \"{}\"", c->root.path);
  return c;
}

Result<model::Process> parse_process(std::string_view text, std::string_view file_label) {
  auto j = parse_json(text, file_label);
  if (!j) return std::unexpected(std::move(j.error()));
  return read_process(*j, file_label);
}

Result<model::Resources> parse_resources(std::string_view text, std::string_view file_label) {
  auto j = parse_json(text, file_label);
  if (!j) return std::unexpected(std::move(j.error()));
  return read_resources(*j, file_label);
}

}  // namespace ward::spec

namespace ward::spec {

Result<void> refuse_unsupported(const model::Config& c, std::string_view file_label) {
  for (std::size_t i = 0; i < c.mounts.size(); ++i) {
    const auto& m = c.mounts[i];
    for (const auto& o : m.options)
      if (o == "idmap" || o == "ridmap")
        return fail_errno(ENOTSUP, "{}: mounts[{}].options: \"{}\": idmapped mounts are not supported by ward yet",
                          file_label, i, o);
    if (!m.uid_mappings.empty() || !m.gid_mappings.empty())
      return fail_errno(ENOTSUP, "{}: mounts[{}].{}: idmapped mounts are not supported by ward yet", file_label, i,
                        m.uid_mappings.empty() ? "gidMappings" : "uidMappings");
  }
  if (const auto& rdt = c.linux.intel_rdt;
      rdt && (!rdt->clos_id.empty() || !rdt->l3_cache_schema.empty() || !rdt->mem_bw_schema.empty() ||
              rdt->enable_cmt || rdt->enable_mbm))
    return fail_errno(ENOTSUP, "{}: linux.intelRdt: Intel RDT (resctrl) is not supported by ward", file_label);
  return check_host(c, file_label);
}

}  // namespace ward::spec
