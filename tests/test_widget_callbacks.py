"""The notebooks' widget callbacks (ipywidgets controls -> package functions), called directly;
not the training loop's callbacks (those are `Technique` event handlers, tests/test_trainer.py)."""

import ipywidgets as widgets
import pytest

from workbench import recipes, ui


def test_baseline_panel_callback_trains_with_the_chosen_values(monkeypatch):
    seen = {}
    real = recipes.train_baseline

    def spy(dataset, **kw):
        seen.update(kw, dataset=dataset)
        result = real(dataset, **kw)
        seen["result"] = result
        return result

    monkeypatch.setattr(recipes, "train_baseline", spy)
    out = widgets.Output()
    table = recipes.baseline_panel_callback("digits", lr=2e-3, batch_size=64, epochs=2, smoke=True, output=out)
    assert seen["dataset"] == "digits" and seen["lr"] == 2e-3 and seen["batch_size"] == 64 and seen["epochs"] == 2
    run = seen["result"].records[0]
    # 1,437 training digits at batch 64 -> 23 optimizer steps per epoch, 2 epochs
    assert run.effective_steps == 46
    assert len(table) == 1 and "test accuracy" in " ".join(table.columns).lower()


def test_baseline_panel_callback_rejects_invalid_values():
    with pytest.raises(ValueError, match="TrainingConfig.lr"):
        recipes.baseline_panel_callback("digits", lr=-1.0, batch_size=32, epochs=1, smoke=True)
    with pytest.raises(ValueError, match="no baseline recipe"):
        recipes.baseline_panel_callback("imagenet", lr=1e-3, batch_size=32, epochs=1, smoke=True)


def test_quickstart_panel_wires_the_callback():
    """The panel the quickstart notebook builds calls the callback with the widgets' values."""
    calls = []
    controls = {"dataset": ui.dropdown(["digits", "subj"], "digits", "data set"), "lr": ui.lr_slider(3e-3),
                "batch_size": ui.batch_size_slider(32), "epochs": ui.epochs_slider(3)}
    panel, out = ui.control_panel(controls, lambda **kw: calls.append(kw), run_label="Train")
    controls["epochs"].value = 4
    panel.button.click()
    assert calls == [{"dataset": "digits", "lr": pytest.approx(3e-3), "batch_size": 32, "epochs": 4}]
