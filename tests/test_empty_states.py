"""No empty or nonsense plots: before a plot has data it says what it waits for or what is being
computed; long jobs show a first partial result within seconds and keep running when their tab is
left, marked busy in the topic list; a progress bar shows only while its job runs."""

import os
import time

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6 import QtWidgets

from gui import plots
from gui.panels import slugs


def _plot_items(panel) -> list[pg.PlotItem]:
    """The plots on screen in the tab, page by page of its inner tabs (their current page last)."""
    found = []
    for tabs in panel.findChildren(QtWidgets.QTabWidget):
        current = tabs.currentIndex()
        for i in [*range(tabs.count()), current]:
            tabs.setCurrentIndex(i)
            found += _shown_plots(panel)
    return list(dict.fromkeys(found + _shown_plots(panel)))


def _shown_plots(panel) -> list[pg.PlotItem]:
    return [item for view in panel.findChildren(pg.GraphicsLayoutWidget) if view.isVisibleTo(panel)
            for item in view.ci.items
            if isinstance(item, pg.PlotItem) and not isinstance(item, pg.ColorBarItem) and item.isVisible()]


def _has_data(plot: pg.PlotItem) -> bool:
    note = plots.note_of(plot)
    items = note.items if note is not None and note.items is not None else plot.vb.addedItems
    return any(plots._holds_data(i) for i in items)


def _tick_text_alpha(plot: pg.PlotItem) -> int:
    return plot.getAxis("left").textPen().color().alpha()


@pytest.fixture
def view(qtbot):
    from gui.app import make_app

    make_app()
    v = plots.make_view()
    v.resize(420, 260)
    qtbot.addWidget(v)
    v.show()
    return v


def test_note_shows_on_an_empty_plot_hides_at_the_first_data_and_returns_when_cleared(view):
    plot = plots.add_plot(view, "λ", "step", "λ")
    line = plots.curve(plot, 0, "λmax")
    plots.guide_line(plot, 20.0)  # a guide is not data
    note = plots.note(plot, "Computing the Hessian spectrum…")
    assert note.shown and note.panel.isVisible() and _tick_text_alpha(plot) == 0
    note.set_text(plots.progress_text("Hessian spectrum", 0.4))
    assert note.label.toPlainText() == "Hessian spectrum… 40 %"
    line.setData([0], [3.0])  # one point of a line without symbols draws nothing
    assert note.shown
    line.setData([0, 10], [3.0, 5.0])
    assert not note.shown and not note.panel.isVisible() and _tick_text_alpha(plot) > 0
    line.setData([], [])
    assert note.shown
    note.set_text("")  # no text: nothing drawn over the plot
    assert not note.panel.isVisible()


def test_one_point_or_a_constant_series_gets_a_readable_range(view):
    plot = plots.add_plot(view, "", "step", "λ")
    c = plots.curve(plot, 0, None, symbol="o")
    c.setData([0], [20.0])
    plot.vb.updateAutoRange()
    (x0, x1), (y0, y1) = plot.vb.viewRange()
    # Not a sliver around 20 (pyqtgraph's 19.5…20.5), nor negative steps: zero to twice the value.
    assert y0 <= 0.0 < 20.0 < 40.0 <= y1 + 1e-9 and y1 - y0 < 60
    assert x0 <= 0.0 and 1.0 <= x1 < 2
    c.setData([1, 2, 3], [1e-164, 1e-164, 1e-164])  # float dust around zero: no 1e-164 ticks
    plot.vb.updateAutoRange()
    (_, _), (y0, y1) = plot.vb.viewRange()
    assert y1 - y0 > 0.5
    assert plots.flat_span(2.0, 2.0, log=True) == (1.0, 3.0)


def test_every_tab_says_what_its_empty_plots_wait_for(window, qtbot, tmp_path):
    """Right after start, every plot of every tab holds data or shows its note; each tab's jobs
    are owned by the tab; after the first training step the Train tab's notes are gone."""
    lab = window.lab
    noted = {}
    for slug in slugs():
        panel = window.show_panel(slug)
        qtbot.wait(30)
        pix = panel.grab()
        assert not pix.isNull() and pix.save(str(tmp_path / f"{slug}.png"))
        found = _plot_items(panel)
        assert found, slug
        bare = [p.titleLabel.text or p.getAxis("left").labelText for p in found
                if not _has_data(p) and not (plots.note_of(p) and plots.note_of(p).shown)]
        assert not bare, f"{slug}: empty plots without a note: {bare}"
        for p in found:
            note = plots.note_of(p)
            if note is not None:
                assert note.shown == (not _has_data(p) and bool(note.text)), (slug, note.text)
                if note.shown:
                    assert note.label.toPlainText() and _tick_text_alpha(p) == 0
        noted[slug] = sum(1 for p in found if plots.note_of(p) is not None)
        for job in lab.running_jobs():
            assert job.owner in slugs(), f"job {job.name} has no tab"
        panel.shutdown()  # its computations are not under test here
    assert all(noted.values()), noted

    train = window.show_panel("train")
    notes = [plots.note_of(train.loss_plot), plots.note_of(train.acc_plot)]
    assert all(n.shown for n in notes) and "Play" in notes[0].text
    qtbot.waitUntil(lambda: lab.state == "idle", timeout=20000)  # Play waits for no refresh
    lab.play(max_steps=lab.experiment.config.eval_every + 1)
    qtbot.waitUntil(lambda: lab.state == "idle" and len(set(lab.history.eval_steps)) >= 2, timeout=20000)
    assert not any(n.shown for n in notes)


FIRST_RESULT_S = 5.0


def _first_result(qtbot, condition, what: str) -> None:
    """Within 5 s of computing, and within 5 s of waiting on a machine of its own; when other
    processes share the CPUs, the wait may stretch by how many share each one (load average)."""
    share = max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))
    t0, c0 = time.perf_counter(), time.process_time()
    qtbot.waitUntil(condition, timeout=int(1000 * FIRST_RESULT_S * share))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"\n{what}: first partial result after {wall:.2f} s ({cpu:.2f} s of CPU; {share:.1f} processes per CPU)")
    assert cpu < FIRST_RESULT_S * (os.cpu_count() or 1), f"{what}: {cpu:.1f} s of computing before the first result"


def test_long_jobs_show_a_first_result_within_5_s_and_run_on_when_their_tab_is_left(window, qtbot):
    """Sharpness (a batch-size sweep) and Lottery (IMP rounds): the first partial result within
    5 s of Run; leaving the tab neither stops nor pauses the job, and the topic list marks it."""
    # Tabs that follow the training: a surface or spectrum under way is not stopped on leaving.
    for slug, key in (("landscape", "surface"), ("curvature", "spectrum")):
        panel = window.show_panel(slug)
        qtbot.waitUntil(lambda p=panel, k=key: p.jobs.job(k) is not None and p.jobs.job(k).running, timeout=20000)
        job = panel.jobs.job(key)
        window.show_panel("train")
        assert not job.stopping, f"leaving {slug} stopped its job"
        qtbot.waitUntil(lambda j=job: not j.running, timeout=60000)  # ... and it finishes
        assert panel.jobs.job(key) is job or not panel.jobs.job(key).running  # none started hidden

    sharp = window.show_panel("sharpness")
    # A target loss the first run takes long to reach: the job is still training (and stops at
    # its next yield) when the test cancels it, not inside a curvature measurement.
    sharp.target.setText("0.001")
    sharp.run()
    _first_result(qtbot, lambda: sum(len(e) for e, _ in sharp.train_points.values()) >= 1, "sharpness")
    note = plots.note_of(sharp.train_plot)
    assert not note.shown and sharp.train_curves, "the first run's training curve is drawn"
    # Room above the curves' starts for the legend, and the target line in view (log axis).
    (y0, y1) = sharp.train_plot.viewRange()[1]
    highest = max(max(losses) for _, losses in sharp.train_points.values())
    assert y1 >= np.log10(2.5 * highest) and y0 <= np.log10(0.001)

    lottery = window.show_panel("lottery")  # leaves the sharpness tab
    lottery.rounds_box.setValue(2)
    lottery.start()
    _first_result(qtbot, lambda: np.size(lottery.round_curves["dense"].getData()[0]) >= 2, "lottery")
    assert not plots.note_of(lottery.round_plot).shown

    window.show_panel("train")  # leaves the lottery tab too
    seen = {"sharpness": sum(len(e) for e, _ in sharp.train_points.values()), "lottery": lottery.items_seen}
    qtbot.waitUntil(lambda: sum(len(e) for e, _ in sharp.train_points.values()) > seen["sharpness"]
                    and lottery.items_seen > seen["lottery"], timeout=30000)
    assert sharp.jobs.job("sweep").running and lottery.running
    qtbot.waitUntil(lambda: {"sharpness", "lottery"} <= window.topics.busy(), timeout=2000)
    assert sharp.task.isVisibleTo(sharp) and lottery.progress_bar.isVisibleTo(lottery)  # bars stay with their tabs

    sharp.cancel()
    lottery.stop()
    qtbot.waitUntil(lambda: not lottery.running and not sharp.jobs.job("sweep").running, timeout=30000)
    qtbot.waitUntil(lambda: not ({"sharpness", "lottery"} & window.topics.busy()), timeout=2000)
    # A bar shows only while its job runs.
    assert not lottery.progress_bar.isVisibleTo(lottery) and not sharp.task.isVisibleTo(sharp)
    assert lottery.progress_bar.format() == "cancelled" and "ancelled" in lottery.progress_text.text()
    x, _ = lottery.round_curves["dense"].getData()
    assert np.size(x) >= 2  # what was computed stays on screen


def test_status_bar_says_data_is_prepared_until_it_is(window, qtbot):
    """A preset with new data: the status bar names the preset and says the data is being
    prepared until the data's summary replaces it; the Train tab's notes follow the run."""
    from gui.presets import load_presets

    preset = load_presets()["train-divergence"]  # spirals: other data than the start's
    lab, bar = window.lab, window.statusBar()
    window.start_page.buttons[preset.name].click()
    assert preset.title in bar.currentMessage() and "preparing the data" in bar.currentMessage()
    train = window.panel("train")
    qtbot.waitUntil(lambda: lab.experiment.config == preset.config() and lab.state == "running", timeout=30000)
    assert "preparing" not in bar.currentMessage()
    notes = [plots.note_of(train.loss_plot), plots.note_of(train.acc_plot)]
    assert all(n.text.startswith("Training") for n in notes)
    lab.pause()
    qtbot.waitUntil(lambda: lab.state == "idle", timeout=20000)
    assert all("Play" in n.text for n in notes)
