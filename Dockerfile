# aws-root-exporter image.
#   docker build -t aws-root-exporter .                  # production: the exporter only
#   docker build --target demo -t aws-root-exporter:demo .   # plus the fake AWS behind --demo
# Run against AWS:  docker run -p 10042:10042 aws-root-exporter   (credentials from the task or pod role)
# The base is pinned by tag and by the digest of its multi-architecture index (both FROM lines);
# to move to a newer patch release, change both tag and digest together.
# --build-arg VERSION=<release> sets the OCI version label.
# ---------------------------------------------------------------- builder: the wheel only
FROM python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
COPY pyproject.toml README.md ./
COPY exporter/ exporter/
RUN pip wheel --no-deps --wheel-dir /wheels .

# ---------------------------------------------------------------- runtime: wheel + runtime dependencies
FROM python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d AS runtime-base
ARG VERSION=dev
LABEL org.opencontainers.image.title="aws-root-exporter" \
      org.opencontainers.image.description="Prometheus exporter for the root user of every account in an AWS organization" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11.14-slim-bookworm" \
      org.opencontainers.image.base.digest="sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

COPY --from=builder /wheels/ /tmp/wheels/
RUN pip install /tmp/wheels/*.whl && rm -rf /tmp/wheels

COPY config.yaml /etc/aws-root-exporter/config.yaml

RUN groupadd --system --gid 10042 exporter \
    && useradd --system --uid 10042 --gid 10042 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin exporter
USER 10042:10042
WORKDIR /tmp

EXPOSE 10042

# /-/healthy answers 200 while the process runs; the address assumes the default listen address.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:10042/-/healthy', timeout=4)"]

ENTRYPOINT ["aws-root-exporter"]
CMD ["--config.file=/etc/aws-root-exporter/config.yaml"]

# ---------------------------------------------------------------- demo: adds the fake AWS organization (moto)
# For docker-compose.yml only (build target "demo"); never run this image against AWS.
FROM runtime-base AS demo
USER 0:0
COPY fakeaws/ /tmp/fakeaws/
RUN pip install /tmp/fakeaws && rm -rf /tmp/fakeaws
USER 10042:10042
CMD ["--demo", "--config.file=/etc/aws-root-exporter/config.yaml"]

# ---------------------------------------------------------------- the default target: production
FROM runtime-base AS runtime
