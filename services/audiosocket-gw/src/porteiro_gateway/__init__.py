"""Porteiro gateway service."""
