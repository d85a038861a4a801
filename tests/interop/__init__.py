"""Helpers for the interoperability tests: shared cases and the zarr 3 subprocess driver."""
