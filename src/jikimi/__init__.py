"""Jikimi (지킴이): find, prove and take down deepfake sexual abuse imagery."""

__version__ = "0.1.0"
