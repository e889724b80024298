"""Every source file says what it is for: a purpose comment first (after a script's shebang), and
a file over 500 lines says at its top why it stays whole ("Over 500 lines: <reason>"). File checks
only, no server."""

import os
import re
import subprocess

import samples

REPO = samples.REPO
SOURCE = re.compile(r"(\.(cpp|h|py|sh|mjs|js|cmake)|(^|/)CMakeLists\.txt|(^|/)Dockerfile[^/]*)$")
LONG = 500

# The comment that may open a file, by kind of file.
SLASHES = re.compile(r"\s*(//|/\*)")  # C++, JavaScript
HASH = re.compile(r"#(?![!])")  # shell, CMake, Dockerfile, Python
DOCSTRING = re.compile(r"[rRuU]?(\"\"\"|''')")  # Python


def tracked_sources():
    """The files of the repository (tracked or new, not ignored) whose kind is checked, relative
    to the repository; the ones deleted from the work tree are left out."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                            cwd=REPO, check=True, capture_output=True).stdout.decode()
    return sorted(p for p in set(listed.split("\0")) if p and SOURCE.search(p)
                  and "node_modules/" not in p and os.path.isfile(os.path.join(REPO, p)))


def words(text):
    return re.findall(r"[A-Za-z]{2,}", text)


def purpose_missing(path, lines):
    """None when the file opens with a purpose comment (a comment of three words or more on its
    first line, after the shebang of a script), else why not."""
    if lines and lines[0].startswith("#!"):
        lines = lines[1:]
    if not lines:
        return "empty"
    first = lines[0]
    if path.endswith((".cpp", ".h", ".js", ".mjs")):
        match = SLASHES.match(first)
    elif path.endswith(".py"):
        match = DOCSTRING.match(first) or HASH.match(first)
    else:
        match = HASH.match(first)
    if not match:
        return "first line is not a comment: %r" % first[:60]
    text = first[match.end():]
    if match.group(0).strip() in ('"""', "'''") and not words(text) and len(lines) > 1:
        text = lines[1]  # a docstring that opens on its own line
    if len(words(text)) < 3:
        return "the opening comment says too little: %r" % first[:60]
    return None


def reason_missing(lines):
    """None when a long file gives, in one of its first five lines, "Over 500 lines:" and a reason."""
    for line in lines[:5]:
        found = line.find("Over 500 lines:")
        if found >= 0 and len(words(line[found + len("Over 500 lines:"):])) >= 3:
            return None
    return "%d lines and no 'Over 500 lines: <reason>' in its first 5 lines" % len(lines)


def offenders():
    found = []
    for path in tracked_sources():
        with open(os.path.join(REPO, path), encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
        why = purpose_missing(path, lines)
        if why:
            found.append("%s: %s" % (path, why))
        if len(lines) > LONG:
            why = reason_missing(lines)
            if why:
                found.append("%s: %s" % (path, why))
    return found


def test_the_checks_tell_good_from_bad():
    # Guards the test below against passing on nothing.
    sources = tracked_sources()
    assert len(sources) > 200
    assert {"CMakeLists.txt", "Plugin/Plugin.cpp", "IntegrationTests/run.sh",
            "IntegrationTests/test_source_files.py"} <= set(sources)
    assert not any("node_modules/" in p for p in sources)
    assert purpose_missing("a.cpp", ["// The route table of the plugin.", "#pragma once"]) is None
    assert purpose_missing("a.h", ["#pragma once", "// The route table of the plugin."])
    assert purpose_missing("a.h", ["//", "#pragma once"])
    assert purpose_missing("a.h", ["#include <OrthancFramework.h>", "// The route table."])
    assert purpose_missing("a.js", ["/* The upload page's entry point. */"]) is None
    assert purpose_missing("a.js", ["import x from './x.js';"])
    assert purpose_missing("a.py", ['"""Tests of the route table."""']) is None
    assert purpose_missing("a.py", ['"""', "Tests of the route table.", '"""']) is None
    assert purpose_missing("a.py", ["import os", '"""Tests of the route table."""'])
    assert purpose_missing("a.sh", ["#!/bin/bash", "# Builds the plugin in build/."]) is None
    assert purpose_missing("a.sh", ["#!/bin/bash", "set -e", "# Builds the plugin."])
    assert purpose_missing("CMakeLists.txt", ["cmake_minimum_required(VERSION 3.16)"])
    assert purpose_missing("Dockerfile", ["# The image of the plugin on Orthanc."]) is None
    assert purpose_missing("a.cpp", []) == "empty"
    assert reason_missing(["// X.", "// Over 500 lines: one walk over untrusted bytes."]) is None
    assert reason_missing(["// X.", "// Over 500 lines:"])
    assert reason_missing(["// X."] * 5 + ["// Over 500 lines: one walk over untrusted bytes."])


def test_every_source_file_says_what_it_is_for():
    found = offenders()
    assert not found, "%d source files without a purpose comment at the top (or a long file " \
        "without its reason):\n  %s" % (len(found), "\n  ".join(found))
