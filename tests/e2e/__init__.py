"""End-to-end tests: the real exporter, Prometheus and Alertmanager over loopback HTTP."""
