"""Porteiro register service: the visitor register (one record per finished call) in PostgreSQL."""
