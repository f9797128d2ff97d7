"""The progress bar's output where there is no terminal (logs, CI)."""

import io

from cyclegan_tf.progress import ProgressBar, format_duration


def test_format_duration():
    assert format_duration(59.9) == "0:59"
    assert format_duration(3 * 3600 + 62) == "3:01:02"
    assert format_duration(-5) == "0:00"


def test_log_lines_report_progress_and_how_the_loop_ended():
    stream = io.StringIO()
    bar = ProgressBar(10, "epoch 1/2", stream=stream, interval=0.0)
    for done in (1, 2, 3):
        bar.update(done, {"loss": 0.5})
    bar.close(stopped=True)
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("epoch 1/2 [") and " 1/10 loss 0.500 " in lines[0]
    assert " 3/10 " in lines[2]
    assert lines[-1].startswith("epoch 1/2 stopped at 3/10 after ")

    stream = io.StringIO()
    finished = ProgressBar(2, "epoch 2/2", stream=stream, interval=60.0)
    finished.update(1)
    finished.update(2)  # The last step is always printed.
    finished.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3 and " 2/2 " in lines[1]
    assert lines[-1].startswith("epoch 2/2 done in ")
