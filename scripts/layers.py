#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The module's import graph: which rust/ files name which (`crate::x` or
`super::x`), the cycles in it, and `unsafe` per file.

  python3 scripts/layers.py          print the layers; exit 1 on a cycle
  python3 scripts/layers.py --dot    the graph for graphviz

Layers are computed, not declared: a file's layer is one more than the
highest layer it imports (files importing nothing are layer 0). Run by
`make test` (host part), so a new cycle fails the tests, and so does
`unsafe` outside the wrapper files listed in WRAPPERS (the thin layer of
safe wrappers over the kernel's C interfaces and pmem).
"""
import glob
import os
import re
import sys

top = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
files = sorted(glob.glob(os.path.join(top, "rust", "*.rs")))
src = {os.path.basename(f)[:-3]: open(f, encoding="utf-8", errors="replace").read() for f in files}


def code(text):
    # Comments name other files too; only code counts.
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(l.split("//", 1)[0] for l in text.splitlines())


def uses(m):
    t = code(src[m])
    out = set()
    for n in src:
        if n != m and re.search(r"\b(crate|super)::" + re.escape(n) + r"\b", t):
            out.add(n)
    # `use crate::{a, b::c}` groups.
    for grp in re.findall(r"crate::\{([^}]*)\}", t):
        for part in re.split(r",", grp):
            name = part.strip().split("::")[0].strip()
            if name in src and name != m:
                out.add(name)
    return out


graph = {m: uses(m) for m in src}

# The files that may contain `unsafe`: wrappers over C interfaces (shim, kcrc,
# glue, gate, kthread, dax, kfile, dentry, iref, ksuper, inode, sbi, kacl),
# the pmem accessor (pm), and the C entry points (fstype, vfs, vfs_xattr,
# procfs).
WRAPPERS = {
    "shim", "pm", "kcrc", "glue", "gate", "kthread", "dax", "kfile", "dentry", "iref",
    "ksuper", "inode", "sbi", "vfs", "fstype", "procfs",
    # POSIX ACL references (kacl) and the xattr/ACL entry points.
    "kacl", "vfs_xattr",
    # The device registry's global lock (devshare) and the `.snapshots`
    # entry points (vfs_snapdir).
    "devshare", "vfs_snapdir",
    # The trace of `pm` (its child module).
    "pm_trace",
    # The KUnit tests of `pm` build `Pm`s over test buffers.
    "pm_tests",
}

# Strongly connected components (Tarjan).
index, low, stack, on, sccs = {}, {}, [], set(), []
counter = [0]


def strong(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on.add(v)
    for w in sorted(graph[v]):
        if w not in index:
            strong(w)
            low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop()
            on.discard(w)
            comp.append(w)
            if w == v:
                break
        sccs.append(sorted(comp))


sys.setrecursionlimit(10000)
for v in sorted(graph):
    if v not in index:
        strong(v)
cycles = [c for c in sccs if len(c) > 1]
comp_of = {m: i for i, c in enumerate(sccs) for m in c}

# Layers over the component graph (Tarjan emits components in reverse
# topological order: dependencies first).
layer = {}
for i, c in enumerate(sccs):
    deps = {comp_of[n] for m in c for n in graph[m]} - {i}
    layer[i] = 1 + max((layer[d] for d in deps), default=-1)


def unsafe_count(m):
    t = code(src[m])
    return len(re.findall(r"\bunsafe\b", t))


if "--dot" in sys.argv:
    print("digraph nova {")
    for m in sorted(graph):
        for n in sorted(graph[m]):
            print(f'  "{m}" -> "{n}";')
    print("}")
    sys.exit(0)

edges = sum(len(v) for v in graph.values())
by_layer = {}
for m in src:
    by_layer.setdefault(layer[comp_of[m]], []).append(m)
print(f"rust/: {len(src)} files, {edges} import edges")
for l in sorted(by_layer, reverse=True):
    names = ", ".join(
        f"{m}" + (f" (unsafe {unsafe_count(m)})" if unsafe_count(m) else "") for m in sorted(by_layer[l])
    )
    print(f"  layer {l}: {names}")
for c in cycles:
    inner = sum(1 for m in c for n in graph[m] if n in c)
    print(f"CYCLE ({len(c)} files, {inner} edges among them): {', '.join(c)}")
bad = [
    f"{m} ({unsafe_count(m)})"
    for m in sorted(src)
    if m not in WRAPPERS and unsafe_count(m) > 0
]
if bad:
    print("UNSAFE outside the wrapper files: " + ", ".join(bad))
sys.exit(1 if cycles or bad else 0)
