"""Embedder: passes packed by tokens, and packing never changes what a snippet scores."""

from __future__ import annotations

import numpy as np
import pytest

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


def _modelled_cost(lengths: list[int], passes: list[list[int]]) -> float:
    from eduscore.scoring.embedding import ATTENTION_TOKENS, PASS_OVERHEAD_TOKENS

    total = 0.0
    for group in passes:
        longest = max(max(1, lengths[i]) for i in group)
        total += PASS_OVERHEAD_TOKENS + len(group) * (longest + longest**2 / ATTENTION_TOKENS)
    return total


def test_passes_are_the_cheapest_cut_of_the_sorted_run(scorer) -> None:
    """Against every possible cut of small calls: nothing under the caps is cheaper."""
    import itertools

    emb = scorer.embedder
    rng = np.random.default_rng(1)
    for _ in range(25):
        lengths = [int(n) for n in rng.integers(1, emb.max_seq_length + 1, size=9)]
        run = sorted(range(len(lengths)), key=lengths.__getitem__)
        cheapest = float("inf")
        for cuts in itertools.product((False, True), repeat=len(run) - 1):
            groups, group = [], [run[0]]
            for i, cut in zip(run[1:], cuts, strict=True):
                if cut:
                    groups.append(group)
                    group = []
                group.append(i)
            groups.append(group)
            if all(
                len(g) == 1 or len(g) * max(lengths[i] for i in g) <= emb.token_budget
                for g in groups
            ):
                cheapest = min(cheapest, _modelled_cost(lengths, groups))
        assert _modelled_cost(lengths, emb.passes(lengths)) == pytest.approx(cheapest)
    # A long text is not padded into the short ones' pass, and the short ones share theirs.
    assert emb.passes([12] * 10 + [250]) == [list(range(10)), [10]]
    # Padding a few tokens is cheaper than another pass.
    assert emb.passes([20, 21, 22, 23]) == [[0, 1, 2, 3]]


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


def test_a_huge_text_is_cut_before_tokenizing_without_changing_its_embedding(scorer) -> None:
    """A whole 400 KB file costs the tokenizer seconds; the encoder reads only 256 tokens of it,
    so the text is cut first. The embedding is the one the model gives the uncut text."""
    big = "def f(x):\n    return x\n" + "".join(
        f"# line {j}: " + "y" * 60 + "\n" for j in range(5000)
    )
    embedder = scorer.embedder
    ours = embedder.encode([big])
    uncut = embedder._model.encode([big], normalize_embeddings=True, convert_to_numpy=True)
    assert ours.truncated == [True]
    assert np.abs(ours.vectors - uncut).max() < 1e-6


def test_device_auto_picks_what_torch_sees_and_cuda_without_a_gpu_is_refused() -> None:
    import torch

    from eduscore.config import Settings
    from eduscore.errors import ModelLoadError
    from eduscore.scoring.embedding import resolve_device

    has_cuda = torch.cuda.is_available()
    assert resolve_device("auto") == ("cuda" if has_cuda else "cpu")
    assert resolve_device("cpu") == "cpu"
    if not has_cuda:
        with pytest.raises(ModelLoadError, match="no CUDA device"):
            resolve_device("cuda")
    with pytest.raises(ValueError, match="device"):
        Settings(device="gpu")
    assert Settings.from_env({"EDUSCORE_DEVICE": "cpu", "EDUSCORE_TIER": "fast"}).tier == "fast"
