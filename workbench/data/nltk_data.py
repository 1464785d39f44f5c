"""Finding NLTK corpora: ``NLTK_DATA`` / NLTK's default paths, ``../shared/nltk_data``, then
``nltk.download``.

Every corpus loader in :mod:`workbench.data.datasets` calls :func:`ensure_corpus` before it
reads a corpus through ``nltk.corpus.*``, so a missing corpus fails at load time with a
:class:`CorpusNotFoundError` that names the corpus, every place searched and the command
that fetches it, instead of NLTK's generic ``LookupError`` deep inside a reader.

Lookup order (:func:`find_corpus`):

1. ``nltk.data.find`` on NLTK's search path (``nltk.data.path``: ``$NLTK_DATA`` and NLTK's
   defaults such as ``~/nltk_data``), trying the resource names ``corpora/<name>``,
   ``corpora/<name>/`` (which also finds ``corpora/<name>.zip``) and ``corpora/<name>.zip``;
2. the project's shared copy: ``$WORKBENCH_SHARED_NLTK`` when set, else
   ``<repo>/../shared/nltk_data`` (``<repo>`` is the folder that holds the ``workbench``
   package) when it exists; the folder is appended to ``nltk.data.path`` so that
   ``nltk.corpus.<name>`` finds the corpus too;
3. ``nltk.download(name, quiet=True)`` (unless ``download=False`` or the environment
   variable ``WORKBENCH_OFFLINE`` is set to a non-empty value other than ``0``), with a
   socket timeout so that an offline machine fails within seconds rather than hanging.
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
from pathlib import Path

__all__ = [
    "CorpusNotFoundError",
    "DOWNLOAD_TIMEOUT_S",
    "ensure_corpus",
    "find_corpus",
    "shared_nltk_dir",
]

#: Socket timeout (seconds) applied while ``nltk.download`` runs.
DOWNLOAD_TIMEOUT_S = 20.0

_REPO_ROOT = Path(__file__).resolve().parents[2]


class CorpusNotFoundError(LookupError):
    """An NLTK corpus is in none of the searched places and could not be downloaded.

    Attributes:
        name: the corpus name (``"subjectivity"``, ``"sentence_polarity"``, ...).
        searched: the folders searched, in order.
        download_error: why ``nltk.download`` did not help (``None`` if it was not tried).
    """

    def __init__(self, name: str, searched: list[str], download_error: str | None = None):
        self.name = name
        self.searched = list(searched)
        self.download_error = download_error
        where = "\n".join(f"  - {p}" for p in self.searched) or "  (no folders)"
        if download_error is None:
            dl = "nltk.download was not tried (download=False or WORKBENCH_OFFLINE is set)."
        else:
            dl = f"nltk.download({name!r}) failed: {download_error}"
        message = (
            f"NLTK corpus {name!r} was not found (looked for corpora/{name} and "
            f"corpora/{name}.zip).\nSearched:\n{where}\n{dl}\n"
            f"To fetch it, run on a machine with internet:\n"
            f"    python -m nltk.downloader {name}\n"
            f"or download it into a folder of your choice and point NLTK_DATA at that folder:\n"
            f"    python -m nltk.downloader -d /path/to/nltk_data {name}\n"
            f"    export NLTK_DATA=/path/to/nltk_data"
        )
        super().__init__(message)

    def __str__(self) -> str:  # LookupError would repr() a single argument otherwise
        return str(self.args[0])


def shared_nltk_dir() -> Path | None:
    """The project's shared NLTK data folder, or ``None`` when it does not exist.

    ``$WORKBENCH_SHARED_NLTK`` when set (and non-empty), else ``<repo>/../shared/nltk_data``.
    """
    path = _shared_candidate()
    return path if path.is_dir() else None


def _shared_candidate() -> Path:
    override = os.environ.get("WORKBENCH_SHARED_NLTK")
    return Path(override) if override else _REPO_ROOT.parent / "shared" / "nltk_data"


def _pointer_path(pointer) -> str:
    """A filesystem path for an ``nltk.data`` path pointer (zip archive or folder)."""
    zipfile = getattr(pointer, "zipfile", None)
    if zipfile is not None:  # ZipFilePathPointer: report the archive itself
        return str(zipfile.filename)
    return str(getattr(pointer, "path", pointer))


def _nltk():
    """The ``nltk`` module, imported on first use: ``import nltk`` takes 2-3 s (it imports
    scikit-learn and SciPy), which ``import workbench.data`` and a cached
    ``load_dataset`` call should not pay."""
    import nltk

    return nltk


def _find_on_nltk_path(name: str) -> str | None:
    nltk = _nltk()
    for resource in (f"corpora/{name}", f"corpora/{name}/", f"corpora/{name}.zip"):
        try:
            return _pointer_path(nltk.data.find(resource))
        except LookupError:
            continue
    return None


def _offline() -> bool:
    return os.environ.get("WORKBENCH_OFFLINE", "") not in ("", "0")


def _try_download(name: str) -> str | None:
    """Run ``nltk.download``; return ``None`` on success, else a short reason."""
    nltk = _nltk()
    captured = io.StringIO()
    old_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
            ok = nltk.download(name, quiet=True, raise_on_error=False, print_error_to=captured)
    except Exception as exc:  # network errors, bad index, ... : report, never hang
        return f"{type(exc).__name__}: {exc}"
    finally:
        socket.setdefaulttimeout(old_timeout)
    if ok:
        return None
    detail = " ".join(captured.getvalue().split())
    return f"it returned False ({detail})" if detail else "it returned False (no network?)"


def find_corpus(name: str, download: bool = True) -> str:
    """Locate the NLTK corpus ``name``; download it if allowed and needed.

    Args:
        name: NLTK corpus id, e.g. ``"subjectivity"`` (Pang & Lee 2004),
            ``"sentence_polarity"`` (Pang & Lee 2005), ``"pros_cons"`` (Ganapathibhotla &
            Liu 2008), ``"wordnet"``, ``"stopwords"``, ``"brown"``.
        download: try ``nltk.download`` (step 3 of the module's lookup order) when the
            corpus is not on disk. ``WORKBENCH_OFFLINE=1`` in the environment disables it.

    Returns:
        The path of the corpus folder or zip archive (a ``str``). After this returns,
        ``nltk.corpus.<name>`` can read the corpus (the folder that holds it is on
        ``nltk.data.path``).

    Raises:
        CorpusNotFoundError: (a ``LookupError``) when every step fails; the message names
            the corpus, the folders searched and ``python -m nltk.downloader <name>``.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"corpus name must be a non-empty string; got {name!r}")
    nltk = _nltk()
    found = _find_on_nltk_path(name)
    if found is not None:
        return found
    shared = shared_nltk_dir()
    if shared is not None and str(shared) not in nltk.data.path:
        nltk.data.path.append(str(shared))
        found = _find_on_nltk_path(name)
        if found is not None:
            return found
    searched = [str(p) for p in nltk.data.path]
    if shared is None:
        searched.append(f"{_shared_candidate()} (does not exist)")
    download_error = None
    if download and not _offline():
        download_error = _try_download(name)
        if download_error is None:
            found = _find_on_nltk_path(name)
            if found is not None:
                return found
            download_error = "it reported success but the corpus is still not on nltk.data.path"
    raise CorpusNotFoundError(name, searched, download_error)


def ensure_corpus(name: str) -> str:
    """Make sure ``nltk.corpus.<name>`` can be read: :func:`find_corpus` with downloads allowed.

    Returns the corpus path; raises :class:`CorpusNotFoundError` when it cannot be found or
    downloaded.
    """
    return find_corpus(name, download=True)
