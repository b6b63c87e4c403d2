"""Every example in README.md and docs/*.md runs, and every public name's
docstring carries an example that runs.

The policy (tests/README.md):

- Every fenced block in those files has a language tag; an untagged fence
  fails ``test_every_fence_has_a_language_tag``.
- ``python``/``pycon`` blocks run: with ``>>>`` as doctests (shown output
  compared), without it through ``exec``.  A ``python signature`` block is a
  synopsis, not a call: each ``pooling...`` name in it must exist and take
  the keyword arguments the synopsis names.  All blocks of one file share one
  namespace and run in order (like one session), in a fresh temporary
  working directory.
- ``console``/``sh``/``bash`` blocks: ``python -m pooling ...`` and
  ``python -m pooling.dask ...`` commands run in a subprocess in that
  directory and must succeed; in ``console`` form (``$ command`` lines)
  the output shown after a command is compared.  The commands in
  ``NOT_RUN`` are not run here (the reason is given there).  Any other
  command fails the test, so that none goes unchecked unnoticed.
- ``text`` blocks (recorded outputs, tables, error lists, usage synopses)
  are not code.
- ``<!-- doc-setup`` ... ``-->``: Python in an HTML comment, invisible on
  the rendered page, run just before the next block (data an example
  needs, such as a small Zarr volume).
- A block importing an optional package (directly, or through the pooling
  module that needs it) skips, with the reason, when the package is missing.

Each block is one test item named after its file and line
(``README.md:L96``).  A block run on its own first replays the blocks before
it in its file, so its namespace is the one the page describes.
"""
from __future__ import annotations

import ast
import doctest
import functools
import importlib
import inspect
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import pytest

import pooling
from strategies import subprocess_env

ROOT = Path(__file__).resolve().parent.parent
DOC_FILES = ["README.md"] + sorted(f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md"))

# Languages a fence may carry, and what happens to it.
PYTHON = {"python", "pycon"}
SHELL = {"console", "sh", "bash"}
NOT_CODE = {"text"}

# Shell commands the suite does not run, each with the reason.  A command
# is matched on its first words, after leading VAR=value assignments.
NOT_RUN = {
    "pip install": "installs into the environment running the tests; "
                   "CI runs the README's install commands itself (.ci/run)",
    "python -m pooling.bench": "a benchmark, minutes long; tests/test_bench.py runs it "
                               "at a small size",
    "bash .ci/run": "runs CI itself",
    "bash tests/": "the sanitizer and release checks build and test copies of the tree",
    "pytest": "runs this suite",
    "python -m pytest": "runs this suite",
    "python benchmarks/": "a benchmark (timings, not results)",
}
RUN = ("python -m pooling", "python -m pooling.dask")

# Optional packages a module pulls in, for the skip rule.
IMPLIED = {"pooling.dask": "dask", "pooling.layers.torch": "torch",
           "pooling.layers.autograd": "autograd", "pooling.layers.jax": "jax",
           "distributed": "distributed"}
OPTIONAL = {"torch", "dask", "zarr", "autograd", "distributed", "tinyml", "jax"}


@dataclass
class Block:
    path: str
    line: int          # 1-based line of the opening fence
    lang: str          # first word of the info string
    info: str          # the whole info string
    code: str
    setup: str = ""    # a preceding <!-- doc-setup --> comment's code
    setup_line: int = 0


_FENCE = re.compile(r"^( *)(```+|~~~+)(.*)$")


def parse(path: str, text: str) -> List[Block]:
    """The fenced blocks of a Markdown file (untagged ones with lang "")."""
    lines = text.split("\n")
    blocks: List[Block] = []
    setup, setup_line = "", 0
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.strip() == "<!-- doc-setup":
            j = i + 1
            while lines[j].strip() != "-->":
                j += 1
            setup, setup_line = "\n".join(lines[i + 1:j]) + "\n", i + 2
            i = j + 1
            continue
        m = _FENCE.match(line)
        if m is None:
            i += 1
            continue
        indent, fence, info = len(m.group(1)), m.group(2), m.group(3).strip()
        j = i + 1
        while not lines[j].strip().startswith(fence):
            j += 1
        body = [ln[indent:] if ln[:indent].strip() == "" else ln for ln in lines[i + 1:j]]
        lang = info.split()[0] if info else ""
        blocks.append(Block(path, i + 1, lang, info, "\n".join(body) + "\n", setup, setup_line))
        setup, setup_line = "", 0
        i = j + 1
    return blocks


def read(path: str) -> str:
    return (ROOT / path).read_text(encoding="utf-8")


def all_blocks() -> List[Block]:
    out: List[Block] = []
    for path in DOC_FILES:
        if (ROOT / path).is_file():
            out += parse(path, read(path))
    return out


BLOCKS = all_blocks()
RUNNABLE = [b for b in BLOCKS if b.lang in PYTHON | SHELL]

needs_docs = pytest.mark.skipif(
    not BLOCKS, reason="README.md and docs/ are not here (an installed package run "
                       "outside the source tree)")


# -- the policy ---------------------------------------------------------------

@needs_docs
def test_every_fence_has_a_language_tag():
    bad = [f"{b.path}:L{b.line}" for b in BLOCKS if not b.lang]
    assert not bad, ("fenced blocks without a language tag (python, pycon, console, sh, "
                     f"bash or text): {', '.join(bad)}")
    unknown = [f"{b.path}:L{b.line} ({b.lang})" for b in BLOCKS
               if b.lang not in PYTHON | SHELL | NOT_CODE]
    assert not unknown, f"fences with a language the doc tests do not know: {unknown}"


@needs_docs
def test_no_indented_python():
    """Code in an indented block would escape the collector: Python must be
    fenced.  (Indented blocks that are not Python, such as error lists,
    should be fenced as text too; this catches the ones that are code.)"""
    bad = []
    for path in DOC_FILES:
        lines = read(path).split("\n")
        fenced = False
        for n, line in enumerate(lines, 1):
            if _FENCE.match(line):
                fenced = not fenced
                continue
            prev = lines[n - 2] if n > 1 else ""
            if (not fenced and line.startswith("    ") and prev.strip() == ""
                    and re.match(r"\s+(>>>|import |from \w+ import|\w+ = |pooling\.)", line)):
                bad.append(f"{path}:L{n}")
    assert not bad, f"indented code blocks (fence them with a tag): {bad}"


# -- running the blocks ---------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _importable(name: str) -> bool:
    """Whether ``name`` imports (not only whether find_spec finds it: the
    ASan run hides torch and matplotlib behind modules that raise)."""
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


def missing_packages(code: str) -> List[str]:
    """The optional packages ``code`` imports that are not installed."""
    mods = set()
    try:
        tree = ast.parse(code)
    except SyntaxError:   # a signature synopsis or a shell command: its module names
        tree = ast.parse("")
        mods.update(re.findall(r"\bpooling(?:\.\w+)+", code))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            mods.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            mods.add(node.module)
            mods.update(f"{node.module}.{a.name}" for a in node.names)
    need = set()
    for mod in mods:
        for prefix, pkg in IMPLIED.items():
            if mod == prefix or mod.startswith(prefix + "."):
                need.add(pkg)
        if mod.split(".")[0] in OPTIONAL:
            need.add(mod.split(".")[0])
    return sorted(p for p in need if not _importable(p))


def python_source(block: Block) -> str:
    """A block's Python source, for the import scan (doctest lines unprefixed)."""
    if ">>>" not in block.code:
        return block.code
    return "\n".join(ln.strip()[4:] for ln in block.code.split("\n")
                     if ln.strip().startswith((">>> ", "... ")))


@dataclass
class Session:
    """One file's namespace and working directory."""
    tmp: Path
    ns: Dict[str, object] = field(default_factory=dict)
    done: int = 0   # blocks of the file run so far


_SESSIONS: Dict[str, Session] = {}


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    yield _SESSIONS
    _SESSIONS.clear()


def _exec(code: str, path: str, line: int, ns) -> None:
    # Padding makes a traceback's line number the Markdown file's.
    exec(compile("\n" * line + code, str(ROOT / path), "exec"), ns)


class _Failed(Exception):
    pass


def _doctest(block: Block, ns) -> None:
    test = doctest.DocTestParser().get_doctest(
        block.code, ns, f"{block.path}:L{block.line}", str(ROOT / block.path), block.line)
    runner = doctest.DocTestRunner(verbose=False)
    report: List[str] = []
    runner.run(test, out=report.append, clear_globs=False)
    ns.update(test.globs)   # DocTest ran on a copy of the namespace
    if runner.failures:
        raise _Failed("".join(report))


def _signature(block: Block) -> None:
    """Each ``pooling...(...)`` in a synopsis exists and takes the keywords named."""
    text = re.sub(r"#[^\n]*", "", block.code)
    for m in re.finditer(r"(pooling(?:\.\w+)+)\(", text):
        name = m.group(1)
        obj = importlib.import_module(name.split(".")[0])
        for part in name.split(".")[1:]:
            obj = getattr(obj, part, None) or importlib.import_module(
                f"{obj.__name__}.{part}")
        depth, k = 1, m.end()
        while depth:
            depth += {"(": 1, ")": -1}.get(text[k], 0)
            k += 1
        params = inspect.signature(obj).parameters
        given = re.findall(r"(\w+)=", text[m.end():k])
        unknown = [g for g in given if g not in params]
        assert not unknown, f"{block.path}:L{block.line}: {name} has no parameter {unknown}"


def _command_words(cmd: str) -> str:
    words = shlex.split(cmd, comments=True)
    while words and re.match(r"^\w+=", words[0]):
        words.pop(0)
    return " ".join(words)


def _not_run(cmd: str) -> Optional[str]:
    words = _command_words(cmd)
    for prefix, reason in NOT_RUN.items():
        if words == prefix or words.startswith(prefix + " ") or (
                prefix.endswith("/") and words.startswith(prefix)):
            return reason
    return None


def _shell(block: Block, cwd: Path) -> None:
    """Run a shell block's pooling commands; compare shown output."""
    lines = block.code.rstrip("\n").split("\n")
    transcript = any(ln.startswith("$ ") for ln in lines)
    steps = []   # (command, expected output or None)
    if transcript:
        for ln in lines:
            if ln.startswith("$ "):
                steps.append([ln[2:], []])
            elif steps:
                steps[-1][1].append(ln)
    else:
        joined = block.code.replace("\\\n", " ")
        steps = [[ln, None] for ln in joined.split("\n") if ln.strip()
                 and not ln.lstrip().startswith("#")]
    ran = 0
    for cmd, want in steps:
        reason = _not_run(cmd)
        if reason is not None:
            continue
        words = _command_words(cmd)
        if not any(words == r or words.startswith(r + " ") for r in RUN):
            raise _Failed(f"{block.path}:L{block.line}: the doc tests neither run nor "
                          f"list (NOT_RUN) the command {cmd!r}")
        argv = [sys.executable] + shlex.split(words)[1:]
        proc = subprocess.run(argv, cwd=cwd, env=subprocess_env(), capture_output=True, text=True,
                              timeout=120)
        if proc.returncode != 0:
            raise _Failed(f"{cmd!r} exited with {proc.returncode}:\n{proc.stdout}{proc.stderr}")
        if want is not None:
            checker = doctest.OutputChecker()
            expected = "\n".join(want).rstrip() + "\n"
            got = proc.stdout.rstrip() + "\n"
            if not checker.check_output(expected, got, doctest.ELLIPSIS):
                raise _Failed(f"{cmd!r}: output differs from the shown one:\n"
                              + checker.output_difference(
                                  doctest.Example(cmd, expected), got, doctest.ELLIPSIS))
        ran += 1
    if not ran:
        pytest.skip("no command of this block is run here: "
                    + "; ".join(sorted({_not_run(c) or "" for c, _ in steps})))


def _run_block(block: Block, session: Session) -> None:
    missing = missing_packages(block.setup + "\n" + python_source(block))
    if block.lang in SHELL and "pooling.dask" in block.code:
        missing += [p for p in ("dask", "zarr") if not _importable(p)]
    if missing:
        pytest.skip(f"needs {', '.join(sorted(set(missing)))}, not installed")
    cwd = os.getcwd()
    os.chdir(session.tmp)
    try:
        if block.setup:
            _exec(block.setup, block.path, block.setup_line - 1, session.ns)
        if block.lang in SHELL:
            _shell(block, session.tmp)
        elif "signature" in block.info.split()[1:]:
            _signature(block)
        elif ">>>" in block.code:
            _doctest(block, session.ns)
        else:
            _exec(block.code, block.path, block.line, session.ns)
    finally:
        os.chdir(cwd)


def _session(path: str, tmp_path_factory) -> Session:
    if path not in _SESSIONS:
        _SESSIONS[path] = Session(tmp_path_factory.mktemp(path.replace("/", "_")))
    return _SESSIONS[path]


@needs_docs
@pytest.mark.parametrize("block", RUNNABLE, ids=[f"{b.path}:L{b.line}" for b in RUNNABLE])
def test_doc_block(block, sessions, tmp_path_factory):
    session = _session(block.path, tmp_path_factory)
    mine = [b for b in RUNNABLE if b.path == block.path]
    index = mine.index(block)
    # Blocks before this one (when it runs alone, or after a skip) set up
    # the namespace the page assumes; their own failures are theirs.
    for earlier in mine[session.done:index]:
        try:
            _run_block(earlier, session)
        except BaseException:  # noqa: BLE001 -- reported by that block's own item
            pass
    session.done = index + 1
    failure = None
    try:
        _run_block(block, session)
    except _Failed as e:
        failure = f"{block.path}:L{block.line}\n{e}"
    if failure is not None:
        pytest.fail(failure, pytrace=False)


# -- docstring examples -----------------------------------------------------------

def public_objects():
    """(qualified name, object, module name) of every name whose docstring
    must carry an example: ``pooling.__all__``, ``pooling.layers.torch.convert``,
    ``pooling.dask``'s functions and ``pooling.dask.pyramid``."""
    out = [(f"pooling.{n}", getattr(pooling, n), "pooling") for n in pooling.__all__
           if n != "__version__"]
    try:  # (the ASan run hides torch behind a module that raises)
        import pooling.layers.torch as pt
    except ImportError:
        pass
    else:
        out.append(("pooling.layers.torch.convert", pt.convert, "torch"))
    if _importable("dask"):
        import pooling.dask as pd
        out += [(f"pooling.dask.{n}", getattr(pd, n), "dask") for n in pd.__all__]
    if _importable("jax"):
        import pooling.layers.jax as pj
        out += [(f"pooling.layers.jax.{n}", getattr(pj, n), "jax") for n in pj.__all__]
    return out


def test_public_names_have_examples():
    bare = [name for name, obj, _ in public_objects() if ">>>" not in (obj.__doc__ or "")]
    if sys.flags.optimize >= 2:
        pytest.skip("docstrings stripped (python -OO)")
    assert not bare, f"public names whose docstring has no example: {bare}"


DOCTEST_MODULES = {
    "pooling.functional": None, "pooling.numpy_layers": None, "pooling._core.backend": None,
    "pooling.layers.torch.modules": "torch",
    "pooling.dask": "dask", "pooling.dask.pyramid": "dask", "pooling.layers.jax": "jax",
}


@pytest.mark.parametrize("module", sorted(DOCTEST_MODULES))
def test_docstring_examples(module, use_backend, tmp_path, monkeypatch):
    need = DOCTEST_MODULES[module]
    if need is not None and not _importable(need):
        pytest.skip(f"needs {need}, not installed")
    monkeypatch.chdir(tmp_path)
    mod = importlib.import_module(module)
    # The names the examples assume, as numpydoc examples assume numpy's.
    names = {"np": np, "pooling": pooling}
    if need == "dask":
        names["da"] = importlib.import_module("dask.array")
    if need == "jax":
        names["jnp"] = importlib.import_module("jax.numpy")
    tests = [t for t in doctest.DocTestFinder().find(mod, extraglobs=names) if t.examples]
    assert tests or sys.flags.optimize >= 2, f"{module} has no docstring examples"
    runner = doctest.DocTestRunner(verbose=False)
    report: List[str] = []
    try:
        for t in tests:
            runner.run(t, out=report.append)
    finally:
        # set_num_threads's example ends at OpenMP's default: put back the
        # setting the session started with.
        threads = os.environ.get("POOLING_NUM_THREADS", "").strip()
        if threads.isdigit():
            pooling.set_num_threads(int(threads))
    if runner.failures:
        pytest.fail("".join(report), pytrace=False)
