# eduscore: one container with the embedding model and the shipped classifier baked in.
#   docker build -t eduscore .
#   docker run --rm -p 50051:50051 -p 9100:9100 eduscore
# No registry here? Build a local base with ../shared/tools/local-base-image.sh and pass it as
# BASE_IMAGE; point TORCH_FIND_LINKS at a folder holding the CPU torch wheel (mount it at /wheels).
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
# Where pip finds the CPU build of torch: the PyTorch CPU index by default, or a local folder.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG TORCH_FIND_LINKS=
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
RUN if [ -n "$TORCH_FIND_LINKS" ]; then \
      pip install --find-links "$TORCH_FIND_LINKS" torch==2.13.0; \
    else \
      pip install --index-url "$TORCH_INDEX_URL" --extra-index-url https://pypi.org/simple torch==2.13.0; \
    fi
WORKDIR /src
COPY pyproject.toml README.md ./
COPY service ./service
RUN pip install . && rm -rf /opt/venv/lib/python3.11/site-packages/torch/include \
    && find /opt/venv -name __pycache__ -prune -exec rm -rf {} +

FROM ${BASE_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    PYTHONUNBUFFERED=1 \
    EDUSCORE_MODEL_DIR=/app/models/current \
    EDUSCORE_LOG_FORMAT=json
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin eduscore
COPY --from=build /opt/venv /opt/venv
COPY --chown=root:root models/current /app/models/current
USER 10001
WORKDIR /app
EXPOSE 50051 9100
# SIGTERM drains: health NOT_SERVING, new RPCs refused, in-flight ones get the grace period.
STOPSIGNAL SIGTERM
ENV EDUSCORE_GRACE_PERIOD_S=20
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python3", "-m", "eduscore.healthcheck", "127.0.0.1:50051"]
ENTRYPOINT ["eduscore"]
CMD ["serve"]
