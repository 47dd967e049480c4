// `ward quarantine ID [--dump DIR]`: freeze a suspect container and take a
// forensic record (lifecycle::quarantine); prints the dump directory.
#include <cstdio>

#include "cli/commands.hpp"

namespace ward::cli {

namespace {

std::string id, dump;

void quarantine_cmd(CLI::App* q, Globals& g) {
  q->add_option("--dump", dump, "empty or new directory for the record (default <bundle>/quarantine-<UTC time>)");
  q->add_option("id", id, "container id")->required();
  q->callback([&g] {
    g.action = [&g] {
      auto r = lifecycle::quarantine(g.lc, id, dump);
      if (!r) return report(r.error());
      std::printf("%s\n", (*r)["dir"].template get<std::string>().c_str());
      return 0;
    };
  });
}

}  // namespace

void register_quarantine(CLI::App& app, Globals& g) {
  add_command(app, g, "quarantine",
              "freeze a container, record it for forensics, take its network down, leave it frozen", quarantine_cmd);
}

}  // namespace ward::cli
