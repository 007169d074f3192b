"""Reading a user's folder of images: sizes, modes, bad files, empty classes, progress."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from engine.data import image_folder
from engine.image_folder import FolderProgress, ImageFolderError, iter_image_folder, read_image


def _picture(rng, w, h, mode="L", value=None):
    base = rng.integers(0, 255, (h, w), dtype=np.uint8) if value is None else np.full((h, w), value, np.uint8)
    if mode == "RGB":
        return Image.fromarray(np.stack([base, base // 2, 255 - base], -1))
    if mode == "I;16":
        return Image.fromarray(base.astype(np.uint16) * 200)
    return Image.fromarray(base)


def write_folder(root: Path, per_class: int = 8, seed: int = 0) -> Path:
    """Three classes: grey PNGs of odd sizes, colour JPEGs, 16-bit PNGs; one corrupt file and a
    text file among them."""
    rng = np.random.default_rng(seed)
    for k, (name, mode, ext) in enumerate((("glioma", "L", "png"), ("meningioma", "RGB", "jpg"),
                                          ("pituitary", "I;16", "png"))):
        d = root / name
        d.mkdir(parents=True)
        for i in range(per_class):
            w, h = int(rng.integers(20, 90)), int(rng.integers(20, 90))
            _picture(rng, w, h, mode, value=40 + 80 * k).save(d / f"{i:03d}.{ext}")
    (root / "glioma" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a picture" * 10)
    (root / "meningioma" / "notes.txt").write_text("scanned on Tuesday")
    return root


def test_reads_classes_sizes_and_modes(tmp_path):
    root = write_folder(tmp_path / "scans")
    ds = image_folder(root, size=32, test_fraction=0.25, seed=1)
    assert ds.class_names == ["glioma", "meningioma", "pituitary"] and ds.n_classes == 3
    assert ds.input_shape == (1, 32, 32) and ds.X_train.shape[1:] == (1, 32, 32)
    assert ds.X_train.dtype == torch.float32 and ds.y_train.dtype == torch.int64
    assert len(ds.y_train) + len(ds.y_test) == 24  # the corrupt file is skipped
    # Stratified: 2 of each class's 8 in the test split.
    assert ds.y_test.bincount(minlength=3).tolist() == [2, 2, 2]
    # Standardised with the training split's statistics.
    assert abs(float(ds.X_train.mean())) < 1e-4 and abs(float(ds.X_train.std()) - 1) < 1e-2
    assert any("skipped 1 unreadable file" in n and "broken.png" in n for n in ds.notes)
    assert any("ignored 1 file" in n and "notes.txt" in n for n in ds.notes)
    # The classes were drawn with different brightness: the class means keep their order.
    means = [float(torch.cat([ds.X_train, ds.X_test])[torch.cat([ds.y_train, ds.y_test]) == k].mean())
             for k in range(3)]
    assert means[0] < means[1] < means[2]


def test_colour_split_is_seeded_and_deterministic(tmp_path):
    root = write_folder(tmp_path / "scans")
    a = image_folder(root, size=24, grayscale=False, seed=3)
    b = image_folder(root, size=24, grayscale=False, seed=3)
    c = image_folder(root, size=24, grayscale=False, seed=4)
    assert a.input_shape == (3, 24, 24)
    assert torch.equal(a.X_train, b.X_train) and torch.equal(a.y_test, b.y_test)
    assert not torch.equal(a.y_train, c.y_train) or not torch.equal(a.X_train, c.X_train)


def test_letterbox_keeps_the_whole_picture(tmp_path):
    path = tmp_path / "wide.png"
    Image.fromarray(np.full((10, 40), 255, np.uint8)).save(path)
    arr = read_image(path, 40)
    assert arr.shape == (1, 40, 40)
    assert np.allclose(arr[0, 15:25], 1.0) and np.allclose(arr[0, :14], 0.0) and np.allclose(arr[0, 26:], 0.0)


@pytest.mark.parametrize("case", ["missing", "not a folder", "no classes", "loose images", "one class",
                                  "empty class", "only text", "all corrupt", "single image"])
def test_unusable_folders_name_the_path(tmp_path, case):
    root = tmp_path / "data"
    if case == "missing":
        expected = "no such folder"
    elif case == "not a folder":
        root.write_text("x")
        expected = "not a folder"
    else:
        root.mkdir()
        if case == "no classes":
            expected = "no class subfolders"
        elif case == "loose images":
            _picture(np.random.default_rng(0), 8, 8).save(root / "a.png")
            expected = "move them into one subfolder per class"
        else:
            write_folder(root, per_class=4)
            if case == "one class":
                import shutil

                for name in ("meningioma", "pituitary"):
                    shutil.rmtree(root / name)
                expected = "only one class subfolder"
            elif case == "empty class":
                (root / "empty").mkdir()
                expected = "holds no PNG or JPEG images"
                root = root
            elif case == "only text":
                (root / "words").mkdir()
                (root / "words" / "a.txt").write_text("hi")
                expected = "holds no PNG or JPEG images"
            elif case == "all corrupt":
                (root / "zz").mkdir()
                (root / "zz" / "a.jpg").write_bytes(b"garbage" * 20)
                expected = "has no readable image"
            elif case == "single image":
                (root / "zz").mkdir()
                _picture(np.random.default_rng(0), 8, 8).save(root / "zz" / "a.png")
                expected = "only 1 readable image"
    with pytest.raises(ImageFolderError) as info:
        image_folder(root, size=16)
    msg = str(info.value)
    assert expected in msg, msg
    if case in ("empty class", "only text"):
        assert str(root / ("empty" if case == "empty class" else "words")) in msg
    if case == "all corrupt":
        assert str(root / "zz") in msg and "a.jpg" in msg


def test_many_corrupt_files_is_an_error_naming_one(tmp_path):
    root = write_folder(tmp_path / "scans", per_class=4)
    for i in range(5):
        (root / "glioma" / f"bad{i}.png").write_bytes(b"nope")
    with pytest.raises(ImageFolderError, match=r"cannot be read as images, e\.g\. .*bad\d\.png"):
        image_folder(root, size=16)


def test_progress_then_dataset_and_cancel(tmp_path):
    from engine import image_folder as module

    root = write_folder(tmp_path / "scans", per_class=30)
    items = list(iter_image_folder(root, size=16, workers=2))
    progress = [i for i in items if isinstance(i, FolderProgress)]
    assert progress[0].done == 0 and progress[-1].done == progress[-1].total == 91
    assert all(a.done <= b.done for a, b in zip(progress, progress[1:]))
    assert items[-1].n_classes == 3
    # Cancel: close the generator after the first chunk; nothing is cached, nothing raised.
    module._CACHE.clear()
    gen = iter_image_folder(root, size=20, workers=2)
    assert next(gen).done == 0 and next(gen).done == module.CHUNK
    gen.close()
    assert not module._CACHE
    # An unchanged folder comes from the cache; a rewritten file invalidates it.
    a = image_folder(root, size=20)
    assert image_folder(root, size=20) is a
    _picture(np.random.default_rng(5), 30, 30).save(root / "glioma" / "000.png")
    assert image_folder(root, size=20) is not a
