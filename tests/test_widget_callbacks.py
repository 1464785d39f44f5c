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


def test_describe_plan_follows_the_sliders():
    text = recipes.describe_plan("digits", lr=3e-3, batch_size=32, epochs=3, smoke=True)
    # 1,437 training digits at batch 32 -> 45 steps per epoch
    assert "1,437 training examples / batch 32 = 45 optimizer steps per epoch x 3 epochs = 135 steps" in text
    assert "lr 0.00300" in text and "target val_accuracy >= 0.9" in text
    assert "= 23 optimizer steps" in recipes.describe_plan("digits", batch_size=64, epochs=3, smoke=True)
    with pytest.raises(ValueError, match="TrainingConfig.batch_size"):
        recipes.describe_plan("digits", batch_size=0)


def test_integration_panel_reruns_the_comparison_with_the_chosen_values():
    """The integration notebook's panel: data sets, schedules, seeds and budget, pressed as a
    user would; the baseline always runs first, the verdicts and the table come back."""
    out = widgets.Output()
    controls = {"datasets": widgets.SelectMultiple(options=["digits", "subj"], value=["digits"]),
                "schedules": widgets.SelectMultiple(options=list(recipes.SCHEDULE_VARIANTS), value=["baseline"]),
                "seeds": widgets.IntSlider(value=1, min=1, max=5), "epochs": ui.epochs_slider(2, max=10)}
    panel, _ = ui.control_panel(controls, lambda **kw: recipes.schedule_comparison_panel_callback(
        **kw, smoke=True, output=out), run_label="Run", output=out)
    controls["schedules"].value = ("one_cycle",)  # the baseline is added as the reference
    controls["epochs"].value = 1
    assert panel.state == "changed"
    panel.button.click()
    assert panel.last_error is None, panel.last_error
    table = panel.last_result
    assert list(table["variant"]) == ["baseline", "one_cycle"] and list(table["dataset"]) == ["digits", "digits"]
    assert table["verdict"].iloc[1] == "one seed: no verdict"
    text = "".join(o.get("text", "") for o in out.outputs)
    assert "- one_cycle on digits:" in text and "one seed: no verdict" in text
    controls["datasets"].value = ()
    panel.button.click()
    assert panel.state == "error" and "at least one data set" in panel.status.value


def test_integration_claims_panel_measures_the_chosen_claims():
    """The integration notebook's panel (workbench.claims): choose claims, seeds and budget
    as a user would, press Measure; only the chosen claims come back, on the chosen data."""
    from workbench import claims

    controls = claims.panel_controls(smoke=True)
    panel, _ = ui.control_panel(controls, lambda **kw: claims.rerun_panel_callback(**kw, smoke=True),
                                  run_label="Measure", preview=claims.describe_rerun, enabled=claims.panel_enabled)
    # digits only: the SUBJ budget and the stack are disabled, the digits budget is not
    assert controls["subj_max_steps"].disabled and controls["stack"].disabled
    assert not controls["digits_epochs"].disabled
    controls["claims"].value = ("curriculum", "vision_collator")
    controls["digits_epochs"].value = 1
    assert "2 claims on digits; 1 seed" in panel.preview.value and "digits <= 1 epochs" in panel.preview.value
    panel.button.click()
    assert panel.last_error is None, panel.last_error
    result = panel.last_result
    assert {claims._key_of(r["claim"]) for r in result.rows} == {"curriculum", "vision_collator"}
    assert {r["dataset"] for r in result.rows} == {"digits", "subj"}  # vision collator: a reason for SUBJ
    assert result.protocol["digits_epochs"] == 1 and list(result.protocol["seeds"]) == [0]
    measured = [r for r in result.rows if r["dataset"] == "digits"]
    assert all(r["seeds"] == 1 for r in measured)
    assert "<table" in result._repr_html_()
    controls["claims"].value = ()
    assert "choose at least one claim" in panel.preview.value
    panel.button.click()
    assert panel.state == "error" and "at least one claim" in panel.status.value


def test_run_claims_rejects_unknown_claim_keys_before_any_run():
    from workbench import claims

    with pytest.raises(ValueError, match="curriculum"):
        claims.run_claims(smoke=True, stream=None, only=["warp_speed"])
    with pytest.raises(ValueError, match="at least one claim"):
        claims.run_claims(smoke=True, stream=None, only=[])
