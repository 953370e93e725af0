"""Synthetic scanned dossiers (fake people only) and their ground truth."""
