"""LNS pieces (LNS-Madam): field decode, log-domain multiplier, log-to-linear converter."""

from .pieces import LNSMul, LogToLinear, lns_fields

__all__ = ["LNSMul", "LogToLinear", "lns_fields"]
