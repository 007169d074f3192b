"""A user's own images: one subfolder per class, PNG or JPEG, any size, colour or grey.

Each picture is letterboxed onto a square (no cropping: the edge of a scan may matter), resized
to `size`×`size`, scaled to [0, 1] and then standardised with the training split's mean and
standard deviation per channel. The split is stratified and seeded. Decoding runs in a few
threads (Pillow releases the GIL while it decodes), and `iter_image_folder` yields progress so
a window can show it and cancel. Files are only ever decoded as images; nothing is unpickled.

A file that cannot be read among many is skipped and counted in `Dataset.notes`; an empty
folder, a class without a readable image or a folder that is not there raises
`ImageFolderError` with a message that names the path.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .dataset import Dataset, LoadProgress, stratified_split

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
MAX_SIZE = 224
MAX_BAD_FRACTION = 0.2  # more unreadable files than this is an error, not a skip
CHUNK = 64  # images decoded between two progress reports


class ImageFolderError(ValueError):
    """A folder that cannot become a dataset; the message names the path and says why."""


FolderProgress = LoadProgress  # done, total, the file just read, skipped so far


@dataclass
class FolderScan:
    root: Path
    classes: list[str]
    files: list[tuple[Path, int]]  # (image path, class index)
    ignored: list[Path]  # files that are not PNG or JPEG

    def signature(self) -> tuple:
        """Changes when a file is added, removed or rewritten (for the cache)."""
        out = []
        for p, _ in self.files:
            st = p.stat()
            out.append((str(p), st.st_size, st.st_mtime_ns))
        return tuple(out)


def scan_folder(path: str | os.PathLike) -> FolderScan:
    """List the class subfolders and their image files (sorted, so the order is stable)."""
    root = Path(path).expanduser()
    if not str(path).strip():
        raise ImageFolderError("no folder chosen: give a folder with one subfolder per class")
    if not root.exists():
        raise ImageFolderError(f"{root}: no such folder")
    if not root.is_dir():
        raise ImageFolderError(f"{root}: not a folder; choose the folder that holds one subfolder per class")
    try:
        entries = sorted(root.iterdir(), key=lambda p: p.name.lower())
    except OSError as exc:
        raise ImageFolderError(f"{root}: cannot be read ({exc.strerror or exc})") from None
    class_dirs = [p for p in entries if p.is_dir() and not p.name.startswith(".")]
    loose = [p for p in entries if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    if not class_dirs:
        hint = (f" It holds {len(loose)} images directly; move them into one subfolder per class."
                if loose else "")
        raise ImageFolderError(f"{root}: no class subfolders.{hint} Expected e.g. {root / 'glioma'}/*.png, "
                               f"{root / 'meningioma'}/*.png")
    if len(class_dirs) < 2:
        raise ImageFolderError(f"{root}: only one class subfolder ({class_dirs[0].name}); a classifier "
                               "needs at least two")
    files: list[tuple[Path, int]] = []
    ignored: list[Path] = []
    for k, d in enumerate(class_dirs):
        try:
            inside = sorted((p for p in d.rglob("*") if p.is_file() and not p.name.startswith(".")),
                            key=lambda p: str(p).lower())
        except OSError as exc:
            raise ImageFolderError(f"{d}: cannot be read ({exc.strerror or exc})") from None
        images = [p for p in inside if p.suffix.lower() in IMAGE_SUFFIXES]
        ignored += [p for p in inside if p.suffix.lower() not in IMAGE_SUFFIXES]
        if not images:
            what = f"only {len(inside)} files that are not PNG or JPEG" if inside else "nothing"
            raise ImageFolderError(f"class folder {d} holds no PNG or JPEG images ({what}); "
                                   "remove it or add images")
        files += [(p, k) for p in images]
    return FolderScan(root, [d.name for d in class_dirs], files, ignored)


def read_image(path: Path, size: int, grayscale: bool = True) -> np.ndarray:
    """One file as (C, size, size) float32 in [0, 1], letterboxed onto a black square.

    Raises OSError (or ValueError) when the file is not a readable image.
    """
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        if im.format not in ("PNG", "JPEG", "MPO"):
            raise ValueError(f"{im.format or 'unknown'} data, not PNG or JPEG")
        if im.format in ("JPEG", "MPO"):
            im.draft("L" if grayscale else "RGB", (size, size))  # decode big JPEGs at reduced scale
        im.load()
        im = ImageOps.exif_transpose(im)
        if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):  # 16-bit scans: scale by their own range
            arr = np.asarray(im, dtype=np.float32)
            top = float(arr.max())
            im = Image.fromarray(arr / top if top > 0 else arr)
            scale = 1.0
        else:
            im = im.convert("L" if grayscale else "RGB")
            scale = 1.0 / 255.0
        w, h = im.size
        f = size / max(w, h)
        new = (max(1, round(w * f)), max(1, round(h * f)))
        im = im.resize(new, Image.Resampling.BILINEAR, reducing_gap=3.0)
        arr = np.asarray(im, dtype=np.float32) * scale
    if arr.ndim == 2:
        arr = arr[None]
        if not grayscale:
            arr = np.repeat(arr, 3, axis=0)
    else:
        arr = arr.transpose(2, 0, 1)
    out = np.zeros((arr.shape[0], size, size), dtype=np.float32)
    top, left = (size - arr.shape[1]) // 2, (size - arr.shape[2]) // 2
    out[:, top : top + arr.shape[1], left : left + arr.shape[2]] = arr
    return out


def _read_or_error(path: Path, size: int, grayscale: bool) -> np.ndarray | str:
    try:
        return read_image(path, size, grayscale)
    except Exception as exc:  # a corrupt or foreign file: reported, never fatal for the others
        return f"{type(exc).__name__}: {exc}"


_CACHE: OrderedDict[tuple, Dataset] = OrderedDict()
_CACHE_LOCK = threading.Lock()
CACHE_ENTRIES = 2


def _key(scan: FolderScan, size: int, grayscale: bool, test_fraction: float, seed: int) -> tuple:
    return (str(scan.root.resolve()), size, grayscale, test_fraction, seed, scan.signature())


def iter_image_folder(path: str | os.PathLike, size: int = 64, grayscale: bool = True,
                      test_fraction: float = 0.2, seed: int = 0,
                      workers: int | None = None) -> Iterator[FolderProgress | Dataset]:
    """`image_folder` as a generator: FolderProgress items while it reads, the Dataset last.

    Close the generator to cancel (between chunks of files). A folder read before with the same
    settings and unchanged files comes from a small cache.
    """
    if not 8 <= size <= MAX_SIZE:
        raise ImageFolderError(f"image size must lie between 8 and {MAX_SIZE} pixels, got {size}")
    scan = scan_folder(path)
    key = _key(scan, size, grayscale, test_fraction, seed)
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
    if cached is not None:
        yield FolderProgress(len(scan.files), len(scan.files), str(scan.root))
        yield cached
        return
    total = len(scan.files)
    channels = 1 if grayscale else 3
    X = np.empty((total, channels, size, size), dtype=np.float32)
    ok = np.zeros(total, dtype=bool)
    bad: list[tuple[Path, int, str]] = []
    workers = workers or max(1, min(4, os.cpu_count() or 1))
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="image-folder")
    try:
        yield FolderProgress(0, total, str(scan.root))
        for start in range(0, total, CHUNK):
            chunk = scan.files[start : start + CHUNK]
            results = pool.map(lambda item: _read_or_error(item[0], size, grayscale), chunk)
            for i, ((p, k), res) in enumerate(zip(chunk, results), start=start):
                if isinstance(res, str):
                    bad.append((p, k, res))
                else:
                    X[i] = res
                    ok[i] = True
            yield FolderProgress(min(start + CHUNK, total), total, str(chunk[-1][0]), len(bad))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)

    y_all = np.array([k for _, k in scan.files], dtype=np.int64)
    if bad and len(bad) > max(1, MAX_BAD_FRACTION * total):
        p, _, why = bad[0]
        raise ImageFolderError(f"{len(bad)} of {total} files in {scan.root} cannot be read as images, "
                               f"e.g. {p} ({why})")
    counts = np.bincount(y_all[ok], minlength=len(scan.classes))
    for k, name in enumerate(scan.classes):
        if counts[k] == 0:
            first = next((f"{p} ({why})" for p, kb, why in bad if kb == k), "")
            raise ImageFolderError(f"class folder {scan.root / name} has no readable image"
                                   + (f": {first}" if first else ""))
        if counts[k] < 2:
            raise ImageFolderError(f"class folder {scan.root / name} has only 1 readable image; each class "
                                   "needs at least 2 (one to train on, one to test)")
    X, y = X[ok], y_all[ok]
    Xtr, ytr, Xte, yte = stratified_split(X, y, test_fraction, np.random.default_rng(seed))
    # Standardise with the training split's statistics (per channel), as a network likes.
    mean = Xtr.mean(axis=(0, 2, 3), keepdims=True)
    std = Xtr.std(axis=(0, 2, 3), keepdims=True) + 1e-6
    Xtr, Xte = (Xtr - mean) / std, (Xte - mean) / std
    notes = []
    if bad:
        shown = ", ".join(str(p) for p, _, _ in bad[:3]) + (" …" if len(bad) > 3 else "")
        notes.append(f"skipped {len(bad)} unreadable file{'s' if len(bad) > 1 else ''}: {shown}")
    if scan.ignored:
        shown = ", ".join(p.name for p in scan.ignored[:3]) + (" …" if len(scan.ignored) > 3 else "")
        notes.append(f"ignored {len(scan.ignored)} file{'s' if len(scan.ignored) > 1 else ''} "
                     f"that {'are' if len(scan.ignored) > 1 else 'is'} not PNG or JPEG: {shown}")
    ds = Dataset(
        name=scan.root.name or str(scan.root),
        X_train=torch.from_numpy(np.ascontiguousarray(Xtr, dtype=np.float32)),
        y_train=torch.from_numpy(ytr),
        X_test=torch.from_numpy(np.ascontiguousarray(Xte, dtype=np.float32)),
        y_test=torch.from_numpy(yte),
        n_classes=len(scan.classes),
        input_shape=(channels, size, size),
        class_names=list(scan.classes),
        image_shape=(size, size),
        notes=notes,
    )
    with _CACHE_LOCK:
        _CACHE[key] = ds
        while len(_CACHE) > CACHE_ENTRIES:
            _CACHE.popitem(last=False)
    yield ds


def image_folder(path: str | os.PathLike, size: int = 64, grayscale: bool = True, test_fraction: float = 0.2,
                 seed: int = 0) -> Dataset:
    """A dataset from a folder with one subfolder of PNG/JPEG images per class.

    Images are letterboxed to `size`×`size`, grey (or RGB when grayscale=False), scaled to
    [0, 1] and standardised per channel with the training split's statistics. The split is
    stratified and seeded. Unreadable files among many are skipped and reported in `notes`;
    an empty folder or a class without images raises `ImageFolderError` naming the path.
    """
    result = None
    for item in iter_image_folder(path, size, grayscale, test_fraction, seed):
        result = item
    assert isinstance(result, Dataset)
    return result
