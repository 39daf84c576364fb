"""Porteiro directory service."""
