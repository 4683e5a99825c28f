"""The 40 tasks of the bmi v1 benchmark, generated here from their definitions with numpy and scipy.

Reference: P. Czyz, F. Grabowski, J. E. Vogt, N. Beerenwinkel & A. Marx, "Beyond Normal: On the
Evaluation of Mutual Information Estimators", NeurIPS 2023 (the ``bmi`` package, task list v1).
Written from the paper's and the package's task definitions, not copied; the ids are the package's,
so a row here can be matched with its published results.

Every task is a pair (X, Y) with I(X;Y) known in closed form:

- multivariate normal with covariance S split into blocks S_xx, S_yy:
  I = (1/2) [log det S_xx + log det S_yy - log det S];
- multivariate Student-t with dispersion S and nu degrees of freedom: the normal term of S plus
  c(nu, d_x, d_y) = h(d_x) + h(d_y) - h(d_x + d_y), where h(k) is the entropy of a standard
  k-dimensional Student-t (Arellano-Valle, Contreras-Reyes & Genton 2013, eq. 7):
  h(k) = log G(nu/2) - log G((nu + k)/2) + (k/2) log(nu pi) + ((nu + k)/2) [psi((nu + k)/2) - psi(nu/2)];
- X ~ U(0, 1), Y = X + U(-e, e): I = e - log(2e) for e <= 1/2, 1/(4e) otherwise;
- any of these with a diffeomorphism applied to X and one to Y (half-cube x |x|^(1/2), asinh, the
  normal CDF, the "wiggly" maps, inverse CDFs of Gaussian mixtures, the spiral x -> R(|x|^2) x, the
  Swiss-roll embedding of [0, 1] into the plane): I is invariant under them, so the truth stays.

Truths are in nats internally (as in the paper) and reported in bits by ``Task.truth_bits``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from scipy.special import digamma, gammaln, ndtr

Sampler = Callable[[int, np.random.Generator], tuple[np.ndarray, np.ndarray]]
Map = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Task:
    """A pair distribution with known MI: ``sample(n, generator)`` gives X (n, dim_x) and Y (n, dim_y)."""

    id: str
    name: str
    dim_x: int
    dim_y: int
    truth_nats: float
    sample: Sampler

    @property
    def truth_bits(self) -> float:
        return self.truth_nats / math.log(2)


# ---------------------------------------------------------------- closed forms


def gaussian_mi_nats(covariance: np.ndarray, dim_x: int) -> float:
    """I(X;Y) of a normal (X, Y) whose covariance (or dispersion) is ``covariance``, X its first dim_x coordinates."""
    covariance = np.asarray(covariance, dtype=float)
    logdet = lambda block: np.linalg.slogdet(block)[1]  # noqa: E731
    return 0.5 * (logdet(covariance[:dim_x, :dim_x]) + logdet(covariance[dim_x:, dim_x:]) - logdet(covariance))


def student_entropy_nats(k: int, dof: float) -> float:
    """Differential entropy of the standard k-dimensional Student-t with ``dof`` degrees of freedom."""
    half = 0.5 * (dof + k)
    return float(
        gammaln(0.5 * dof)
        - gammaln(half)
        + 0.5 * k * math.log(dof * math.pi)
        + half * (digamma(half) - digamma(0.5 * dof))
    )


def student_correction_nats(dof: float, dim_x: int, dim_y: int) -> float:
    """The Student-t term of I(X;Y): it depends on the dimensions and the degrees of freedom only."""
    return (
        student_entropy_nats(dim_x, dof) + student_entropy_nats(dim_y, dof) - student_entropy_nats(dim_x + dim_y, dof)
    )


def additive_uniform_mi_nats(epsilon: float) -> float:
    return 0.25 / epsilon if epsilon > 0.5 else epsilon - math.log(2 * epsilon)


# ---------------------------------------------------------------- base distributions


def dense_covariance(dim_x: int, dim_y: int, off_diagonal: float = 0.5) -> np.ndarray:
    """Unit variances, every pair of distinct coordinates correlated by ``off_diagonal``."""
    n = dim_x + dim_y
    return np.eye(n) * (1 - off_diagonal) + off_diagonal


def sparse_correlation(dim_x: int, dim_y: int, n_interacting: int = 2, strength: float = 2.0) -> np.ndarray:
    """The 'sparse' (2-pair) latent-variable model of the benchmark, as a correlation matrix.

    X_i = strength Z_i + E_i and Y_i = strength Z_i + F_i for i < n_interacting; the other coordinates
    get the same variance from their own noise (X_i = E_i + strength V_i): every variance is
    1 + strength^2 and only the first ``n_interacting`` pairs (X_i, Y_i) are correlated, by
    strength^2 / (1 + strength^2) (0.8 at strength 2). All latents are independent N(0, 1).
    """
    n = dim_x + dim_y
    covariance = np.eye(n) * (1.0 + strength**2)
    for i in range(n_interacting):
        covariance[i, dim_x + i] = covariance[dim_x + i, i] = strength**2
    variance = np.diag(covariance)
    return covariance / np.sqrt(np.outer(variance, variance))


def normal_task(task_id: str, name: str, covariance: np.ndarray, dim_x: int) -> Task:
    covariance = np.asarray(covariance, dtype=float)
    factor = np.linalg.cholesky(covariance)

    def sample(n: int, generator: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        xy = generator.standard_normal((n, len(covariance))) @ factor.T
        return xy[:, :dim_x], xy[:, dim_x:]

    return Task(task_id, name, dim_x, len(covariance) - dim_x, gaussian_mi_nats(covariance, dim_x), sample)


def student_task(task_id: str, name: str, dispersion: np.ndarray, dim_x: int, dof: int) -> Task:
    """Multivariate Student-t: a normal N(0, dispersion) divided by sqrt(W / dof), W ~ chi^2(dof), one W per row."""
    dispersion = np.asarray(dispersion, dtype=float)
    factor = np.linalg.cholesky(dispersion)
    dim_y = len(dispersion) - dim_x

    def sample(n: int, generator: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        normal = generator.standard_normal((n, len(dispersion))) @ factor.T
        xy = normal / np.sqrt(generator.chisquare(dof, size=(n, 1)) / dof)
        return xy[:, :dim_x], xy[:, dim_x:]

    truth = gaussian_mi_nats(dispersion, dim_x) + student_correction_nats(dof, dim_x, dim_y)
    return Task(task_id, name, dim_x, dim_y, truth, sample)


def additive_task(epsilon: float) -> Task:
    def sample(n: int, generator: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        x = generator.uniform(0.0, 1.0, size=(n, 1))
        return x, x + generator.uniform(-epsilon, epsilon, size=(n, 1))

    return Task(
        f"1v1-additive-{epsilon}",
        f"Uniform 1 x 1 (additive noise={epsilon})",
        1,
        1,
        additive_uniform_mi_nats(epsilon),
        sample,
    )


# ---------------------------------------------------------------- diffeomorphisms


def half_cube(x: np.ndarray) -> np.ndarray:
    return x * np.sqrt(np.abs(x))


def wiggly_x(x: np.ndarray) -> np.ndarray:
    return x + 0.4 * np.sin(1.0 * x) + 0.2 * np.sin(1.7 * x + 1) + 0.03 * np.sin(3.3 * x - 2.5)


def wiggly_y(y: np.ndarray) -> np.ndarray:
    return y - 0.4 * np.sin(0.4 * y) + 0.17 * np.sin(1.3 * y + 3.5) + 0.02 * np.sin(4.3 * y - 2.5)


def mixture_inverse_cdf(weights: tuple[float, ...], means: tuple[float, ...]) -> Map:
    """The inverse CDF of a mixture of unit-variance normals, by bisection on [-10, 10] (to 1e-12)."""

    def cdf(x: np.ndarray) -> np.ndarray:
        return sum(w * ndtr(x - m) for w, m in zip(weights, means, strict=True))

    def inverse(u: np.ndarray) -> np.ndarray:
        low, high = np.full(u.shape, -10.0), np.full(u.shape, 10.0)
        for _ in range(50):  # 20 / 2^50 < 1e-13
            middle = 0.5 * (low + high)
            below = cdf(middle) < u
            low, high = np.where(below, middle, low), np.where(below, high, middle)
        return 0.5 * (low + high)

    return inverse


def swiss_roll(x: np.ndarray) -> np.ndarray:
    """[0, 1] -> the plane: t = 1.5 pi (1 + 2x), (t cos t, t sin t) / 21 (one column in, two out)."""
    t = 1.5 * np.pi * (1 + 2 * x[:, 0])
    return np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / 21.0


def spiral(dim: int, i: int, j: int, speed: float) -> Map:
    """x -> R(speed |x|^2) x with R(theta) the rotation by theta in the plane of coordinates (i, j)
    (the exponential of theta times the so(n) generator with A[i, j] = -1, A[j, i] = 1)."""

    def apply(x: np.ndarray) -> np.ndarray:
        theta = speed * np.sum(x**2, axis=1)
        out = x.copy()
        out[:, i] = np.cos(theta) * x[:, i] - np.sin(theta) * x[:, j]
        out[:, j] = np.sin(theta) * x[:, i] + np.cos(theta) * x[:, j]
        return out

    return apply


def transformed(base: Task, task_id: str, name: str, map_x: Map, map_y: Map, dim_x: int | None = None) -> Task:
    def sample(n: int, generator: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        x, y = base.sample(n, generator)
        return map_x(x), map_y(y)

    return replace(base, id=task_id, name=name, dim_x=dim_x or base.dim_x, sample=sample)


def identity(x: np.ndarray) -> np.ndarray:
    return x


def normal_cdf_of(base: Task) -> Task:
    return transformed(base, f"normal_cdf-{base.id}", f"Normal CDF @ {base.name}", ndtr, ndtr)


def half_cube_of(base: Task) -> Task:
    return transformed(base, f"half_cube-{base.id}", f"Half-cube @ {base.name}", half_cube, half_cube)


def asinh_of(base: Task) -> Task:
    return transformed(base, f"asinh-{base.id}", f"Asinh @ {base.name}", np.arcsinh, np.arcsinh)


def spiral_of(base: Task) -> Task:
    """The benchmark's spiral: X rotated in coordinates (0, 1), Y in (1, 2), speed 1 / dimension."""
    map_x = spiral(base.dim_x, 0, 1, 1.0 / base.dim_x)
    map_y = spiral(base.dim_y, 1, 2, 1.0 / base.dim_y)
    return transformed(base, f"spiral-{base.id}", f"Spiral @ {base.name}", map_x, map_y)


# ---------------------------------------------------------------- the task list (bmi v1)

GAUSSIAN_CORRELATION = 0.75


def binormal() -> Task:
    rho = GAUSSIAN_CORRELATION
    return normal_task(f"1v1-normal-{rho}", "Bivariate normal 1 x 1", np.array([[1.0, rho], [rho, 1.0]]), 1)


def dense(dim_x: int, dim_y: int) -> Task:
    return normal_task(
        f"multinormal-dense-{dim_x}-{dim_y}-0.5",
        f"Multinormal {dim_x} x {dim_y} (dense)",
        dense_covariance(dim_x, dim_y),
        dim_x,
    )


def sparse(dim_x: int, dim_y: int) -> Task:
    return normal_task(
        f"multinormal-sparse-{dim_x}-{dim_y}-2-2.0",
        f"Multinormal {dim_x} x {dim_y} (2-pair)",
        sparse_correlation(dim_x, dim_y),
        dim_x,
    )


def student_identity(dim_x: int, dim_y: int, dof: int) -> Task:
    return student_task(
        f"student-identity-{dim_x}-{dim_y}-{dof}",
        f"Student-t {dim_x} x {dim_y} (dof={dof})",
        np.eye(dim_x + dim_y),
        dim_x,
        dof,
    )


def bimodal() -> Task:
    uniform = normal_cdf_of(binormal())
    return transformed(
        uniform,
        f"1v1-bimodal-{GAUSSIAN_CORRELATION}",
        "Bimodal 1 x 1",
        mixture_inverse_cdf((0.3, 0.7), (0.0, 5.0)),
        mixture_inverse_cdf((0.5, 0.5), (-1.0, 3.0)),
    )


def benchmark_tasks() -> list[Task]:
    """The 40 tasks of bmi v1, in the package's order."""
    base = binormal()
    uniform = normal_cdf_of(base)
    bistudent = student_identity(1, 1, 1)
    one_dim = [
        base,
        uniform,
        additive_task(0.1),
        additive_task(0.75),
        bimodal(),
        transformed(base, f"wiggly-{base.id}", f"Wiggly @ {base.name}", wiggly_x, wiggly_y),
        half_cube_of(base),
        bistudent,
        asinh_of(bistudent),
    ]
    embeddings = [transformed(uniform, f"swissroll_x-{uniform.id}", "Swiss roll 2 x 1", swiss_roll, identity, 2)]
    multinormal = [dense(d, d) for d in (2, 3, 5, 25, 50)] + [sparse(d, d) for d in (2, 3, 5, 25)]
    students = [student_identity(d, d, dof) for d, dof in ((2, 1), (2, 2), (3, 2), (3, 3), (5, 2), (5, 3))]
    bases = [sparse(d, d) for d in (3, 5, 25)]
    transforms = (
        [normal_cdf_of(task) for task in bases]
        + [half_cube_of(task) for task in bases]
        + [spiral_of(task) for task in bases]
        + [spiral_of(normal_cdf_of(task)) for task in bases]
        + [asinh_of(student_identity(d, d, dof)) for d, dof in ((2, 1), (3, 2), (5, 2))]
    )
    return one_dim + embeddings + multinormal + students + transforms


def task_by_id(task_id: str) -> Task:
    tasks = {task.id: task for task in benchmark_tasks()}
    if task_id not in tasks:
        raise KeyError(f"task = {task_id!r}: expected one of {', '.join(tasks)}")
    return tasks[task_id]
