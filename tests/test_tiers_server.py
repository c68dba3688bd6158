"""Tiers over the wire: per request on the session server, and a server started --tier fast."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from eduscore.scoring.scorer import Snippet
from eduscore.v1 import eduscore_pb2 as pb
from eduscore.v1 import eduscore_pb2_grpc

from .conftest import CORPUS, RunningServer, start_server, stop_server
from .snippets import SETTINGS
from .snippets import TEXTBOOK as _TEXTBOOK
from .test_server import scrape, scrape_until
from .test_tiers import needs_fast

pytestmark = needs_fast
#: Text no other test sends, so the session server's cache holds no result for it yet.
TEXTBOOK = _TEXTBOOK + "\n# scored by the tiers test\n"


@pytest.fixture(scope="module")
def fast_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("fast"), "--tier", "fast")
    yield running
    assert stop_server(running) == 0, running.log()


def _batch(tier: str, *codes: str) -> pb.ScoreBatchRequest:
    snippets = [pb.Snippet(id=str(i), code=c) for i, c in enumerate(codes)]
    return pb.ScoreBatchRequest(snippets=snippets, tier=tier)


def test_each_request_names_its_tier_and_the_cache_keeps_them_apart(stub, server) -> None:
    key = 'eduscore_tier_scored_total{decided="fast",tier="fast"}'
    before = scrape(server.metrics_url).get(key, 0.0)
    full = stub.ScoreBatch(_batch("", TEXTBOOK, SETTINGS), timeout=60).results
    fast = stub.ScoreBatch(_batch("fast", TEXTBOOK, SETTINGS), timeout=60).results
    again = stub.ScoreBatch(_batch("full", TEXTBOOK, SETTINGS), timeout=60).results
    assert [r.tier for r in full] == ["full", "full"] == [r.tier for r in again]
    assert [r.tier for r in fast] == ["fast", "fast"]
    assert [r.score for r in again] == [r.score for r in full]  # a hit of its own tier
    assert [r.score for r in fast] != [r.score for r in full]  # not the full tier's entry
    one = stub.Score(pb.ScoreRequest(snippet=pb.Snippet(code=TEXTBOOK), tier="FAST "), timeout=60)
    assert one.tier == "fast" and one.score == fast[0].score
    cascade = stub.ScoreBatch(_batch("cascade", TEXTBOOK, SETTINGS), timeout=60).results
    assert all(r.tier in ("fast", "full") for r in cascade)
    reqs = [pb.ScoreRequest(snippet=pb.Snippet(code=c), tier=t) for c, t in
            ((TEXTBOOK, "fast"), (TEXTBOOK, "full"), (SETTINGS, ""))]  # fmt: skip
    assert [r.tier for r in stub.ScoreStream(iter(reqs), timeout=60)] == ["fast", "full", "full"]
    # Operators see each tier's traffic, and what the cascade escalated (decided="full").
    after = scrape_until(server.metrics_url, lambda m: m.get(key, 0.0) >= before + 1)
    assert after[key] >= before + 1
    assert any(k.startswith('eduscore_tier_scored_total{decided=') and 'tier="cascade"' in k
               for k in after)  # fmt: skip


def test_unknown_tier_is_invalid_argument_naming_the_choices(stub) -> None:
    with pytest.raises(grpc.RpcError) as err:
        stub.ScoreBatch(_batch("turbo", TEXTBOOK), timeout=60)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "full, fast, cascade" in err.value.details()


def test_model_info_reports_every_tier(stub) -> None:
    info = stub.GetModelInfo(pb.GetModelInfoRequest(), timeout=60)
    assert info.default_tier == "full" and set(info.tiers) == {"full", "fast", "cascade"}
    assert info.tiers["full"].metrics["f1_keep"] == pytest.approx(info.metrics["f1_keep"], 1e-4)
    fast, cascade = info.tiers["fast"], info.tiers["cascade"]
    assert fast.embedding_model.startswith("model2vec(") and fast.embedding_dim == 256
    assert 0.5 < fast.metrics["f1_keep"] < 1.0
    assert cascade.band_lo < 3.0 < cascade.band_hi and 0 < cascade.escalated_share < 1


def test_the_requests_threshold_picks_the_cascades_band(stub, scorer) -> None:
    """A unit whose fast score lies in the band of 3.5 but not in that of 2.5 is escalated at
    3.5 only, whatever was asked (and cached) before; ModelInfo lists every line's band."""
    info = stub.GetModelInfo(pb.GetModelInfoRequest(), timeout=60).tiers["cascade"]
    bands = {round(b.threshold, 2): (b.band_lo, b.band_hi) for b in info.bands}
    assert len(bands) > 100 and bands[3.0] == pytest.approx((info.band_lo, info.band_hi))
    for line in (2.5, 3.5):
        assert bands[line] == pytest.approx(scorer.band_for(line))
    (lo, hi), (lo25, hi25) = bands[3.5], bands[2.5]
    # A trailing comment: text the session server has not cached yet.
    codes = [json.loads(line)["code"] + "\n# band\n" for line in CORPUS.open()][::7][:400]
    fast = scorer.score_batch([Snippet(code=c, tier="fast") for c in codes])
    code = next(c for c, r in zip(codes, fast, strict=True)
                if lo <= r.score < hi and not lo25 <= r.score < hi25)  # fmt: skip

    def score(threshold: float) -> pb.ScoreResult:
        request = pb.ScoreRequest(snippet=pb.Snippet(code=code), tier="cascade")
        request.threshold = threshold
        return stub.Score(request, timeout=60)

    assert score(2.5).tier == "fast" and score(3.5).tier == "full" and score(2.5).tier == "fast"
    reqs = [pb.ScoreRequest(snippet=pb.Snippet(code=code), tier="cascade", threshold=t)
            for t in (3.5, 2.5, 3.5)]  # fmt: skip
    assert [r.tier for r in stub.ScoreStream(iter(reqs), timeout=60)] == ["full", "fast", "full"]


def test_fast_only_server_runs_without_torch_and_refuses_the_encoder(
    fast_server: RunningServer,
) -> None:
    maps = Path(f"/proc/{fast_server.process.pid}/maps").read_text()
    assert "libtorch" not in maps, "a --tier fast server mapped PyTorch"
    with grpc.insecure_channel(fast_server.address) as ch:
        stub = eduscore_pb2_grpc.EduScorerStub(ch)
        (result,) = stub.ScoreBatch(_batch("", TEXTBOOK), timeout=60).results
        assert result.tier == "fast" and 0.0 <= result.score <= 5.0
        info = stub.GetModelInfo(pb.GetModelInfoRequest(), timeout=60)
        assert info.default_tier == "fast" and list(info.tiers) == ["fast"]
        for tier in ("full", "cascade"):
            with pytest.raises(grpc.RpcError) as err:
                stub.ScoreBatch(_batch(tier, TEXTBOOK), timeout=60)
            assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert "loaded no encoder" in err.value.details()


def test_http_takes_the_tier_and_maps_refusals(fast_server: RunningServer) -> None:
    def post(body: dict) -> tuple[int, dict]:
        req = urllib.request.Request(
            fast_server.http_url + "/v1/score", json.dumps(body).encode(), method="POST"
        )
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    status, body = post({"snippet": {"code": TEXTBOOK}, "tier": "fast"})
    assert status == 200 and body["tier"] == "fast"
    status, body = post({"snippet": {"code": TEXTBOOK}, "tier": "full"})
    assert status == 400 and body["code"] == "FAILED_PRECONDITION"
    status, body = post({"snippet": {"code": TEXTBOOK}, "tier": 3})
    assert status == 400 and body["code"] == "INVALID_ARGUMENT" and "tier" in body["message"]
