"""Traditional machine-learning candidates: linear models, trees, ensembles, SVM, kNN, naive Bayes.

Defaults are the ones a practitioner would reach for first; tuning is the protocol's job.
"""

from __future__ import annotations

from lightgbm import LGBMClassifier, LGBMRegressor
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import TransformedTargetRegressor
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.kernel_approximation import Nystroem
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, SVR, LinearSVC, LinearSVR
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from nnvsml.models.preprocessing import encoder
from nnvsml.models.registry import BuildContext, Candidate, register

CLASSIFICATION = frozenset({"binary", "multiclass"})
REGRESSION = frozenset({"regression"})
ALL_TASKS = CLASSIFICATION | REGRESSION

#: Above this many training rows the SVM uses a kernel approximation: an exact RBF SVM costs
#: O(n^2) memory and O(n^2..n^3) time, and calibrating its probabilities fits it three more times.
SVM_EXACT_MAX_ROWS = 3_000
SVM_NYSTROEM_COMPONENTS = 1_000


def _pipeline(style: str, ctx: BuildContext, model) -> Pipeline:
    pre = encoder(style, ctx.kinds, task=ctx.task, seed=ctx.seed)
    return Pipeline(pre.steps + [("model", model)])


def _classifying(ctx: BuildContext) -> bool:
    return ctx.task != "regression"


def build_logistic(ctx: BuildContext):
    return _pipeline("linear", ctx, LogisticRegression(C=1.0, max_iter=2_000))


def build_ridge(ctx: BuildContext):
    return _pipeline("linear", ctx, Ridge(alpha=1.0))


def build_tree(ctx: BuildContext):
    cls = DecisionTreeClassifier if _classifying(ctx) else DecisionTreeRegressor
    return _pipeline("tree", ctx, cls(min_samples_leaf=5, random_state=ctx.seed))


def build_forest(ctx: BuildContext):
    # min_samples_leaf=2 halves the model size of fully grown trees at no measurable cost.
    # Regression forests try a third of the features per split (Breiman's p/3) rather than
    # scikit-learn's all of them, which made them 3x slower and time out on 20,000-row tables.
    if _classifying(ctx):
        model = RandomForestClassifier(n_estimators=200, min_samples_leaf=2, n_jobs=ctx.n_jobs,
                                       random_state=ctx.seed)
    else:
        model = RandomForestRegressor(n_estimators=200, min_samples_leaf=2, max_features=1 / 3,
                                      n_jobs=ctx.n_jobs, random_state=ctx.seed)
    return _pipeline("tree", ctx, model)


def build_lightgbm(ctx: BuildContext):
    cls = LGBMClassifier if _classifying(ctx) else LGBMRegressor
    return _pipeline("lightgbm", ctx, cls(n_estimators=400, learning_rate=0.05, num_leaves=31,
                                          n_jobs=ctx.n_jobs, random_state=ctx.seed, verbose=-1))


def svm_rule(n_train: int) -> dict:
    """The stated large-data rule of the SVM, recorded in the results of every run."""
    if n_train <= SVM_EXACT_MAX_ROWS:
        return {"svm_mode": "exact RBF kernel",
                "svm_rule": f"{n_train} training rows <= {SVM_EXACT_MAX_ROWS}: exact kernel SVM"}
    return {"svm_mode": f"Nystroem kernel approximation ({SVM_NYSTROEM_COMPONENTS} components)",
            "svm_rule": f"{n_train} training rows > {SVM_EXACT_MAX_ROWS}: RBF kernel approximated "
                        f"with {SVM_NYSTROEM_COMPONENTS} Nystroem components + linear SVM"}


def svm_notes(ctx: BuildContext) -> dict:
    return svm_rule(ctx.n_train)


def build_svm(ctx: BuildContext):
    exact = ctx.n_train <= SVM_EXACT_MAX_ROWS
    if _classifying(ctx):
        if exact:
            # An SVM has no probabilities: Platt scaling on 3 folds supplies them (ROC-AUC and
            # log loss need them), then the SVM is refit on all rows.
            model = CalibratedClassifierCV(SVC(kernel="rbf", C=1.0, gamma="scale"),
                                           method="sigmoid", cv=3, ensemble=False)
        else:
            model = Pipeline([
                ("nystroem", Nystroem(n_components=SVM_NYSTROEM_COMPONENTS, random_state=ctx.seed)),
                ("svm", CalibratedClassifierCV(LinearSVC(C=1.0), method="sigmoid", cv=3)),
            ])
    else:
        svr = SVR(kernel="rbf", C=1.0, gamma="scale") if exact else Pipeline([
            ("nystroem", Nystroem(n_components=SVM_NYSTROEM_COMPONENTS, random_state=ctx.seed)),
            ("svm", LinearSVR(C=1.0, max_iter=5_000, random_state=ctx.seed)),
        ])
        # SVR's epsilon tube and C are in units of the target: on a standardized target the
        # defaults mean the same whether the target is a rate or a house price.
        model = TransformedTargetRegressor(regressor=svr, transformer=StandardScaler())
    return _pipeline("linear", ctx, model)


def build_knn(ctx: BuildContext):
    cls = KNeighborsClassifier if _classifying(ctx) else KNeighborsRegressor
    return _pipeline("linear", ctx, cls(n_neighbors=15, weights="distance", n_jobs=ctx.n_jobs))


def build_naive_bayes(ctx: BuildContext):
    return _pipeline("linear", ctx, GaussianNB())


register(Candidate(
    "logistic_regression", "traditional", CLASSIFICATION, build_logistic,
    "L2-regularised logistic regression on scaled, one-hot / target-encoded features",
    explanations=("coefficients",)))
register(Candidate(
    "ridge_regression", "traditional", REGRESSION, build_ridge,
    "L2-regularised linear regression on scaled, one-hot / target-encoded features",
    explanations=("coefficients",)))
register(Candidate(
    "naive_bayes", "traditional", CLASSIFICATION, build_naive_bayes,
    "Gaussian naive Bayes on scaled features", explanations=("class_means",)))
register(Candidate(
    "decision_tree", "traditional", ALL_TASKS, build_tree,
    "a single CART tree (min 5 rows per leaf)", preprocessing="tree",
    explanations=("rules", "importances")))
register(Candidate(
    "knn", "traditional", ALL_TASKS, build_knn,
    "k-nearest neighbours (k=15, distance-weighted) on scaled features"))
register(Candidate(
    "lightgbm", "traditional", ALL_TASKS, build_lightgbm,
    "gradient-boosted trees (LightGBM, 400 rounds, native missing values and categories)",
    preprocessing="lightgbm", explanations=("importances", "tree_shap")))
register(Candidate(
    "random_forest", "traditional", ALL_TASKS, build_forest,
    "random forest of 200 trees (p/3 features per split for regression)", preprocessing="tree", explanations=("importances", "tree_shap")))
register(Candidate(
    "svm", "traditional", ALL_TASKS, build_svm,
    "RBF support vector machine (kernel approximation above "
    f"{SVM_EXACT_MAX_ROWS:,} training rows)",
    notes=svm_notes))
