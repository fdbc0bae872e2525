"""The Dockerfile: its parser, line reader and word expansion, and the map from its
instructions to an image's history entries (and so to layers and findings)."""
