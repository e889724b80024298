"""The documents cannot rot: doc/Configuration.md names every option of
Resources/DefaultConfiguration.json, of the samples and of the parser Plugin/Configuration*.cpp,
and nothing else; every relative link of the Markdown files (README.md, CONTRIBUTING.md, doc/,
the folders' READMEs) leads to a file (and heading) that exists; doc/openapi.yaml is a sound OpenAPI 3 document with the public
and peer routes of doc/Api.md; every mutex of Plugin/ is in doc/Architecture.md's lock table.
File checks only, no server."""

import glob
import os
import re

import yaml

import samples

REPO = samples.REPO
DOC = os.path.join(REPO, "doc", "Configuration.md")
PARSER = os.path.join(REPO, "Plugin", "Configuration*.cpp")  # the parser and its helpers
SAMPLE_NAMES = ("Standalone.json", "Gateway.json", "Internal.json", "InternalPostgreSQL.json")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def defaults():
    return samples.configtool.load(os.path.join(REPO, "Resources", "DefaultConfiguration.json"))


def key_paths(section, prefix=""):
    """Dotted names of every key of a section: objects opened, and the keys of objects inside
    lists as "List[].Key"."""
    names = set()
    for key, value in section.items():
        name = prefix + key
        names.add(name)
        if isinstance(value, dict):
            names |= key_paths(value, name + ".")
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    names |= key_paths(item, name + "[].")
    return names


def leaf_paths(section, prefix=""):
    """Dotted names of the values that are not objects (what the parser reads one by one)."""
    names = set()
    for key, value in section.items():
        if isinstance(value, dict):
            names |= leaf_paths(value, prefix + key + ".")
        else:
            names.add(prefix + key)
    return names


def member(section, dotted):
    """The value at a dotted path ("Reconciliation.Sources"), or None."""
    for key in dotted.split("."):
        section = section.get(key) if isinstance(section, dict) else None
    return section


def documented(first_column):
    """The names in backticks in the first cell of every table of doc/Configuration.md whose
    header's first cell is "first_column" ("option": the Inbound section; "Orthanc option")."""
    names, in_table = set(), False
    for line in read(DOC).splitlines():
        if not line.startswith("|"):
            in_table = False
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if not in_table:
            in_table = cells[0] == first_column
            header = True
            continue
        if header:  # the | --- | line
            header = False
            continue
        names |= set(re.findall(r"`([^`]+)`", cells[0]))
    return names


def parser_keys():
    """(keys of the section the parser reads, {list: keys it reads in each item}), taken from
    the calls of Plugin/Configuration*.cpp: Get*(s, "A.B") and Member(s, "A") read the merged
    section ("s" or "section"); the items of a list are read between 'where = "List["' and its push_back."""
    source = "\n".join(read(path) for path in sorted(glob.glob(PARSER)))
    section = set(re.findall(r'\b(?:Get\w+|Member)\(\s*(?:s|section)\s*,\s*"([A-Za-z0-9.]+)"',
                             source))
    items = {}
    for match in re.finditer(r'where = "([\w.]+)\["', source):
        block = source[match.end():source.index("push_back(", match.end())]
        keys = set(re.findall(r'\b\w\["(\w+)"\]', block))
        keys |= set(re.findall(r'\bGet\w+\(\s*[a-rt-z]\w*\s*,\s*"(\w+)"', block))
        keys |= set(re.findall(r'key != "(\w+)"', block))
        items.setdefault(match.group(1), set()).update(keys)
    return section, items


def test_the_extractors_find_what_they_look_for():
    # Guards the checks below against passing on nothing.
    section, items = parser_keys()
    assert len(section) > 90 and {"Upload.MaxFileBytes", "Recipients", "Security.AllowLua"} <= section
    assert items["Recipients"] == {"Id", "Name", "Email", "Language"}
    assert items["Pullers"] == {"Username", "Password", "Networks"}
    assert items["Webhooks"] == {"Url", "Secret", "Events", "CACertificates"}
    assert items["AutoForward"] == {"Recipient", "Modality", "PatientID", "Reconcile"}
    assert items["Reconciliation.Sources"] == {"Modality", "Query"}
    assert len(documented("option")) > 100
    assert {"HttpPort", "OrthancPeers"} <= documented("Orthanc option")


def test_every_default_option_is_documented():
    missing = key_paths(defaults()) - documented("option")
    assert not missing, "doc/Configuration.md lacks %s" % sorted(missing)


def test_every_inbound_option_of_the_samples_is_documented():
    for name in SAMPLE_NAMES:
        missing = key_paths(samples.load(name)["Inbound"]) - documented("option")
        assert not missing, "%s: doc/Configuration.md lacks %s" % (name, sorted(missing))


def test_every_documented_option_exists():
    known = key_paths(defaults())
    _, items = parser_keys()
    stale = set()
    for name in documented("option"):
        if "[]." in name:
            array, key = name.split("[].", 1)
            if not isinstance(member(defaults(), array), list) or key not in items.get(array, ()):
                stale.add(name)
        elif name not in known:
            stale.add(name)
    assert not stale, "doc/Configuration.md names options the plugin does not know: %s" % \
        sorted(stale)


def test_the_parser_reads_exactly_the_default_options():
    section, items = parser_keys()
    not_in_defaults = section - key_paths(defaults())
    assert not not_in_defaults, "Plugin/Configuration*.cpp reads options without a default in " \
        "DefaultConfiguration.json: %s" % sorted(not_in_defaults)
    unread = leaf_paths(defaults()) - section
    assert not unread, "DefaultConfiguration.json has options the parser never reads: %s" % \
        sorted(unread)
    item_keys = {"%s[].%s" % (array, key) for array, keys in items.items() for key in keys}
    missing = item_keys - documented("option")
    assert not missing, "doc/Configuration.md lacks list item keys %s" % sorted(missing)


def test_the_orthanc_options_of_the_samples_are_documented_and_real():
    used = set()
    for name in SAMPLE_NAMES:
        used |= set(samples.load(name)) - {"Inbound"}
    described = documented("Orthanc option")
    assert not used - described, "doc/Configuration.md lacks the Orthanc options %s" % \
        sorted(used - described)
    plugin_source = "".join(read(p) for p in glob.glob(os.path.join(REPO, "Plugin", "**", "*.cpp"),
                                                        recursive=True))
    stale = {name for name in described - used if '"%s"' % name not in plugin_source}
    assert not stale, "documented Orthanc options neither in a sample nor read by the " \
        "plugin: %s" % sorted(stale)


# Links.

def markdown_files():
    """Every Markdown file of the repository (README.md, CONTRIBUTING.md, doc/, and the READMEs
    of the folders), not those of installed packages or build folders."""
    found = sorted(glob.glob(os.path.join(REPO, "**", "*.md"), recursive=True))
    skipped = ("node_modules", "build", "build-fuzz")
    files = [f for f in found
             if not set(os.path.relpath(f, REPO).split(os.sep)[:-1]) & set(skipped)]
    assert os.path.join(REPO, "doc", "Configuration.md") in files
    return files


def without_code(text):
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def anchors(path):
    """The anchors of a Markdown file as GitHub makes them from its headings, and its
    explicit <a id="…"> anchors."""
    text = read(path)
    found = set(re.findall(r'<a id="([^"]+)"', text))
    seen = {}
    for heading in re.findall(r"^#{1,6} +(.+?) *$", re.sub(r"^```.*?^```", "", text,
                                                         flags=re.S | re.M), flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else "%s-%d" % (slug, count))
    return found


def test_anchor_slugs_are_githubs():
    slug = lambda h: re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-")  # noqa: E731
    assert slug("Facts about Orthanc 1.10.1 on Debian 12") == "facts-about-orthanc-1101-on-debian-12"
    assert slug("Pulled uploads: what the Internal checks") == "pulled-uploads-what-the-internal-checks"


def test_every_relative_link_leads_somewhere():
    broken = []
    for path in markdown_files():
        for target in re.findall(r"\]\(([^)\s]+)\)", without_code(read(path))):
            if re.match(r"[a-z]+:", target):
                continue  # https:, mailto:
            file_part, _, anchor = target.partition("#")
            resolved = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) \
                if file_part else path
            where = "%s: %s" % (os.path.relpath(path, REPO), target)
            if not os.path.exists(resolved):
                broken.append(where + " (no such file)")
            elif anchor and resolved.endswith(".md") and anchor not in anchors(resolved):
                broken.append(where + " (no such heading)")
    assert not broken, "broken links:\n" + "\n".join(broken)


# The OpenAPI description.

OPENAPI = os.path.join(REPO, "doc", "openapi.yaml")
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def api_md_routes(*sections):
    """{"METHOD /path"} of the tables of the given "## " sections of doc/Api.md."""
    text = read(os.path.join(REPO, "doc", "Api.md"))
    routes = set()
    for title in sections:
        body = text.split("\n## %s" % title, 1)[1].split("\n## ", 1)[0]
        for method, path in re.findall(r"^\| `(GET|PUT|POST|DELETE) (/[^`?\[ ]*)[^`]*` \|", body,
                                       flags=re.M):
            routes.add("%s %s" % (method, path))
    return routes


def openapi_routes(document):
    return {"%s %s" % (method.upper(), path)
            for path, item in document["paths"].items() for method in item if method in METHODS}


def references(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from references(value)
    elif isinstance(node, list):
        for value in node:
            yield from references(value)


def test_openapi_lists_the_public_and_peer_routes_of_api_md():
    document = yaml.safe_load(read(OPENAPI))
    expected = api_md_routes("Public upload API", "Peer routes")
    assert len(expected) >= 13
    assert openapi_routes(document) == expected, "doc/openapi.yaml and doc/Api.md differ: " \
        "only in openapi.yaml %s, only in Api.md %s" % (
            sorted(openapi_routes(document) - expected), sorted(expected - openapi_routes(document)))


def test_openapi_is_a_sound_openapi_3_document():
    document = yaml.safe_load(read(OPENAPI))
    assert str(document["openapi"]).startswith("3.")
    assert document["info"]["title"] and document["info"]["version"]
    schemes = set(document["components"]["securitySchemes"])
    for ref in set(references(document)):
        assert ref.startswith("#/"), ref
        node = document
        for part in ref[2:].split("/"):
            assert isinstance(node, dict) and part in node, "unresolved $ref " + ref
            node = node[part]
    for path, item in document["paths"].items():
        declared = {p["name"] for p in item.get("parameters", []) if "name" in p}
        declared |= {document["components"]["parameters"][r["$ref"].rsplit("/", 1)[1]]["name"]
                     for r in item.get("parameters", []) if "$ref" in r}
        for method, operation in item.items():
            if method not in METHODS:
                continue
            mine = set(declared)
            for p in operation.get("parameters", []):
                mine.add(p["name"] if "name" in p else
                         document["components"]["parameters"][p["$ref"].rsplit("/", 1)[1]]["name"])
            assert set(re.findall(r"{(\w+)}", path)) <= mine, "%s %s: path parameters" % (method, path)
            assert operation.get("responses"), "%s %s: no responses" % (method, path)
            assert all(re.match(r"^[1-5]\d\d$", str(code)) for code in operation["responses"])
            for requirement in operation.get("security", []):
                assert set(requirement) <= schemes, "%s %s: %s" % (method, path, requirement)


# The locks.

def test_every_mutex_of_the_plugin_is_in_the_lock_table():
    """Each std::mutex or std::shared_mutex declared under Plugin/ has a row of "What each lock
    guards" in doc/Architecture.md naming its class (the file's name) and the variable."""
    text = read(os.path.join(REPO, "doc", "Architecture.md"))
    section = text.split("\n## Threads and locks\n", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    declared = []
    for path in glob.glob(os.path.join(REPO, "Plugin", "**", "*.*"), recursive=True):
        if path.endswith((".h", ".cpp")):
            for name in re.findall(r"std::(?:shared_)?mutex\s+(\w+)\s*;", read(path)):
                declared.append((os.path.splitext(os.path.basename(path))[0], name))
    assert len(declared) >= 15
    missing = ["%s %s" % d for d in declared
               if not any(d[0] in row and "`%s" % d[1] in row.replace("::", "`") for row in rows)]
    assert not missing, "doc/Architecture.md, Threads and locks, lacks %s" % missing
