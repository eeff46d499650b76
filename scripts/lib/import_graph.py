#!/usr/bin/env python3
# Run through scripts/check-cycles.
"""Fails when the modules of a crate import each other in a cycle.

Reads every `crate::a::b` and `super::a::b` path (in `use` lines and inline) of each module file
under the given `src` directories (default: `services/hark/src`), maps it to the deepest module
that exists, and finds strongly connected components. A parent's own `mod` lines are not imports.
Exit status 1, with each cycle printed, when one exists.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
PATH = re.compile(r"\bcrate((?:::[a-z_][a-z0-9_]*)+)")
SUPER = re.compile(r"\bsuper((?:::[a-z_][a-z0-9_]*)*)")


def module_of(src: pathlib.Path, file: pathlib.Path) -> tuple:
    parts = list(file.relative_to(src).with_suffix("").parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts.pop()
    return tuple(parts)


def strip_comments(text: str) -> str:
    """Code without comments, up to the file's test module (whose `super` is the file itself)."""
    lines = []
    for line in text.splitlines():
        if line.strip().startswith("#[cfg(test)]"):
            break
        lines.append(line.split("//", 1)[0])
    return "\n".join(lines)


def graph(src: pathlib.Path) -> dict:
    files = {module_of(src, f): f for f in src.rglob("*.rs")}
    edges = {m: set() for m in files}
    for module, file in files.items():
        text = strip_comments(file.read_text())
        # A file's own module (`foo.rs`) is the parent its `super::` names for a `mod.rs`/lib.
        base = module if file.name in ("mod.rs", "lib.rs", "main.rs") else module[:-1]
        paths = [tuple(m.group(1).strip(":").split("::")) for m in PATH.finditer(text)]
        paths += [base[:-1] + tuple(filter(None, m.group(1).split("::")))
                  if file.name in ("mod.rs", "lib.rs") else
                  base + tuple(filter(None, m.group(1).split("::")))
                  for m in SUPER.finditer(text)]
        for path in paths:
            target = max(
                (path[:n] for n in range(len(path), -1, -1) if path[:n] in files),
                key=len,
                default=None,
            )
            inside = target is not None and target[: len(module)] == module
            if target is not None and target != module and not inside:
                edges[module].add(target)
    return edges


def cycles(edges: dict) -> list:
    """Tarjan's strongly connected components with more than one module."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10000)
    for v in edges:
        if v not in index:
            visit(v)
    return found


def main() -> int:
    dirs = [pathlib.Path(a) for a in sys.argv[1:]] or [ROOT / "services" / "hark" / "src"]
    status = 0
    for src in dirs:
        edges = graph(src.resolve())
        for component in cycles(edges):
            status = 1
            names = ["::".join(m) or "(root)" for m in component]
            print(f"{src}: import cycle among {', '.join(names)}")
            for m in component:
                inside = sorted("::".join(t) for t in edges[m] if t in component)
                print(f"  {'::'.join(m)} -> {', '.join(inside)}")
        if status == 0:
            print(f"{src}: {len(edges)} modules, no import cycle")
    return status


if __name__ == "__main__":
    sys.exit(main())
