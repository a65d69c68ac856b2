#!/usr/bin/env python3
"""Writes /usr/share/doc/roost/copyright (DEP-5) for one build of roost.

usage: copyright.py --target TRIPLE [--musl-copyright FILE] --out FILE

A binary release must carry the licence notice of everything linked into it.
The crates linked for TRIPLE are the ones reachable from roost through
*normal* dependencies in the resolve graph of
`cargo metadata --filter-platform TRIPLE` (build-dependencies run on the build
machine, dev-dependencies only in tests, proc-macros only in the compiler:
none of them is in the binary). For each crate the stanza gives its licence
expression and the text of every LICENSE*/COPYING*/NOTICE*/COPYRIGHT*/
UNLICENSE* file at the top of its source in ~/.cargo/registry/src, plus any
other licence file a top-level one names by path (ring's points at
src/polyfill/once_cell/LICENSE-*). A crate with no licence file falls back to
a known text (MIT from the template beside this script, with the crate's
authors as holders; Apache-2.0 as below); with neither, the build fails: no
notice may be missing.

The Apache License 2.0 is the one text not copied: Debian Policy 12.5 has a
package refer to /usr/share/common-licenses/Apache-2.0 (base-files puts it on
every Debian and Raspberry Pi OS system), and lintian rejects a copy as an
error. A crate's Apache file that adds copyright lines in its appendix keeps
those lines; NOTICE files (Apache-2.0 §4(d)) are copied whole.

Texts repeat a lot (most crates carry the same Apache-2.0 file): a text whose
words are exactly those of one already printed is printed once and named from
the later stanzas, which keeps the file a few hundred KiB rather than MiBs.
"""

import argparse
import glob
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
LICENCE_PREFIXES = ("LICEN", "COPYING", "NOTICE", "COPYRIGHT", "UNLICENSE")


def fail(message):
    print(f"copyright.py: {message}", file=sys.stderr)
    sys.exit(1)


def cargo_metadata(target):
    cargo = os.environ.get("CARGO", "cargo")
    try:
        out = subprocess.check_output(
            [cargo, "metadata", "--format-version", "1", "--locked", "--filter-platform", target],
            cwd=os.path.dirname(HERE),
        )
    except subprocess.CalledProcessError as error:
        fail(f"cargo metadata --filter-platform {target} failed ({error.returncode})")
    return json.loads(out)


def linked_packages(metadata):
    """The packages reachable from the root through normal dependencies, proc-macros left out."""
    packages = {p["id"]: p for p in metadata["packages"]}
    nodes = {n["id"]: n for n in metadata["resolve"]["nodes"]}
    root = metadata["resolve"]["root"]
    linked, stack = {}, [root]
    while stack:
        package_id = stack.pop()
        if package_id in linked:
            continue
        package = packages[package_id]
        if package_id != root and any("proc-macro" in t["kind"] for t in package["targets"]):
            continue
        linked[package_id] = package
        for dep in nodes[package_id]["deps"]:
            # kind None: a normal dependency (not "dev", not "build").
            if any(kind["kind"] is None for kind in dep["dep_kinds"]):
                stack.append(dep["pkg"])
    return root, sorted(linked.values(), key=lambda p: (p["id"] != root, p["name"], p["version"]))


def dep5_license(expression):
    """An SPDX expression in DEP-5 words: "(A OR B) AND C" -> "A or B, and C"."""
    expression = expression.strip()
    # Old crates.io style "MIT/Apache-2.0" means OR.
    expression = re.sub(r"\s*/\s*", " OR ", expression)
    grouped = re.fullmatch(r"\((.*)\)\s+AND\s+(.*)", expression)
    if grouped:
        return f"{dep5_license(grouped.group(1))}, and {dep5_license(grouped.group(2))}"
    if "(" in expression:
        fail(f"cannot put the licence expression {expression!r} in DEP-5 words")
    words = expression.replace(" OR ", " or ").replace(" AND ", " and ")
    return re.sub(r"\s+WITH\s+(\S+)-exception", r" with \1 exception", words)


def licence_files(directory):
    """Top-level licence files, then the other licence files they name by path."""
    files = sorted(
        path
        for path in glob.glob(os.path.join(directory, "*"))
        if os.path.isfile(path) and os.path.basename(path).upper().startswith(LICENCE_PREFIXES)
    )
    named = []
    for path in files:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for token in re.findall(r"[\w./-]*(?:LICEN[CS]E|COPYING)[\w.-]*", handle.read()):
                candidate = os.path.normpath(os.path.join(directory, token))
                if candidate.startswith(directory + os.sep) and os.path.isfile(candidate):
                    if candidate not in files and candidate not in named:
                        named.append(candidate)
    return files + named


APACHE_REFERENCE = (
    "The Apache License, Version 2.0, whose full text every Debian system has as\n"
    "/usr/share/common-licenses/Apache-2.0 (Debian Policy 12.5: referred to, not copied)."
)


def apache_reference(text):
    """For a copy of the Apache License 2.0: the reference to Debian's copy, with
    the copyright lines the file adds (its filled-in appendix); else None."""
    words = " ".join(text.split())
    if "Apache License" not in words or "Version 2.0, January 2004" not in words:
        return None
    if "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" not in words:
        return None
    appendix = text.split("END OF TERMS AND CONDITIONS", 1)[1] if "END OF TERMS AND CONDITIONS" in text else ""
    own = [
        line.strip()
        for line in appendix.splitlines()
        if re.match(r"\s*Copyright\b", line) and "[yyyy]" not in line and "{yyyy}" not in line
    ]
    return APACHE_REFERENCE + ("\n\n" + "\n".join(own) if own else "")


def known_text(spdx, holders):
    """The fallback text for a crate that ships none, or None."""
    if spdx == "Apache-2.0":
        return APACHE_REFERENCE
    if spdx == "MIT":
        with open(os.path.join(HERE, "licenses", "MIT"), encoding="utf-8") as handle:
            return handle.read().replace("@HOLDERS@", holders)
    return None


def spdx_names(expression):
    names = re.split(r"\s+(?:OR|AND|WITH)\s+|[()/]", expression)
    return [n.strip() for n in names if n.strip() and not n.strip().endswith("-exception")]


def body(text):
    """Text as a DEP-5 continuation: each line indented, empty lines as " ."."""
    lines = text.expandtabs(8).rstrip().splitlines()
    return "\n".join(" " + line.rstrip() if line.strip() else " ." for line in lines)


class Printer:
    def __init__(self):
        self.seen = {}  # normalised words -> where first printed
        self.out = []

    def stanza(self, files, copyright_line, licence, texts, comment):
        """texts: (label, text) pairs."""
        lines = [f"Files: {files}", f"Copyright: {copyright_line}", f"License: {licence}"]
        parts = []
        for label, text in texts:
            words = " ".join(text.split())
            if text.startswith(APACHE_REFERENCE):
                # Already a reference, shorter than a pointer to it.
                parts.append(f"{label}: {text}")
            elif words in self.seen:
                parts.append(f"{label}: the same text as {self.seen[words]}, above.")
            else:
                self.seen[words] = f"{label} in the stanza of {files}"
                parts.append(f"{label}:\n\n{text.strip()}")
        lines.append(body("\n\n".join(parts)))
        if comment:
            lines.append("Comment:\n" + body(comment))
        self.out.append("\n".join(lines))


def read(path):
    with open(path, encoding="utf-8", errors="replace") as handle:
        return handle.read()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", required=True)
    parser.add_argument("--musl-copyright", help="musl's COPYRIGHT, for a static musl binary")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    root, packages = linked_packages(cargo_metadata(args.target))
    printer = Printer()
    header = (
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
        "Upstream-Name: roost\n"
        "Comment:\n"
        + body(
            f"/usr/bin/roost ({args.target}) links the Rust crates listed below (every crate\n"
            "reachable from roost through normal dependencies for this target) and the Rust\n"
            "standard library" + (", and musl, statically" if args.musl_copyright else "") + ".\n"
            "Each stanza names one crate as crates/NAME-VERSION, with its licence\n"
            "expression and the licence files it ships."
        )
    )
    missing = []
    for package in packages:
        name, version = package["name"], package["version"]
        expression = package.get("license") or ""
        directory = os.path.dirname(package["manifest_path"])
        files = licence_files(directory)
        if package.get("license_file"):
            extra = os.path.join(directory, package["license_file"])
            if os.path.isfile(extra) and extra not in files:
                files.append(extra)
        holders = ", ".join(package.get("authors") or []) or f"the {name} developers"
        texts = [(os.path.relpath(path, directory), read(path)) for path in files]
        texts = [(label, apache_reference(text) or text) for label, text in texts]
        if not texts:
            for spdx in spdx_names(expression):
                text = known_text(spdx, holders)
                if text is not None:
                    texts.append((f"{spdx} (the crate ships no licence file)", text))
        if not expression or not texts:
            missing.append(f"{name} {version} (licence {expression!r}, no licence file, no known text)")
            continue
        where = "*" if package["id"] == root else f"crates/{name}-{version}/*"
        comment = None
        if package["id"] != root:
            source = package.get("repository") or "crates.io"
            comment = f"The crate {name} {version} from crates.io ({source})."
        printer.stanza(where, holders, dep5_license(expression), texts, comment)

    printer.stanza(
        "rust/library/*",
        "The Rust Project Contributors",
        "MIT or Apache-2.0",
        [
            ("MIT", known_text("MIT", "The Rust Project Contributors")),
            ("Apache-2.0", APACHE_REFERENCE),
        ],
        "The Rust standard library (std, core, alloc and the crates they are built from),\n"
        "linked into every Rust program. Its parts under other permissive terms (compiler-rt\n"
        "under Apache-2.0 with LLVM exception) need no notice in object form.",
    )
    if args.musl_copyright:
        printer.stanza(
            "musl/*",
            "2005-2020 Rich Felker, et al.",
            "MIT",
            [("musl's COPYRIGHT", read(args.musl_copyright))],
            "musl, the C library statically linked into this build of /usr/bin/roost.",
        )
    if missing:
        fail("no licence text for: " + "; ".join(missing))
    with open(args.out, "w", encoding="utf-8") as handle:
        handle.write(header + "\n\n" + "\n\n".join(printer.out) + "\n")
    print(f"copyright: {len(packages)} crates", file=sys.stderr)


if __name__ == "__main__":
    main()
