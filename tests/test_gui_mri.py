"""The image track in the real window: MRI phantoms train with the sample grid updating; a
folder is read in a job with progress; unusable folders get their reason, never a traceback."""

import json

import numpy as np
from conftest import wait_idle
from PIL import Image


def _choose(window, name: str) -> None:
    bar = window.bar
    bar.dataset.setCurrentIndex(bar.dataset.findData(name))


def test_mri_trains_with_the_sample_grid_updating(window, qtbot):
    lab, bar = window.lab, window.bar
    panel = window.show_panel("train")
    _choose(window, "mri")
    qtbot.waitUntil(lambda: lab.state == "idle" and lab.experiment.dataset.name == "mri", timeout=60000)
    cfg = lab.experiment.config
    assert cfg.optimizer == "adam" and cfg.lr == 1e-3 and cfg.batch_size == 32  # CNN settings came along
    assert not bar.hidden.isEnabled()  # the CNN has no hidden-width field
    assert panel.left.currentWidget() is panel.images
    grid = panel.images.grid
    qtbot.waitUntil(lambda: grid.predictions_shown() == 18, timeout=10000)  # step 0 is shown too
    before = [c.caption.text() for c in grid.cells]
    first = panel.images.last
    lab.play(max_steps=12)
    wait_idle(qtbot, lab, timeout=60000)
    last = panel.images.last
    assert lab.experiment.step_count == 12 and last is not None and last.step == 12 and first.step == 0
    assert grid.predictions_shown() == 18
    # The confusion matrix counts every test image; its image and the bars show it.
    assert last.confusion.sum() == len(lab.experiment.dataset.y_test) and last.confusion.shape == (17, 17)
    img = panel.images.confusion.image.image
    assert img is not None and img.shape == (17, 17) and np.allclose(img.sum(1), 1.0)
    assert np.allclose(panel.images.bars.opts["width"], np.nan_to_num(last.per_class_accuracy))
    # Wrong answers are marked in the grid, right ones are not.
    wrong = (last.predicted != last.true).sum()
    assert grid.wrong_shown() == wrong
    assert sum("→ " in c.caption.text() for c in grid.cells[:18]) == wrong
    assert before != [c.caption.text() for c in grid.cells] or first.predicted.tolist() == last.predicted.tolist()
    # Back to a toy set: the decision map and the toy settings return.
    _choose(window, "moons")
    qtbot.waitUntil(lambda: lab.state == "idle" and lab.experiment.dataset.name == "moons", timeout=20000)
    assert panel.left.currentWidget() is panel.map_view
    assert lab.experiment.config.optimizer == "sgd" and lab.experiment.config.lr == 0.1


def _folder(root, classes=("tumour", "healthy"), per_class=6, size=(40, 30)):
    rng = np.random.default_rng(0)
    for k, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            a = rng.integers(0, 80, size[::-1]).astype(np.uint8) + 100 * k
            Image.fromarray(a).save(root / name / f"{i}.png")
    return root


def test_image_folder_is_read_in_a_job(window, qtbot, tmp_path, monkeypatch):
    from gui import image_datasets

    root = _folder(tmp_path / "scans")
    (root / "tumour" / "truncated.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    asked = []
    monkeypatch.setattr(image_datasets, "choose_folder", lambda parent, start: asked.append(start) or str(root))
    lab = window.lab
    _choose(window, "folder")
    assert asked  # the folder dialog was asked for
    qtbot.waitUntil(lambda: lab.state == "idle" and lab.experiment.dataset.name == "scans", timeout=30000)
    ds = lab.experiment.dataset
    assert ds.class_names == ["healthy", "tumour"] and ds.input_shape == (1, 64, 64)
    assert lab.experiment.config.folder == str(root) and window.bar.dataset.currentData() == "folder"
    assert "skipped 1 unreadable file" in window.statusBar().currentMessage()
    panel = window.panel("train")
    assert panel.left.currentWidget() is panel.images
    qtbot.waitUntil(lambda: panel.images.grid.predictions_shown() > 0, timeout=10000)
    lab.play(max_steps=5)
    wait_idle(qtbot, lab)
    assert lab.experiment.step_count == 5
    # Choosing "Image folder…" again, while it is the dataset, asks for another folder.
    asked.clear()
    monkeypatch.setattr(image_datasets, "choose_folder", lambda parent, start: asked.append(start) or None)
    window.bar.dataset.activated.emit(window.bar.dataset.findData("folder"))
    assert asked == [str(root)] and lab.experiment.step_count == 5  # cancelled: nothing changed


def test_unusable_folder_is_explained_and_nothing_changes(window, qtbot, tmp_path, monkeypatch):
    from gui import image_datasets

    root = _folder(tmp_path / "scans")
    (root / "empty").mkdir()
    monkeypatch.setattr(image_datasets, "choose_folder", lambda parent, start: str(root))
    lab, bar = window.lab, window.bar
    _choose(window, "folder")
    qtbot.waitUntil(lambda: bar.errors["dataset"].isVisible(), timeout=20000)
    text = bar.errors["dataset"].text()
    assert str(root / "empty") in text and "holds no PNG or JPEG images" in text
    assert "Traceback" not in text and "Cannot use that folder" in window.statusBar().currentMessage()
    wait_idle(qtbot, lab)
    assert lab.experiment.dataset.name == "moons" and bar.dataset.currentData() == "moons"
    # Cancelling the dialog changes nothing either.
    monkeypatch.setattr(image_datasets, "choose_folder", lambda parent, start: None)
    _choose(window, "folder")
    assert lab.experiment.dataset.name == "moons" and bar.dataset.currentData() == "moons"


def test_headless_mri_writes_predictions_and_sample_sheet(tmp_path):
    from gui.headless import run_headless

    files = run_headless(tmp_path, dataset="mri", steps=6, quick=True)
    names = {f.name for f in files}
    assert {"train-predictions.png", "train-curves.png", "train-sample-sheet.png", "train.json"} <= names
    sheet = Image.open(tmp_path / "train-sample-sheet.png")
    assert sheet.width > 1000 and sheet.height > 900  # 17 named rows of 4 pictures
    data = json.loads((tmp_path / "train.json").read_text())
    assert data["class_names"][0] == "glioblastoma" and len(data["class_names"]) == 17
    arrays = np.load(tmp_path / "train.npz", allow_pickle=False)
    assert arrays["confusion"].shape == (17, 17) and arrays["confusion"].sum() == 136


def test_headless_dataset_may_be_a_folder_path(tmp_path):
    import pytest

    from engine.image_folder import ImageFolderError
    from gui.headless import config_for

    root = _folder(tmp_path / "scans", per_class=5)
    cfg = config_for(str(root))
    assert cfg.dataset == "folder" and cfg.folder == str(root.resolve())
    assert cfg.optimizer == "adam" and cfg.batch_size == 0  # 8 training images: full batch
    assert config_for("mri").dataset == config_for("phantoms").dataset == "mri"
    with pytest.raises(ImageFolderError, match="no such folder"):
        config_for(str(tmp_path / "nowhere"))
