"""A deliberately broken plugin: its metadata module fails to import."""
