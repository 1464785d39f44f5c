"""ExampleDataset, DataSplits, load_digits, load_arrays, load_text_file and bad-input errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from workbench.config import TaskSpec
from workbench.data import (
    DataSplits,
    DataValidationError,
    ExampleDataset,
    load_arrays,
    load_dataset,
    load_digits,
    load_text_file,
)
from workbench.data.text import tokenize

# ------------------------------------------------------------------------ ExampleDataset


def test_example_dataset_text_items_and_lookup():
    ds = ExampleDataset([[5, 6, 7], torch.tensor([8]), [9, 10]], [0, 1, 0], [10, 20, 30],
                        texts=["a b c", "d", "e f"], name="toy")
    assert len(ds) == 3 and ds.modality == "text"
    assert ds.ids.dtype == torch.long and ds.targets.dtype == torch.long
    item = ds[1]
    assert item["id"] == 20 and item["target"] == 1 and item["input"].tolist() == [8]
    assert item["input"].dtype == torch.long
    assert ds[-1]["id"] == 30
    assert ds.position_of(30) == 2
    assert ds.lengths.tolist() == [3, 1, 2]
    sub = ds.subset([2, 0])
    assert sub.ids.tolist() == [30, 10] and sub.texts == ["e f", "a b c"]
    by_id = ds.subset_by_ids([20, 10])
    assert by_id.ids.tolist() == [20, 10] and by_id[0]["input"].tolist() == [8]
    with pytest.raises(KeyError, match="99"):
        ds.position_of(99)
    with pytest.raises(KeyError, match="99"):
        ds.subset_by_ids([10, 99])
    with pytest.raises(IndexError):
        ds.subset([3])


def test_example_dataset_stacked_inputs_and_validation():
    x = torch.rand(4, 1, 2, 2)
    ds = ExampleDataset(x, torch.tensor([0, 1, 1, 0]), torch.arange(4))
    assert ds.modality == "vision" and ds.lengths is None
    assert torch.equal(ds.subset(torch.tensor([1, 3])).inputs, x[[1, 3]])
    reg = ExampleDataset(torch.rand(3, 5), [0.5, 1.5, 2.5], [0, 1, 2])
    assert reg.modality == "tabular" and reg.targets.dtype == torch.float32
    assert isinstance(reg[0]["target"], float)
    empty = ExampleDataset([], [], [])
    assert len(empty) == 0
    with pytest.raises(ValueError, match="same length"):
        ExampleDataset(torch.rand(3, 2), [0, 1], [0, 1, 2])
    with pytest.raises(ValueError, match="distinct"):
        ExampleDataset(torch.rand(2, 2), [0, 1], [7, 7])
    with pytest.raises(ValueError, match="1-D"):
        ExampleDataset([torch.zeros(2, 2, dtype=torch.long)], [0], [0])


# ------------------------------------------------------------------------ digits


def test_digits():
    d = load_digits()
    assert isinstance(d, DataSplits) and d.name == "digits" and d.vocab is None
    sizes = {k: len(v) for k, v in d.splits.items()}
    assert sizes == {"train": 1437, "val": 180, "test": 180} == d.info["sizes"]
    ids = torch.cat([d.train.ids, d.val.ids, d.test.ids])
    assert sorted(ids.tolist()) == list(range(1797))
    x = d.train.inputs
    assert x.dtype == torch.float32 and x.shape[1:] == (1, 8, 8)
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    t = d.task
    assert t.modality == "vision" and t.input_shape == (1, 8, 8) and t.num_classes == 10
    assert t.mean[0] == pytest.approx(float(x.double().mean()), rel=1e-6)
    assert t.std[0] == pytest.approx(float(x.double().std(unbiased=False)), rel=1e-6)
    from sklearn.datasets import load_digits as sk

    raw = sk()
    item = d.test[3]
    assert np.allclose(item["input"].numpy().reshape(-1), raw.data[item["id"]] / 16.0)
    assert item["target"] == raw.target[item["id"]]
    # stratified: every class in every split
    for split in d.splits.values():
        assert len(torch.unique(split.targets)) == 10


def test_digits_through_dataloader():
    d = load_digits(max_examples=200)
    loader = torch.utils.data.DataLoader(d.train, batch_size=32, shuffle=True,
                                         collate_fn=d.task.collator())
    batch = next(iter(loader))
    assert batch["inputs"].shape == (32, 1, 8, 8) and batch["targets"].dtype == torch.long
    raw = torch.stack([d.train.inputs[d.train.position_of(i)] for i in batch["ids"].tolist()])
    expected = (raw.double() - d.task.mean[0]) / d.task.std[0]
    torch.testing.assert_close(batch["inputs"].double(), expected, rtol=1e-5, atol=1e-6)
    assert sum(d.info["sizes"].values()) == 200


def test_load_dataset_dispatch_and_unknown_name():
    assert load_dataset("DIGITS", seed=1).info["split_seed"] == 1
    with pytest.raises(ValueError, match="digits.*mr.*pros_cons.*subj"):
        load_dataset("cifar10")


# ------------------------------------------------------------------------ load_arrays


def _xy(n=60, f=4, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, f)).astype(np.float32), np.arange(n) % classes


def test_load_arrays_tabular():
    X, y = _xy()
    d = load_arrays(X, y, seed=3)
    assert d.task.modality == "tabular" and d.task.input_shape == (4,) and d.task.num_classes == 3
    assert len(d.train) + len(d.val) + len(d.test) == 60
    item = d.val[0]
    assert np.allclose(item["input"].numpy(), X[item["id"]]) and item["target"] == y[item["id"]]
    assert d.train.inputs.dtype == torch.float32
    # same seed -> same split; another seed -> another split, same id -> same row
    again = load_arrays(X, y, seed=3)
    assert torch.equal(again.train.ids, d.train.ids)
    other = load_arrays(X, y, seed=4)
    assert not torch.equal(other.train.ids, d.train.ids)


def test_load_arrays_vision_shapes():
    rng = np.random.default_rng(0)
    X3 = rng.random((40, 5, 6))
    y = np.arange(40) % 2
    d = load_arrays(X3, y)
    assert d.task.modality == "vision" and d.task.input_shape == (1, 5, 6)
    train = X3[d.train.ids.numpy()]
    assert d.task.mean[0] == pytest.approx(train.mean(), rel=1e-6)
    assert d.task.std[0] == pytest.approx(train.std(), rel=1e-6)
    X4 = rng.random((40, 3, 4, 4))
    d4 = load_arrays(X4, y)
    assert d4.task.input_shape == (3, 4, 4) and len(d4.task.mean) == 3
    assert np.allclose(d4.task.mean, X4[d4.train.ids.numpy()].mean(axis=(0, 2, 3)))
    flat = load_arrays(X4.reshape(40, -1), y, image_shape=(3, 4, 4))
    assert flat.task.input_shape == (3, 4, 4)
    assert torch.equal(flat.train.inputs, d4.train.inputs)
    u8 = load_arrays((X3 * 255).astype(np.uint8), y)
    assert float(u8.train.inputs.max()) <= 1.0


def test_load_arrays_regression():
    X, _ = _xy()
    y = np.linspace(0, 1, 60)
    d = load_arrays(X, y, num_classes=1)
    assert d.task.num_classes == 1 and d.train.targets.dtype == torch.float32
    assert d.info["stratified"] is False


def test_load_arrays_torch_inputs_and_class_names():
    X, y = _xy()
    d = load_arrays(torch.from_numpy(X), torch.from_numpy(y), class_names=["a", "b", "c"])
    assert d.task.class_names == ("a", "b", "c")


@pytest.mark.parametrize("X, y, kwargs, pattern", [
    (np.zeros((0, 3)), np.zeros(0, dtype=int), {}, "empty"),
    (np.float32(1.0), np.zeros(1, dtype=int), {}, "scalar"),
    (np.zeros((5, 3)), np.zeros(4, dtype=int), {}, "same length"),
    (np.zeros(5), np.zeros(5, dtype=int), {}, "2-D"),
    (np.zeros((5, 2, 2, 2, 2)), np.zeros(5, dtype=int), {}, "2-D"),
    (np.array([["a", "b"]] * 5), np.arange(5) % 2, {}, "dtype"),
    (np.zeros((5, 3)), np.array([0.0, 1.0, 0.0, 1.0, 0.0]), {}, "integer class labels"),
    (np.zeros((5, 3)), np.zeros((5, 2), dtype=int), {}, "1-D integer"),
    (np.zeros((5, 3)), np.array([0, 1, -1, 1, 0]), {}, r"y\[2\] = -1"),
    (np.zeros((10, 2)), np.zeros(10, dtype=int), {}, "two classes"),
])
def test_load_arrays_bad_input(X, y, kwargs, pattern):
    with pytest.raises(DataValidationError, match=pattern):
        load_arrays(X, y, **kwargs)


def test_load_arrays_label_out_of_range_names_index_and_value():
    X, y = _xy(n=20, classes=2)
    y = y.copy()
    y[7] = 5
    with pytest.raises(DataValidationError, match=r"y\[7\] = 5 is outside \[0, 2\)") as info:
        load_arrays(X, y, num_classes=2)
    assert info.value.row == 7 and isinstance(info.value, ValueError)


def test_load_arrays_nan_names_position():
    X, y = _xy(n=20, classes=2)
    X[11, 2] = np.nan
    with pytest.raises(DataValidationError, match=r"X\[11, 2\].*row 11"):
        load_arrays(X, y)


def test_single_example_class_stays_in_training_and_the_rest_is_stratified():
    # issue 12 item 9: a class with one example used to make the whole split unstratified
    # (and, for some seeds, left the training split with a single class)
    X = np.zeros((20, 2), dtype=np.float32)
    y = np.zeros(20, dtype=int)
    y[-1] = 1
    for seed in range(50):
        with pytest.warns(UserWarning, match=r"class\(es\) \[1\] have a single example: it stays in the training"):
            d = load_arrays(X, y, seed=seed)
        assert set(d.train.targets.tolist()) == {0, 1} and 19 in d.train.ids.tolist()
        assert d.info["stratified"] is True and d.info["unstratified_classes"] == [1]


def test_unstratifiable_split_warns_and_records_it():
    X = np.zeros((20, 2), dtype=np.float32)
    y = np.array([0] * 10 + [1] * 9 + [2])  # class 2 has one example
    with pytest.warns(UserWarning, match="single example"):
        d = load_arrays(X, y, fractions=(0.6, 0.2, 0.2))
    assert d.info["stratified"] is True and d.info["unstratified_classes"] == [2]
    assert 19 in d.train.ids.tolist()
    for split in ("val", "test"):  # the other classes are stratified: 2 of each
        assert d.info["class_counts"][split] == [2, 2, 0]
    # fewer held-out examples than classes: stratification is impossible, said and recorded
    X30, y30 = np.zeros((30, 2), dtype=np.float32), np.arange(30) % 10
    with pytest.warns(UserWarning, match="cannot stratify"):
        d = load_arrays(X30, y30)
    assert d.info["stratified"] is False and "unstratified_classes" not in d.info


def test_bad_fractions_and_seed():
    X, y = _xy()
    with pytest.raises(ValueError, match="fractions"):
        load_arrays(X, y, fractions=(0.5, 0.3, 0.3))
    with pytest.raises(ValueError, match="seed"):
        load_arrays(X, y, seed=-1)
    d = load_arrays(X, y, fractions=(0.9, 0.1, 0.0))
    assert len(d.test) == 0 and len(d.val) == 6


# ------------------------------------------------------------------------ load_text_file

ROWS = [("good movie", "pos"), ("bad movie", "neg"), ("great fun", "pos"), ("awful plot", "neg")] * 10


def _write_csv(path, rows, header=("text", "label"), sep=","):
    import csv

    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, delimiter=sep)
        w.writerow(header)
        w.writerows(rows)
    return path


def _write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl"])
def test_load_text_file_formats(tmp_path, suffix):
    if suffix == ".jsonl":
        path = _write_jsonl(tmp_path / f"toy{suffix}", [{"text": t, "label": lab} for t, lab in ROWS])
    else:
        path = _write_csv(tmp_path / f"toy{suffix}", ROWS, sep="," if suffix == ".csv" else "\t")
    d = load_text_file(path, seed=1)
    assert d.name == "toy" and d.task.modality == "text"
    assert d.task.class_names == ("neg", "pos") and d.task.num_classes == 2
    assert sorted(torch.cat([d.train.ids, d.val.ids, d.test.ids]).tolist()) == list(range(40))
    for split in d.splits.values():
        for i in range(len(split)):
            item = split[i]
            text, label = ROWS[item["id"]]
            assert split.texts[i] == text
            assert item["target"] == ("neg", "pos").index(label)
            assert item["input"].tolist() == d.vocab.encode(tokenize(text))
    assert d.info["format"] == suffix[1:]


def test_load_text_file_int_labels_label_map_and_json_array(tmp_path):
    recs = [{"body": t, "y": int(lab == "pos")} for t, lab in ROWS]
    arr = tmp_path / "arr.json"
    arr.write_text(json.dumps(recs), encoding="utf-8")
    d = load_text_file(arr, text_column="body", label_column="y")
    assert d.task.class_names == ("0", "1")
    assert all(d.train[i]["target"] == recs[d.train[i]["id"]]["y"] for i in range(len(d.train)))
    csv_path = _write_csv(tmp_path / "m.csv", ROWS)
    m = load_text_file(csv_path, label_map={"neg": 1, "pos": 0})
    assert m.task.class_names == ("pos", "neg")
    assert all(m.test[i]["target"] == (ROWS[m.test[i]["id"]][1] == "neg") for i in range(len(m.test)))


def test_load_text_file_max_length_and_min_freq(tmp_path):
    rows = [("one two three four five six", "a"), ("seven eight", "b")] * 10
    d = load_text_file(_write_csv(tmp_path / "x.csv", rows), max_length=3, min_freq=2)
    assert int(d.train.lengths.max()) == 3 and d.task.max_length == 3


def test_text_file_missing_column_csv(tmp_path):
    path = _write_csv(tmp_path / "cols.csv", ROWS, header=("sentence", "label"))
    with pytest.raises(DataValidationError) as info:
        load_text_file(path)
    msg = str(info.value)
    assert str(path) in msg and "'text'" in msg and "sentence" in msg and "label" in msg
    assert info.value.field == "text"


def test_text_file_missing_field_jsonl_names_line(tmp_path):
    recs = [{"text": t, "label": lab} for t, lab in ROWS]
    recs[4] = {"txt": "oops", "label": "pos"}
    path = _write_jsonl(tmp_path / "f.jsonl", recs)
    with pytest.raises(DataValidationError, match=r"line 5 has no field 'text'; fields present: \['label', 'txt'\]") as info:
        load_text_file(path)
    assert str(path) in str(info.value) and info.value.row == 5


def test_text_file_empty_text_names_row(tmp_path):
    rows = list(ROWS)
    rows[2] = ("   ", "pos")
    path = _write_csv(tmp_path / "e.csv", rows)
    with pytest.raises(DataValidationError, match=r"row 3 \(line 4\) has empty text") as info:
        load_text_file(path)
    assert str(path) in str(info.value) and info.value.row == 3
    recs = [{"text": t, "label": lab} for t, lab in ROWS]
    recs[6]["text"] = ""
    jpath = _write_jsonl(tmp_path / "e.jsonl", recs)
    with pytest.raises(DataValidationError, match="line 7 has empty text"):
        load_text_file(jpath)


def test_text_file_other_errors(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("text,label\n", encoding="utf-8")
    with pytest.raises(DataValidationError, match="empty"):
        load_text_file(empty)
    one = _write_csv(tmp_path / "one.csv", [("a b", "pos")] * 5)
    with pytest.raises(DataValidationError, match="two classes"):
        load_text_file(one)
    bad_json = tmp_path / "bad.jsonl"
    bad_json.write_text('{"text": "a", "label": 1}\n{not json}\n', encoding="utf-8")
    with pytest.raises(DataValidationError, match="line 2 is not valid JSON"):
        load_text_file(bad_json)
    with pytest.raises(DataValidationError, match="not in label_map"):
        load_text_file(_write_csv(tmp_path / "m.csv", ROWS), label_map={"pos": 1})
    with pytest.raises(DataValidationError, match="empty label"):
        load_text_file(_write_csv(tmp_path / "l.csv", [("a", "pos"), ("b", "")] * 3))
    with pytest.raises(ValueError, match="format"):
        load_text_file(_write_csv(tmp_path / "x.txt", ROWS))
    with pytest.raises(FileNotFoundError):
        load_text_file(tmp_path / "nope.csv")


def test_taskspec_for_text_file(tmp_path):
    d = load_text_file(_write_csv(tmp_path / "t.csv", ROWS))
    assert isinstance(d.task, TaskSpec)
    assert d.task.vocab_size == len(d.vocab) and d.task.pad_id == 0 and d.task.min_length == 5
