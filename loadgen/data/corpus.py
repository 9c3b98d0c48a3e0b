"""Real, offline text for demo data and the demo tokenizer.

The SPEED-Bench finding is that random token strings overstate SD speedups, so the demo never
fabricates text: it draws real code (the Python standard library's own sources, low entropy)
and real prose (the Python reference manual shipped as ``pydoc_data.topics``, higher entropy;
then, once that is used up, the standard library's own docstrings) from the interpreter that runs
the harness. All are present on every Python install.
"""

from __future__ import annotations

import ast
import sysconfig
from collections.abc import Iterator
from itertools import chain
from pathlib import Path

# Stdlib modules chosen for plain, readable code; sorted so every machine sees the same order.
_CODE_MODULES = (
    "argparse.py",
    "ast.py",
    "calendar.py",
    "configparser.py",
    "csv.py",
    "dataclasses.py",
    "difflib.py",
    "fractions.py",
    "ftplib.py",
    "gettext.py",
    "heapq.py",
    "inspect.py",
    "ipaddress.py",
    "locale.py",
    "mailbox.py",
    "netrc.py",
    "optparse.py",
    "pathlib.py",
    "pickle.py",
    "pprint.py",
    "random.py",
    "shlex.py",
    "shutil.py",
    "smtplib.py",
    "statistics.py",
    "string.py",
    "subprocess.py",
    "tarfile.py",
    "textwrap.py",
    "threading.py",
    "tokenize.py",
    "typing.py",
    "uuid.py",
    "wave.py",
    "zipfile.py",
)


def code_paragraphs() -> Iterator[str]:
    """Blank-line separated blocks of real Python source, in a fixed order."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    # Layouts differ between Python builds (e.g. a package instead of a module): skip those.
    texts = (
        (stdlib / name).read_text(encoding="utf-8", errors="replace")
        for name in _CODE_MODULES
        if (stdlib / name).is_file()
    )
    return _unique_blocks(texts)


def prose_paragraphs() -> Iterator[str]:
    """Paragraphs of the Python reference manual, then of stdlib docstrings, in a fixed order.

    The manual comes first and alone decides every prompt a smaller split had before the
    docstrings were added (~85k o200k tokens); the docstrings (~220k) only extend the corpus.
    """
    return _unique_blocks(chain(_manual_topics(), _stdlib_docstrings()))


def _manual_topics() -> Iterator[str]:
    from pydoc_data.topics import topics

    return (topics[key] for key in sorted(topics))


# Package trees whose docstrings are tests, demos or vendored code, not the library's prose.
_SKIP_TREES = frozenset({"test", "tests", "idlelib", "site-packages", "lib2to3", "turtledemo"})
_MIN_DOCSTRING_CHARS = 200  # one-line docstrings say little; keep the explanatory ones


def _stdlib_docstrings() -> Iterator[str]:
    """Module, class and function docstrings of stdlib modules whose code is not a code source."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(stdlib.rglob("*.py")):
        parts = path.relative_to(stdlib).parts
        if path.name in _CODE_MODULES or _SKIP_TREES.intersection(parts):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
        except (SyntaxError, ValueError):
            continue  # a file this interpreter cannot parse (e.g. a template) is not prose
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node)
                if doc and len(doc) >= _MIN_DOCSTRING_CHARS:
                    yield doc


def _unique_blocks(texts: Iterator[str]) -> Iterator[str]:
    """Each paragraph once: the sources repeat a few (shared docstrings), prompts must not."""
    seen: set[str] = set()
    for text in texts:
        for block in text.split("\n\n"):
            block = block.strip("\n")
            if block.strip() and block not in seen:
                seen.add(block)
                yield block


def training_text() -> Iterator[str]:
    """Everything the demo tokenizer is trained on: the code and the manual the prompts start from.

    Not the docstrings that only extend the prose: the tokenizer (and so the demo model) stays
    the one every earlier result was measured with.
    """
    yield from code_paragraphs()
    yield from _unique_blocks(_manual_topics())
