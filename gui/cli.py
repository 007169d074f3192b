"""Command line: the app by default, or headless rendering, or the self-test."""

from __future__ import annotations

import argparse
import sys

USAGE = """Saddle Lab: watch the geometry of neural networks while they train.

    saddle-lab                                  the app
    saddle-lab --headless --out DIR [--tab T]   render a tab's figures and data to DIR
    saddle-lab --self-test                      open the window offscreen, train, check
    saddle-lab sweep KIND ...                   a fine surface or a multi-seed sweep on Ray
                                                (also --headless --sweep KIND; see sweep --help)
"""


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="saddle-lab", description=USAGE,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--headless", action="store_true", help="render figures without a window")
    p.add_argument("--out", default="out", help="folder for --headless output (default: out)")
    p.add_argument("--tab", default="train", help="which tab to render, or 'all' (default: train)")
    p.add_argument("--dataset", default=None,
                   help="dataset for --headless (e.g. spirals, digits, mri, or a folder with one "
                        "subfolder of images per class)")
    p.add_argument("--steps", type=int, default=None, help="training steps for --headless")
    p.add_argument("--quick", action="store_true", help="smallest settings that still show the picture")
    p.add_argument("--preset", default=None, help="with --headless: render this preset's figures")
    p.add_argument("--list-presets", action="store_true", help="list the presets, one a line, name first")
    p.add_argument("--self-test", action="store_true", help="train 50 steps offscreen and check the plots")
    p.add_argument("--sweep", metavar="KIND", default=None,
                   help="with --headless: a sweep on Ray (surface, lottery, sharpness, double-descent); "
                        "see `saddle-lab sweep --help`")
    return p.parse_args(argv)


def main(argv: list[str] | None = None, started: float | None = None) -> int:
    from . import startup

    startup.mark_started(started)
    argv = sys.argv[1:] if argv is None else list(argv)
    sweep_argv = _sweep_argv(argv)
    if sweep_argv is not None:
        from .sweep_cli import sweep_main

        return sweep_main(sweep_argv)
    args = parse_args(argv)
    if args.list_presets:
        from .presets import load_presets

        for p in load_presets().values():
            print(f"{p.name}\t{p.topic}\t{p.title}")
        return 0
    if args.self_test:
        from .headless import self_test

        return self_test()
    if args.headless:
        from .headless import run_headless

        try:
            if args.preset:
                from .headless import run_preset_headless

                files = run_preset_headless(args.preset, args.out, quick=args.quick, steps=args.steps)
            else:
                files = run_headless(args.out, tab=args.tab, dataset=args.dataset, steps=args.steps,
                                     quick=args.quick)
        except (ValueError, KeyError, OSError) as exc:
            print(f"saddle-lab: {exc.args[0] if exc.args else exc}", file=sys.stderr)
            return 2
        for f in files:
            print(f)
        return 0
    from .app import run_gui

    return run_gui(leave_process=True)


def _sweep_argv(argv: list[str]) -> list[str] | None:
    """`sweep KIND …` or `--headless --sweep KIND …` as the sweep command's arguments, else None."""
    if argv and argv[0] == "sweep":
        return argv[1:]
    if "--sweep" in argv:
        rest = [a for a in argv if a != "--headless"]
        i = rest.index("--sweep")
        return rest[i + 1 : i + 2] + rest[:i] + rest[i + 2 :]
    return None


def entry_point() -> None:
    sys.exit(main())
