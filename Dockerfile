# aws-root-exporter image. Build: docker build -t aws-root-exporter .
# Run against AWS:  docker run -p 10042:10042 -e AWS_... aws-root-exporter
# Run the demo:     docker run -p 10042:10042 aws-root-exporter --demo
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The `demo` extra brings the fake AWS organization, so `--demo` works in this image too.
WORKDIR /build
COPY pyproject.toml README.md ./
COPY exporter/ exporter/
RUN pip install ".[demo]" && rm -rf /build

COPY config.yaml /etc/aws-root-exporter/config.yaml

RUN groupadd --system --gid 10042 exporter \
    && useradd --system --uid 10042 --gid 10042 --create-home --home-dir /home/exporter \
       --shell /usr/sbin/nologin exporter
USER 10042:10042
WORKDIR /home/exporter

EXPOSE 10042

# /-/healthy answers 200 while the process runs; the address assumes the default listen address.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:10042/-/healthy', timeout=4)"]

ENTRYPOINT ["aws-root-exporter"]
CMD ["--config.file=/etc/aws-root-exporter/config.yaml"]
