# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one spelling of the ``iptables-restore`` / ``ip6tables-restore`` / ``ebtables-restore``
file format, and its inverse for listings.

The tools (iptables 1.8.9, nft and legacy alike; ebtables-nft shares the code) read a file a
line at a time into a 10240-byte buffer: a longer line is cut and its rest read as a line of its
own, which may be a command (``:INPUT DROP``, ``-P INPUT DROP``, ``COMMIT``). A rule line is cut
into words by ``add_param_to_argv`` (xshared.c), measured here against the real tools:

* words are separated by space, tab and newline, nothing else (a CR, VT, FF or U+2028 is part
  of a word);
* ``"`` opens a quoted group anywhere in a word; inside it ``\\`` takes the next character
  literally and the closing ``"`` ends the word (``"ab"cd`` is two words, ``ab"cd"`` is one);
  ``""`` is an empty word;
* outside quotes a backslash and a single quote are ordinary characters;
* a word longer than 1023 bytes is refused ("Parameter too long!").

``iptables-save`` and ``iptables -S`` spell a string (a comment) the same way: bare when it is
only ``[A-Za-z0-9_-]``, else in double quotes with ``"``, ``\\`` and ``'`` escaped by a
backslash, so :func:`split_line` reads their listings back exactly. (ebtables prints a log
prefix in quotes without escapes: its words are exact unless the prefix holds a backslash.)
"""

import re

# Tools read lines into a 10240-byte buffer (fgets: 10239 bytes and the newline). Stay far below.
MAX_LINE_BYTES = 8192
# The tokenizer's word buffer is 1024 bytes ("Parameter too long!" from 1024 on).
MAX_WORD_BYTES = 1000

_BARE = re.compile(r"[A-Za-z0-9_.,:/=+@%!^~-]+\Z")
_SEPARATORS = re.compile(r"[ \t\n]+")
_NEVER = ("\n", "\r", "\0")  # would end the line, or the C string, early
_NAME = re.compile(r"[A-Za-z0-9_]+\Z")  # table names
_CHAIN = re.compile(r"[^\s\"'\\\0-\x1f\x7f]+\Z")

# Words that are a command of a restore line (short, or a long option getopt_long accepts as an
# abbreviation), the table option, and options that act beyond one rule.
_SHORT_COMMANDS = frozenset("ADIRLSFZNXPECt")
_LONG_COMMANDS = ("append", "delete", "insert", "replace", "list", "list-rules", "flush",
                  "zero", "new-chain", "delete-chain", "policy", "rename-chain", "check",
                  "change-counters", "table", "init-table", "atomic-file", "atomic-init",
                  "atomic-save", "atomic-commit", "modprobe")
_TABLE_OPTIONS = ("-t", "--table")


class Unspellable(ValueError):
    """A word, name or line the restore format cannot carry faithfully; ``str()`` says why."""


def _size(text):
    try:
        return len(text.encode("utf-8"))
    except UnicodeError:
        raise Unspellable("%r is not valid Unicode text" % (text,))


def spell_word(word):
    """``word`` as the restore tokenizer reads it back: bare when that is unambiguous, else in
    double quotes with ``\\`` and ``"`` escaped. Raises Unspellable for a newline, CR or NUL,
    or a word over MAX_WORD_BYTES."""
    if _BARE.match(word):
        if len(word) > MAX_WORD_BYTES:
            raise Unspellable("a word of %d bytes is longer than a restore file takes (%d)"
                              % (len(word), MAX_WORD_BYTES))
        return word
    for char in _NEVER:
        if char in word:
            raise Unspellable("%r holds a %s, which a restore line cannot carry"
                              % (word, {"\n": "newline", "\r": "carriage return",
                                        "\0": "NUL"}[char]))
    size = _size(word)
    if size > MAX_WORD_BYTES:
        raise Unspellable("a word of %d bytes is longer than a restore file takes (%d)"
                          % (size, MAX_WORD_BYTES))
    return '"%s"' % word.replace("\\", "\\\\").replace('"', '\\"')


def spell_line(words):
    """One restore line (without its newline) that :func:`split_line` and the tools read back
    as exactly ``words``. Raises Unspellable for what it cannot carry, or for a line over
    MAX_LINE_BYTES."""
    line = " ".join(spell_word(word) for word in words)
    size = _size(line)
    if size > MAX_LINE_BYTES:
        raise Unspellable("a line of %d bytes is longer than a restore file takes (%d): the "
                          "tools would cut it in two" % (size, MAX_LINE_BYTES))
    return line


def spell_table(name):
    """``*NAME``; raises Unspellable unless the name is letters, digits and ``_``."""
    if not _NAME.match(name):
        raise Unspellable("%r is not a table name" % (name,))
    return "*" + name


def spell_chain(name, policy):
    """A chain declaration ``:NAME POLICY`` (iptables wants ``-`` and ``[0:0]`` in ``policy``,
    ebtables a target such as ``RETURN``). The tools split these lines on blanks, without
    quotes: raises Unspellable for a name that would not come back whole."""
    if not _CHAIN.match(name) or len(name) > 64:
        raise Unspellable("%r cannot be declared as a chain in a restore file" % (name,))
    return ":%s %s" % (name, policy)


def rule_line(args, batchable):
    """``(table, line)``: the restore line of one iptables/ip6tables/ebtables command given as
    its arguments (without the tool's name), or None when it must run as a process of its own.

    ``batchable``: the command words (``-A``, ``--append``...) that may start a line. Refused:
    any other command (``-L``, ``-S``, ``--check``); table options
    anywhere but before the command; anything before the command but table options; a second
    command word after the first (``-P``, ``--flush``, ``--tab``, ``-vF``...), except the policy
    of an ebtables ``-N CHAIN -P POLICY``; and whatever :func:`spell_line` refuses.
    """
    table = "filter"
    index = 0
    count = len(args)
    while index < count:
        arg = args[index]
        if arg in _TABLE_OPTIONS and index + 1 < count:
            table = args[index + 1]
            index += 2
        elif arg.startswith("--table="):
            table = arg[8:]
            index += 1
        else:
            break
    if index >= count or args[index] not in batchable:
        return None
    words = args[index:]
    for position in range(1, len(words)):
        if is_command_word(words[position]) and not (
                position == 2 and len(words) == 4 and words[0] in ("-N", "--new-chain")
                and words[2] in ("-P", "--policy")):
            return None
    try:
        spell_table(table)
        return table, spell_line(words)
    except Unspellable:
        return None


_COMMAND_WORDS = {}  # word -> is_command_word(word): rules repeat their options


def is_command_word(word):
    """Whether getopt could take ``word`` for a command or the table option: ``-P``, ``-vP``
    (clustered short options), ``--pol``, ``--policy=DROP``, ``-t``, ``--tab``..."""
    if len(word) < 2 or word[0] != "-":
        return False
    try:
        return _COMMAND_WORDS[word]
    except KeyError:
        pass
    if len(_COMMAND_WORDS) > 4096:
        _COMMAND_WORDS.clear()
    answer = _COMMAND_WORDS[word] = _is_command_word(word)
    return answer


def _is_command_word(word):
    if word[1] != "-":
        letters = word[1:]
        # A cluster of short options; a value such as "-1" or "-10.0.0.1" is no option.
        return letters[0].isalpha() and any(char in _SHORT_COMMANDS for char in letters)
    name = word[2:].split("=", 1)[0]
    return bool(name) and any(command.startswith(name) for command in _LONG_COMMANDS)


def split_line(line):
    """The words ``*-restore`` reads from one line: the inverse of :func:`spell_line`.

    Use it on a line of a restore file or of an ``iptables-save`` / ``iptables -S`` listing
    (one element of :func:`listing_lines`): it gives back the arguments that re-create the rule,
    e.g. ``split_line('-A IN -m comment --comment "say \\"hi\\"" -j ACCEPT')`` is
    ``['-A', 'IN', '-m', 'comment', '--comment', 'say "hi"', '-j', 'ACCEPT']``. It follows
    xtables' ``add_param_to_argv`` character for character (see the module's docstring),
    unterminated quotes and empty ``""`` words included.
    """
    if '"' not in line:
        return [word for word in _SEPARATORS.split(line) if word]
    words = []
    word = []
    quote_open = escaped = False
    for char in line:
        if quote_open:
            if escaped:
                word.append(char)
                escaped = False
                continue
            if char == "\\":
                escaped = True
                continue
            if char != '"':
                word.append(char)
                continue
            quote_open = False  # the closing quote ends the word, even an empty one
        elif char == '"':
            quote_open = True
            continue
        elif char in " \t\n":
            if not word:
                continue
        else:
            word.append(char)
            continue
        words.append("".join(word))
        word = []
    if word:
        words.append("".join(word))
    return words


def _ends_inside_quotes(line, quote_open):
    escaped = False
    for char in line:
        if escaped:
            escaped = False
        elif quote_open and char == "\\":
            escaped = True
        elif char == '"':
            quote_open = not quote_open
    return quote_open


def listing_lines(text):
    """The lines of an ``iptables-save`` / ``iptables -S`` listing, split on ``\\n`` only (a
    comment may hold a CR, a VT or U+2028, which ``str.splitlines()`` would cut at), and a line
    whose quotes are still open at its end (a comment with a newline, added by a process of its
    own) joined with the next one."""
    lines = []
    pending = None
    for line in text.split("\n"):
        if pending is not None:
            line = pending + "\n" + line
        if '"' in line and _ends_inside_quotes(line, False):
            pending = line
            continue
        pending = None
        lines.append(line)
    if pending is not None:
        lines.append(pending)
    if lines and lines[-1] == "":
        lines.pop()
    return lines
