"""Synthetic brain MRI: axial slices with one of 17 lesion types each.

Real scans cannot ship with the app, so it draws its own: a T1-weighted slice after contrast
(gadolinium) at the level of the lateral ventricles. Each picture has a scalp, a skull with its
marrow, a thin rim of cerebrospinal fluid, a folded cortex of grey matter over brighter white
matter, the deep grey nuclei, the interhemispheric fissure and the lateral and third ventricles.
Every slice differs: head pose and size, brain shape, gyral pattern, ventricle size, tissue
contrast, a smooth intensity inhomogeneity (coil bias) and Rician noise, the magnitude of
complex Gaussian noise, which is what MRI magnitude images carry.

The lesion is what the class is. Each type has a signature a radiologist would name: where it
sits, its shape and size, a sharp or infiltrative margin, solid or ring enhancement, a necrotic
or cystic core, calcified spots, vasogenic oedema (which spreads through white matter and spares
the cortex), several foci, and mass effect that squeezes the ventricles and shifts the midline.
`LESIONS` lists them. Everything is drawn in head coordinates, so the same seed gives the same
anatomy at any image size; images are deterministic per (seed, class, index).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from .dataset import Dataset, LoadProgress, stratified_split

MAX_SIZE = 224

# Tissue intensities of a T1-weighted image after contrast (before bias, noise and scaling).
AIR, FAT, BONE, MARROW, CSF = 0.0, 0.82, 0.07, 0.38, 0.10
GREY, WHITE, DEEP_GREY = 0.46, 0.66, 0.53
ENHANCING, NECROSIS, OEDEMA, CYST, CALCIFIED = 0.96, 0.16, 0.44, 0.13, 0.03
GAIN = 0.88  # maps those to picture values, leaving head room below 1 for the coil bias


@dataclass(frozen=True)
class Lesion:
    name: str
    abbreviation: str
    signature: str  # what distinguishes it, in a radiologist's words
    plan: Callable[[np.random.Generator], _Plan]


# -- geometry helpers (arrays of head or brain coordinates) ------------------------------------

def _coverage(d: np.ndarray, width: float) -> np.ndarray:
    """Fraction of a pixel inside the shape whose signed distance is d (negative inside)."""
    return np.clip(0.5 - d / max(width, 1e-6), 0.0, 1.0)


def _paint(img: np.ndarray, value, alpha: np.ndarray) -> None:
    img += alpha * (value - img)


def _angular_noise(rng: np.random.Generator, harmonics: int, amplitude: float,
                   decay: float = 1.0) -> Callable[[np.ndarray], np.ndarray]:
    """A smooth random function of the polar angle, evaluated on z = e^{iφ} (Horner's scheme:
    complex multiplies instead of one cosine per harmonic)."""
    coef = (amplitude * rng.normal(0, 1, harmonics) / np.arange(1, harmonics + 1) ** decay
            * np.exp(1j * rng.uniform(0, 2 * np.pi, harmonics)))

    def f(z: np.ndarray) -> np.ndarray:
        acc = np.full(z.shape, coef[-1], dtype=np.complex128)
        for c in coef[-2::-1]:
            acc *= z
            acc += c
        return (acc * z).real

    return f


def _capsule_sdf(x, y, a, b, ra: float, rb: float) -> np.ndarray:
    """Signed distance to a segment a→b whose radius goes from ra to rb."""
    ax, ay = a
    bx, by = b
    dx, dy = bx - ax, by - ay
    h = np.clip(((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy), 0.0, 1.0)
    return np.hypot(x - ax - h * dx, y - ay - h * dy) - (ra + h * (rb - ra))


def _ellipse_sdf(x, y, c, radii, angle: float = 0.0) -> np.ndarray:
    ca, sa = np.cos(angle), np.sin(angle)
    px, py = x - c[0], y - c[1]
    qx, qy = ca * px + sa * py, -sa * px + ca * py
    return (np.hypot(qx / radii[0], qy / radii[1]) - 1.0) * min(radii)


@dataclass
class _Blob:
    """A lesion outline: a circle of radius r around c, bent by a few angular harmonics."""

    c: tuple[float, float]
    r: float
    harmonics: list[tuple[int, float, float]] = field(default_factory=list)  # (k, amplitude, phase)

    @staticmethod
    def random(rng, c, r, irregularity: float, kmax: int = 5) -> _Blob:
        h = [(k, irregularity * rng.uniform(0.3, 1.0) / k ** 0.5, rng.uniform(0, 2 * np.pi))
             for k in range(2, kmax + 1)]
        return _Blob((float(c[0]), float(c[1])), float(r), h)

    def sdf(self, x, y) -> np.ndarray:
        dx, dy = x - self.c[0], y - self.c[1]
        rho = np.hypot(dx, dy)
        if not self.harmonics:
            return rho - self.r
        phi = np.arctan2(dy, dx)
        bend = np.ones_like(phi)
        for k, amp, ph in self.harmonics:
            bend += amp * np.cos(k * phi + ph)
        return rho - self.r * bend


# -- one slice ----------------------------------------------------------------------------------

@dataclass
class _Plan:
    """What a lesion needs before the anatomy is drawn (mass effect, ventricle size) and the
    function that draws it on top."""

    draw: Callable[[_Slice, np.random.Generator], None]
    pushes: list[tuple[tuple[float, float], float, float]] = field(default_factory=list)  # centre, strength, reach
    ventricles: float = 1.0  # enlargement (hydrocephalus)


class _Slice:
    """The pixel grid of one picture in head and brain coordinates, and the image being drawn."""

    def __init__(self, size: int, rng: np.random.Generator, plan: _Plan):
        self.size = size
        lin = (np.arange(size, dtype=np.float64) + 0.5) / size * 2.0 - 1.0
        X, Y = np.meshgrid(lin, -lin)  # row 0 is the top of the picture: anterior
        self.lin = lin
        scale = rng.uniform(0.80, 0.97)
        angle = float(np.clip(rng.normal(0, np.deg2rad(6)), -np.deg2rad(14), np.deg2rad(14)))
        tx, ty = rng.normal(0, 0.03, 2)
        ca, sa = np.cos(angle), np.sin(angle)
        Xc, Yc = X - tx, Y - ty
        self.u = (ca * Xc + sa * Yc) / scale  # head coordinates, about ±1 across the head
        self.v = (-sa * Xc + ca * Yc) / scale
        self.px = 2.0 / size / scale  # one pixel in head units
        # Head outline: an egg, narrower at the front.
        self.A = 0.75 * rng.uniform(0.93, 1.03)
        self.B = 0.93 * rng.uniform(0.97, 1.02)
        self.brain_q = 0.855 * rng.uniform(0.985, 1.015)
        # Brain units: the brain is about the unit disc.
        self.ka, self.kb = self.A * self.brain_q, self.B * self.brain_q
        self.bx, self.by = self.u / self.ka, self.v / self.kb
        self.unit = scale * 0.5 * (self.ka + self.kb)  # one brain unit in grid units
        self.bpx = self.px / (0.5 * (self.ka + self.kb))  # one pixel in brain units
        # Mass effect: brain anatomy is drawn at pulled-back coordinates, so it looks pushed.
        wx, wy = self.bx.copy(), self.by.copy()
        for (cx, cy), strength, reach in plan.pushes:
            g = strength * np.exp(-((self.bx - cx) ** 2 + (self.by - cy) ** 2) / (2 * reach ** 2))
            wx -= g * (self.bx - cx)
            wy -= g * (self.by - cy)
        self.wx, self.wy = wx, wy
        self.img = np.zeros((size, size))
        self.white = np.zeros((size, size))  # white-matter fraction (oedema spreads there)
        self.brain = np.zeros((size, size))
        self.ventricle_scale = plan.ventricles * float(np.clip(rng.normal(0.92, 0.12), 0.7, 1.25))
        self.contrast = rng.normal(0, 0.025, 3)  # grey, white, deep grey

    def field(self, rng: np.random.Generator, freq: tuple[float, float], modes: int = 8) -> np.ndarray:
        """A smooth random field of unit standard deviation: a sum of random plane waves with
        wavenumbers in `freq` (per brain unit). Each wave is separable on the pixel grid, so it
        costs one outer product; the field does not depend on the image size."""
        out = np.zeros((self.size, self.size))
        k_pix = 1.0 / self.unit  # brain units → grid units
        for _ in range(modes):
            k = rng.uniform(*freq) * k_pix
            a = rng.uniform(0, 2 * np.pi)
            wave_x = np.exp(1j * k * np.cos(a) * self.lin)
            wave_y = np.exp(-1j * k * np.sin(a) * self.lin)
            out += (np.outer(wave_y, wave_x) * np.exp(1j * rng.uniform(0, 2 * np.pi))).real
        return out * np.sqrt(2.0 / modes)

    def head_q(self, x, y) -> np.ndarray:
        A = self.A * (1.0 - 0.07 * y / self.B)
        return np.hypot(x / A, y / self.B)

    def draw_anatomy(self, rng: np.random.Generator) -> None:
        img, px = self.img, self.px
        q = self.head_q(self.u, self.v)
        wq = px / 0.85  # one pixel in q units
        scalp_t = rng.uniform(0.045, 0.065)
        bone_t = rng.uniform(0.05, 0.07)
        _paint(img, FAT, _coverage(q - 1.0, wq))
        inner_scalp = 1.0 - scalp_t
        _paint(img, BONE, _coverage(q - inner_scalp, wq))
        marrow = np.abs(q - (inner_scalp - 0.5 * bone_t)) - 0.22 * bone_t
        _paint(img, MARROW, 0.8 * _coverage(marrow, wq))
        inner_table = inner_scalp - bone_t
        self.inner_table = inner_table
        _paint(img, CSF, _coverage(q - inner_table, wq))

        # Brain, in pushed coordinates, with a gently irregular outline.
        x, y = self.wx, self.wy
        yy = y * (1.0 + 0.05 * y)
        rho = np.hypot(x, yy)
        phi = np.arctan2(yy, x)
        z = (x + 1j * yy) / np.maximum(rho, 1e-9)
        outline = 1.0 + _angular_noise(rng, 6, 0.012)(z)
        t = rho / outline  # 0 at the centre, 1 at the brain surface
        self.t, self.phi = t, phi
        bw = self.bpx
        brain = _coverage(t - 1.0, bw) * _coverage(q - inner_table + 0.006, wq)
        self.brain = brain
        _paint(img, GREY + self.contrast[0], brain)
        # Cortex: a ribbon of grey matter of even thickness lining the surface and every
        # sulcus; white matter fills the rest and reaches into each gyrus.
        n = int(rng.integers(30, 38))
        wobble = _angular_noise(rng, 10, 1.8, decay=0.4)
        slant = _angular_noise(rng, 9, 1.0, decay=0.2)
        curl = _angular_noise(rng, 9, 3.0, decay=0.2)
        deep = 1.0 - t
        phase = n * (phi + deep * slant(z) + deep ** 2 * curl(z)) + wobble(z)  # sulci lean and curve
        k = np.round((phase - np.pi) / (2 * np.pi))
        off = phase - np.pi - 2 * np.pi * k
        which = k.astype(int) % n
        depth = rng.uniform(0.05, 0.24, n)[which]
        d_sulcus = np.hypot(t * np.abs(off) / n, np.maximum((1.0 - depth) - t, 0.0))
        d_cortex = np.minimum(1.0 - t, d_sulcus)
        white = _coverage(rng.uniform(0.045, 0.06) - d_cortex, bw) * brain
        _paint(img, WHITE + self.contrast[1], white)
        width = rng.uniform(0.006, 0.016, n)[which] * (1.0 + 4.0 * np.clip(t - 0.95, 0.0, None) / 0.05)
        sulcus = _coverage(d_sulcus - width, bw) * brain
        _paint(img, CSF + 0.05, 0.75 * sulcus)
        self.white = white * (1.0 - sulcus)
        # Sylvian fissures: deep lateral clefts, slightly anterior.
        for side in (-1, 1):
            a0 = np.pi / 2 - side * (np.pi / 2 - rng.uniform(0.10, 0.22))
            d = np.abs(np.angle(np.exp(1j * (phi - a0)))) * t
            cleft = _coverage(d - 0.018, bw) * _coverage(0.62 - t, 2 * bw)
            _paint(img, CSF + 0.03, 0.85 * cleft * brain)
            self.white = self.white * (1.0 - cleft)

        # Deep grey nuclei: caudate heads, lentiform nuclei, thalami.
        g = DEEP_GREY + self.contrast[2]
        for s in (-1, 1):
            for c, radii, angle, value in (((0.23 * s, 0.25), (0.065, 0.11), 0.0, g),
                                          ((0.37 * s, 0.05), (0.07, 0.19), -0.3 * s, g - 0.02),
                                          ((0.13 * s, -0.09), (0.10, 0.14), 0.1 * s, g + 0.02)):
                nucleus = _coverage(_ellipse_sdf(x, y, c, radii, angle), 2 * bw)
                _paint(img, value, 0.85 * nucleus)
                self.white = self.white * (1.0 - nucleus)

        # Interhemispheric fissure with the falx, in front of the genu and behind the splenium.
        front = _coverage(rng.uniform(0.40, 0.48) - y, 2 * bw)
        back = _coverage(y + rng.uniform(0.52, 0.60), 2 * bw)
        fissure = _coverage(np.abs(x) - 0.022, bw) * (1.0 - (1.0 - front) * (1.0 - back)) * brain
        _paint(img, CSF + 0.02, 0.9 * fissure)
        self.white = self.white * (1.0 - fissure)

        # Lateral ventricles (frontal horn, body, atrium, occipital horn) and the third ventricle.
        v = self.ventricle_scale
        spread = 1.0 + 0.35 * (v - 1.0)
        self.atria = []
        vent = np.full_like(x, np.inf)
        for s in (-1, 1):
            pts = [((0.085 * s, 0.38), 0.04), ((0.10 * s, 0.25), 0.055), ((0.12 * s, 0.0), 0.035),
                   ((0.21 * s, -0.28), 0.06), ((0.17 * s, -0.46), 0.02)]
            pts = [((px_ * spread, py_ * (1 + 0.15 * (v - 1))), r * v) for (px_, py_), r in pts]
            for (a, ra), (b, rb) in zip(pts[:-1], pts[1:]):
                vent = np.minimum(vent, _capsule_sdf(x, y, a, b, ra, rb))
            self.atria.append(pts[3])
        vent = np.minimum(vent, _capsule_sdf(x, y, (0.0, 0.12), (0.0, -0.16), 0.016 * v ** 0.5,
                                             0.016 * v ** 0.5))
        ventricles = _coverage(vent, bw) * brain
        _paint(img, CSF, ventricles)
        self.white = self.white * (1.0 - ventricles)
        self.ventricles = ventricles
        for (c, r) in self.atria:  # choroid plexus, which enhances
            plexus = _coverage(np.hypot(x - c[0], y - c[1]) - 0.45 * r, bw)
            _paint(img, 0.72, 0.8 * plexus * ventricles)

        # Tissue texture (T1 images are smooth but not flat).
        tex = self.field(rng, (6.0, 16.0))
        self.img *= 1.0 + 0.025 * tex * brain

    # -- painting lesions ------------------------------------------------------------------------
    def within_skull(self) -> np.ndarray:
        return _coverage(self.head_q(self.u, self.v) - self.inner_table, self.px / 0.85)

    def oedema(self, blob: _Blob, reach: float, rng: np.random.Generator, value: float = OEDEMA) -> None:
        """Vasogenic oedema: spreads in fingers through white matter, spares the cortex."""
        fingers = self.field(rng, (8.0, 20.0), modes=6)
        d = blob.sdf(self.bx, self.by) - reach * (1.0 + 0.35 * fingers)
        w = _coverage(d, max(0.25 * reach, 2 * self.bpx)) * np.clip(self.white * 1.15, 0, 1)
        _paint(self.img, value, 0.9 * w)

    def solid(self, blob: _Blob, value: float, margin: float | None = None, alpha: float = 1.0,
              texture: float = 0.0, rng: np.random.Generator | None = None) -> np.ndarray:
        width = self.bpx if margin is None else max(margin, self.bpx)
        d = blob.sdf(self.bx, self.by)
        if margin is not None and margin > 2 * self.bpx and rng is not None:
            d = d + 0.5 * margin * self.field(rng, (10.0, 25.0), modes=6)
        m = _coverage(d, width) * self.within_skull()
        val = value
        if texture and rng is not None:
            val = value * (1.0 + texture * self.field(rng, (12.0, 30.0)))
        _paint(self.img, val, alpha * m)
        return m

    def ring(self, blob: _Blob, thickness: float, core: float, rim: float = ENHANCING,
             irregular: float = 0.0, rng: np.random.Generator | None = None) -> None:
        d = blob.sdf(self.bx, self.by)
        th = thickness
        if irregular and rng is not None:
            th = thickness * (1.0 + irregular * self.field(rng, (8.0, 22.0), modes=6))
            th = np.maximum(th, 0.3 * thickness)
        outer = _coverage(d, self.bpx)
        inner = _coverage(d + th, self.bpx)
        _paint(self.img, rim, outer)
        _paint(self.img, core, inner)

    def dots(self, centres, radius: float, value: float, alpha: float = 1.0) -> None:
        for c in centres:
            m = _coverage(np.hypot(self.bx - c[0], self.by - c[1]) - radius, self.bpx)
            _paint(self.img, value, alpha * m)


# -- where lesions sit (brain units, right hemisphere; mirrored by `side`) --------------------

LOBES = {  # polar angle range (degrees, 90 = anterior) and depth range (1 = surface)
    "frontal": ((48, 82), (0.35, 0.72)),
    "lateral": ((-12, 28), (0.48, 0.74)),
    "parietal": ((-58, -15), (0.40, 0.72)),
    "occipital": ((-86, -62), (0.45, 0.72)),
}


def _spot(rng, lobe: str, side: int, depth: tuple[float, float] | None = None) -> tuple[float, float]:
    (a0, a1), (r0, r1) = LOBES[lobe]
    if depth is not None:
        r0, r1 = depth
    a = np.deg2rad(rng.uniform(a0, a1))
    r = rng.uniform(r0, r1)
    return side * r * np.cos(a), r * np.sin(a)


def _side(rng) -> int:
    return int(rng.choice([-1, 1]))


def _scatter(rng, centre, spread: float, n: int, r: float) -> list[tuple[float, float]]:
    """n points within `spread` of centre, at least about 2r apart when possible."""
    pts: list[tuple[float, float]] = []
    for _ in range(60 * n):
        if len(pts) == n:
            break
        a, rho = rng.uniform(0, 2 * np.pi), spread * np.sqrt(rng.uniform())
        p = (centre[0] + rho * np.cos(a), centre[1] + rho * np.sin(a))
        if all(np.hypot(p[0] - q[0], p[1] - q[1]) > 2 * r for q in pts):
            pts.append(p)
    return pts


# -- the 17 lesion types -----------------------------------------------------------------------

def _glioblastoma(rng) -> _Plan:
    side = _side(rng)
    butterfly = rng.uniform() < 0.2
    if butterfly:  # across the corpus callosum into both hemispheres
        c = (rng.normal(0, 0.04), rng.choice([0.42, -0.5]) + rng.normal(0, 0.04))
    else:
        c = _spot(rng, str(rng.choice(["frontal", "lateral", "parietal"])), side, (0.30, 0.55))
    r = rng.uniform(0.22, 0.32)
    blob = _Blob.random(rng, c, r, rng.uniform(0.12, 0.22), kmax=6)
    if butterfly:
        blob.harmonics.append((2, 0.35, 0.0))  # wide across the midline

    def draw(s: _Slice, rng) -> None:
        s.oedema(blob, rng.uniform(0.14, 0.26), rng)
        s.ring(blob, rng.uniform(0.045, 0.075), NECROSIS + rng.uniform(0, 0.08), irregular=0.6, rng=rng)

    return _Plan(draw, pushes=[(c, rng.uniform(0.35, 0.55), 1.4 * r)])


def _low_grade_glioma(rng) -> _Plan:
    side = _side(rng)
    c = _spot(rng, str(rng.choice(["frontal", "lateral"])), side, (0.40, 0.70))
    r = rng.uniform(0.16, 0.26)
    blob = _Blob.random(rng, c, r, rng.uniform(0.08, 0.16))

    def draw(s: _Slice, rng) -> None:
        s.solid(blob, rng.uniform(0.36, 0.42), margin=rng.uniform(0.07, 0.11), texture=0.04, rng=rng)

    return _Plan(draw, pushes=[(c, rng.uniform(0.08, 0.18), 1.3 * r)])


def _oligodendroglioma(rng) -> _Plan:
    side = _side(rng)
    c = _spot(rng, "frontal", side, (0.58, 0.82))  # reaches the cortex
    r = rng.uniform(0.15, 0.22)
    blob = _Blob.random(rng, c, r, rng.uniform(0.1, 0.18))
    calc = _scatter(rng, c, 0.7 * r, int(rng.integers(3, 8)), 0.02)

    def draw(s: _Slice, rng) -> None:
        s.solid(blob, rng.uniform(0.38, 0.46), margin=rng.uniform(0.035, 0.06), texture=0.12, rng=rng)
        s.dots(calc, rng.uniform(0.016, 0.026), CALCIFIED)

    return _Plan(draw, pushes=[(c, rng.uniform(0.1, 0.2), 1.3 * r)])


def _ependymoma(rng) -> _Plan:
    side = _side(rng)
    c = (side * rng.uniform(0.30, 0.40), rng.uniform(-0.30, 0.05))  # against the ventricle wall
    r = rng.uniform(0.14, 0.20)
    blob = _Blob.random(rng, c, r, rng.uniform(0.08, 0.15))
    cysts = _scatter(rng, c, 0.55 * r, int(rng.integers(1, 4)), 0.045)
    calc = _scatter(rng, c, 0.6 * r, int(rng.integers(1, 3)), 0.02)

    def draw(s: _Slice, rng) -> None:
        s.oedema(blob, rng.uniform(0.03, 0.08), rng)
        s.solid(blob, rng.uniform(0.82, 0.9), texture=0.15, rng=rng)
        s.dots(cysts, rng.uniform(0.035, 0.055), CYST)
        s.dots(calc, 0.018, CALCIFIED)

    return _Plan(draw, pushes=[(c, rng.uniform(0.2, 0.35), 1.3 * r)])


def _ganglioglioma(rng) -> _Plan:
    side = _side(rng)
    c = _spot(rng, "lateral", side, (0.72, 0.86))  # temporal cortex
    r = rng.uniform(0.075, 0.11)
    blob = _Blob.random(rng, c, r, 0.04)
    a = rng.uniform(0, 2 * np.pi)
    nodule = (c[0] + 0.85 * r * np.cos(a), c[1] + 0.85 * r * np.sin(a))
    calcified = rng.uniform() < 0.5

    def draw(s: _Slice, rng) -> None:
        s.solid(blob, CYST + 0.05)
        s.dots([nodule], rng.uniform(0.032, 0.045), ENHANCING - 0.05)
        if calcified:
            s.dots([(c[0] - 0.5 * r * np.cos(a), c[1] - 0.5 * r * np.sin(a))], 0.016, CALCIFIED)

    return _Plan(draw)


def _pilocytic(rng) -> _Plan:
    side = _side(rng)
    c = _spot(rng, "occipital", side, (0.40, 0.65))
    r = rng.uniform(0.15, 0.21)
    blob = _Blob.random(rng, c, r, 0.04)
    a = rng.uniform(0, 2 * np.pi)
    nr = rng.uniform(0.055, 0.08)
    nodule = (c[0] + (r - 0.5 * nr) * np.cos(a), c[1] + (r - 0.5 * nr) * np.sin(a))

    def draw(s: _Slice, rng) -> None:
        s.solid(blob, CYST + 0.09)  # proteinaceous: a little brighter than CSF
        s.ring(blob, 0.012, CYST + 0.09, rim=0.6)
        s.dots([nodule], nr, ENHANCING)

    return _Plan(draw, pushes=[(c, rng.uniform(0.15, 0.3), 1.3 * r)])


def _meningioma(rng) -> _Plan:
    # Extra-axial: a broad base on the inner table of the skull, pushing the brain in.
    side = _side(rng)
    falx = rng.uniform() < 0.2
    if falx:
        c = (side * rng.uniform(0.02, 0.06), rng.uniform(0.45, 0.75))
        normal = (-side, 0.0)
    else:
        a = rng.uniform(-np.pi * 0.45, np.pi * 0.45) if rng.uniform() < 0.5 else rng.uniform(0.2, 0.45) * np.pi
        c = (side * 1.0 * np.cos(a), 1.0 * np.sin(a) * 0.97)
        normal = (-np.cos(a) * side, -np.sin(a))
    r = rng.uniform(0.16, 0.24)
    blob = _Blob.random(rng, c, r, 0.05)
    push_c = (c[0] + 0.3 * r * normal[0], c[1] + 0.3 * r * normal[1])

    def draw(s: _Slice, rng) -> None:
        if rng.uniform() < 0.3:
            s.oedema(blob, rng.uniform(0.04, 0.1), rng)
        cleft = _Blob(blob.c, blob.r + 0.03, blob.harmonics)  # CSF cleft between tumour and brain
        s.solid(cleft, CSF + 0.03, alpha=0.7)
        s.solid(blob, rng.uniform(0.82, 0.92), texture=0.04, rng=rng)
        # Dural tail: enhancing dura tapering away along the inner table.
        if not falx:
            q = s.head_q(s.u, s.v)
            ang = np.arctan2(s.by, s.bx)
            a0 = np.arctan2(c[1], c[0])
            dang = np.abs(np.angle(np.exp(1j * (ang - a0))))
            tail = _coverage(np.abs(q - s.inner_table + 0.012) - 0.008, s.px) * _coverage(dang - 0.55, 0.25)
            _paint(s.img, 0.8, 0.8 * tail)

    return _Plan(draw, pushes=[(push_c, rng.uniform(0.35, 0.5), 1.2 * r)])


def _neurocytoma(rng) -> _Plan:
    side = _side(rng)
    c = (side * rng.uniform(0.08, 0.13), rng.uniform(-0.05, 0.18))  # in the ventricle, by the septum
    r = rng.uniform(0.10, 0.14)
    blob = _Blob.random(rng, c, r, 0.1)
    bubbles = _scatter(rng, c, 0.8 * r, int(rng.integers(5, 10)), 0.02)

    def draw(s: _Slice, rng) -> None:
        s.solid(blob, rng.uniform(0.58, 0.68), texture=0.08, rng=rng)
        s.dots(bubbles, rng.uniform(0.014, 0.024), CYST + 0.04)

    return _Plan(draw, pushes=[(c, 0.1, r)], ventricles=rng.uniform(1.3, 1.55))


def _germinoma(rng) -> _Plan:
    c = (rng.normal(0, 0.02), rng.uniform(-0.30, -0.20))  # pineal region, behind the third ventricle
    r = rng.uniform(0.08, 0.12)
    blob = _Blob.random(rng, c, r, 0.05)

    def draw(s: _Slice, rng) -> None:
        s.solid(blob, rng.uniform(0.84, 0.92), texture=0.05, rng=rng)

    return _Plan(draw, pushes=[(c, 0.2, 1.2 * r)], ventricles=rng.uniform(1.15, 1.4))


def _choroid_plexus_papilloma(rng) -> _Plan:
    side = _side(rng)
    v = rng.uniform(1.5, 1.85)
    spread = 1.0 + 0.35 * (v - 1.0)
    c = (side * 0.21 * spread + rng.normal(0, 0.02), -0.28 * (1 + 0.15 * (v - 1)) + rng.normal(0, 0.02))
    r = rng.uniform(0.08, 0.12)
    blob = _Blob(c, r, [(k, rng.uniform(0.05, 0.12), rng.uniform(0, 2 * np.pi)) for k in (5, 7, 9)])

    def draw(s: _Slice, rng) -> None:
        s.solid(blob, ENHANCING - 0.03, texture=0.12, rng=rng)

    return _Plan(draw, ventricles=v)


def _metastases(rng) -> _Plan:
    n = int(rng.integers(2, 6))
    centres = []
    for _ in range(60):
        if len(centres) == n:
            break
        lobe = str(rng.choice(list(LOBES)))
        p = _spot(rng, lobe, _side(rng), (0.62, 0.80))  # grey-white junction
        if all(np.hypot(p[0] - q[0], p[1] - q[1]) > 0.25 for q in centres):
            centres.append(p)
    blobs = [_Blob.random(rng, p, rng.uniform(0.05, 0.09), 0.05) for p in centres]

    def draw(s: _Slice, rng) -> None:
        for b in blobs:
            s.oedema(b, rng.uniform(1.5, 2.8) * b.r, rng)
        for b in blobs:
            if b.r > 0.07:
                s.ring(b, 0.028, NECROSIS + 0.1)
            else:
                s.solid(b, ENHANCING - 0.05)

    return _Plan(draw)


def _lymphoma(rng) -> _Plan:
    side = _side(rng)
    across = rng.uniform() < 0.4
    c = (0.0 if across else side * rng.uniform(0.12, 0.28), rng.uniform(0.10, 0.35))  # deep, periventricular
    r = rng.uniform(0.12, 0.18)
    blob = _Blob.random(rng, c, r, rng.uniform(0.08, 0.14))
    if across:
        blob.harmonics.append((2, 0.3, 0.0))

    def draw(s: _Slice, rng) -> None:
        s.oedema(blob, rng.uniform(0.06, 0.12), rng)
        s.solid(blob, rng.uniform(0.78, 0.86), margin=rng.uniform(0.02, 0.035), texture=0.04, rng=rng)

    return _Plan(draw, pushes=[(c, rng.uniform(0.15, 0.25), 1.3 * r)])


def _abscess(rng) -> _Plan:
    side = _side(rng)
    c = _spot(rng, str(rng.choice(list(LOBES))), side, (0.45, 0.70))
    r = rng.uniform(0.11, 0.16)
    blob = _Blob.random(rng, c, r, 0.03)
    daughter = None
    if rng.uniform() < 0.3:
        a = rng.uniform(0, 2 * np.pi)
        daughter = _Blob.random(rng, (c[0] + 1.1 * r * np.cos(a), c[1] + 1.1 * r * np.sin(a)), 0.5 * r, 0.03)

    def draw(s: _Slice, rng) -> None:
        s.oedema(blob, rng.uniform(0.10, 0.18), rng)
        th = rng.uniform(0.018, 0.026)
        for b in (blob, daughter):
            if b is not None:
                s.ring(b, th, NECROSIS - 0.02)

    return _Plan(draw, pushes=[(c, rng.uniform(0.15, 0.3), 1.3 * r)])


def _tuberculoma(rng) -> _Plan:
    side = _side(rng)
    c = _spot(rng, str(rng.choice(list(LOBES))), side, (0.55, 0.80))
    n = int(rng.integers(1, 4))
    rs = rng.uniform(0.065, 0.09, n)
    centres = _scatter(rng, c, 0.08 * n, n, float(rs.max()))
    blobs = [_Blob.random(rng, p, r, 0.04) for p, r in zip(centres, rs)]

    def draw(s: _Slice, rng) -> None:
        for b in blobs:
            s.oedema(b, rng.uniform(0.4, 0.8) * b.r, rng)
        for b in blobs:
            s.ring(b, 0.03, 0.28)
            s.dots([b.c], 0.016, ENHANCING)  # target sign: a central dot

    return _Plan(draw)


def _cavernoma(rng) -> _Plan:
    side = _side(rng)
    lobe = str(rng.choice(list(LOBES)))
    c = _spot(rng, lobe, side, (0.25, 0.75))
    r = rng.uniform(0.08, 0.11)
    blob = _Blob.random(rng, c, r, 0.12)

    def draw(s: _Slice, rng) -> None:
        # Popcorn: blood of different ages inside a dark ring of haemosiderin; no oedema.
        s.ring(blob, rng.uniform(0.022, 0.03), 0.55, rim=0.04)
        pop = s.field(rng, (40.0, 70.0), modes=6)
        core = _coverage(blob.sdf(s.bx, s.by) + 0.02, s.bpx)
        _paint(s.img, 0.55 + 0.3 * np.tanh(2 * pop), core)

    return _Plan(draw)


def _dnet(rng) -> _Plan:
    side = _side(rng)
    c = _spot(rng, str(rng.choice(["lateral", "frontal"])), side, (0.78, 0.90))  # cortical
    r = rng.uniform(0.12, 0.17)
    blob = _Blob.random(rng, c, r, 0.15)
    bubbles = _scatter(rng, c, 0.9 * r, int(rng.integers(9, 15)), 0.02)

    def draw(s: _Slice, rng) -> None:
        s.solid(blob, 0.27, margin=0.015)
        s.dots(bubbles, rng.uniform(0.02, 0.032), CSF + 0.03)

    return _Plan(draw)


def _colloid_cyst(rng) -> _Plan:
    c = (rng.normal(0, 0.012), rng.uniform(0.12, 0.18))  # foramen of Monro
    r = rng.uniform(0.04, 0.06)
    blob = _Blob.random(rng, c, r, 0.03)

    def draw(s: _Slice, rng) -> None:
        s.solid(blob, rng.uniform(0.86, 0.95))

    return _Plan(draw, ventricles=rng.uniform(1.6, 2.0))


LESIONS: tuple[Lesion, ...] = (
    Lesion("glioblastoma", "GBM", "large, irregular thick ring around a necrotic core; much oedema; "
           "mass effect; can cross the midline", _glioblastoma),
    Lesion("low-grade glioma", "LGG", "dark, homogeneous, infiltrative margin, no enhancement, "
           "no oedema", _low_grade_glioma),
    Lesion("oligodendroglioma", "ODG", "frontal, reaching the cortex, ill-defined, coarse calcified spots",
           _oligodendroglioma),
    Lesion("ependymoma", "EPN", "against a ventricle; enhancing, heterogeneous, small cysts and "
           "calcifications", _ependymoma),
    Lesion("ganglioglioma", "GG", "temporal cortex; small cyst with an enhancing mural nodule",
           _ganglioglioma),
    Lesion("pilocytic astrocytoma", "PA", "posterior; large cyst with a bright mural nodule", _pilocytic),
    Lesion("meningioma", "MEN", "outside the brain on the skull or falx; bright, sharp, dural tail, "
           "pushes the cortex in", _meningioma),
    Lesion("central neurocytoma", "CN", "inside a lateral ventricle by the septum; bubbly; "
           "enlarged ventricles", _neurocytoma),
    Lesion("germinoma", "GER", "midline, pineal region; round, homogeneous enhancement", _germinoma),
    Lesion("choroid plexus papilloma", "CPP", "in the atrium of a ventricle; lobulated, very bright; "
           "hydrocephalus", _choroid_plexus_papilloma),
    Lesion("metastases", "MET", "several small enhancing nodules or rings at the grey-white junction; "
           "oedema out of proportion", _metastases),
    Lesion("lymphoma", "PCNSL", "deep, beside the ventricles; solid homogeneous enhancement, no necrosis",
           _lymphoma),
    Lesion("abscess", "ABS", "round, thin smooth ring, dark core, oedema; sometimes a daughter ring",
           _abscess),
    Lesion("tuberculoma", "TB", "one to three small rings in a cluster, each with a central dot",
           _tuberculoma),
    Lesion("cavernoma", "CAV", "small popcorn of mixed signal inside a dark rim; no oedema", _cavernoma),
    Lesion("DNET", "DNET", "cortical, bubbly cluster of small cysts; no enhancement, no oedema", _dnet),
    Lesion("colloid cyst", "CC", "small bright ball at the foramen of Monro; large lateral ventricles",
           _colloid_cyst),
)
CLASS_NAMES = [lesion.name for lesion in LESIONS]


def phantom_slice(label: int, size: int = 64, noise: float = 0.05, seed: int = 0, index: int = 0) -> np.ndarray:
    """One picture, (size, size) float32 in [0, 1], of lesion type `label`.

    Deterministic in (seed, label, index); the anatomy does not depend on `size`.
    """
    rng = np.random.default_rng([int(seed) & 0x7FFFFFFF, int(label), int(index)])
    plan = LESIONS[label].plan(rng)
    s = _Slice(size, rng, plan)
    s.draw_anatomy(rng)
    plan.draw(s, rng)
    img = s.img
    # Coil inhomogeneity (a smooth multiplicative field) and the scanner's gain. The pictures
    # are not rescaled one by one: a tissue keeps about the same brightness in every picture,
    # as after the intensity normalisation of a clinical pipeline.
    u, v = s.u, s.v
    c = rng.normal(0, 0.12, 4)
    img *= GAIN * rng.uniform(0.93, 1.07) * np.exp(c[0] * u + c[1] * v + c[2] * (u * u - v * v) + c[3] * u * v)
    # Rician noise: the magnitude of the signal plus complex Gaussian noise.
    sigma = noise * rng.uniform(0.75, 1.25)
    if sigma > 0:
        noise_rng = np.random.default_rng([int(seed) & 0x7FFFFFFF, int(label), int(index), int(size)])
        re = img + noise_rng.normal(0, sigma, img.shape)
        im = noise_rng.normal(0, sigma, img.shape)
        img = np.hypot(re, im)
    return np.clip(img, 0.0, 1.0).astype(np.float32)


_CACHE: OrderedDict[tuple, np.ndarray] = OrderedDict()
_CACHE_LOCK = threading.Lock()
CACHE_ENTRIES = 2


def _check(n_per_class: int, size: int, n_classes: int, noise: float) -> None:
    if not 2 <= n_classes <= len(LESIONS):
        raise ValueError(f"n_classes must lie between 2 and {len(LESIONS)}, got {n_classes}")
    if n_per_class < 2:
        raise ValueError(f"each class needs at least 2 images (one to train, one to test), got {n_per_class}")
    if not 8 <= size <= MAX_SIZE:
        raise ValueError(f"image size must lie between 8 and {MAX_SIZE} pixels, got {size}")
    if noise < 0:
        raise ValueError(f"noise must be ≥ 0, got {noise}")


def phantoms_cached(n_per_class: int, size: int, n_classes: int, noise: float, seed: int) -> bool:
    """True when these pictures were drawn recently (asking for them again costs nothing)."""
    rest = [size, n_classes, float(noise), int(seed)]
    with _CACHE_LOCK:
        return any(n >= n_per_class and list(r) == rest for (n, *r) in _CACHE)


def iter_mri_phantoms(n_per_class: int = 40, size: int = 64, n_classes: int = 17, noise: float = 0.05,
                      test_fraction: float = 0.2, seed: int = 0) -> Iterator[LoadProgress | Dataset]:
    """`mri_phantoms` as a generator: LoadProgress after each class, the Dataset last (close it to
    cancel). The pictures of the last two settings are kept, so asking again costs nothing."""
    _check(n_per_class, size, n_classes, noise)
    key = (n_per_class, size, n_classes, float(noise), int(seed))
    total = n_classes * n_per_class
    with _CACHE_LOCK:
        X = _CACHE.get(key)
        if X is None:  # picture k of a class is the same whatever the count: take a prefix
            for (n, *rest), pics in _CACHE.items():
                if rest == list(key[1:]) and n >= n_per_class:
                    X = pics.reshape(n_classes, n, 1, size, size)[:, :n_per_class].reshape(total, 1, size, size)
                    break
    if X is None:
        X = np.empty((total, 1, size, size), dtype=np.float32)
        yield LoadProgress(0, total, "drawing MRI phantoms")
        for c in range(n_classes):
            for k in range(n_per_class):
                X[c * n_per_class + k, 0] = phantom_slice(c, size, noise, seed, k)
            yield LoadProgress((c + 1) * n_per_class, total, f"drawing MRI phantoms: {LESIONS[c].name}")
        X.setflags(write=False)
        with _CACHE_LOCK:
            _CACHE[key] = X
            while len(_CACHE) > CACHE_ENTRIES:
                _CACHE.popitem(last=False)
    y = np.repeat(np.arange(n_classes, dtype=np.int64), n_per_class)
    # The split copies the pictures, so the cached ones stay untouched.
    Xtr, ytr, Xte, yte = stratified_split(X, y, test_fraction, np.random.default_rng([int(seed) & 0x7FFFFFFF, 7919]))
    yield Dataset(
        name="mri",
        X_train=torch.from_numpy(np.ascontiguousarray(Xtr)),
        y_train=torch.from_numpy(ytr),
        X_test=torch.from_numpy(np.ascontiguousarray(Xte)),
        y_test=torch.from_numpy(yte),
        n_classes=n_classes,
        input_shape=(1, size, size),
        class_names=CLASS_NAMES[:n_classes],
        image_shape=(size, size),
    )


def mri_phantoms(n_per_class: int = 40, size: int = 64, n_classes: int = 17, noise: float = 0.05,
                 test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """Synthetic axial brain MRI slices, `n_per_class` of each of `n_classes` lesion types.

    X is (N, 1, size, size), float32 in [0, 1]; `class_names` names the lesions (see `LESIONS`
    for each one's signature). `noise` is the standard deviation of the complex Gaussian noise
    on the [0, 1] scale (0.05: a clinical-looking picture). The split is stratified;
    everything is deterministic per seed.
    """
    *_, dataset = iter_mri_phantoms(n_per_class, size, n_classes, noise, test_fraction, seed)
    return dataset
