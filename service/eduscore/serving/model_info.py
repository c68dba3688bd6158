"""ModelInfo: what a client learns of the served model, its tiers and the server's limits."""

from __future__ import annotations

from eduscore import __version__
from eduscore.config import Settings
from eduscore.scoring.scorer import Scorer
from eduscore.v1 import eduscore_pb2 as pb


def model_info(scorer: Scorer, s: Settings) -> pb.ModelInfo:
    meta = scorer.metadata
    cv = meta.get("cv", {})
    scalar = {k: float(v) for k, v in cv.items() if isinstance(v, int | float) and k != "n"}
    # Per detected format too ("yaml.recall_keep"): a pooled F1 can hide a format never kept.
    for fmt, row in cv.get("per_format", {}).items():
        for k in ("f1_keep", "precision_keep", "recall_keep", "n", "n_keep_true"):
            scalar[f"{fmt}.{k}"] = float(row[k])
    data = meta.get("training_data", {})
    return pb.ModelInfo(
        model_version=scorer.model_version,
        embedding_model=scorer.embedder.name,
        embedding_dim=scorer.embedder.dim,
        classifier=meta.get("head", {}).get("class", ""),
        default_threshold=s.threshold,
        label_min=0.0,
        label_max=5.0,
        training_data_sha256=data.get("sha256", ""),
        training_data_size=int(data.get("n_units", 0)),
        metrics=scalar,
        signal_names=scorer.signal_names,
        limits=pb.Limits(
            max_batch_snippets=s.max_batch_snippets,
            max_snippet_bytes=s.max_snippet_bytes,
            max_batch_size=s.max_batch_size,
            max_stream_inflight=s.max_stream_inflight,
            max_seq_length=scorer.embedder.max_seq_length,
            max_message_bytes=s.max_message_bytes,
            max_queue_size=s.max_queue_size,
            max_queue_bytes=s.max_queue_bytes,
            max_id_bytes=s.max_id_bytes,
        ),
        server_version=__version__,
        default_tier=scorer.default_tier,
        tiers=tier_infos(scorer),
    )


_HEADLINE = ("f1_keep", "precision_keep", "recall_keep", "spearman", "mae")


def tier_infos(scorer: Scorer) -> dict[str, pb.TierInfo]:
    """Each loaded tier with the metrics its training recorded (metadata.json `tiers`)."""
    recorded = scorer.metadata.get("tiers", {})
    out = {}
    for name in scorer.tiers:
        row = recorded.get(name, {})
        cv = row.get("cv", scorer.metadata.get("cv", {}) if name == "full" else {})
        enc = scorer.embedder if name == "cascade" else scorer.tier_model(name).embedder
        info = pb.TierInfo(
            embedding_model=enc.name if name != "cascade" else _cascade_name(scorer),
            embedding_dim=enc.dim,
            max_seq_length=enc.max_seq_length,
            metrics={k: float(cv[k]) for k in _HEADLINE if isinstance(cv.get(k), int | float)},
        )
        if name == "cascade" and scorer.cascade_band:
            info.band_lo, info.band_hi = scorer.cascade_band
            info.escalated_share = float(row.get("escalated_share", 0.0))
            columns = row.get("bands") or {}
            keys = ("threshold", "lo", "hi", "escalated_share", "disagreement")
            for t, lo, hi, share, differ in zip(*(columns.get(k, ()) for k in keys), strict=True):
                info.bands.add(
                    threshold=t, band_lo=lo, band_hi=hi, escalated_share=share, disagreement=differ
                )
                if abs(t - scorer.threshold) < 1e-9:  # the default threshold's own share
                    info.escalated_share = share
        out[name] = info
    return out


def _cascade_name(scorer: Scorer) -> str:
    return f"{scorer.tier_model('fast').embedder.name} -> {scorer.tier_model('full').embedder.name}"
