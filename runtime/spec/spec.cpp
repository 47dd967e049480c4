#include "spec/spec.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

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

}  // namespace

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
  return {};
}

}  // namespace ward::spec
