"""The lexical estimate: TF-IDF as scikit-learn computes it, cross-fitting that keeps held-out
labels out, safe persistence, and the shipped model serving it as a signal."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from eduscore.errors import ModelLoadError
from eduscore.scoring import features
from eduscore.scoring.lexical import (
    FILE,
    NOT_READ,
    STACKED_NAME,
    LexicalModel,
    fit_vocabulary,
    tokens,
)
from eduscore.scoring.scorer import Scorer, Snippet
from eduscore.training.data import read_labelled
from eduscore.training.stacked import fit_lexical, lexical_signal, with_column

from .conftest import CORPUS, MODEL_DIR
from .snippets import GENERATED, SETTINGS, TEXTBOOK


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory):
    """300 corpus units from six packages (read from ../shared, written to a temp dir)."""
    rows = [json.loads(line) for line in CORPUS.open()]
    packages = sorted({r["package"] for r in rows})[:6]
    picked = [r for r in rows if r["package"] in packages][:300]
    path = tmp_path_factory.mktemp("lex") / "small.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in picked))
    return read_labelled(path)


def test_tokens_split_identifiers_and_keep_doc_markers() -> None:
    got = tokens('def parse_args(x):\n    """Parse HTTPServer args.\n    >>> parseArgs(1)"""')
    assert got[:8] == ["def", "parse", "args", "x", '"""', "parse", "http", "server"]
    assert ">>>" in got and "parse args" in got  # the bigram from parse_args and parseArgs


def test_tfidf_rows_equal_scikit_learns(small) -> None:
    """Our dependency-free TF-IDF (what serving runs) against TfidfVectorizer's on the same
    vocabulary and IDF: sublinear tf, L2 norm."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    docs = [tokens(c) for c in small.codes]
    vocab = fit_vocabulary(docs, min_df=2, max_features=5000)
    ours = vocab.transform(docs).toarray()
    ref = TfidfVectorizer(analyzer=tokens, vocabulary=vocab.index, sublinear_tf=True)
    ref.fit(small.codes)
    ref.idf_ = vocab.idf
    assert np.allclose(ours, ref.transform(small.codes).toarray(), atol=1e-12)
    # The IDF itself is sklearn's smoothed formula on these documents.
    assert np.allclose(TfidfVectorizer(analyzer=tokens, vocabulary=vocab.index).fit(
        small.codes).idf_, vocab.idf)  # fmt: skip


def test_served_estimate_equals_the_training_matrix(small) -> None:
    docs = [tokens(c) for c in small.codes]
    model = fit_lexical(docs, small.labels)
    by_matrix = model.vocabulary.transform(docs) @ model.coef + model.intercept
    assert np.allclose(model.predict(small.codes), by_matrix, atol=1e-9)
    assert np.corrcoef(by_matrix, small.labels)[0, 1] > 0.5  # in-sample: it did learn


def test_cross_fitting_never_reads_a_rows_own_label(small) -> None:
    """A row's estimate never comes from a model fitted on its package's labels: on a held-out
    row, from the fold's training packages; on a training row, from inner folds without it."""
    from eduscore.training.folds import outer_splits

    signals = [features.extract(c) for c in small.codes]
    before = lexical_signal(small, signals, 2)
    groups = np.asarray(small.groups)
    rng = np.random.default_rng(0)
    for i, (tr, te) in enumerate(outer_splits(small.groups, 2)):
        for rows in (te, np.flatnonzero(groups == groups[tr[0]])):  # held out; one training pkg
            labels = small.labels.copy()
            labels[rows] = rng.permutation(5.0 - labels[rows])
            again = lexical_signal(dataclasses.replace(small, labels=labels), signals, 2)
            again = again.per_fold[i]
            assert np.array_equal(again[rows], before.per_fold[i][rows])
            others = np.setdiff1d(np.arange(len(small)), np.r_[rows, te])
            if len(rows) != len(te):  # the package's labels did reach the other rows' models
                assert not np.allclose(again[others], before.per_fold[i][others])
        assert np.array_equal(before.final[te], before.per_fold[i][te])
    config = np.array([row["config_format"] == 1.0 for row in signals])
    assert config.any() and (before.final[config] == NOT_READ).all()
    assert (before.final[~config] != NOT_READ).all()
    x = np.zeros((len(small), 90), np.float32)
    assert with_column(x, before.final).shape == (len(small), 91)


def test_saved_model_loads_identically_and_a_broken_file_is_refused(tmp_path: Path, small) -> None:
    model = fit_lexical([tokens(c) for c in small.codes], small.labels)
    model.save(tmp_path)
    loaded = LexicalModel.load(tmp_path)
    assert loaded is not None
    assert np.allclose(loaded.predict(small.codes), model.predict(small.codes), atol=1e-4)
    assert LexicalModel.load(tmp_path / "absent") is None
    doc = json.loads((tmp_path / FILE).read_text())
    (tmp_path / FILE).write_text(json.dumps({**doc, "coef": doc["coef"][:-1]}))
    with pytest.raises(ModelLoadError, match="differ in length"):
        LexicalModel.load(tmp_path)
    (tmp_path / FILE).write_text("{not json")
    with pytest.raises(ModelLoadError, match="unreadable lexical model"):
        LexicalModel.load(tmp_path)


def test_the_shipped_model_serves_its_estimate_as_a_signal(scorer: Scorer) -> None:
    shipped = LexicalModel.load(MODEL_DIR)
    assert shipped is not None and scorer.lexical is not None
    assert scorer.signal_names[-1] == STACKED_NAME
    codes = [TEXTBOOK, SETTINGS, GENERATED]
    results = scorer.score_batch([Snippet(code=c) for c in codes])
    expected = shipped.predict(codes)
    assert [r.signals[STACKED_NAME] for r in results] == pytest.approx(expected, abs=1e-9)
    # It reads the text: a documented function is judged above settings and generated code.
    assert expected[0] > max(expected[1], expected[2])
    # ... but not a config file's: its words are not evidence of teaching value.
    workflow = "name: CI\non: [push]\njobs:\n  test:\n    runs-on: ubuntu-latest\n"
    (result,) = scorer.score_batch([Snippet(code=workflow)])
    assert result.language == "yaml" and result.signals[STACKED_NAME] == NOT_READ
