#!/usr/bin/python3
"""Reads Orthanc configuration files with comments (as Orthanc does) and writes variants.

The demonstration, the tests and the Docker image start Orthanc from the very samples that
admins copy (Resources/Configurations/*.json, installed in share/orthanc-inbound/configurations),
changing only what a machine needs (ports, folders, plugin path, secrets). Usage:

    configtool.py SOURCE DEST KEY=JSON [KEY=JSON ...]

KEY is a dotted path ("Inbound.DataDirectory"); JSON is a JSON value ('"text"', 8042, true).
"""
import json
import sys


def strip_comments(text):
    """Removes // and /* */ comments outside of JSON strings."""
    out, i, n, in_string = [], 0, len(text), False
    while i < n:
        c = text[i]
        if in_string:
            out.append(c)
            if c == '\\' and i + 1 < n:
                out.append(text[i + 1])
                i += 1
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
            out.append(c)
        elif text.startswith('//', i):
            while i < n and text[i] != '\n':
                i += 1
            continue
        elif text.startswith('/*', i):
            end = text.find('*/', i + 2)
            i = n if end < 0 else end + 2
            continue
        else:
            out.append(c)
        i += 1
    return ''.join(out)


def load(path):
    with open(path, encoding='utf-8') as f:
        return json.loads(strip_comments(f.read()))


def set_path(config, dotted, value):
    node = config
    keys = dotted.split('.')
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    config = load(argv[1])
    for assignment in argv[3:]:
        key, _, value = assignment.partition('=')
        set_path(config, key, json.loads(value))
    with open(argv[2], 'w', encoding='utf-8') as f:
        json.dump(config, f, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
