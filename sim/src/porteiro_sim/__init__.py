"""Simulators of Asterisk (visitor side) and of the PBX (resident side)."""
