"""Loopback simulators of every service the console reads, faithful to the wire formats.

Used by the tests and by `signer-tui demo`. They bind to 127.0.0.1 only.
"""
