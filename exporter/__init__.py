"""aws-root-exporter: root-user credential state of every AWS account, for Prometheus."""

__version__ = "0.1.0"
