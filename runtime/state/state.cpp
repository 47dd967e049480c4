#include "state/state.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <limits>
#include <stdexcept>

#include "platform/sys.hpp"

namespace ward::state {

const char* status_name(Status s) {
  switch (s) {
    case Status::creating: return "creating";
    case Status::created: return "created";
    case Status::running: return "running";
    case Status::paused: return "paused";
    case Status::stopped: return "stopped";
  }
  return "unknown";
}

Result<> validate_id(const std::string& id) {
  if (id.empty()) return fail("container id must not be empty");
  if (id == "." || id == "..") return fail("invalid container id \"{}\"", id);
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '+' || c == '-' || c == '.';
    if (!ok) return fail("invalid container id \"{}\": only [A-Za-z0-9_+.-] allowed", id);
  }
  if (id.size() > 1024) return fail("invalid container id: longer than 1024 characters");
  return {};
}

static Result<> flock_dir(int fd, const std::string& id) {
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno != EINTR) return fail_sys("lock container \"{}\"", id);
  }
  return {};
}

Result<UniqueFd> Store::create_dir(const std::string& id) const {
  WARD_TRY(validate_id(id));
  auto r = platform::mkdir_all(root_, 0700);
  if (!r) return std::unexpected(r.error().context("state root"));
  std::string d = dir(id);
  if (::mkdir(d.c_str(), 0700) != 0) {
    if (errno == EEXIST) return fail("container \"{}\" already exists", id);
    return fail_sys("create state directory {}", d);
  }
  UniqueFd fd(::open(d.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return fail_sys("open {}", d);
  WARD_TRY(flock_dir(fd.get(), id));
  return fd;
}

Result<UniqueFd> Store::lock(const std::string& id) const {
  WARD_TRY(validate_id(id));
  std::string d = dir(id);
  UniqueFd fd(::open(d.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return fail("container \"{}\" does not exist", id);
    return fail_sys("open {}", d);
  }
  WARD_TRY(flock_dir(fd.get(), id));
  return fd;
}

// An integer member of state.json: nlohmann's get<int>() converts a float
// with a C++ cast, undefined behaviour outside the type's range (found by
// fuzz/fuzz_state: "pid": 1e30), so only integers in range are taken.
template <class T>
static T integer_member(const nlohmann::json& j, const char* key) {
  const auto& v = j.at(key);
  bool ok = false;
  if (v.is_number_unsigned()) {
    ok = v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<T>::max());
  } else if (v.is_number_integer()) {
    auto i = v.get<int64_t>();
    ok = std::numeric_limits<T>::is_signed ? i >= static_cast<int64_t>(std::numeric_limits<T>::min()) &&
                                                 i <= static_cast<int64_t>(std::numeric_limits<T>::max())
                                           : i >= 0;
  }
  if (!ok) throw std::out_of_range(fmt::format("{}: expected an integer in range, got {}", key, v.dump()));
  return v.get<T>();
}

Result<ContainerState> Store::load(const std::string& id, bool with_config) const {
  WARD_TRY(validate_id(id));
  auto text = platform::read_file(dir(id) + "/state.json");
  if (!text) {
    if (text.error().err == ENOENT) return fail("container \"{}\" does not exist", id);
    return std::unexpected(text.error());
  }
  try {
    auto j = nlohmann::json::parse(*text);
    ContainerState st;
    st.oci_version = j.at("ociVersion").get<std::string>();
    st.id = j.at("id").get<std::string>();
    st.pid = integer_member<pid_t>(j, "pid");
    st.start_time = integer_member<uint64_t>(j, "startTime");
    st.bundle = j.at("bundle").get<std::string>();
    st.rootfs = j.at("rootfs").get<std::string>();
    st.created = j.at("created").get<std::string>();
    st.owner = j.value("owner", "");
    st.annotations = j.value("annotations", std::map<std::string, std::string>{});
    st.started = j.value("started", false);
    st.cgroup = j.value("cgroup", nlohmann::json());
    st.hooks = j.value("hooks", nlohmann::json());
    st.has_pid_ns = j.value("pidNamespace", false);
    if (j.contains("config")) {
      st.config_json = j["config"].get<std::string>();  // written by an older ward
    } else if (with_config) {
      auto cfg = platform::read_file(dir(id) + "/config.json");
      if (!cfg && cfg.error().err != ENOENT) return std::unexpected(cfg.error());
      if (cfg) st.config_json = std::move(*cfg);
    }
    return st;
  } catch (const std::exception& e) {
    return fail("container \"{}\": corrupt state.json: {}", id, e.what());
  }
}

Result<> Store::save(const ContainerState& st) const {
  nlohmann::json j = {{"ociVersion", st.oci_version}, {"id", st.id},         {"pid", st.pid},
                      {"startTime", st.start_time},   {"bundle", st.bundle}, {"rootfs", st.rootfs},
                      {"created", st.created},        {"owner", st.owner},   {"annotations", st.annotations},
                      {"started", st.started},        {"cgroup", st.cgroup}, {"hooks", st.hooks},
                      {"pidNamespace", st.has_pid_ns}};
  // The config never changes after create: written once, beside state.json, so that reading
  // the state (list: once per container) does not scan it.
  if (!st.config_json.empty()) {
    std::string cfg = dir(st.id) + "/config.json";
    if (::access(cfg.c_str(), F_OK) != 0)
      WARD_TRY(platform::write_file_atomic(cfg, st.config_json, 0600));
  }
  return platform::write_file_atomic(dir(st.id) + "/state.json", j.dump(), 0600);
}

Result<> Store::remove(const std::string& id) const {
  WARD_TRY(validate_id(id));
  return platform::remove_all(dir(id));
}

std::vector<std::string> Store::list() const {
  std::vector<std::string> ids;
  DIR* d = ::opendir(root_.c_str());
  if (!d) return ids;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    if (validate_id(n) && e->d_type == DT_DIR) ids.push_back(n);
  }
  ::closedir(d);
  std::sort(ids.begin(), ids.end());
  return ids;
}

Status derive_status(const ContainerState& st, bool frozen) {
  if (st.pid <= 0) return Status::creating;
  if (!platform::process_matches(st.pid, st.start_time)) return Status::stopped;
  if (frozen) return Status::paused;
  return st.started ? Status::running : Status::created;
}

nlohmann::json to_oci_json(const ContainerState& st, Status status) {
  nlohmann::json j = {{"ociVersion", st.oci_version},
                      {"id", st.id},
                      {"pid", status == Status::stopped ? 0 : st.pid},
                      {"status", status_name(status)},
                      {"bundle", st.bundle},
                      {"rootfs", st.rootfs},
                      {"created", st.created},
                      {"owner", st.owner}};
  if (!st.annotations.empty()) j["annotations"] = st.annotations;
  return j;
}

std::string now_rfc3339() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm t{};
  gmtime_r(&ts.tv_sec, &t);
  char buf[64];
  size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &t);
  snprintf(buf + n, sizeof buf - n, ".%09ldZ", ts.tv_nsec);
  return buf;
}

}  // namespace ward::state
