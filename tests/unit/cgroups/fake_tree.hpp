// A temp dir standing in for a cgroup filesystem: control files are plain
// files pre-created by the test and read back after the code under test ran.
#pragma once

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string>

struct FakeTree {
  std::string root;
  FakeTree() {
    char tmpl[] = "/tmp/ward-cg-XXXXXX";
    root = ::mkdtemp(tmpl);
  }
  ~FakeTree() { std::filesystem::remove_all(root); }
  std::string path(const std::string& rel) const { return rel.empty() ? root : root + "/" + rel; }
  void dir(const std::string& rel) const { std::filesystem::create_directories(path(rel)); }
  void put(const std::string& rel, const std::string& content = "") const {
    std::filesystem::create_directories(std::filesystem::path(path(rel)).parent_path());
    std::ofstream(path(rel)) << content;
  }
  void files(const std::string& dir_rel, std::initializer_list<const char*> names) const {
    for (auto n : names) put(dir_rel + "/" + n);
  }
  std::string get(const std::string& rel) const {
    std::ifstream f(path(rel));
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
  }
  bool has(const std::string& rel) const { return std::filesystem::exists(path(rel)); }
};
