"""Embedder: passes packed by tokens, and packing never changes what a snippet scores."""

from __future__ import annotations

import numpy as np

from eduscore.scoring.scorer import Snippet
from tests.snippets import TEXTBOOK


def test_passes_cover_every_text_once_sorted_and_under_both_caps(scorer) -> None:
    emb = scorer.embedder
    rng = np.random.default_rng(0)
    lengths = [int(n) for n in rng.integers(3, emb.max_seq_length + 1, size=300)]
    passes = emb.passes(lengths)
    flat = [i for group in passes for i in group]
    assert sorted(flat) == list(range(len(lengths)))
    assert [lengths[i] for i in flat] == sorted(lengths)  # one sort, cut into consecutive passes
    for group in passes:
        assert len(group) <= emb.batch_size
        assert len(group) == 1 or len(group) * max(lengths[i] for i in group) <= emb.token_budget
    # Short texts share passes; full-length ones go a few at a time.
    assert len(passes[0]) > len(passes[-1]) >= 1


def test_packing_does_not_change_the_embedding(scorer) -> None:
    """A snippet embeds the same alone, among short ones and among long ones."""
    emb = scorer.embedder
    short = [f"x_{i} = {i}" for i in range(40)]
    long = ["\n".join(f"value_{j} = compute({j}, {i})" for j in range(200)) for i in range(6)]
    alone = emb.encode([TEXTBOOK]).vectors[0]
    for company in (short, long, short + long):
        vectors = emb.encode([*company, TEXTBOOK]).vectors
        np.testing.assert_allclose(vectors[-1], alone, atol=1e-5)


def test_head_runs_scikit_learn_single_threaded_and_leaves_torch_alone(scorer) -> None:
    """In the thread that predicts, scikit-learn's OpenMP gets one thread; PyTorch keeps its own."""
    import threading
    from pathlib import Path

    import torch
    from threadpoolctl import ThreadpoolController

    seen: dict[str, int] = {}

    def predict_then_look() -> None:
        scorer.score_batch([Snippet(code=TEXTBOOK)])
        for lib in ThreadpoolController().select(user_api="openmp").lib_controllers:
            owner = "torch" if str(Path(torch.__file__).parent) in lib.filepath else "other"
            seen[owner] = lib.num_threads

    thread = threading.Thread(target=predict_then_look)
    thread.start()
    thread.join()
    assert seen["torch"] == torch.get_num_threads()
    assert seen.get("other", 1) == 1
