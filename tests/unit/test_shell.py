"""Tests for layerscope.shell.commands: splitting RUN scripts into simple commands."""

from __future__ import annotations

import pytest

from layerscope.shell.commands import (
    SimpleCommand,
    commands_named,
    has_flag,
    split_commands,
    unwrap,
)


def argvs(cmd: str) -> list[tuple[str, ...]]:
    return [c.argv for c in split_commands(cmd)]


SPLIT_CASES: list[tuple[str, list[tuple[str, ...]]]] = [
    ("apt-get update", [("apt-get", "update")]),
    (
        "apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*",
        [
            ("apt-get", "update"),
            ("apt-get", "install", "-y", "curl"),
            ("rm", "-rf", "/var/lib/apt/lists/*"),
        ],
    ),
    # set -eux; prefix and ; separated cleanup
    (
        "set -eux; apt-get update; apt-get install -y curl; rm -rf /var/lib/apt/lists/*",
        [
            ("set", "-eux"),
            ("apt-get", "update"),
            ("apt-get", "install", "-y", "curl"),
            ("rm", "-rf", "/var/lib/apt/lists/*"),
        ],
    ),
    ("a || b | c & d", [("a",), ("b",), ("c",), ("d",)]),
    ("a|b;c&&d||e", [("a",), ("b",), ("c",), ("d",), ("e",)]),
    ("curl -sSL x |& tee log", [("curl", "-sSL", "x"), ("tee", "log")]),
    # the classic history form of a continued line: tabs and spaces left behind
    (
        "apt-get install -y \t\tcurl \t\tgit     && apt-get clean",
        [("apt-get", "install", "-y", "curl", "git"), ("apt-get", "clean")],
    ),
    # backslash-newline continuations still in the text
    ("pip install \\\n    flask \\\n    gunicorn", [("pip", "install", "flask", "gunicorn")]),
    # newlines separate (BuildKit heredoc bodies)
    (
        "set -e\napt-get update\n\napt-get install -y x\n",
        [("set", "-e"), ("apt-get", "update"), ("apt-get", "install", "-y", "x")],
    ),
    # operators inside quotes are not operators; quotes are removed
    ("echo 'a && b' \"c; d\" e\\;f", [("echo", "a && b", "c; d", "e;f")]),
    ("echo \"x\"y'z'", [("echo", "xyz")]),
    ("printf '' x", [("printf", "", "x")]),
    # redirections and their targets are not arguments
    (
        "apt-get update > /dev/null 2>&1 && make >>log 2>err </dev/null",
        [("apt-get", "update"), ("make",)],
    ),
    ("cmd &> /dev/null; echo 2>x", [("cmd",), ("echo",)]),
    # a here-document body is data, not commands
    ("cat <<EOF > /etc/app.conf\nrm -rf /\nEOF\necho done", [("cat",), ("echo", "done")]),
    ("cat <<-'END'\n\trm x\n\tEND\nls", [("cat",), ("ls",)]),
    # comments
    ("apt-get update # refresh && rm -rf /\nls", [("apt-get", "update"), ("ls",)]),
    ("echo a#b", [("echo", "a#b")]),
    # command substitution: inner commands first, word kept unexpanded
    (
        "pip install $(cat requirements.txt | grep -v '^#') && rm -rf ~/.cache",
        [
            ("cat", "requirements.txt"),
            ("grep", "-v", "^#"),
            ("pip", "install", "$(cat requirements.txt | grep -v '^#')"),
            ("rm", "-rf", "~/.cache"),
        ],
    ),
    ("echo `id -u`", [("id", "-u"), ("echo", "`id -u`")]),
    (
        'tar -C "$(mktemp -d)" -xf x.tgz',
        [("mktemp", "-d"), ("tar", "-C", "$(mktemp -d)", "-xf", "x.tgz")],
    ),
    # arithmetic and parameter expansion are not commands
    ("echo $((1 + 2)) ${HOME:-/root}", [("echo", "$((1 + 2))", "${HOME:-/root}")]),
    # subshells and compound commands
    ("(cd /src && make) && rm -rf /src", [("cd", "/src"), ("make",), ("rm", "-rf", "/src")]),
    (
        "if [ -f x ]; then rm x; else touch x; fi",
        [("[", "-f", "x", "]"), ("rm", "x"), ("touch", "x")],
    ),
    (
        "for f in *.deb; do dpkg -i $f; done; rm -f *.deb",
        [("dpkg", "-i", "$f"), ("rm", "-f", "*.deb")],
    ),
    ("while read l; do echo $l; done < list", [("read", "l"), ("echo", "$l")]),
    (
        "{ apt-get update; apt-get install -y x; }",
        [("apt-get", "update"), ("apt-get", "install", "-y", "x")],
    ),
    ("! grep -q x f", [("grep", "-q", "x", "f")]),
    # sh -c scripts are split too, after the shell command
    (
        "su app -c 'npm ci && npm cache clean --force'",
        [
            ("su", "app", "-c", "npm ci && npm cache clean --force"),
            ("npm", "ci"),
            ("npm", "cache", "clean", "--force"),
        ],
    ),
    (
        'bash -euo pipefail -c "curl -fsSL x | sh"',
        [("bash", "-euo", "pipefail", "-c", "curl -fsSL x | sh"), ("curl", "-fsSL", "x"), ("sh",)],
    ),
    ("sh script.sh -c x", [("sh", "script.sh", "-c", "x")]),
    # malformed input: best effort, no exception
    ('echo "unbalanced && rm -rf /', [("echo", "unbalanced && rm -rf /")]),
    ("echo 'unbalanced; rm", [("echo", "unbalanced; rm")]),
    ("pip install $(cat req", [("cat", "req"), ("pip", "install", "$(cat req")]),
    ("", []),
    (" ;; && || ", []),
    ("trailing \\", [("trailing",)]),
]


@pytest.mark.parametrize(("cmd", "expected"), SPLIT_CASES)
def test_split_commands(cmd: str, expected: list[tuple[str, ...]]) -> None:
    assert argvs(cmd) == expected


def test_env_assignments_are_kept_out_of_argv() -> None:
    commands = split_commands(
        'DEBIAN_FRONTEND=noninteractive LANG="C.UTF-8 x" apt-get install -y tzdata'
    )
    assert commands == [
        SimpleCommand(
            ("apt-get", "install", "-y", "tzdata"),
            (("DEBIAN_FRONTEND", "noninteractive"), ("LANG", "C.UTF-8 x")),
        )
    ]


def test_assignments_after_the_command_are_arguments() -> None:
    assert split_commands("make CC=gcc PREFIX=/usr") == [
        SimpleCommand(("make", "CC=gcc", "PREFIX=/usr"))
    ]


def test_bare_assignments_are_not_commands_but_their_substitutions_are() -> None:
    assert argvs("TMP=$(mktemp -d) && cd $TMP") == [("mktemp", "-d"), ("cd", "$TMP")]


def test_quoted_name_is_not_an_assignment() -> None:
    assert split_commands('"A"=1 cmd') == [SimpleCommand(("A=1", "cmd"))]


def test_name_property() -> None:
    assert split_commands("/usr/bin/apt-get update")[0].name == "apt-get"


def test_deep_nesting_stops_without_error() -> None:
    cmd = "echo " + "$(" * 50 + "x" + ")" * 50
    commands = split_commands(cmd)
    assert commands[-1].argv[0] == "echo"


# -- commands_named / unwrap -------------------------------------------------


def test_commands_named_looks_through_wrappers() -> None:
    cmd = (
        "sudo -E apt-get update && env DEBIAN_FRONTEND=noninteractive apt-get install -qy x"
        " && exec /usr/bin/apt-get clean && pip install y"
    )
    found = commands_named(cmd, "apt-get")
    assert [c.argv for c in found] == [
        ("apt-get", "update"),
        ("apt-get", "install", "-qy", "x"),
        ("/usr/bin/apt-get", "clean"),
    ]
    assert found[1].env == (("DEBIAN_FRONTEND", "noninteractive"),)


def test_commands_named_several_names_and_nested_shell() -> None:
    cmd = "sudo -u app sh -c 'pip3 install --user x; npm ci' && python -m pip --version"
    found = commands_named(cmd, "pip", "pip3", "npm")
    assert [c.argv for c in found] == [("pip3", "install", "--user", "x"), ("npm", "ci")]


def test_commands_named_no_match() -> None:
    assert commands_named("apt-get update", "apk") == []
    # "command -v" looks a program up, it does not run it
    assert commands_named("command -v pip", "pip") == []


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (("sudo", "-u", "app", "--", "npm", "ci"), ("npm", "ci")),
        (("env", "-i", "A=1", "pip", "install", "x"), ("pip", "install", "x")),
        (("timeout", "-s", "KILL", "60", "make"), ("make",)),
        (("nice", "-n", "10", "xargs", "-n", "1", "rm", "-f"), ("rm", "-f")),
        (("gosu", "app", "bundle", "install"), ("bundle", "install")),
        (("nohup", "busybox", "wget", "x"), ("wget", "x")),
        (("sudo", "-v"), ("sudo", "-v")),
        (("apt-get", "update"), ("apt-get", "update")),
    ],
)
def test_unwrap(argv: tuple[str, ...], expected: tuple[str, ...]) -> None:
    assert unwrap(SimpleCommand(argv)).argv == expected


def test_unwrap_collects_env_assignments() -> None:
    inner = unwrap(SimpleCommand(("env", "A=1", "sudo", "B=2", "make"), (("C", "3"),)))
    assert inner == SimpleCommand(("make",), (("C", "3"), ("A", "1"), ("B", "2")))


# -- has_flag ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("cmd", "flags", "expected"),
    [
        ("pip install --no-cache-dir x", ("--no-cache-dir",), True),
        ("pip install x", ("--no-cache-dir",), False),
        ("pip install --no-cache-dir=1 x", ("--no-cache-dir",), True),
        ("pip install --no-cache-directory x", ("--no-cache-dir",), False),
        ("apt-get install -y x", ("-y", "--yes"), True),
        ("apt-get install --yes x", ("-y", "--yes"), True),
        ("apt-get -qy install x", ("-y",), True),
        ("apt-get -qq install x", ("-y",), False),
        ("apt-get -o APT::Get::Assume-Yes=true install x", ("-y",), False),
        ("apk add --no-cache x", ("--no-cache",), True),
        ("apk add --no-cache-dir x", ("--no-cache",), False),
        ("rm -- -y", ("-y",), False),
        ("rm -rf /tmp/x", ("-f",), True),
        ("rm -r /tmp/x", ("-f", "--force"), False),
    ],
)
def test_has_flag(cmd: str, flags: tuple[str, ...], expected: bool) -> None:
    (command,) = split_commands(cmd)
    assert has_flag(command, *flags) is expected


def test_has_flag_ignores_the_program_name() -> None:
    assert not has_flag(SimpleCommand(("-y",)), "-y")
