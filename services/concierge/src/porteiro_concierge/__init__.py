"""Porteiro concierge service."""
