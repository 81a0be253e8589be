"""Dose-response curve families (TCP/NTCP) and models."""
