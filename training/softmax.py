"""The softmax fit of the recipe: multinomial logistic regression over the classes, plus the log-loss of the
decision the product makes from it.

The runtime reads P(Urgent) as the sum of the Urgent classes' probabilities. Plain cross-entropy over the
classes spends as much on telling two Urgent intents apart ("compromised_card" vs "lost_or_stolen_card") as
on telling an Urgent intent from a routine one, and what it leaves uncertain between two Urgent classes
leaks into routine ones. The fit therefore minimises

    sum_i w_i * (CE_i + decision_weight * BCE_i) / sum_i w_i  +  ||W||^2 / (2 * C * sum_i w_i)

where CE_i = -log p(class_i) and BCE_i = -log P(Urgent) for an Urgent example, -log(1 - P(Urgent)) for
another (intercepts are not penalised). With ``decision_weight`` 0 and more than two classes this is exactly
scikit-learn's ``LogisticRegression`` objective (lbfgs, multinomial), so C keeps its meaning (with two
classes scikit-learn fits one row of coefficients, here both rows are penalised). The decision term also
weighs the data (1 + ``decision_weight``) times against the penalty; it does more than that (the tests and
training/EXPERIMENTS.md, session 14, compare it with cross-entropy under a weaker penalty). L-BFGS runs
exactly ``max_iter`` iterations from zero (no tolerance to stop on): stopping early is part of the
regularisation. Everything runs in one thread in a fixed order, so the same inputs give the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy import optimize
from threadpoolctl import threadpool_limits

FloatArray = npt.NDArray[np.float64]
# below this mass (relative to the top class) the side's exponentials have lost precision or underflowed
_FAR_SIDE_MASS = 1e-200


@dataclass(frozen=True)
class SoftmaxProblem:
    features: sp.csr_matrix  # (examples, buckets)
    targets: npt.NDArray[np.intp]  # class index of each example
    weights: FloatArray  # of each example in the fit
    urgent_classes: npt.NDArray[np.bool_]  # (classes,): which classes P(Urgent) sums
    regularisation_c: float
    decision_weight: float

    def __post_init__(self) -> None:
        n_examples = self.features.shape[0]
        if not (len(self.targets) == len(self.weights) == n_examples):
            raise ValueError("features, targets and weights must describe the same examples")
        if self.urgent_classes.all() or not self.urgent_classes.any():
            raise ValueError("urgent_classes must name some classes but not all")
        if self.regularisation_c <= 0 or self.decision_weight < 0:
            raise ValueError("regularisation_c must be positive and decision_weight not negative")


@dataclass(frozen=True)
class SoftmaxSolution:
    coefficients: FloatArray  # (classes, buckets)
    intercepts: FloatArray  # (classes,)
    iterations: int
    objective: float


class _Objective:
    """Value and gradient of the objective at a flat parameter vector (coefficients row-major, then
    intercepts)."""

    def __init__(self, problem: SoftmaxProblem) -> None:
        self.problem = problem
        self.n_examples, self.n_buckets = problem.features.shape
        self.n_classes = len(problem.urgent_classes)
        self.transposed = problem.features.T.tocsr()
        self.scaled_weights = problem.weights / problem.weights.sum()
        self.l2 = 1.0 / (problem.regularisation_c * problem.weights.sum())
        self.rows = np.arange(self.n_examples)
        example_is_urgent = problem.urgent_classes[problem.targets]
        # the classes on each example's side of the decision: the Urgent ones for an Urgent example
        self.own_side = np.where(
            example_is_urgent[:, None], problem.urgent_classes[None, :], ~problem.urgent_classes[None, :]
        )

    def split(self, flat: FloatArray) -> tuple[FloatArray, FloatArray]:
        cut = self.n_classes * self.n_buckets
        return flat[:cut].reshape(self.n_classes, self.n_buckets), flat[cut:]

    def __call__(self, flat: FloatArray) -> tuple[float, FloatArray]:
        coefficients, intercepts = self.split(flat)
        logits = np.asarray(self.problem.features @ coefficients.T) + intercepts
        top = logits.max(axis=1, keepdims=True)
        exponentials = np.exp(logits - top)
        totals = exponentials.sum(axis=1)
        log_totals = np.log(totals) + top[:, 0]
        probabilities = exponentials / totals[:, None]
        losses = log_totals - logits[self.rows, self.problem.targets]
        gradient = probabilities.copy()
        gradient[self.rows, self.problem.targets] -= 1.0
        if self.problem.decision_weight:
            side = np.where(self.own_side, exponentials, 0.0)
            side_totals = np.maximum(side.sum(axis=1), np.finfo(np.float64).tiny)
            decision_losses = log_totals - np.log(side_totals) - top[:, 0]
            side_share = side / side_totals[:, None]
            far = np.flatnonzero(side_totals < _FAR_SIDE_MASS)
            if len(far):  # every class on the example's side is far below the top: shift by that side's top
                far_logits = np.where(self.own_side[far], logits[far], -np.inf)
                far_top = far_logits.max(axis=1, keepdims=True)
                far_exponentials = np.exp(far_logits - far_top)
                far_totals = far_exponentials.sum(axis=1)
                decision_losses[far] = log_totals[far] - np.log(far_totals) - far_top[:, 0]
                side_share[far] = far_exponentials / far_totals[:, None]
            losses += self.problem.decision_weight * decision_losses
            gradient += self.problem.decision_weight * (probabilities - side_share)
        gradient *= self.scaled_weights[:, None]
        coefficient_gradient = np.asarray((self.transposed @ gradient).T) + self.l2 * coefficients
        penalty = 0.5 * self.l2 * float(np.vdot(coefficients, coefficients))
        value = float(losses @ self.scaled_weights) + penalty
        return value, np.concatenate([coefficient_gradient.ravel(), gradient.sum(axis=0)])


def fit_softmax(problem: SoftmaxProblem, max_iter: int) -> SoftmaxSolution:
    objective = _Objective(problem)
    start = np.zeros(objective.n_classes * (objective.n_buckets + 1))
    with threadpool_limits(limits=1):  # one BLAS thread: summation order, hence the bytes, are fixed
        result = optimize.minimize(
            objective,
            start,
            method="L-BFGS-B",
            jac=True,
            options={"maxiter": max_iter, "maxls": 50, "gtol": 0.0, "ftol": 64 * np.finfo(float).eps},
        )
    coefficients, intercepts = objective.split(result.x)
    return SoftmaxSolution(coefficients.copy(), intercepts.copy(), int(result.nit), float(result.fun))
