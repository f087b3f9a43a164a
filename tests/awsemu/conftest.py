"""Shared fixtures for the emulator suites: import paths and temp roots."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ENV_DIR = os.path.normpath(os.path.join(HERE, "..", "env"))
if ENV_DIR not in sys.path:
    sys.path.insert(0, ENV_DIR)
