"""Porteiro speech service."""
