"""Shell-aware splitting of RUN commands into simple commands.

A RUN line is a POSIX shell script. Rules need to ask "which commands ran,
with which flags": ``apt-get update && apt-get install -y x && rm -rf
/var/lib/apt/lists/*`` is three commands, ``set -eux; pip install x`` two.
:func:`split_commands` tokenizes the script the way a shell would (quotes,
backslash-newline continuations, comments, redirections, here-documents) and
splits it on ``&&``, ``||``, ``;``, ``|``, ``&``, newlines and parentheses.
Command substitutions (``$(...)``, backticks) and ``sh -c '...'`` scripts are
split too and their commands included in the result.

It is best effort by design: history text can be truncated or malformed, so
nothing here raises; an unbalanced quote runs to the end of the text.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from layerscope.shell.lexer import NAME_RE, REDIRECTS, Lexer, Word

__all__ = ["SimpleCommand", "commands_named", "has_flag", "split_commands"]

_MAX_DEPTH = 8  # nesting of $(...), backticks and sh -c scripts we follow
_REDIRECT_SET = frozenset((*REDIRECTS, "&>", "&>>"))
# Reserved words that may start a command list; the command follows them.
_LEADING_RESERVED = frozenset(
    {"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "esac", "!", "{", "}"}
)
# Compound commands whose words are not a command to run.
_NOT_COMMANDS = frozenset({"for", "case", "select", "function"})
_SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh", "ksh", "mksh"})


@dataclass(frozen=True, slots=True)
class SimpleCommand:
    """One simple command of a shell script.

    ``argv`` are the command's words after quote removal, redirections and
    their targets left out (``apt-get update > /dev/null`` gives
    ``("apt-get", "update")``). ``env`` are the ``NAME=value`` assignments
    written before the command (``DEBIAN_FRONTEND=noninteractive apt-get
    ...``), in order. Words containing ``$(...)``, ``${...}`` or backticks
    keep their text unexpanded. ``argv`` is never empty.
    """

    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()

    @property
    def name(self) -> str:
        """The basename of ``argv[0]`` (``/usr/bin/apt-get`` -> ``apt-get``)."""
        return posixpath.basename(self.argv[0])


def split_commands(cmd: str) -> list[SimpleCommand]:
    """Split shell script ``cmd`` into its simple commands, in order.

    Commands inside ``$(...)`` and backticks come just before the command
    that uses them (they run first); the commands of a ``sh -c``/``bash -c``
    script (also behind ``sudo``, ``env``, ``su -c`` ...) come just after the
    shell command itself. Bare assignments (``X=1``) and compound-command
    headers (``for x in ...``) are not commands and are left out. Never
    raises.
    """
    return _split(cmd, 0)


def commands_named(cmd: str, *names: str) -> list[SimpleCommand]:
    """The commands of ``cmd`` whose program basename is one of ``names``.

    Wrappers are looked through: ``sudo``, ``env``, ``exec``, ``nohup``,
    ``time``, ``nice``, ``timeout``, ``xargs``, ``gosu``, ``su-exec``,
    ``doas``, ``stdbuf``, ``command`` and ``busybox``. The returned commands
    start at the wrapped program (``sudo -E apt-get install -y x`` gives
    ``argv=("apt-get", "install", "-y", "x")``), with ``env`` holding the
    leading assignments plus those given to ``env``/``sudo``.
    """
    wanted = set(names)
    found: list[SimpleCommand] = []
    for command in split_commands(cmd):
        inner = unwrap(command)
        if inner.name in wanted:
            found.append(inner)
    return found


def has_flag(c: SimpleCommand, *flags: str) -> bool:
    """True when any of ``flags`` is given to command ``c``.

    Long flags match exactly or with a value (``--no-cache-dir``,
    ``--target=x``). A one-letter short flag also matches inside a group of
    short flags (``-y`` in ``-qy``). Arguments after ``--`` are operands and
    are not looked at.
    """
    longs = {f for f in flags if f.startswith("--") or len(f) != 2 or not f[1:].isalnum()}
    shorts = {f[1] for f in flags if f not in longs and f.startswith("-")}
    for arg in c.argv[1:]:
        if arg == "--":
            return False
        if arg in longs or any(arg.startswith(f + "=") for f in longs if f.startswith("--")):
            return True
        if (
            shorts
            and len(arg) > 1
            and arg[0] == "-"
            and arg[1] != "-"
            and arg[1:].isalnum()
            and any(letter in shorts for letter in arg[1:])
        ):
            return True
    return False


def unwrap(c: SimpleCommand) -> SimpleCommand:
    """Strip wrapper programs (``sudo``, ``env``, ``exec`` ...) from ``c``.

    Returns ``c`` itself when it is not wrapped, or when stripping would
    leave no program (``sudo -v``).
    """
    argv = list(c.argv)
    env = list(c.env)
    for _ in range(_MAX_DEPTH):
        more_env = list(env)
        rest = _strip_wrapper(argv, more_env)
        if not rest:
            break
        argv, env = rest, more_env
    if len(argv) == len(c.argv):
        return c
    return SimpleCommand(tuple(argv), tuple(env))


# -- wrappers ---------------------------------------------------------------

# Options that take a separate value, per wrapper.
_WRAPPER_VALUE_OPTS = {
    "sudo": {"-u", "-g", "-U", "-C", "-h", "-p", "-r", "-t", "-D", "-R", "-T", "--user"},
    "doas": {"-u", "-C"},
    "env": {"-u", "--unset", "-C", "--chdir", "-S", "--split-string"},
    "exec": {"-a"},
    "nice": {"-n", "--adjustment"},
    "timeout": {"-s", "--signal", "-k", "--kill-after"},
    "xargs": {"-a", "-d", "-E", "-e", "-I", "-i", "-L", "-l", "-n", "-P", "-s"},
    "stdbuf": {"-i", "-o", "-e"},
    "time": {"-f", "-o"},
    "nohup": set(),
    "command": set(),
}


def _strip_wrapper(argv: list[str], env: list[tuple[str, str]]) -> list[str] | None:
    """``argv`` without its leading wrapper, or None when it has none."""
    name = posixpath.basename(argv[0])
    if name in ("gosu", "su-exec"):
        return argv[2:]
    if name == "busybox":
        return argv[1:]
    if name not in _WRAPPER_VALUE_OPTS:
        return None
    if name == "command" and len(argv) > 1 and argv[1] in ("-v", "-V"):
        return None  # a lookup, not a run
    takes_value = _WRAPPER_VALUE_OPTS[name]
    i = 1
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            i += 1
            break
        if arg in takes_value:
            i += 2
        elif arg.startswith("-") and len(arg) > 1:
            i += 1
        elif name in ("env", "sudo") and (pair := _assignment(arg)) is not None:
            env.append(pair)
            i += 1
        else:
            break
    if name == "timeout" and i < len(argv):
        i += 1  # the duration
    return argv[i:]


def _assignment(word: str) -> tuple[str, str] | None:
    key, sep, value = word.partition("=")
    if sep and NAME_RE.fullmatch(key):
        return key, value
    return None


def _shell_script(c: SimpleCommand) -> str | None:
    """The script a ``sh -c SCRIPT`` (or ``su -c SCRIPT``) command runs."""
    inner = unwrap(c)
    argv = inner.argv
    if inner.name in ("su", "runuser"):
        for i, arg in enumerate(argv[:-1]):
            if arg in ("-c", "--command"):
                return argv[i + 1]
        return None
    if inner.name not in _SHELLS:
        return None
    seen_c = False
    i = 1
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--" or arg.startswith("--"):
            continue
        if arg[:1] in ("-", "+") and len(arg) > 1:
            letters = arg[1:]
            seen_c = seen_c or "c" in letters
            # each o/O in a group (-euo pipefail, -O extglob) takes the next word
            i += letters.count("o") + letters.count("O")
            continue
        return arg if seen_c else None
    return None


# -- grouping ---------------------------------------------------------------


def _split(cmd: str, depth: int) -> list[SimpleCommand]:
    if depth > _MAX_DEPTH:
        return []
    out: list[SimpleCommand] = []
    words: list[Word] = []
    skip_target = False
    for token in [*Lexer(cmd).run(), ";"]:
        if isinstance(token, Word):
            if skip_target:
                skip_target = False
                for script in token.nested:
                    out.extend(_split(script, depth + 1))
            else:
                words.append(token)
        elif token in _REDIRECT_SET:
            skip_target = True
        else:
            skip_target = False
            out.extend(_finish(words, depth))
            words = []
    return out


def _finish(words: list[Word], depth: int) -> list[SimpleCommand]:
    """The commands one run of words between separators yields."""
    out: list[SimpleCommand] = []
    for word in words:
        for script in word.nested:
            out.extend(_split(script, depth + 1))
    while words and words[0].name is None and words[0].text in _LEADING_RESERVED:
        words = words[1:]
    if words and words[0].text in _NOT_COMMANDS:
        return out
    env: list[tuple[str, str]] = []
    argv: list[str] = []
    for word in words:
        if not argv and word.name is not None:
            env.append((word.name, word.text[len(word.name) + 1 :]))
        else:
            argv.append(word.text)
    if not argv:
        return out
    command = SimpleCommand(tuple(argv), tuple(env))
    out.append(command)
    inner_script = _shell_script(command)
    if inner_script is not None:
        out.extend(_split(inner_script, depth + 1))
    return out
