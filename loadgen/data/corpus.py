"""Real, offline text for demo data and the demo tokenizer.

The SPEED-Bench finding is that random token strings overstate SD speedups, so the demo never
fabricates text: it draws real code (the Python standard library's own sources, low entropy)
and real prose (the Python reference manual shipped as ``pydoc_data.topics``, higher entropy)
from the interpreter that runs the harness. Both are present on every Python install.
"""

from __future__ import annotations

import sysconfig
from collections.abc import Iterator
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
    """Paragraphs of the Python reference manual, in a fixed order."""
    from pydoc_data.topics import topics

    return _unique_blocks(topics[key] for key in sorted(topics))


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
    """Everything the demo tokenizer is trained on: the same sources the prompts come from."""
    yield from code_paragraphs()
    yield from prose_paragraphs()
