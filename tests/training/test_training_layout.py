"""The training package stays a loop of small named steps over per-family specs: no function in
``posebench/training/`` longer than 60 lines, and the loop names no model."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import posebench.training

TRAINING = Path(posebench.training.__file__).parent
MAX_LINES = 60


def function_lengths(folder: Path) -> list[tuple[str, int]]:
    """(``file:qualified name``, lines from ``def`` to the last line) of every function and method
    under ``folder``, decorators left out."""
    out = []
    for path in sorted(folder.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))

        def visit(node: ast.AST, prefix: str) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    name = f"{prefix}{child.name}"
                    out.append((f"{path.relative_to(folder)}:{name}", child.end_lineno - child.lineno + 1))
                    visit(child, name + ".")
                elif isinstance(child, ast.ClassDef):
                    visit(child, f"{prefix}{child.name}.")

        visit(tree, "")
    return out


def test_function_lengths_measures_def_to_last_line(tmp_path):
    (tmp_path / "m.py").write_text("def f():\n    x = 1\n    return x\n\n\nclass C:\n    def g(self):\n        pass\n")
    assert function_lengths(tmp_path) == [("m.py:f", 3), ("m.py:C.g", 2)]


def test_no_function_in_training_is_over_60_lines():
    lengths = function_lengths(TRAINING)
    assert len(lengths) > 50  # the package was read
    long = [(name, n) for name, n in lengths if n > MAX_LINES]
    assert not long, f"functions over {MAX_LINES} lines: {long}"


def test_the_loop_compares_no_model_name():
    """No ``if model == "whenet"`` (or ``in (...)``) in the loop: what differs by model is the spec's."""
    tree = ast.parse((TRAINING / "loop.py").read_text())
    names = {"hopenet", "hopenet-alexnet", "resnet50-regression", "whenet", "tiny-hopenet"}

    def constants(node: ast.AST) -> set:
        return {n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)}

    found = [ast.unparse(n) for n in ast.walk(tree)
             if isinstance(n, (ast.Compare, ast.IfExp, ast.If)) and constants(n.test if hasattr(n, "test") else n) & names]
    assert not found, found


@pytest.mark.parametrize("model", ["hopenet", "hopenet-alexnet", "resnet50-regression", "tiny-hopenet", "whenet"])
def test_every_model_has_its_spec(model):
    from posebench.training.spec import model_names, spec_for

    assert model in model_names() and model in spec_for(model).models


def test_a_spec_registered_in_one_place_trains_without_loop_edits(tmp_path):
    """A new family is one subclass and one ``register`` call: here a rotation-free test family
    whose loss is plain MSE on the expectation of each head (no bins in the loss)."""
    import torch

    from posebench.training import spec as S
    from posebench.training.loop import TrainConfig, train
    from posebench.training.loss import LossParts
    from posebench.training.models import three_groups
    from posebench.training.spec_hopenet import TinyHopenet
    from training_fixtures import make_300wlp_tree

    class MSEOnly(S.TrainSpec):
        models = ("test-mse-tiny",)

        def build(self, model):
            return TinyHopenet()

        def param_groups(self, net, model, lr):
            return three_groups(net, list(net.conv1.parameters()) + list(net.bn1.parameters()),
                                list(net.layer1.parameters()),
                                [p for m in (net.fc_yaw, net.fc_pitch, net.fc_roll) for p in m.parameters()], lr)

        def initialise(self, net, model, path):  # pragma: no cover - not given an --init here
            raise AssertionError

        def loss(self, model, output, targets):
            deg = torch.stack([h.expectation(o) for h, o in zip(targets.heads, output)], dim=1)
            total = ((deg - targets.angles) ** 2).mean()
            return LossParts(total, {"loss": float(total.detach())})

        def validation_method(self, model):
            return None

    S.register(MSEOnly())
    try:
        data = make_300wlp_tree(tmp_path / "data", n=4, size=40)
        cfg = TrainConfig(model="test-mse-tiny", dataset="300w-lp", data_dir=str(data), epochs=2, batch_size=2,
                          lr=1e-2, input_size=32, workers=0, log_every=1, augment="none", plot=False)
        res = train(cfg, tmp_path / "o", echo=lambda _m: None)
        assert res.global_step == 4 and torch.load(res.last, weights_only=True)["arch"] == "test-mse-tiny"
        with pytest.raises(ValueError, match="registered twice"):
            S.register(type("Other", (MSEOnly,), {})())
    finally:
        S._SPECS.pop("test-mse-tiny", None)
