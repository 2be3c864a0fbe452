"""Text for activation extraction: the built-in corpus (text that ships with Python) and
text files (``.txt``, ``.jsonl``, ``.parquet``).

The built-in corpus is protocol SAE's (``shared/BENCHMARKS.md``): the 79 strings of
``pydoc_data.topics.topics`` (sorted keys), then the module, class and function docstrings
of the standard library's ``*.py`` files (sorted paths; site-packages, tests and idlelib
skipped). It needs no download and is the same on every machine with the same Python.
"""

from __future__ import annotations

import ast
import itertools
import json
import sysconfig
import warnings
from collections.abc import Iterator
from pathlib import Path

from ..errors import AutoencodingError

SKIP_PARTS = {"site-packages", "dist-packages", "test", "tests", "idlelib"}


def _docstrings(path: Path) -> list[str]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences in old modules
            tree = ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError, UnicodeDecodeError, OSError):
        return []
    out = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node)
            if doc and doc.strip():
                out.append(doc)
    return out


def builtin_corpus(max_texts: int | None = None, max_chars: int | None = None) -> list[str]:
    """Protocol SAE's corpus: pydoc topics, then standard-library docstrings (in order).
    ``max_texts`` / ``max_chars`` stop early (a prefix of the same corpus), so a small
    evaluation does not parse the whole standard library."""
    from pydoc_data.topics import topics

    def modules() -> Iterator[list[str]]:  # lazily: listing the stdlib alone takes a while
        stdlib = Path(sysconfig.get_paths()["stdlib"])
        for path in sorted(stdlib.rglob("*.py")):
            if not SKIP_PARTS & set(path.relative_to(stdlib).parts[:-1]):
                yield _docstrings(path)

    texts: list[str] = []
    chars = 0
    for group in itertools.chain(([topics[k]] for k in sorted(topics)), modules()):
        texts.extend(group)
        chars += sum(map(len, group))
        if (max_texts is not None and len(texts) >= max_texts) or (
            max_chars is not None and chars >= max_chars
        ):
            break
    return texts[:max_texts] if max_texts is not None else texts


def read_texts(source: str | Path, column: str = "text", max_chars: int | None = None) -> list[str]:
    """Texts from a ``.txt`` file (one text per blank-line-separated paragraph), ``.jsonl``
    (the ``column`` field of each line) or ``.parquet`` (the ``column`` column); the name
    ``builtin`` gives :func:`builtin_corpus` (its first ``max_chars`` characters or so)."""
    if str(source) == "builtin":
        return builtin_corpus(max_chars=max_chars)
    path = Path(source)
    if not path.exists():
        raise AutoencodingError(f"text source {path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".txt":
        texts = [t.strip() for t in path.read_text(encoding="utf-8").split("\n\n")]
    elif suffix == ".jsonl":
        texts = []
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise AutoencodingError(f"{path}:{i}: not JSON ({e.msg})") from None
            if not isinstance(row, dict) or column not in row:
                raise AutoencodingError(f"{path}:{i}: expected an object with key {column!r}")
            texts.append(str(row[column]))
    elif suffix == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise AutoencodingError("reading Parquet needs pyarrow: pip install pyarrow") from None
        table = pq.read_table(path)
        if column not in table.column_names:
            raise AutoencodingError(
                f"{path}: no column {column!r}; columns: {', '.join(table.column_names)}"
            )
        texts = [str(t) for t in table.column(column).to_pylist() if t is not None]
    else:
        raise AutoencodingError(
            f"{path}: unsupported text file {suffix!r}; expected .txt, .jsonl or .parquet"
        )
    texts = [t for t in texts if t.strip()]
    if not texts:
        raise AutoencodingError(f"{path}: the corpus is empty (no non-blank text)")
    return texts
