"""EduScoreFilterBlock: a datatrove filter that keeps documents of educational value >= threshold.

datatrove is an optional extra (`pip install 'eduscore[datatrove]'`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

try:
    from datatrove.pipeline.filters.base_filter import BaseFilter
except ImportError as exc:  # name the extra, as datatrove's own _requires_dependencies does
    raise ImportError(
        "eduscore.pipelines.datatrove_block needs datatrove: pip install 'eduscore[datatrove]'"
        " (or pip install datatrove)"
    ) from exc

from eduscore.pipelines.rows import invalid_reason, language_hint, unit_rows

if TYPE_CHECKING:
    from datatrove.data import Document
    from datatrove.pipeline.writers.disk_base import DiskWriter

    from eduscore.scoring.scorer import Scorer


class EduScoreFilterBlock(BaseFilter):
    """Scores `doc.text` as code; keeps a document when its score reaches `threshold`.

    Writes `edu_score`, `edu_label`, the scored `edu_language`, and what decided (`edu_tier`,
    `edu_model_version`) into `doc.metadata`, also on dropped documents so an `exclusion_writer`
    records why; with `units=True`, `edu_units` too: the units of a document longer than one
    unit (3,000 characters), each {kind, name, start_line, end_line, language, score, keep}.
    Drop reasons, counted by datatrove as `dropped_<reason>`: `edu_below_threshold`, and
    `edu_invalid` for text the service would refuse (empty, NUL bytes, over 1 MB). Documents
    are scored `batch_size` at a time through `filter_batch`; the model loads lazily, once per
    worker, so the block pickles cheaply.

    Example:
        LocalPipelineExecutor(pipeline=[
            JsonlReader("snippets/", text_key="code"),
            EduScoreFilterBlock(threshold=3.0, batch_size=64),
            JsonlWriter("kept/"),
        ], tasks=4).run()

    Args:
        threshold: keep threshold on the 0-5 scale.
        model_dir: trained classifier directory; default the shipped model.
        encoder: sentence-transformers directory; default the one the head was trained with.
        batch_size: documents per scoring call.
        language_key: metadata key holding a language hint, if any.
        torch_threads: intra-op threads per worker (0: PyTorch's default).
        tier: "full" (the encoder), "fast" (static embeddings: no encoder, no torch; needs a
            model with a fast tier) or "cascade".
        exclusion_writer: optional writer for the dropped documents.
        units: also write `edu_units` (an empty list for a document of one unit).
    """

    name = "🎓 EduScore"

    def __init__(
        self,
        threshold: float = 3.0,
        model_dir: str = "",
        encoder: str = "",
        batch_size: int = 32,
        language_key: str = "language",
        torch_threads: int = 0,
        exclusion_writer: DiskWriter | None = None,
        tier: str = "full",
        units: bool = False,
    ) -> None:
        if not 0.0 <= threshold <= 5.0:
            raise ValueError(f"threshold={threshold} is outside the label scale 0..5")
        super().__init__(exclusion_writer, batch_size=batch_size)
        self.threshold = threshold
        self.model_dir = model_dir
        self.encoder = encoder
        self.language_key = language_key
        self.torch_threads = torch_threads
        self.tier = tier
        self.units = units
        self._scorer: Scorer | None = None

    @property
    def scorer(self) -> Scorer:
        if self._scorer is None:
            from eduscore.config import default_model_dir
            from eduscore.scoring.scorer import Scorer

            self._scorer = Scorer.load(
                self.model_dir or default_model_dir(),
                encoder=self.encoder,
                threshold=self.threshold,
                batch_size=self.batch_size,
                torch_threads=self.torch_threads,
                tier=self.tier,
            )
        return self._scorer

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_scorer"] = None  # ship the recipe to workers, not a loaded model
        return state

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        return self.filter_batch([doc])[0]

    def filter_batch(self, batch: list[Document]) -> list[bool | tuple[bool, str]]:
        from eduscore.scoring.scorer import Snippet

        verdicts: list[bool | tuple[bool, str]] = [(False, "edu_invalid")] * len(batch)
        scorable = [i for i, d in enumerate(batch) if invalid_reason(d.text) is None]
        if not scorable:
            return verdicts
        snippets = [
            Snippet(
                id=str(batch[i].id),
                code=batch[i].text,
                language=language_hint(batch[i].metadata.get(self.language_key)),
            )
            for i in scorable
        ]
        results = self.scorer.score_batch(snippets, self.threshold)
        for i, result in zip(scorable, results, strict=True):
            batch[i].metadata.update(
                edu_score=result.score,
                edu_label=result.label,
                edu_language=result.language,
                edu_tier=result.tier,
                edu_model_version=result.model_version,
            )
            if self.units:
                batch[i].metadata["edu_units"] = unit_rows(result.units)
            verdicts[i] = True if result.keep else (False, "edu_below_threshold")
        return verdicts
