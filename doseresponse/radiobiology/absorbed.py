"""Mean absorbed dose from time-integrated activity: MIRD schema and local energy deposition.

* :func:`absorbed_dose` — MIRD ``D(T) = Σ_S Ã_S · S(T←S)`` for any number of sources and targets,
  vectorised over leading axes (patients, voxels, posterior draws).
* :func:`local_deposition_s_value`, :func:`local_deposition_dose` — every non-penetrating
  emission absorbed where the decay happens, photons escape.
* :func:`dose_constant_gy_kg_per_gbq`, :func:`hanscheid_factor` — the practical constants built on
  local deposition (Y-90 microspheres, single-time-point Lu-177).
* :func:`single_time_point_tia` — time-integrated activity from one scan.
* :func:`rescale_s_value` — self-dose S value rescaled from phantom to patient mass.

Units: time-integrated activity (TIA) MBq·h, S value Gy/(MBq·h), dose Gy, mass kg, activity MBq,
time h.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from doseresponse._validation import as_float_array, check_scalar, finite_or_error
from doseresponse.exceptions import DoseResponseError
from doseresponse.radiobiology.nuclides import Nuclide, get_nuclide

__all__ = [
    "DECAYS_PER_MBQ_H",
    "J_PER_MEV",
    "absorbed_dose",
    "dose_constant_gy_kg_per_gbq",
    "hanscheid_factor",
    "local_deposition_dose",
    "local_deposition_s_value",
    "rescale_s_value",
    "single_time_point_tia",
]

J_PER_MEV = 1.602176634e-13
"""Joules per MeV (exact, SI 2019)."""

DECAYS_PER_MBQ_H = 3.6e9
"""Number of decays in 1 MBq·h (10⁶ Bq × 3600 s)."""

_LN2 = math.log(2.0)


@finite_or_error
def absorbed_dose(tia: ArrayLike, s_value: ArrayLike) -> float | NDArray[np.float64]:
    r"""Mean absorbed dose by the MIRD schema, :math:`D_T=\sum_S \tilde A_S\,S(T\leftarrow S)`.

    Parameters
    ----------
    tia : array_like
        Time-integrated activity Ã (MBq·h), >= 0. Shape ``(..., n_sources)`` with the source
        regions on the last axis, or any shape when ``s_value`` is a scalar.
    s_value : array_like
        S values (Gy/(MBq·h)), >= 0. Either a scalar — self-dose, ``D = Ã·S`` element-wise for
        ``tia`` of any shape (e.g. a voxel map with one S value) — or an array of shape
        ``(..., n_targets, n_sources)``: entry ``[t, s]`` is S(target t ← source s). A 1-D
        ``s_value`` is ambiguous and rejected: use shape ``(1, n_sources)`` for one target.

    Returns
    -------
    float or numpy.ndarray
        Absorbed dose (Gy). Scalar S: the shape of ``tia``. Matrix S: shape
        ``broadcast(tia.shape[:-1], s_value.shape[:-2]) + (n_targets,)``; leading axes broadcast
        by numpy rules, so one S matrix serves many patients / draws (``tia`` of shape
        ``(n_patients, n_sources)``) and per-patient S matrices (``(n_patients, n_targets,
        n_sources)``) pair with per-patient TIAs.

    Raises
    ------
    DoseResponseError
        Negative or non-finite inputs, a 1-D ``s_value``, or a source-axis length mismatch.

    Notes
    -----
    MIRD Pamphlet 21 (Bolch, Eckerman, Sgouros & Thomas 2009, J Nucl Med 50:477), eq. for the
    mean absorbed dose to target r_T over the dose-integration period: the sum over source
    regions of TIA times S(r_T ← r_S). Self-dose is the diagonal term S(T←T).

    Examples
    --------
    >>> float(absorbed_dose(1000.0, 2e-3))
    2.0
    >>> absorbed_dose([1000.0, 500.0], [[2e-3, 1e-4], [1e-4, 4e-3]]).round(4)
    array([2.05, 2.1 ])
    """
    a = as_float_array(tia, "tia", nonnegative=True, unit="MBq·h")
    s = as_float_array(s_value, "s_value", nonnegative=True, unit="Gy/(MBq·h)")
    if s.ndim == 0:
        dose = a * s
        return float(dose) if dose.ndim == 0 else dose
    if s.ndim == 1:
        raise DoseResponseError(
            f"s_value of shape {s.shape} is ambiguous; pass a scalar for self-dose or an array "
            "of shape (..., n_targets, n_sources), e.g. s_value[None, :] for one target."
        )
    if a.ndim == 0 or a.shape[-1] != s.shape[-1]:
        raise DoseResponseError(
            f"tia must have the source regions on its last axis, matching s_value's last axis "
            f"({s.shape[-1]} sources); got tia of shape {a.shape} and s_value of shape {s.shape}."
        )
    try:
        return np.matmul(s, a[..., None])[..., 0]
    except ValueError as exc:
        raise DoseResponseError(
            f"leading axes of tia {a.shape[:-1]} and s_value {s.shape[:-2]} do not broadcast "
            f"({exc})."
        ) from None


@finite_or_error
def local_deposition_s_value(
    nuclide: str | Nuclide, mass_kg: ArrayLike
) -> float | NDArray[np.float64]:
    r"""Self-dose S value assuming local deposition of all non-penetrating energy.

    Parameters
    ----------
    nuclide : str or Nuclide
        Nuclide name (any spelling accepted by :func:`get_nuclide`) or data.
    mass_kg : array_like
        Mass of the source/target region (kg), > 0; an array gives one S value per region or
        voxel.

    Returns
    -------
    float or numpy.ndarray
        S value (Gy/(MBq·h)), shape of ``mass_kg``.

    Notes
    -----
    :math:`S = E_{np}\cdot 1.602176634\times10^{-13}\,\mathrm{J/MeV}\cdot 3.6\times10^{9}/m`
    (MIRD Pamphlet 21, Bolch et al. 2009, J Nucl Med 50:477, with absorbed fraction 1 for
    electrons/α and 0 for photons; energies ICRP Publication 107, Eckerman & Endo 2008). For
    Lu-177 (E_np = 0.1479 MeV) and 1 kg this is 8.5306e-5 Gy/(MBq·h).

    Examples
    --------
    >>> round(local_deposition_s_value("Lu-177", 1.0), 10)
    8.53063e-05
    """
    data = get_nuclide(nuclide)
    m = as_float_array(mass_kg, "mass_kg", positive=True, unit="kg")
    s = data.mean_np_energy_mev * J_PER_MEV * DECAYS_PER_MBQ_H / m
    return float(s) if s.ndim == 0 else s


@finite_or_error
def local_deposition_dose(
    tia: ArrayLike, nuclide: str | Nuclide, mass_kg: ArrayLike
) -> float | NDArray[np.float64]:
    """Absorbed dose with local energy deposition, ``D = Ã · E_np · 5.7678e-4 / m``.

    Parameters
    ----------
    tia : array_like
        Time-integrated activity (MBq·h), >= 0.
    nuclide : str or Nuclide
        Nuclide name or data.
    mass_kg : array_like
        Mass (kg), > 0; broadcasts against ``tia`` (e.g. per-voxel masses).

    Returns
    -------
    float or numpy.ndarray
        Absorbed dose (Gy), the broadcast shape of ``tia`` and ``mass_kg``.

    Notes
    -----
    Local-energy-deposition approximation to the MIRD self-dose (Bolch et al. 2009, J Nucl Med
    50:477): all β, conversion- and Auger-electron (or α) energy is absorbed in the region where
    the decay occurs; photons escape. See :func:`local_deposition_s_value`.

    Examples
    --------
    >>> round(local_deposition_dose(28853.9, "Lu-177", 0.3), 3)
    8.205
    """
    a = as_float_array(tia, "tia", nonnegative=True, unit="MBq·h")
    s = np.asarray(local_deposition_s_value(nuclide, mass_kg))
    dose = a * s
    return float(dose) if dose.ndim == 0 else dose


def dose_constant_gy_kg_per_gbq(nuclide: str | Nuclide) -> float:
    r"""Energy deposited per GBq administered, full decay in place (Gy·kg/GBq = J/GBq).

    Parameters
    ----------
    nuclide : str or Nuclide
        Nuclide name or data.

    Returns
    -------
    float
        :math:`10^3\,\mathrm{MBq/GBq}\cdot (T_{1/2}/\ln 2)\cdot E_{np}\cdot
        1.602176634\times10^{-13}\cdot 3.6\times10^9` (Gy·kg/GBq). Dose for activity A (GBq)
        trapped permanently in mass M (kg) is ``constant · A / M``.

    Notes
    -----
    Permanent trapping (no biological clearance, as for Y-90 microspheres) with local energy
    deposition (Bolch et al. 2009, J Nucl Med 50:477). For Y-90 (T½ 64.1 h, E 0.9327 MeV)
    this gives 49.75 J/GBq; the literature value used in microsphere dosimetry
    (manufacturers' IFU; EANM 2022 radioembolisation guideline) is 49.67, 0.16 % lower because
    of the half-life and energy decimals.

    Examples
    --------
    >>> round(dose_constant_gy_kg_per_gbq("Y-90"), 2)
    49.75
    """
    data = get_nuclide(nuclide)
    return 1e3 * (data.half_life_h / _LN2) * float(local_deposition_s_value(data, 1.0))


def hanscheid_factor(nuclide: str | Nuclide, density_g_per_ml: float = 1.0) -> float:
    r"""Factor k of the single-time-point dose formula ``D = k · C(t) · 2^{t/T_eff} · T_eff``.

    Parameters
    ----------
    nuclide : str or Nuclide
        Nuclide name or data (the formula was published for Lu-177).
    density_g_per_ml : float, default 1.0
        Tissue density (g/mL), > 0.

    Returns
    -------
    float
        k in Gy·mL/(MBq·h): with C(t) the activity concentration (MBq/mL) measured at time t (h)
        and T_eff the effective half-life (h), D = k·C(t)·2^{t/T_eff}·T_eff (Gy).

    Notes
    -----
    :math:`k = E_{np}\cdot 1.602176634\times10^{-13}\cdot 3.6\times10^9 /
    (10^{-3}\rho)/\ln 2`, i.e. local energy deposition per mL of tissue divided by ln 2, since
    Ã/V = C(t)·2^{t/T_eff}·T_eff/ln 2 for a mono-exponential. For Lu-177 k = 0.1231; Hänscheid
    et al. 2018 (J Nucl Med 59:75) publish the rounded 0.125 (1.6 % higher; also used by the
    rpt_dosi ``dose_hanscheid2017`` implementation).

    Examples
    --------
    >>> round(hanscheid_factor("Lu-177"), 4)
    0.1231
    """
    rho = check_scalar(density_g_per_ml, "density_g_per_ml", positive=True, unit="g/mL")
    s_per_ml = float(local_deposition_s_value(nuclide, 1e-3 * rho))
    return s_per_ml / _LN2


@finite_or_error
def single_time_point_tia(
    activity_mbq: ArrayLike,
    time_h: ArrayLike,
    effective_half_life_h: ArrayLike | None = None,
) -> float | NDArray[np.float64]:
    r"""Time-integrated activity from a single measurement.

    Parameters
    ----------
    activity_mbq : array_like
        Activity measured at ``time_h`` (MBq), >= 0.
    time_h : array_like
        Time of the measurement after administration (h), > 0.
    effective_half_life_h : array_like, optional
        Population (or prior) effective half-life (h), > 0. When given, the Madsen et al. form
        is used; when ``None``, the Hänscheid approximation.

    Returns
    -------
    float or numpy.ndarray
        Ã (MBq·h), broadcast shape of the inputs.

    Notes
    -----
    * Hänscheid et al. 2018 (J Nucl Med 59:75), T_eff unknown: :math:`\tilde A \approx
      A(t)\cdot 2t/\ln 2`. For a mono-exponential the ratio to the true TIA is
      :math:`2x\,2^{-x}` with x = t/T_eff: exact at x = 1 and x = 2, at most +6.1 % (at
      x = 1/ln 2), and within ±10 % for 0.76 ≤ x ≤ 2.44 (it is −29 % at x = 0.5).
    * Madsen et al. 2018 (Med Phys 45:2318), population T_eff: :math:`\tilde A = A(t)
      e^{\lambda t}/\lambda` with λ = ln 2/T_eff, i.e. the mono-exponential through the
      measurement. Both coincide when t = T_eff.

    Examples
    --------
    >>> round(single_time_point_tia(10.0, 96.0), 2)
    2769.97
    >>> round(single_time_point_tia(10.0, 96.0, effective_half_life_h=96.0), 2)
    2769.97
    """
    a = as_float_array(activity_mbq, "activity_mbq", nonnegative=True, unit="MBq")
    t = as_float_array(time_h, "time_h", positive=True, unit="h")
    if effective_half_life_h is None:
        tia = a * 2.0 * t / _LN2
    else:
        half = as_float_array(
            effective_half_life_h, "effective_half_life_h", positive=True, unit="h"
        )
        lam = _LN2 / half
        tia = a * np.exp(lam * t) / lam
    return float(tia) if np.ndim(tia) == 0 else tia


@finite_or_error
def rescale_s_value(
    s_value: ArrayLike, phantom_mass_kg: ArrayLike, patient_mass_kg: ArrayLike
) -> float | NDArray[np.float64]:
    r"""Rescale a phantom self-dose S value to the patient's organ mass.

    Parameters
    ----------
    s_value : array_like
        Phantom S value (Gy/(MBq·h)), >= 0.
    phantom_mass_kg : array_like
        Organ mass of the phantom the S value was computed for (kg), > 0.
    patient_mass_kg : array_like
        Patient's organ mass (kg), > 0, e.g. from a CT segmentation.

    Returns
    -------
    float or numpy.ndarray
        :math:`S\cdot M_{phantom}/M_{patient}` (Gy/(MBq·h)).

    Notes
    -----
    Valid for the **non-penetrating self-dose** component only: the energy absorbed is then
    independent of mass, so S ∝ 1/M (MIRD Pamphlet 21, Bolch et al. 2009, J Nucl Med 50:477;
    MIRD 28 / MIRDcalc, Kesner et al. 2023, J Nucl Med 64:1117). Photon self-dose scales roughly
    as M^{-2/3} and cross-dose does not scale with the target mass this way; do not apply this
    function to them.

    Examples
    --------
    >>> round(rescale_s_value(1e-4, 0.31, 0.155), 6)
    0.0002
    """
    s = as_float_array(s_value, "s_value", nonnegative=True, unit="Gy/(MBq·h)")
    m_ph = as_float_array(phantom_mass_kg, "phantom_mass_kg", positive=True, unit="kg")
    m_pt = as_float_array(patient_mass_kg, "patient_mass_kg", positive=True, unit="kg")
    out = s * m_ph / m_pt
    return float(out) if out.ndim == 0 else out
