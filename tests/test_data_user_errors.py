"""Bad user data through the public loaders (issue 12 item 9): it works as a user expects,
or raises one DataValidationError naming the file, row and field before any training."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from workbench.data import DataValidationError, load_arrays, load_text_file
from workbench.data.user_data import TEXT_FILE_MAX_LENGTH

WORDS = ["good", "bad", "plot", "film", "acting", "slow", "fun", "dull", "great", "story"]


def _rows(n=60, labels=("pos", "neg")):
    rng = np.random.default_rng(0)
    return [(" ".join(rng.choice(WORDS, size=6)), labels[i % len(labels)]) for i in range(n)]


def _write_csv(path, rows, header=("text", "label")):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def test_missing_value_labels_are_an_error_naming_every_row(tmp_path):
    rows = _rows()
    rows[4] = (rows[4][0], "NaN")
    rows[9] = (rows[9][0], "nan")
    path = _write_csv(tmp_path / "na.csv", rows)
    with pytest.raises(DataValidationError) as info:
        load_text_file(path)
    err = info.value
    msg = str(err)
    assert str(path) in msg and "2 row(s)" in msg and "row 5 (line 6)" in msg and "row 10 (line 11)" in msg
    assert err.source == str(path) and err.row == 5 and err.field == "label"
    # JSON: a NaN literal (json.loads accepts it) and a "null" string, in the label field
    jpath = tmp_path / "na.jsonl"
    recs = [{"text": t, "label": lab} for t, lab in _rows(20)]
    lines = [json.dumps(r) for r in recs]
    lines[2] = '{"text": "fine film", "label": NaN}'
    jpath.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataValidationError, match=r"1 row\(s\) have a missing-value label.*line 3") as info:
        load_text_file(jpath)
    assert info.value.row == 3
    # a label_map that names the marker keeps it as a class
    d = load_text_file(path, label_map={"pos": 0, "neg": 1, "NaN": 2, "nan": 2})
    assert d.task.num_classes == 3


def test_integer_labels_1_to_6_map_to_six_classes(tmp_path):
    rows = _rows(120, labels=("1", "2", "3", "4", "5", "6"))
    d = load_text_file(_write_csv(tmp_path / "six.csv", rows))
    assert d.task.num_classes == 6 and d.task.class_names == ("1", "2", "3", "4", "5", "6")
    assert all(c > 0 for c in d.info["class_counts"]["train"])  # no empty class '0'
    for i in range(len(d.train)):
        assert d.task.class_names[d.train[i]["target"]] == rows[d.train[i]["id"]][1]
    assert d.info["label_mapping"] == "integer labels -> numeric order"
    # 0..K-1 stay as they are
    kept = load_text_file(_write_csv(tmp_path / "zero.csv", _rows(40, labels=("0", "1"))))
    assert kept.task.class_names == ("0", "1") and kept.info["label_mapping"] == "integer labels kept"
    # arrays: the same rule
    X = np.random.default_rng(0).random((120, 3))
    y = np.arange(120) % 6 + 1
    a = load_arrays(X, y)
    assert a.task.num_classes == 6 and a.task.class_names == ("1", "2", "3", "4", "5", "6")
    assert all(c > 0 for c in a.info["class_counts"]["train"])
    assert all(a.train[i]["target"] == y[a.train[i]["id"]] - 1 for i in range(len(a.train)))
    assert "label_mapping" in a.info


def test_a_class_with_one_example_trains_and_the_rest_stays_stratified(tmp_path):
    rows = _rows(60)
    rows[7] = (rows[7][0], "rare")
    with pytest.warns(UserWarning, match=r"class\(es\) \[2\] have a single example"):
        d = load_text_file(_write_csv(tmp_path / "rare.csv", rows))
    assert d.task.class_names == ("neg", "pos", "rare")
    assert 7 in d.train.ids.tolist() and d.info["stratified"] is True
    assert d.info["unstratified_classes"] == [2]
    assert d.info["class_counts"]["test"][:2] == [3, 3]  # neg / pos still stratified


def test_a_byte_that_is_not_utf8_names_file_row_and_column(tmp_path):
    path = tmp_path / "latin.csv"
    body = "text,label\nfine film,pos\ndull plot,neg\ncaf\xe9 scene,pos\n" + "ok story,neg\n" * 20
    path.write_bytes(body.encode("latin-1"))
    with pytest.raises(DataValidationError) as info:
        load_text_file(path)
    err = info.value
    assert str(path) in str(err) and "row 3 (line 4)" in str(err) and "0xe9" in str(err)
    assert "encoding=" in str(err)
    assert err.row == 3 and err.field == "text" and err.source == str(path)
    # with the file's encoding it loads
    d = load_text_file(path, encoding="latin-1")
    assert "café scene" in d.train.texts + d.val.texts + d.test.texts
    # JSON lines: the same
    jpath = tmp_path / "latin.jsonl"
    jpath.write_bytes(b'{"text": "good", "label": "pos"}\n{"text": "caf\xe9", "label": "neg"}\n')
    with pytest.raises(DataValidationError, match=r"line 2: column 'text' holds byte 0xe9") as info:
        load_text_file(jpath)
    assert info.value.row == 2


def test_a_csv_field_over_the_csv_module_limit_loads_and_is_truncated(tmp_path):
    limit = csv.field_size_limit()
    rows = _rows(40)
    rows[5] = ("word " * 40_000, "pos")  # 200,000 characters > 131,072
    path = _write_csv(tmp_path / "long.csv", rows)
    with pytest.warns(UserWarning, match=r"1 of 40 examples are longer than max_length=512"):
        d = load_text_file(path)
    assert csv.field_size_limit() == limit  # the process-wide limit is put back
    assert d.info["truncated"] == 1
    assert int(max(s.lengths.max() for s in d.splits.values() if len(s))) == TEXT_FILE_MAX_LENGTH


def test_a_50000_word_line_is_truncated_to_the_default_max_length(tmp_path):
    path = tmp_path / "huge.jsonl"
    recs = [{"text": t, "label": lab} for t, lab in _rows(30)]
    recs[3]["text"] = " ".join(["word"] * 50_000)
    path.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    with pytest.warns(UserWarning, match=r"1 of 30 examples .* truncated \(the longest has 50,000 tokens\)"):
        d = load_text_file(path)
    assert d.task.max_length == TEXT_FILE_MAX_LENGTH == 512 and d.info["truncated"] == 1
    split = next(s for s in d.splits.values() if 3 in s.ids.tolist())
    batch = d.task.collator()([split[i] for i in range(len(split))])
    assert batch["inputs"].shape[1] == 512
    unlimited = load_text_file(path, max_length=None)  # the documented opt-out
    assert unlimited.info["truncated"] == 0 and int(max(s.lengths.max() for s in unlimited.splits.values())) == 50_000


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_features_are_rejected_naming_the_row(value):
    X = np.random.default_rng(0).random((30, 4))
    X[17, 1] = value
    with pytest.raises(DataValidationError, match=r"X\[17, 1\].*row 17") as info:
        load_arrays(X, np.arange(30) % 2)
    assert info.value.row == 17 and info.value.source == "X"


def test_max_examples_keeps_a_single_example_class_in_the_sample():
    X = np.random.default_rng(0).random((100, 3))
    y = np.array([0] * 50 + [1] * 49 + [2])
    with pytest.warns(UserWarning, match="single example"):
        d = load_arrays(X, y, max_examples=40)
    ids = sorted(d.train.ids.tolist() + d.val.ids.tolist() + d.test.ids.tolist())
    assert len(ids) == 40 and 99 in d.train.ids.tolist()
    counts = np.bincount(y[ids], minlength=3)
    assert counts.tolist() == [20, 19, 1] or counts.tolist() == [19, 20, 1]
