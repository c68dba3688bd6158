"""Fine-tune the sentence encoder on the labels before fitting the head (phi-1's recipe, one step
further): the frozen MiniLM space was trained for sentence similarity, not for "is this code
worth learning from", and a regression head on top can only read what the space already
separates. Tuning the encoder under a linear head with MSE moves that signal into the space; the
shipped head (trees on [signals | embedding]) is then fitted on the tuned embeddings as usual.

Serving cost is unchanged: same architecture, same forward pass, different weights.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from tqdm.auto import tqdm

if TYPE_CHECKING:  # torch and sentence-transformers load lazily: only tuning needs them
    import torch
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

#: Written last into a tuned encoder directory: a directory without it is an interrupted run.
DONE_MARKER = "eduscore-finetune.json"


@dataclass(frozen=True, slots=True)
class FinetuneConfig:
    """The recipe. Defaults are the ones measured in models/EXPERIMENTS.md."""

    #: One pass, not two: the head is fitted on embeddings of units the encoder was tuned on, so
    #: the more the encoder memorises them, the more the trees over-trust the embedding
    #: (EXPERIMENTS.md, session 4).
    epochs: int = 1
    max_seq_length: int = 256
    batch_size: int = 16
    lr_encoder: float = 3e-5
    lr_head: float = 1e-3
    weight_decay: float = 0.01
    warmup_share: float = 0.1
    #: Unit-norm embeddings are scaled before the linear head so its initial outputs can reach
    #: the 0-5 range without a large learning rate.
    scale: float = 10.0
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def run_key(
    base_sha256: str, codes: Sequence[str], labels: npt.NDArray[np.float64], cfg: FinetuneConfig
) -> str:
    """Identity of one tuning run: base weights, the exact training units and labels, the recipe."""
    digest = hashlib.sha256(base_sha256.encode())
    for code, label in zip(codes, labels, strict=True):
        digest.update(hashlib.sha256(code.encode("utf-8", "surrogatepass")).digest())
        digest.update(f"{float(label):.3f}".encode())
    digest.update(json.dumps(cfg.as_dict(), sort_keys=True).encode())
    return digest.hexdigest()[:20]


def _batches(lengths: list[int], size: int, rng: random.Random) -> list[list[int]]:
    """Length-bucketed batches in random order: little padding, no fixed curriculum."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i] + rng.random())
    chunks = [order[i : i + size] for i in range(0, len(order), size)]
    rng.shuffle(chunks)
    return chunks


def _token_lengths(model: SentenceTransformer, codes: Sequence[str], max_len: int) -> list[int]:
    """Tokenized length of each unit (truncated as the model will see it), for bucketing."""
    encoded = model.tokenizer(list(codes), truncation=True, max_length=max_len, verbose=False)
    return [len(ids) for ids in encoded["input_ids"]]


def _optimiser(
    model: SentenceTransformer, head: torch.nn.Linear, cfg: FinetuneConfig, steps: int
) -> tuple[torch.optim.AdamW, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW with separate encoder and head rates; linear warm-up, then linear decay to 0."""
    import torch

    warm = max(1, int(cfg.warmup_share * steps))
    optim = torch.optim.AdamW(
        [
            {"params": model.parameters(), "lr": cfg.lr_encoder},
            {"params": head.parameters(), "lr": cfg.lr_head},
        ],
        weight_decay=cfg.weight_decay,
    )
    sched = torch.optim.lr_scheduler.LambdaLR(
        optim,
        lambda s: (s + 1) / warm if s < warm else max(0.0, (steps - s) / max(1, steps - warm)),
    )
    return optim, sched


def _train(
    model: SentenceTransformer,
    head: torch.nn.Linear,
    codes: Sequence[str],
    target: torch.Tensor,
    cfg: FinetuneConfig,
    steps: int,
    *,
    progress: bool,
    desc: str,
) -> list[float]:
    """Minimise MSE of the linear head over `cfg.epochs` passes; returns the per-step losses."""
    import torch

    rng = random.Random(cfg.seed)  # its own generator: batch order depends on the seed alone
    lengths = _token_lengths(model, codes, cfg.max_seq_length)
    optim, sched = _optimiser(model, head, cfg, steps)
    model.train()
    bar = tqdm(total=steps, desc=desc, unit="step", disable=not progress)
    losses: list[float] = []
    for _ in range(cfg.epochs):
        for batch in _batches(lengths, cfg.batch_size, rng):
            feats = model.preprocess([codes[i] for i in batch])
            emb = model(feats)["sentence_embedding"] * cfg.scale
            loss = torch.nn.functional.mse_loss(head(emb).squeeze(-1), target[batch])
            optim.zero_grad()
            loss.backward()
            optim.step()
            sched.step()
            losses.append(loss.item())
            bar.update()
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
    bar.close()
    model.eval()
    return losses


def _save(
    model: SentenceTransformer,
    out: Path,
    cfg: FinetuneConfig,
    n_units: int,
    steps: int,
    losses: list[float],
) -> None:
    """Save the tuned encoder, then the done marker (last, so a crash leaves no marker)."""
    out.mkdir(parents=True, exist_ok=True)
    model.save(str(out))
    record = {
        "recipe": cfg.as_dict(),
        "n_units": n_units,
        "steps": steps,
        "final_loss_20": float(np.mean(losses[-20:])) if losses else None,
    }
    (out / DONE_MARKER).write_text(json.dumps(record, indent=2) + "\n")


def finetune_encoder(
    base_path: str,
    base_sha256: str,
    codes: Sequence[str],
    labels: npt.NDArray[np.float64],
    cache_dir: str | Path,
    cfg: FinetuneConfig,
    *,
    progress: bool = True,
    desc: str = "fine-tune",
) -> Path:
    """Tune the encoder at `base_path` on (codes, labels); returns the sentence-transformers
    directory it saved under `cache_dir`, named by `run_key`.

    A finished run with the same key is reused (tuning takes minutes per fold).
    """
    out = Path(cache_dir) / f"encoder-{run_key(base_sha256, codes, labels, cfg)}"
    if (out / DONE_MARKER).is_file():
        log.info("%s: reusing the tuned encoder in %s", desc, out)
        return out
    import torch
    from sentence_transformers import SentenceTransformer

    # Seed before loading: building the model and the head draws from torch's generator.
    torch.manual_seed(cfg.seed)
    model = SentenceTransformer(base_path, device="cpu", local_files_only=True)
    model.max_seq_length = cfg.max_seq_length
    head = torch.nn.Linear(model.get_embedding_dimension(), 1)
    target = torch.tensor(np.asarray(labels, dtype=np.float32))
    with torch.no_grad():  # start at the mean label: early steps tune the space, not the offset
        head.bias.fill_(float(target.mean()))
    steps = cfg.epochs * math.ceil(len(codes) / cfg.batch_size)
    losses = _train(model, head, codes, target, cfg, steps, progress=progress, desc=desc)
    _save(model, out, cfg, len(codes), steps, losses)
    return out


def half_precision_copy(src: str | Path, dst: str | Path) -> Path:
    """Copy the encoder directory at `src` to `dst` with its weights stored as fp16.

    Every retrain commits the tuned encoder; fp16 halves that (~45 MB instead of ~90 MB). The
    Embedder upcasts on CPU, and the shipped head is fitted on embeddings from this very copy,
    so what is served is what was trained.
    """
    import shutil

    from safetensors.torch import load_file, save_file

    dst = Path(dst)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("model.safetensors"))
    tensors = load_file(str(Path(src) / "model.safetensors"))
    half = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in tensors.items()}
    save_file(half, str(dst / "model.safetensors"), metadata={"format": "pt"})
    (dst / "model.safetensors").chmod(0o644)  # save_file writes 0600: unreadable to other users
    return dst
