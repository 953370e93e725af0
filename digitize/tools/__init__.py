"""Wrappers around external programs: the only places that build their command lines."""
