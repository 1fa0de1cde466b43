#!/usr/bin/env python3
"""Assembles the Go modules of cbindings/go as a release publishes them.

A release commit holds the files of cbindings/go that git tracks, with the
in-repo modules requiring each other at VERSION instead of the placeholder,
plus, for each
platform, the stripped libraries the modules carry:

  trackstats/libtrackstats_<os>_<arch>.a     (the main module: cgo links it)
  tsnocgo/lib/<os>_<arch>/libtrackstats.so  (the loader module embeds it)

This script writes that tree to OUT/tree (what the release commit's
cbindings/go holds) and, for each module, what a module proxy serves for
VERSION to OUT/proxy (GOPROXY=file://OUT/proxy): the zip, go.mod, .info and
the version list. It prints the size of each zip and of the libraries in it.

Usage: go_module.py --repo ROOT --version vX.Y.Z --out OUT
                    --lib PLATFORM=DIR [--lib PLATFORM=DIR ...] [--strip-tool PLATFORM=TOOL ...]
DIR holds libtrackstats.a and libtrackstats.so built for PLATFORM
(linux_amd64, linux_arm64).
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile

MODULE = "github.com/trackstats/trackstats/cbindings/go"
GO_DIR = "cbindings/go"
# What the in-repo modules require each other at: go.work points it at the
# checkout; the release pins VERSION in its go.mod files.
PLACEHOLDER = "v0.0.0-00010101000000-000000000000"


def fail(msg):
    sys.exit(f"go_module.py: {msg}")


def tracked_files(repo):
    """The files under cbindings/go that git tracks or would track (not
    ignored), as they are in the working tree."""
    out = subprocess.run(["git", "-C", repo, "ls-files", "-z", "--cached", "--others", "--exclude-standard",
                          "--", GO_DIR], check=True, capture_output=True).stdout.decode()
    return sorted({p[len(GO_DIR) + 1:] for p in out.split("\0")
                   if p and os.path.isfile(os.path.join(repo, p))})


def module_dirs(files):
    """The directories (relative to cbindings/go) holding a go.mod: "" is
    the main module."""
    return sorted(os.path.dirname(f) for f in files if os.path.basename(f) == "go.mod")


def owner(path, mods):
    """The module a file belongs to: the deepest module directory above it."""
    best = None
    for m in mods:
        if m == "" or path == m or path.startswith(m + "/"):
            if best is None or len(m) > len(best):
                best = m
    return best


def strip_copy(src, dst, tool):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    # Debug info only: the symbols stay, so the archive still links and the
    # shared library still exports its functions.
    subprocess.run([tool, "--strip-debug", "-o", dst, src], check=True)


def go_mod_requires(text):
    return dict(re.findall(r"^\s*(?:require\s+)?(\S+)\s+(v\S+)\s*(?://.*)?$", text, re.M))


def write_proxy(proxy, path, version, root, files, stamp):
    """One module version in the proxy layout: @v/list, .info, .mod, .zip."""
    d = os.path.join(proxy, path, "@v")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "list"), "a") as f:
        f.write(version + "\n")
    with open(os.path.join(d, version + ".info"), "w") as f:
        json.dump({"Version": version, "Time": stamp}, f)
    shutil.copyfile(os.path.join(root, "go.mod"), os.path.join(d, version + ".mod"))
    zpath = os.path.join(d, version + ".zip")
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as z:
        for rel in sorted(files):
            z.write(os.path.join(root, rel), f"{path}@{version}/{rel}")
    return zpath


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", required=True)
    ap.add_argument("--version", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--lib", action="append", default=[], help="PLATFORM=DIR")
    ap.add_argument("--strip-tool", action="append", default=[], help="PLATFORM=TOOL (default strip)")
    a = ap.parse_args()

    if not re.fullmatch(r"v\d+\.\d+\.\d+", a.version):
        fail(f"VERSION {a.version!r} is not vMAJOR.MINOR.PATCH")
    libs = dict(x.split("=", 1) for x in a.lib)
    tools = dict(x.split("=", 1) for x in a.strip_tool)
    if not libs:
        fail("no --lib PLATFORM=DIR given")

    files = tracked_files(a.repo)
    mods = module_dirs(files)
    if "" not in mods:
        fail(f"no {GO_DIR}/go.mod")
    # Every in-repo module requires the others at the placeholder.
    for m in mods:
        with open(os.path.join(a.repo, GO_DIR, m, "go.mod")) as f:
            for dep, v in go_mod_requires(f.read()).items():
                if dep.startswith(MODULE) and v != PLACEHOLDER:
                    fail(f"{GO_DIR}/{m}/go.mod requires {dep} {v}, not the placeholder {PLACEHOLDER}")

    tree = os.path.join(a.out, "tree")
    proxy = os.path.join(a.out, "proxy")
    shutil.rmtree(a.out, ignore_errors=True)
    for rel in files:
        if rel == "go.work" or rel.endswith("/go.work"):
            continue  # a workspace file is for the checkout, not for users
        dst = os.path.join(tree, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(os.path.join(a.repo, GO_DIR, rel), dst)
    # The modules are released together: each requires the others at VERSION.
    for m in mods:
        gomod = os.path.join(tree, m, "go.mod")
        with open(gomod) as f:
            text = f.read()
        with open(gomod, "w") as f:
            f.write(re.sub(r"(" + re.escape(MODULE) + r"\S*\s+)" + re.escape(PLACEHOLDER), r"\g<1>" + a.version, text))
    carried = []
    for plat, d in sorted(libs.items()):
        tool = tools.get(plat, "strip")
        for src, rel in [(os.path.join(d, "libtrackstats.a"), f"trackstats/libtrackstats_{plat}.a"),
                         (os.path.join(d, "libtrackstats.so"), f"tsnocgo/lib/{plat}/libtrackstats.so")]:
            if not os.path.exists(src):
                fail(f"{src} is missing (build the library for {plat} first)")
            if owner(rel, mods) is None or not os.path.isdir(os.path.join(tree, os.path.dirname(rel))):
                fail(f"{rel}: no such directory in {GO_DIR}")
            strip_copy(src, os.path.join(tree, rel), tool)
            carried.append(rel)

    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for root, _, names in os.walk(tree):
        for n in names:
            rel = os.path.relpath(os.path.join(root, n), tree)
            if rel not in files and rel not in carried:
                fail(f"unexpected file {rel}")
    print(f"go-module {a.version}: {tree} (the release commit's {GO_DIR}), {proxy} (GOPROXY=file://{proxy})")
    for m in mods:
        path = MODULE + ("/" + m if m else "")
        mine = [rel[len(m) + 1:] if m else rel for rel in files + carried
                if owner(rel, mods) == m and not rel.endswith("go.work")]
        z = write_proxy(proxy, path, a.version, os.path.join(tree, m), mine, stamp)
        size = sum(os.path.getsize(os.path.join(tree, m, r)) for r in mine)
        print(f"  {path}@{a.version}: {len(mine)} files, {size / 1e6:.1f} MB unpacked, zip {os.path.getsize(z) / 1e6:.1f} MB")
        for rel in sorted(carried):
            if owner(rel, mods) == m:
                print(f"    {rel[len(m) + 1:] if m else rel}: {os.path.getsize(os.path.join(tree, rel)) / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
