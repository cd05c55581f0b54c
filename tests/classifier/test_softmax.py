"""The training softmax: scikit-learn's objective when the decision term is off, the right gradient when
it is on, and what the decision term is for."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from training.softmax import SoftmaxProblem, _Objective, fit_softmax

URGENT = np.array([True, True, False, False])  # classes 0 and 1 are Urgent


def _problem(decision_weight: float, *, seed: int = 0, examples: int = 120) -> SoftmaxProblem:
    """Four classes over 30 sparse features; the two Urgent classes share most of their features, so a
    class-level fit is unsure between them."""
    rng = np.random.default_rng(seed)
    targets = rng.integers(0, 4, size=examples)
    dense = rng.random((examples, 30)) * (rng.random((examples, 30)) < 0.2)
    dense[:, 0] += 0.6 * np.isin(targets, (0, 1))  # what the Urgent classes share
    dense[np.arange(examples), 1 + targets] += 0.3  # what each class has of its own
    return SoftmaxProblem(
        features=sp.csr_matrix(dense),
        targets=targets.astype(np.intp),
        weights=np.where(URGENT[targets], 1.5, 1.0),
        urgent_classes=URGENT,
        regularisation_c=3.0,
        decision_weight=decision_weight,
    )


def _probabilities(problem: SoftmaxProblem, coefficients: np.ndarray, intercepts: np.ndarray) -> np.ndarray:
    logits = np.asarray(problem.features @ coefficients.T) + intercepts
    exponentials = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities: np.ndarray = exponentials / exponentials.sum(axis=1, keepdims=True)
    return probabilities


def test_without_the_decision_term_the_fit_is_scikit_learns_logistic_regression() -> None:
    problem = _problem(0.0)
    ours = fit_softmax(problem, max_iter=500)
    reference = LogisticRegression(C=problem.regularisation_c, max_iter=5000, tol=1e-10).fit(
        problem.features, problem.targets, sample_weight=problem.weights
    )
    np.testing.assert_allclose(
        _probabilities(problem, ours.coefficients, ours.intercepts),
        reference.predict_proba(problem.features),
        atol=1e-5,
    )


@pytest.mark.parametrize("decision_weight", [0.0, 2.0])
def test_the_gradient_is_the_derivative_of_the_objective(decision_weight: float) -> None:
    objective = _Objective(_problem(decision_weight))
    point = np.random.default_rng(1).normal(scale=0.5, size=objective.n_classes * (objective.n_buckets + 1))
    _, gradient = objective(point)
    step = 1e-6
    for index in np.random.default_rng(2).choice(len(point), size=25, replace=False):
        shifted = point.copy()
        shifted[index] += step
        above, _ = objective(shifted)
        shifted[index] -= 2 * step
        below, _ = objective(shifted)
        assert gradient[index] == pytest.approx((above - below) / (2 * step), rel=1e-4, abs=1e-8)


def test_the_decision_term_fits_the_urgent_sum_better_than_more_data_weight_would() -> None:
    """Weight w on the decision term also weighs the data (1 + w) times against the L2 penalty; the
    comparison is with plain cross-entropy under an L2 penalty (1 + w) times weaker."""

    def decision_loss(problem: SoftmaxProblem) -> float:
        solution = fit_softmax(problem, max_iter=500)
        probabilities = _probabilities(problem, solution.coefficients, solution.intercepts)
        urgent_mass = probabilities[:, URGENT].sum(axis=1)
        return float(-np.log(np.where(URGENT[problem.targets], urgent_mass, 1 - urgent_mass)).mean())

    problem = _problem(5.0, seed=3)
    plain = replace(problem, decision_weight=0.0, regularisation_c=6 * 3.0)
    assert decision_loss(problem) < decision_loss(plain)


def test_the_same_problem_gives_the_same_bytes() -> None:
    first = fit_softmax(_problem(1.0), max_iter=20)
    second = fit_softmax(_problem(1.0), max_iter=20)
    assert first.iterations == second.iterations == 20
    assert first.coefficients.tobytes() == second.coefficients.tobytes()
    assert first.intercepts.tobytes() == second.intercepts.tobytes()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"targets": np.zeros(3, dtype=np.intp)}, "same examples"),
        ({"urgent_classes": np.ones(4, dtype=bool)}, "some classes but not all"),
        ({"urgent_classes": np.zeros(4, dtype=bool)}, "some classes but not all"),
        ({"regularisation_c": 0.0}, "regularisation_c must be positive"),
        ({"decision_weight": -1.0}, "decision_weight not negative"),
    ],
)
def test_an_ill_formed_problem_is_a_clear_error(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        replace(_problem(0.0), **change)


def test_the_decision_term_stays_exact_when_the_examples_side_is_far_below_the_top() -> None:
    """Urgent classes 900 above the others: a routine example's side underflows in the shared softmax."""
    objective = _Objective(_problem(1.0))
    point = np.zeros(objective.n_classes * (objective.n_buckets + 1))
    _, intercepts = objective.split(point)
    intercepts[:] = np.where(URGENT, 900.0, 0.0)
    value, gradient = objective(point)
    assert np.isfinite(gradient).all()
    # a routine example: -log p(class) = 900 + log 2, -log P(routine) = 900; an Urgent one: log 2 and ~0
    routine = ~URGENT[objective.problem.targets]
    weights = objective.scaled_weights
    expected = weights[routine].sum() * (1800 + np.log(2)) + weights[~routine].sum() * np.log(2)
    assert value == pytest.approx(expected, rel=1e-9)
    index = objective.n_classes * objective.n_buckets  # the first Urgent class's intercept
    shifted = point.copy()
    shifted[index] += 1e-3
    assert gradient[index] == pytest.approx((objective(shifted)[0] - value) / 1e-3, rel=1e-3)
