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

#include "platform/procfs.hpp"
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

namespace {
// Non-UTF-8 bytes (a bundle path can hold any) must not make dump() throw:
// they are replaced for the JSON, and the exact bytes kept hex-encoded.
std::string dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

bool valid_utf8(const std::string& s) {
  try {
    (void)nlohmann::json(s).dump();
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

std::string to_hex(const std::string& s) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out.push_back(d[c >> 4]);
    out.push_back(d[c & 15]);
  }
  return out;
}

std::optional<std::string> from_hex(const std::string& h) {
  if (h.size() % 2) return std::nullopt;
  std::string out;
  auto v = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (size_t i = 0; i < h.size(); i += 2) {
    int a = v(h[i]), b = v(h[i + 1]);
    if (a < 0 || b < 0) return std::nullopt;
    out.push_back(static_cast<char>(a * 16 + b));
  }
  return out;
}

// A string field written as text, or as hex (`KEY` + "Hex") when not UTF-8.
void put_bytes(nlohmann::json& j, const char* key, const std::string& v) {
  j[key] = v;
  if (!valid_utf8(v)) j[std::string(key) + "Hex"] = to_hex(v);
}
std::string get_bytes(const nlohmann::json& j, const char* key) {
  auto hk = std::string(key) + "Hex";
  if (auto it = j.find(hk); it != j.end() && it->is_string())
    if (auto b = from_hex(it->get<std::string>())) return *b;
  return j.at(key).get<std::string>();
}
}  // namespace

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
  std::string path = dir(id) + "/state.json";
  auto text = platform::read_file(path);
  if (!text) {
    if (text.error().err == ENOENT) {
      struct stat sb{};
      if (::stat(dir(id).c_str(), &sb) == 0) return fail_errno(ENOENT, "container \"{}\": {} is missing", id, path);
      return fail("container \"{}\" does not exist", id);
    }
    return std::unexpected(text.error());
  }
  try {
    auto j = nlohmann::json::parse(*text);
    ContainerState st;
    st.oci_version = j.at("ociVersion").get<std::string>();
    st.id = j.at("id").get<std::string>();
    st.pid = integer_member<pid_t>(j, "pid");
    st.start_time = integer_member<uint64_t>(j, "startTime");
    st.bundle = get_bytes(j, "bundle");
    st.rootfs = get_bytes(j, "rootfs");
    st.created = j.at("created").get<std::string>();
    st.owner = j.value("owner", "");
    st.annotations = j.value("annotations", std::map<std::string, std::string>{});
    st.started = j.value("started", false);
    // Written before `ready` existed: only at the end of create.
    st.ready = j.value("ready", st.pid > 0);
    st.init_exe = j.value("initExe", "");
    // Moved out of the parsed document, not copied (j.value copies): the cgroup object is
    // most of state.json, and `list` loads one per container (bench/RESULTS.md).
    if (auto it = j.find("cgroup"); it != j.end()) st.cgroup = std::move(*it);
    if (auto it = j.find("hooks"); it != j.end()) st.hooks = std::move(*it);
    st.has_pid_ns = j.value("pidNamespace", false);
    if (st.id != id) return fail("container \"{}\": corrupt {}: it names container \"{}\"", id, path, st.id);
    if (j.contains("config")) {
      st.config_json = j["config"].get<std::string>();  // written by an older ward
    } else if (with_config) {
      auto cfg = platform::read_file(dir(id) + "/config.json");
      if (!cfg && cfg.error().err != ENOENT) return std::unexpected(cfg.error());
      if (cfg) st.config_json = std::move(*cfg);
    }
    return st;
  } catch (const std::exception& e) {
    return fail_errno(EINVAL, "container \"{}\": corrupt {}: {}", id, path, e.what());
  }
}

Result<ContainerState> Store::load_intent(const std::string& id) const {
  WARD_TRY(validate_id(id));
  std::string path = dir(id) + "/intent.json";
  auto text = platform::read_file(path);
  if (!text) return std::unexpected(text.error());
  try {
    auto j = nlohmann::json::parse(*text);
    ContainerState st;
    st.id = id;
    st.pid = j.value("pid", 0);
    st.start_time = j.value("startTime", uint64_t{0});
    st.cgroup = j.value("cgroup", nlohmann::json());
    return st;
  } catch (const std::exception& e) {
    return fail_errno(EINVAL, "container \"{}\": corrupt {}: {}", id, path, e.what());
  }
}

Result<> Store::save(const ContainerState& st) const {
  nlohmann::json j = {{"ociVersion", st.oci_version}, {"id", st.id},         {"pid", st.pid},
                      {"startTime", st.start_time},   {"created", st.created}, {"owner", st.owner},
                      {"annotations", st.annotations}, {"started", st.started}, {"ready", st.ready},
                      {"initExe", st.init_exe},      {"cgroup", st.cgroup}, {"hooks", st.hooks},
                      {"pidNamespace", st.has_pid_ns}};
  put_bytes(j, "bundle", st.bundle);
  put_bytes(j, "rootfs", st.rootfs);
  // The config never changes after create: written once, beside state.json, so that reading
  // the state (list: once per container) does not scan it.
  if (!st.config_json.empty()) {
    std::string cfg = dir(st.id) + "/config.json";
    if (::access(cfg.c_str(), F_OK) != 0)
      WARD_TRY(platform::write_file_atomic(cfg, st.config_json, 0600));
  }
  // The intent first: what the container may own is on record before state.json says more.
  // No fsync: the state lives on tmpfs (/run), gone with the processes a reboot ends.
  nlohmann::json intent = {{"pid", st.pid}, {"startTime", st.start_time}, {"cgroup", st.cgroup}};
  WARD_TRY(platform::write_file_atomic(dir(st.id) + "/intent.json", dump(intent), 0600));
  return platform::write_file_atomic(dir(st.id) + "/state.json", dump(j), 0600);
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

std::string process_exe(pid_t pid) {
  // readlinkat reads the magic link without following it, beneath the verified /proc/PID.
  auto fd = platform::open_proc_file(fmt::format("{}", pid), O_RDONLY | O_DIRECTORY);
  if (!fd) return "";
  char buf[4096];
  ssize_t n = ::readlinkat(fd->get(), "exe", buf, sizeof buf);
  if (n <= 0) return "";
  return std::string(buf, static_cast<size_t>(n));
}

Status derive_status(const ContainerState& st, bool frozen) {
  if (st.pid <= 0) return Status::creating;
  if (!platform::process_matches(st.pid, st.start_time)) return Status::stopped;
  if (frozen) return Status::paused;
  if (!st.ready) return Status::creating;
  // The init has exec'd once its exe is no longer the one it was created with.
  if (!st.init_exe.empty()) {
    std::string exe = process_exe(st.pid);
    if (!exe.empty()) return exe == st.init_exe ? Status::created : Status::running;
  }
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
  // Callers dump this: make that safe for bytes that are not UTF-8 (a bundle path).
  return nlohmann::json::parse(dump(j));
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
