"""A faithful local Genesys Cloud: real HTTP on 127.0.0.1, real answer shapes, a simulated org.

``GenesysEmulator`` is used in-process by tests and the local runner; ``email2chat emulator`` runs it by hand.
"""

from __future__ import annotations

from simulator.emulator.emulator import GenesysEmulator
from simulator.emulator.faults import ENDPOINTS

__all__ = ["ENDPOINTS", "GenesysEmulator"]
