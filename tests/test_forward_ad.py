"""Forward-mode products from several worker threads at once (the app runs one per tab)."""

import threading

import torch

from engine.forward_ad import jvp


def test_jvp_from_several_threads_at_once_never_clashes():
    errors: list[str] = []
    x = torch.randn(200, 50)

    def work() -> None:
        try:
            for _ in range(1500):
                _, d = jvp(torch.tanh, (x,), (torch.ones_like(x),))
                assert torch.allclose(d, 1 - torch.tanh(x) ** 2, atol=1e-6)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(repr(exc))

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
