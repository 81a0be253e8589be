"""Radiobiology: from time-activity data to absorbed dose, BED, EQDx and EUD.

Pure numpy/scipy (no PyMC import). Units: time h, activity MBq, time-integrated activity MBq·h,
dose Gy, dose rate Gy/h, rate constants 1/h, α Gy⁻¹, α/β Gy, energies MeV.
"""

from doseresponse.radiobiology.doserate import DoseRate, ExponentialDoseRate, PiecewiseDoseRate

__all__ = ["DoseRate", "ExponentialDoseRate", "PiecewiseDoseRate"]
