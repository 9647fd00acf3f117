#!/usr/bin/env python3
"""Import cycles between the modules of one folder of the crate.

    scripts/module-cycles.py            # the top-level modules of src/
    scripts/module-cycles.py jetstream  # the modules inside src/jetstream/

A module is a file `X.rs` or a folder `X/` (all its files together); the
folder's own `mod.rs` (or `lib.rs` at the top) is a node of its own, so a
child that reaches back into its parent's items counts. An edge A -> B is
any path from a file of A to an item of B: `use` lines and inline paths,
`crate::…` and `super::…`. Test code (`*tests.rs`, `test_support.rs`, and
`#[cfg(test)]` modules) is left out. Prints each cycle with the paths that
tie it, and exits 1 when there is one.
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "src"


def source_files(folder):
    for path in sorted(folder.rglob("*.rs")):
        name = path.name
        if name.endswith("tests.rs") or name == "test_support.rs" or name == "main.rs":
            continue
        yield path


def strip_tests_and_comments(text):
    # Inline test modules run to the end of their braces; they are the last
    # item of a file here, but count braces to be sure.
    out = []
    i = 0
    marker = re.compile(r"#\[cfg\(test\)\]\s*(pub(\([^)]*\))?\s+)?mod\s+\w+\s*\{")
    while True:
        m = marker.search(text, i)
        if not m:
            out.append(text[i:])
            break
        out.append(text[i : m.start()])
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        i = j
    text = "".join(out)
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r'"(\\.|[^"\\])*"', '""', text)
    return text


def module_path(path):
    """The module path of a file, as a list of names under the crate root."""
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] in ("mod", "lib"):
        parts = parts[:-1]
    return parts


def expand(prefix, body):
    """`a::{b, c::{d, e}}` -> ["a::b", "a::c::d", "a::c::e"] (heads only)."""
    paths = []
    depth, start = 0, 0
    for k, ch in enumerate(body + ","):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            item = body[start:k].strip()
            start = k + 1
            if not item:
                continue
            m = re.match(r"([\w:]*?)::\{(.*)\}$", item, re.S)
            if m:
                paths += expand(prefix + m.group(1).split("::"), m.group(2))
            else:
                paths.append(prefix + item.split(" as ")[0].strip().split("::"))
    return paths


def references(path, text):
    """Absolute module paths (lists of names) that `text` refers to."""
    here = module_path(path)
    # A file's own module is `here`; `super` is its parent.
    refs = []
    for m in re.finditer(r"\buse\s+([^;]+);", text):
        body = m.group(1).strip()
        refs += expand([], body) if not body.startswith("{") else expand([], body[1:-1])
    for m in re.finditer(r"\b((?:crate|super|self)(?:::\w+)+)", text):
        refs.append(m.group(1).split("::"))
    # Inline paths into the modules this file declares (`stream::Stream`).
    declared = re.findall(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", text, re.M)
    for child in declared:
        for m in re.finditer(r"(?<![:\w])(" + child + r"(?:::\w+)+)", text):
            refs.append(["self"] + m.group(1).split("::"))
    out = []
    for ref in refs:
        ref = [r for r in ref if r]
        if not ref:
            continue
        if ref[0] == "crate":
            out.append(ref[1:])
        elif ref[0] in ("super", "self"):
            base = list(here)
            while ref and ref[0] in ("super", "self"):
                if ref[0] == "super":
                    base = base[:-1]
                ref = ref[1:]
            out.append(base + ref)
        else:
            # A path from a child module declared here (`use stream::X`).
            out.append(here + ref)
    return out


def node_of(module, scope, children):
    """Which node of `scope` a module path belongs to, or None outside."""
    if module[: len(scope)] != scope:
        return None
    rest = module[len(scope) :]
    if rest and rest[0] in children:
        return rest[0]
    return "(" + ("/".join(scope) or "lib") + ")"


def main():
    scope = [p for p in (sys.argv[1] if len(sys.argv) > 1 else "").split("/") if p]
    folder = ROOT.joinpath(*scope)
    children = {p.stem for p in folder.iterdir() if p.suffix == ".rs" and p.stem not in ("mod", "lib", "main")}
    children |= {p.name for p in folder.iterdir() if p.is_dir()}
    children = {c for c in children if not c.endswith("tests") and c != "test_support"}
    edges = {}
    for path in source_files(folder):
        text = strip_tests_and_comments(path.read_text())
        src = node_of(module_path(path), scope, children)
        for ref in references(path, text):
            dst = node_of(ref, scope, children)
            # A parent names its children in `mod` lines; that is ownership,
            # not use. A reference to the parent's own folder with nothing
            # after it is the same.
            if dst is None or dst == src:
                continue
            if dst.startswith("(") and ref == scope:
                continue
            shown = "::".join(ref)
            edges.setdefault(src, {}).setdefault(dst, set()).add(f"{path.relative_to(ROOT.parent)}: {shown}")
    # Strongly connected components (Tarjan).
    index, low, stack, on, sccs = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, {}):
            if w not in index:
                visit(w)
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
            if len(comp) > 1:
                sccs.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(set(edges) | {w for d in edges.values() for w in d}):
        if v not in index:
            visit(v)
    where = "src/" + "/".join(scope) if scope else "src/"
    if not sccs:
        print(f"no import cycle between the modules of {where}")
        return 0
    for comp in sccs:
        print(f"cycle in {where}: {' '.join(comp)}")
        for a in comp:
            for b in comp:
                for why in sorted(edges.get(a, {}).get(b, ()))[:3]:
                    print(f"  {a} -> {b}  ({why})")
    return 1


if __name__ == "__main__":
    sys.exit(main())
