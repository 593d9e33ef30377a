"""``posebench draw``, ``posebench gallery``, ``posebench report`` and ``posebench video``."""

from __future__ import annotations

from pathlib import Path

import click

from posebench.commands.common import parse_kv, results_option, show_progress
from posebench.detect import DETECTORS

detector_options = [
    click.option("--detector", type=click.Choice(DETECTORS), default="dlib-hog", show_default=True,
                 help="Face detector for images without a label beside them."),
    click.option("--detector-model", type=click.Path(dir_okay=False), default=None,
                 help="Detector file (YuNet ONNX, dlib CNN weights)."),
]


def _with(options):
    def deco(f):
        for opt in reversed(options):
            f = opt(f)
        return f
    return deco


@click.command("draw")
@click.option("--method", "-m", "method_name", required=True, help="Method name (see `posebench methods`).")
@click.option("--option", "-o", "options", multiple=True, metavar="KEY=VALUE", help="Method option (repeatable).")
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the drawn images (<stem>-<method>.jpg).")
@_with(detector_options)
@click.option("--no-labels", is_flag=True, help="Ignore .mat labels beside the images (always detect).")
def draw_cmd(method_name, options, images, out_dir, detector, detector_model, no_labels) -> None:
    """Draw each image's face box, landmarks (where the method has them), pose axes (blue: front
    of the face, green: down, red: side; paper Figure 1) and angles.

    An image with an AFLW2000-style NAME.mat beside it uses that label's box and landmarks (and
    the label's angles are written too); other images use the detector's largest face.
    """
    from posebench.method import create_method
    from posebench.visual.draw import draw_images

    method = create_method(method_name, parse_kv(options))
    for line in draw_images(method, list(images), out_dir, detector=detector, detector_model=detector_model,
                            use_labels=not no_labels):
        click.echo(line)


COMMANDS = [draw_cmd]
