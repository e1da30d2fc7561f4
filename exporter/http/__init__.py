"""The HTTP transport: content negotiation, the hardened server, TLS, basic auth, web config.

``exporter.web`` holds the WSGI application (routing, pages, the encode cache); this package
holds everything between it and the network.
"""
