// The sd-bus client of the systemd driver. libsystemd is dlopen'ed on first
// use: ward links statically (there is no libsystemd.a) and must keep running
// on hosts without it when --systemd-cgroup is not given.
#include <dlfcn.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-bus.h>

#include <chrono>
#include <map>
#include <mutex>

#include "cgroups/systemd.hpp"

namespace ward::cgroups::systemd {
namespace {

constexpr const char* kDest = "org.freedesktop.systemd1";
constexpr const char* kPath = "/org/freedesktop/systemd1";
constexpr const char* kIface = "org.freedesktop.systemd1.Manager";
constexpr uint64_t kCallTimeoutUsec = 25'000'000;

// The few libsystemd entry points used, resolved once.
struct Lib {
  void* handle = nullptr;
#define WARD_SD_FN(name) decltype(&::name) name = nullptr
  WARD_SD_FN(sd_bus_open_system);
  WARD_SD_FN(sd_bus_new);
  WARD_SD_FN(sd_bus_set_address);
  WARD_SD_FN(sd_bus_start);
  WARD_SD_FN(sd_bus_flush_close_unref);
  WARD_SD_FN(sd_bus_message_new_method_call);
  WARD_SD_FN(sd_bus_message_append);
  WARD_SD_FN(sd_bus_message_append_array);
  WARD_SD_FN(sd_bus_message_open_container);
  WARD_SD_FN(sd_bus_message_close_container);
  WARD_SD_FN(sd_bus_message_read);
  WARD_SD_FN(sd_bus_message_unref);
  WARD_SD_FN(sd_bus_call);
  WARD_SD_FN(sd_bus_call_method);
  WARD_SD_FN(sd_bus_match_signal);
  WARD_SD_FN(sd_bus_slot_unref);
  WARD_SD_FN(sd_bus_process);
  WARD_SD_FN(sd_bus_wait);
  WARD_SD_FN(sd_bus_error_free);
  WARD_SD_FN(sd_bus_error_has_name);
#undef WARD_SD_FN
  std::string error;
};

const Lib& lib() {
  static Lib l;
  static std::once_flag once;
  std::call_once(once, [] {
    l.handle = ::dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL);
    if (!l.handle) {
      const char* e = ::dlerror();
      l.error = e ? e : "dlopen libsystemd.so.0 failed";
      return;
    }
    bool ok = true;
    auto sym = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(::dlsym(l.handle, name));
      if (!fn && ok) {
        ok = false;
        l.error = fmt::format("libsystemd.so.0 has no {}", name);
      }
    };
#define WARD_SD_SYM(name) sym(l.name, #name)
    WARD_SD_SYM(sd_bus_open_system);
    WARD_SD_SYM(sd_bus_new);
    WARD_SD_SYM(sd_bus_set_address);
    WARD_SD_SYM(sd_bus_start);
    WARD_SD_SYM(sd_bus_flush_close_unref);
    WARD_SD_SYM(sd_bus_message_new_method_call);
    WARD_SD_SYM(sd_bus_message_append);
    WARD_SD_SYM(sd_bus_message_append_array);
    WARD_SD_SYM(sd_bus_message_open_container);
    WARD_SD_SYM(sd_bus_message_close_container);
    WARD_SD_SYM(sd_bus_message_read);
    WARD_SD_SYM(sd_bus_message_unref);
    WARD_SD_SYM(sd_bus_call);
    WARD_SD_SYM(sd_bus_call_method);
    WARD_SD_SYM(sd_bus_match_signal);
    WARD_SD_SYM(sd_bus_slot_unref);
    WARD_SD_SYM(sd_bus_process);
    WARD_SD_SYM(sd_bus_wait);
    WARD_SD_SYM(sd_bus_error_free);
    WARD_SD_SYM(sd_bus_error_has_name);
#undef WARD_SD_SYM
    if (!ok) {
      ::dlclose(l.handle);
      l.handle = nullptr;
    }
  });
  return l;
}

bool systemd_booted() {
  // sd_booted(3): systemd as PID 1 creates /run/systemd/system.
  struct stat st{};
  return ::lstat("/run/systemd/system", &st) == 0 && S_ISDIR(st.st_mode);
}

// An sd_bus_error freed on scope exit; what() is its one-line text.
struct BusError {
  sd_bus_error e = SD_BUS_ERROR_NULL;
  ~BusError() { lib().sd_bus_error_free(&e); }
  std::string what(int r) const {
    if (e.message && e.name) return fmt::format("{} ({})", e.message, e.name);
    return std::strerror(r < 0 ? -r : r);
  }
};

struct Msg {
  sd_bus_message* m = nullptr;
  ~Msg() {
    if (m) lib().sd_bus_message_unref(m);
  }
};

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Append one property (r "sv") to an open a(sv) container.
int append_property(const Lib& L, sd_bus_message* m, const Property& p) {
  int r = L.sd_bus_message_open_container(m, 'r', "sv");
  if (r < 0) return r;
  if ((r = L.sd_bus_message_append(m, "s", p.name.c_str())) < 0) return r;
  r = std::visit(
      [&](const auto& v) -> int {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool>) {
          return L.sd_bus_message_append(m, "v", "b", static_cast<int>(v));
        } else if constexpr (std::is_same_v<T, uint64_t>) {
          return L.sd_bus_message_append(m, "v", "t", v);
        } else if constexpr (std::is_same_v<T, std::string>) {
          return L.sd_bus_message_append(m, "v", "s", v.c_str());
        } else if constexpr (std::is_same_v<T, std::vector<uint8_t>>) {
          int q = L.sd_bus_message_open_container(m, 'v', "ay");
          if (q < 0) return q;
          if ((q = L.sd_bus_message_append_array(m, 'y', v.data(), v.size())) < 0) return q;
          return L.sd_bus_message_close_container(m);
        } else if constexpr (std::is_same_v<T, std::vector<uint32_t>>) {
          int q = L.sd_bus_message_open_container(m, 'v', "au");
          if (q < 0) return q;
          if ((q = L.sd_bus_message_append_array(m, 'u', v.data(), v.size() * sizeof(uint32_t))) < 0) return q;
          return L.sd_bus_message_close_container(m);
        } else if constexpr (std::is_same_v<T, DevicePairs>) {
          int q = L.sd_bus_message_open_container(m, 'v', "a(ss)");
          if (q < 0) return q;
          if ((q = L.sd_bus_message_open_container(m, 'a', "(ss)")) < 0) return q;
          for (const auto& [a, b] : v)
            if ((q = L.sd_bus_message_append(m, "(ss)", a.c_str(), b.c_str())) < 0) return q;
          if ((q = L.sd_bus_message_close_container(m)) < 0) return q;
          return L.sd_bus_message_close_container(m);
        } else {
          static_assert(std::is_same_v<T, PathValues>);
          int q = L.sd_bus_message_open_container(m, 'v', "a(st)");
          if (q < 0) return q;
          if ((q = L.sd_bus_message_open_container(m, 'a', "(st)")) < 0) return q;
          for (const auto& [a, b] : v)
            if ((q = L.sd_bus_message_append(m, "(st)", a.c_str(), b)) < 0) return q;
          if ((q = L.sd_bus_message_close_container(m)) < 0) return q;
          return L.sd_bus_message_close_container(m);
        }
      },
      p.value);
  if (r < 0) return r;
  return L.sd_bus_message_close_container(m);
}

int append_properties(const Lib& L, sd_bus_message* m, const Properties& props) {
  int r = L.sd_bus_message_open_container(m, 'a', "(sv)");
  if (r < 0) return r;
  for (const auto& p : props)
    if ((r = append_property(L, m, p)) < 0) return r;
  return L.sd_bus_message_close_container(m);
}

}  // namespace

struct Bus::Impl {
  sd_bus* bus = nullptr;
  sd_bus_slot* slot = nullptr;
  std::map<std::string, std::string> removed;  // job path -> result (JobRemoved)

  ~Impl() {
    if (slot) lib().sd_bus_slot_unref(slot);
    if (bus) lib().sd_bus_flush_close_unref(bus);
  }

  static int on_job_removed(sd_bus_message* m, void* userdata, sd_bus_error*) {
    auto* self = static_cast<Impl*>(userdata);
    uint32_t id = 0;
    const char *job = nullptr, *unit = nullptr, *result = nullptr;
    if (lib().sd_bus_message_read(m, "uoss", &id, &job, &unit, &result) >= 0 && job && result)
      self->removed[job] = result;
    return 0;
  }

  // Wait until the job `path` is removed; its result ("done", "failed", ...).
  Result<std::string> wait_job(const std::string& path, int timeout_ms) {
    const Lib& L = lib();
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
      if (auto it = removed.find(path); it != removed.end()) return it->second;
      int r = L.sd_bus_process(bus, nullptr);
      if (r < 0) return fail_errno(-r, "systemd: wait for job {}", path);
      if (r > 0) continue;
      int64_t left = deadline - now_ms();
      if (left <= 0) return fail_errno(ETIMEDOUT, "systemd: job {} did not finish within {} ms", path, timeout_ms);
      r = L.sd_bus_wait(bus, static_cast<uint64_t>(left) * 1000);
      if (r < 0 && r != -EINTR) return fail_errno(-r, "systemd: wait for job {}", path);
    }
  }

  // Call a Manager method built by `fill`; the reply's job object path when
  // `job` is set. `err_name` receives the D-Bus error name on failure.
  template <class Fill>
  Result<std::string> call(const char* method, Fill&& fill, bool job, std::string* err_name = nullptr) {
    const Lib& L = lib();
    Msg req;
    int r = L.sd_bus_message_new_method_call(bus, &req.m, kDest, kPath, kIface, method);
    if (r >= 0) r = fill(req.m);
    if (r < 0) return fail_errno(-r, "systemd {}: build message", method);
    BusError e;
    Msg reply;
    r = L.sd_bus_call(bus, req.m, kCallTimeoutUsec, &e.e, &reply.m);
    if (r < 0) {
      if (err_name && e.e.name) *err_name = e.e.name;
      return fail("systemd {}: {}", method, e.what(r));
    }
    if (!job) return std::string();
    const char* path = nullptr;
    r = L.sd_bus_message_read(reply.m, "o", &path);
    if (r < 0 || !path) return fail_errno(r < 0 ? -r : EPROTO, "systemd {}: read job path", method);
    return std::string(path);
  }
};

Bus::Bus(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Bus::~Bus() = default;

bool available() { return systemd_booted() && lib().handle != nullptr; }

Result<std::shared_ptr<Bus>> Bus::connect() {
  if (!systemd_booted())
    return fail_errno(ENOTSUP, "systemd cgroup driver: systemd is not running as PID 1 (no /run/systemd/system)");
  const Lib& L = lib();
  if (!L.handle) return fail_errno(ENOTSUP, "systemd cgroup driver: {}", L.error);
  auto impl = std::make_unique<Impl>();
  int r = L.sd_bus_open_system(&impl->bus);
  if (r < 0) {
    // No D-Bus daemon: systemd's private socket speaks the same protocol
    // (as systemctl does it); root only.
    impl->bus = nullptr;
    int r2 = L.sd_bus_new(&impl->bus);
    if (r2 >= 0) r2 = L.sd_bus_set_address(impl->bus, "unix:path=/run/systemd/private");
    if (r2 >= 0) r2 = L.sd_bus_start(impl->bus);
    if (r2 < 0) {
      if (impl->bus) L.sd_bus_flush_close_unref(impl->bus);
      impl->bus = nullptr;
      return fail_errno(-r, "systemd cgroup driver: connect to the system bus");
    }
  }
  // No sender filter: on the private socket messages carry no sender name.
  r = L.sd_bus_match_signal(impl->bus, &impl->slot, nullptr, kPath, kIface, "JobRemoved", &Impl::on_job_removed,
                            impl.get());
  if (r < 0) return fail_errno(-r, "systemd: subscribe to JobRemoved");
  // Manager signals go only to subscribed clients (org.freedesktop.systemd1(5)).
  auto s = impl->call("Subscribe", [](sd_bus_message*) { return 0; }, false);
  if (!s) return std::unexpected(s.error());
  return std::shared_ptr<Bus>(new Bus(std::move(impl)));
}

Result<> Bus::start_scope(const UnitPath& u, pid_t pid, bool unified, const Properties& resources,
                          int job_timeout_ms) {
  const Lib& L = lib();
  Properties props{
      {"Description", fmt::format("ward container {}", u.unit)},
      {"Slice", u.slice},
      // The container's cgroup is ward's to manage below the unit (runc sets it too).
      {"Delegate", true},
      {"PIDs", std::vector<uint32_t>{static_cast<uint32_t>(pid)}},
      // Accounting for every controller, so the unit's cgroup has their files
      // as the cgroupfs driver's has (runc does the same).
      {"MemoryAccounting", true},
      {"CPUAccounting", true},
      {"TasksAccounting", true},
      {"DefaultDependencies", false},
  };
  props.push_back({unified ? "IOAccounting" : "BlockIOAccounting", true});
  props.insert(props.end(), resources.begin(), resources.end());
  auto job = impl_->call(
      "StartTransientUnit",
      [&](sd_bus_message* m) {
        int r = L.sd_bus_message_append(m, "ss", u.unit.c_str(), "replace");
        if (r >= 0) r = append_properties(L, m, props);
        if (r >= 0) r = L.sd_bus_message_append(m, "a(sa(sv))", 0);
        return r;
      },
      true);
  if (!job) return std::unexpected(job.error().context(u.unit));
  auto result = impl_->wait_job(*job, job_timeout_ms);
  if (!result) return std::unexpected(result.error().context(fmt::format("start {}", u.unit)));
  if (*result != "done") return fail("systemd: starting {} ended with \"{}\"", u.unit, *result);
  return {};
}

Result<> Bus::set_properties(const std::string& unit, const Properties& props) {
  const Lib& L = lib();
  auto r = impl_->call(
      "SetUnitProperties",
      [&](sd_bus_message* m) {
        int q = L.sd_bus_message_append(m, "sb", unit.c_str(), 1);
        if (q >= 0) q = append_properties(L, m, props);
        return q;
      },
      false);
  if (!r) return std::unexpected(r.error().context(unit));
  return {};
}

Result<> Bus::stop_unit(const std::string& unit, int job_timeout_ms) {
  const Lib& L = lib();
  std::string err;
  auto job = impl_->call(
      "StopUnit", [&](sd_bus_message* m) { return L.sd_bus_message_append(m, "ss", unit.c_str(), "replace"); }, true,
      &err);
  if (!job) {
    if (err == "org.freedesktop.systemd1.NoSuchUnit") return {};
    return std::unexpected(job.error().context(unit));
  }
  auto result = impl_->wait_job(*job, job_timeout_ms);
  if (!result) return std::unexpected(result.error().context(fmt::format("stop {}", unit)));
  // A failed scope (an OOM kill, say) stays loaded under its name until reset:
  // the next container of that name could not start.
  (void)impl_->call(
      "ResetFailedUnit", [&](sd_bus_message* m) { return L.sd_bus_message_append(m, "s", unit.c_str()); }, false);
  return {};
}

}  // namespace ward::cgroups::systemd
