"""A student replays the lecture's recording and trains on from any recorded step, exactly."""

import numpy as np

from engine.recording import load_recording


def test_continue_from_a_recorded_step_trains_on_as_the_lecture_did(window, qtbot, tmp_path):
    lab = window.lab
    window.recorder.start()
    lab.play()
    qtbot.waitUntil(lambda: lab.experiment.step_count >= 120, timeout=60000)
    lab.pause()
    qtbot.waitUntil(lambda: lab.state == "idle", timeout=10000)
    rec = window.recorder.stop()
    path = tmp_path / "lecture.sdlrec"
    window.save_recording(rec, path)
    rec = load_recording(path)
    assert len(rec.checkpoints) >= 2, "the recording keeps weights to go on from"

    # Pick a checkpoint in the middle, and a later frame whose θ the lecture recorded.
    i = sorted(rec.checkpoints)[len(rec.checkpoints) // 2]
    k = rec.frames[i].step
    later = [j for j, f in enumerate(rec.frames) if f.theta is not None and f.step >= k + 10]
    assert later, "a later recorded step to compare with"
    j = later[0]
    assert window.replay.open(path)
    qtbot.waitUntil(lambda: window.replay.bar.recording is not None, timeout=20000)
    bar = window.replay.bar
    assert bar.go_on.isEnabled()
    bar.seek(i)
    bar.go_on.click()
    qtbot.waitUntil(lambda: not lab.replaying and lab.state == "idle" and lab.experiment.step_count == k,
                    timeout=20000)
    np.testing.assert_array_equal(lab.experiment.theta().numpy(), rec.frames[i].theta)
    # The curves show the lecture up to step k, then go on.
    assert lab.history.steps[0] <= 1 and lab.history.steps[-1] == k
    lab.play(max_steps=rec.frames[j].step - k)
    qtbot.waitUntil(lambda: lab.state == "idle" and lab.experiment.step_count == rec.frames[j].step,
                    timeout=30000)
    np.testing.assert_array_equal(lab.experiment.theta().numpy(), rec.frames[j].theta)
