"""The command line: every subcommand is listed by --help, each one's own flags exist once it
is selected (ward builds a subcommand's options only then: cli::add_command), global flags go
before the subcommand, and unknown commands or flags fail with one line."""

import subprocess

import pytest

from conftest import one_line_error

# subcommand -> flags its --help must list
FLAGS = {
    "create": ["--bundle", "--console-socket", "--pid-file", "--no-pivot", "--no-new-keyring",
               "--preserve-fds"],
    "run": ["--bundle", "--detach", "--keep", "--no-subreaper", "--pid-file"],
    "start": [],
    "state": [],
    "kill": ["--all"],
    "delete": ["--force"],
    "list": ["--format", "--quiet"],
    "ls": ["--format", "--quiet"],
    "spec": ["--bundle", "--rootless"],
    "exec": ["--process", "--console-socket", "--cwd", "--env", "--tty", "--user",
             "--additional-gids", "--cap", "--no-new-privs", "--detach", "--pid-file",
             "--preserve-fds", "--cgroup", "--ignore-paused"],
    "pause": [],
    "resume": [],
    "ps": ["--format"],
    "update": ["--resources", "--memory", "--cpu-quota", "--cpuset-cpus", "--pids-limit"],
    "events": ["--stats", "--interval"],
    "features": [],
    "policy check": ["--policy", "--bundle"],
    "monitor": ["--listen", "--root", "--rules", "--netlink-rcvbuf"],
    "quarantine": ["--dump"],
}


def ward(session, *args):
    return subprocess.run([session["binary"], *args], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=30)


@pytest.mark.ward_only
def test_help_lists_every_subcommand(session):
    p = ward(session, "--help")
    assert p.returncode == 0, p.stderr
    listed = {line.split()[0].rstrip(",") for line in p.stdout.split("Subcommands:")[1].splitlines()
              if line.startswith("  ") and line.strip()}
    expected = {c.split()[0] for c in FLAGS if c != "ls"}
    assert expected <= listed, f"missing from --help: {expected - listed}"
    assert "list, ls" in p.stdout


@pytest.mark.ward_only
@pytest.mark.parametrize("cmd", sorted(FLAGS))
def test_subcommand_help_has_its_flags(session, cmd):
    p = ward(session, *cmd.split(), "--help")
    assert p.returncode == 0, p.stderr
    usage = "list" if cmd == "ls" else cmd
    assert f"Usage: ward {usage} " in p.stdout, p.stdout
    for flag in FLAGS[cmd]:
        assert flag in p.stdout, f"`ward {cmd} --help` does not list {flag}:\n{p.stdout}"


def test_global_flags_before_subcommand(session, tmp_path):
    root = tmp_path / "state"
    p = ward(session, "--root", str(root), "--log-format", "json", "--debug", "list", "--quiet")
    assert p.returncode == 0, p.stderr
    assert p.stdout == ""
    # a global flag's value that is also a subcommand name is still the value
    p = ward(session, "--root", str(tmp_path / "list"), "list", "-q")
    assert p.returncode == 0, p.stderr


def test_subcommand_flag_validated(session, tmp_path):
    p = ward(session, "--root", str(tmp_path), "list", "--format", "yaml")
    assert p.returncode != 0
    one_line_error(p)


@pytest.mark.parametrize("args", [["no-such-command"], ["--no-such-flag", "list"],
                                  ["list", "--no-such-flag"], ["exec"], ["state"]])
def test_bad_command_line(session, tmp_path, args):
    p = ward(session, "--root", str(tmp_path), *args)
    assert p.returncode != 0
    one_line_error(p)


@pytest.mark.ward_only
def test_unknown_command_names_it(session, tmp_path):
    p = ward(session, "--root", str(tmp_path), "no-such-command")
    assert p.returncode == 1
    assert "no-such-command" in one_line_error(p)
