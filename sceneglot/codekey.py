"""Which code computes each stage, as a digest of its source: part of every stage cache's key (jobs.JobFolder.key).

A job folder's stage caches are kept for the code that computed them: after an upgrade, or any change
to a stage's code, a re-run computes that stage again instead of reading back what the old code made.
The digest of a stage is a SHA-256 over the source files (path inside the package and content; never an
absolute path or a time, so every Ray node running the same package gets the same digest) of:

- its code (`STAGE_CODE`) and every sceneglot module it imports, found by reading the files' import
  statements (function-level ones too) transitively, with the packages above each module (their
  __init__.py runs first; the top one holds __version__). Three modules serve every stage (`LEAVES`:
  pipeline.py holds each stage's glue, windows.py the speech and the face windows, jobs.py the records
  and progress): their whole file counts for a stage that reaches them, but only the imports of the
  functions a stage names (`"pipeline:run_asr"`: run_asr and the module's functions it names, transitively)
  and of their top level are followed, so pipeline.py's faces code does not bring vision/ into ASR's
  digest. A folder (`"translate/"`) counts whole: the translation backends are imported by name
  (translate.base.create), which no import statement shows;
- `ALWAYS`: pipeline.py, jobs.py, media.py, models.py and what they import at their top level.

So a change to av/asd.py invalidates faces (a long input's faces score its tracks as each window ends),
asd and the analysis, not ASR or diarization; a change to
speech/asr.py invalidates ASR and the analysis; what a stage's key takes from an earlier stage's result
(asd's key holds the face tracks, translate's the source texts) rebuilds the later stage only when that
result changed. A stage with no entry here (or a module that cannot be found) gets the whole package's digest:
correctness over reuse. Reading and hashing the files costs ~0.2 CPU-s once per process (functools.cache; busy machine).
Only .py files count: model weights are named in the settings, the models store checks their hashes.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import os
import re
from collections.abc import Iterable
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent

_ASR = ("pipeline:run_asr", "windows:speech_count,speech_window")
_DIARIZATION = ("pipeline:diarization_stage,_store_voices,_load_voices",)
_FACES = ("pipeline:run_faces", "windows:face_windows,window_faces,combine,WindowSpeakers")
_ASD = ("pipeline:run_asd", "windows:WindowSpeakers,speech_count")
STAGE_CODE: dict[str, tuple[str, ...]] = {
    "asr": _ASR,
    "diarization": _DIARIZATION,
    "faces": _FACES,
    "asd": _ASD,
    # The whole analysis (cached on its settings alone): every stage above, then the speech assembly (words ->
    # speakers -> phrases), the attribution and the RTTM export, as analyze calls them.
    "analysis": (*_ASR, *_DIARIZATION, *_FACES, *_ASD, "pipeline:analyze,_speech"),
    "translate": ("pipeline:translate", "translate/"),
}
LEAVES = frozenset({"pipeline", "windows", "jobs"})
ALWAYS = ("pipeline:", "jobs:", "errors", "files", "media", "models")


def _file(root: Path, module: str) -> Path | None:
    """The source file of `module` (dotted, relative to the package; "" is the package itself), or None."""
    base = root.joinpath(*module.split(".")) if module else root
    for path in (base / "__init__.py", base.with_suffix(".py") if module else None):
        if path is not None and path.is_file():
            return path
    return None


def _imports(root: Path, module: str, path: Path, functions: tuple[str, ...] | None = None) -> set[str]:
    """The sceneglot modules `path` (module `module`) imports, relative to the package, with their parents
    (`functions`: only those at its top level and in these functions, see _targets)."""
    found: set[str] = set()
    for target in _targets(module, path.name == "__init__.py", path.read_bytes(), functions):
        parts = target.split(".") if target else []
        for k in range(len(parts) + 1):  # the packages above run their __init__ first
            name = ".".join(parts[:k])
            if _file(root, name) is not None:
                found.add(name)
    return found


_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _chosen(tree: ast.Module, functions: tuple[str, ...] | None) -> list[ast.AST]:
    """The module's nodes whose imports count: all of it, or (`functions`) its top-level statements other than
    functions and classes, those named, and every top-level function or class they name, transitively."""
    if functions is None:
        return [tree]
    defs = {node.name: node for node in tree.body if isinstance(node, _DEFS)}
    nodes: list[ast.AST] = [node for node in tree.body if not isinstance(node, _DEFS)]
    todo, seen = [f for f in functions if f], set()
    while todo:
        name = todo.pop()
        if name in seen or name not in defs:
            continue
        seen.add(name)
        nodes.append(defs[name])
        inside = list(ast.walk(defs[name]))
        local = {n.id for n in inside if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
        local |= {a.arg for n in inside if isinstance(n, ast.arguments)
                  for a in (*n.posonlyargs, *n.args, *n.kwonlyargs, n.vararg, n.kwarg) if a is not None}
        local |= {(a.asname or a.name).split(".")[0] for n in inside if isinstance(n, ast.Import | ast.ImportFrom)
                  for a in n.names}
        todo += [n.id for n in inside if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
                 and n.id not in local]  # a local variable named like a function is not that function
    return nodes


# An import statement's lines (a parenthesised list may span several): what _statements hands to the parser.
_IMPORT = re.compile(rb"^[ \t]*(?:from[ \t]+[\w.]+[ \t]+import[ \t]*(?:\([^)]*\)|[^\n]*)|import[ \t]+[^\n]*)", re.M)


def _statements(source: bytes, functions: tuple[str, ...] | None) -> list[ast.AST]:
    """The import statements of a module, as parsed nodes. A whole module's come from its import lines alone
    (parsing only those is ~10x cheaper than the file; a line in a docstring that reads as an import can only
    add a module, never drop one); a module read by `functions` is parsed whole (_chosen)."""
    if functions is not None:
        return _chosen(ast.parse(source), functions)
    nodes: list[ast.AST] = []
    for match in _IMPORT.finditer(source):
        try:
            nodes.append(ast.parse(match.group(0).strip()))
        except SyntaxError:  # prose in a docstring
            continue
    return nodes


@functools.lru_cache(maxsize=1024)
def _targets(module: str, is_package: bool, source: bytes, functions: tuple[str, ...] | None,
             whole: bool = False) -> tuple[str, ...]:
    """What a module's import statements name inside the package (modules, or names in one), by its source
    (`whole`: from the parsed file, not its import lines: what the tests compare _statements with)."""
    here = module.split(".") if module else []
    package = here if is_package else here[:-1]
    targets: list[str] = []
    tops = _chosen(ast.parse(source), functions) if whole else _statements(source, functions)
    for top in tops:
        for node in ast.walk(top):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    if node.level - 1 > len(package):
                        continue
                    base = package[:len(package) - (node.level - 1)]
                    target = [*base, *(node.module.split(".") if node.module else [])]
                elif node.module and (node.module == "sceneglot" or node.module.startswith("sceneglot.")):
                    target = node.module.split(".")[1:]
                else:
                    continue
                targets.append(".".join(target))
                targets += [".".join([*target, a.name]) for a in node.names if a.name != "*"]
            elif isinstance(node, ast.Import):
                targets += [".".join(a.name.split(".")[1:]) for a in node.names
                            if a.name == "sceneglot" or a.name.startswith("sceneglot.")]
    return tuple(targets)


def _closure(root: Path, roots: Iterable[str]) -> set[Path] | None:
    """Every source file `roots` reach through their imports, or None when one cannot be found. A root is a
    module ("speech.asr"), a folder ("translate/": all of it) or "module:function,function" (see LEAVES)."""
    files: set[Path] = set()
    todo: list[tuple[str, tuple[str, ...] | None]] = []
    for name in roots:
        if name.endswith("/"):
            folder = root / name.rstrip("/")
            if not folder.is_dir():
                return None
            for path in folder.rglob("*.py"):
                rel = path.relative_to(root).with_suffix("")
                todo.append((".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts), None))
            continue
        module, _, functions = name.partition(":")
        if _file(root, module) is None:
            return None
        todo.append((module, tuple(functions.split(",")) if ":" in name else None))
    seen: set[tuple[str, tuple[str, ...] | None]] = set()
    while todo:
        module, functions = item = todo.pop()
        if functions is None and module in LEAVES:
            functions = ()  # reached by an import: the file counts, its top level's imports are followed
            item = (module, functions)
        if item in seen:
            continue
        seen.add(item)
        path = _file(root, module)
        if path is None:
            continue
        files.add(path)
        parts = module.split(".") if module else []
        todo += [(".".join(parts[:k]), None) for k in range(len(parts))]
        todo += [(m, None) for m in _imports(root, module, path, functions)]
    return files


def _hash(root: Path, files: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(files, key=lambda p: p.relative_to(root).as_posix()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def files(stage: str, root: str | os.PathLike = PACKAGE) -> list[str]:
    """The source files (paths inside the package) whose content keys `stage`."""
    root = Path(root)
    roots = STAGE_CODE.get(stage)
    found = _closure(root, (*roots, *ALWAYS)) if roots is not None else None
    if found is None:
        found = set(root.rglob("*.py"))
    return sorted(p.relative_to(root).as_posix() for p in found)


def stage_digest(stage: str, root: str | os.PathLike = PACKAGE) -> str:
    """The digest of the code that computes `stage`, read from the package tree at `root`."""
    return _hash(Path(root), (Path(root) / f for f in files(stage, root)))


def package_digest(root: str | os.PathLike = PACKAGE) -> str:
    """The digest of every source file of the package tree at `root`."""
    return _hash(Path(root), Path(root).rglob("*.py"))


@functools.cache
def digest(stage: str, root: str = str(PACKAGE)) -> str:
    """stage_digest, once per process and tree."""
    return stage_digest(stage, root)


@functools.cache
def package(root: str = str(PACKAGE)) -> str:
    """package_digest of the running package, once per process."""
    return package_digest(root)


__all__ = ["ALWAYS", "PACKAGE", "STAGE_CODE", "digest", "files", "package", "package_digest", "stage_digest"]
