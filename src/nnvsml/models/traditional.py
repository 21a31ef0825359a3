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

from nnvsml.models import spaces
from nnvsml.models.preprocessing import encoder
from nnvsml.models.registry import BuildContext, Candidate, register
from nnvsml.models.time_bounded import TimeBounded, time_bound_notes

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


LOGISTIC_SPACE = spaces.inverse_regularisation(C=1.0)
RIDGE_SPACE = spaces.ridge(alpha=1.0)
TREE_SPACE = spaces.tree(min_samples_leaf=5)
# min_samples_leaf=2 halves the model size of fully grown trees at no measurable cost.
FOREST_SPACE = spaces.forest(min_samples_leaf=2)
LIGHTGBM_SPACE = spaces.lightgbm(learning_rate=0.05, num_leaves=31)
SVM_SPACE = spaces.inverse_regularisation(C=1.0)
KNN_SPACE = spaces.neighbours(k=15)
NAIVE_BAYES_SPACE = spaces.gaussian_nb()


def build_logistic(ctx: BuildContext):
    return _pipeline("linear", ctx, LogisticRegression(**ctx.hyper(LOGISTIC_SPACE), max_iter=2_000))


def build_ridge(ctx: BuildContext):
    return _pipeline("linear", ctx, Ridge(**ctx.hyper(RIDGE_SPACE)))


def build_tree(ctx: BuildContext):
    cls = DecisionTreeClassifier if _classifying(ctx) else DecisionTreeRegressor
    return _pipeline("tree", ctx, cls(**ctx.hyper(TREE_SPACE), random_state=ctx.seed))


def forest_max_features(value, classifying: bool):
    """The space's "default": sqrt(p) to classify; p/3 to regress (Breiman's rule), rather than
    scikit-learn's all of them, which made regression forests 3x slower and time out on
    20,000-row tables."""
    if value == "default":
        return "sqrt" if classifying else 1 / 3
    return value


def build_forest(ctx: BuildContext):
    hp = ctx.hyper(FOREST_SPACE)
    cls = RandomForestClassifier if _classifying(ctx) else RandomForestRegressor
    model = cls(n_estimators=200, min_samples_leaf=hp["min_samples_leaf"],
                max_features=forest_max_features(hp["max_features"], _classifying(ctx)),
                n_jobs=ctx.n_jobs, random_state=ctx.seed)
    # Time-bounded: under a short budget the forest keeps the trees it finished.
    return _pipeline("tree", ctx, TimeBounded(model, max_time=ctx.max_time))


def build_lightgbm(ctx: BuildContext):
    cls = LGBMClassifier if _classifying(ctx) else LGBMRegressor
    booster = cls(n_estimators=400, **ctx.hyper(LIGHTGBM_SPACE), n_jobs=ctx.n_jobs,
                  random_state=ctx.seed, verbose=-1)
    # Time-bounded: under a short budget the booster keeps the rounds it finished.
    return _pipeline("lightgbm", ctx, TimeBounded(booster, max_time=ctx.max_time))


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
    C = ctx.hyper(SVM_SPACE)["C"]
    if _classifying(ctx):
        if exact:
            # An SVM has no probabilities: Platt scaling on 3 folds supplies them (ROC-AUC and
            # log loss need them), then the SVM is refit on all rows.
            model = CalibratedClassifierCV(SVC(kernel="rbf", C=C, gamma="scale"),
                                           method="sigmoid", cv=3, ensemble=False)
        else:
            model = Pipeline([
                ("nystroem", Nystroem(n_components=SVM_NYSTROEM_COMPONENTS, random_state=ctx.seed)),
                ("svm", CalibratedClassifierCV(LinearSVC(C=C), method="sigmoid", cv=3)),
            ])
    else:
        svr = SVR(kernel="rbf", C=C, gamma="scale") if exact else Pipeline([
            ("nystroem", Nystroem(n_components=SVM_NYSTROEM_COMPONENTS, random_state=ctx.seed)),
            ("svm", LinearSVR(C=C, max_iter=5_000, random_state=ctx.seed)),
        ])
        # SVR's epsilon tube and C are in units of the target: on a standardized target the
        # defaults mean the same whether the target is a rate or a house price.
        model = TransformedTargetRegressor(regressor=svr, transformer=StandardScaler())
    return _pipeline("linear", ctx, model)


def build_knn(ctx: BuildContext):
    cls = KNeighborsClassifier if _classifying(ctx) else KNeighborsRegressor
    return _pipeline("linear", ctx, cls(**ctx.hyper(KNN_SPACE), n_jobs=ctx.n_jobs))


def build_naive_bayes(ctx: BuildContext):
    return _pipeline("linear", ctx, GaussianNB(**ctx.hyper(NAIVE_BAYES_SPACE)))


register(Candidate(
    "logistic_regression", "traditional", CLASSIFICATION, build_logistic,
    "L2-regularised logistic regression on scaled, one-hot / target-encoded features",
    explanations=("coefficients",), space=LOGISTIC_SPACE))
register(Candidate(
    "ridge_regression", "traditional", REGRESSION, build_ridge,
    "L2-regularised linear regression on scaled, one-hot / target-encoded features",
    explanations=("coefficients",), space=RIDGE_SPACE))
register(Candidate(
    "naive_bayes", "traditional", CLASSIFICATION, build_naive_bayes,
    "Gaussian naive Bayes on scaled features", explanations=("class_means",),
    space=NAIVE_BAYES_SPACE))
register(Candidate(
    "decision_tree", "traditional", ALL_TASKS, build_tree,
    "a single CART tree (min 5 rows per leaf)", preprocessing="tree",
    explanations=("rules", "importances"), space=TREE_SPACE))
register(Candidate(
    "knn", "traditional", ALL_TASKS, build_knn,
    "k-nearest neighbours (k=15, distance-weighted) on scaled features", space=KNN_SPACE))
register(Candidate(
    "lightgbm", "traditional", ALL_TASKS, build_lightgbm,
    "gradient-boosted trees (LightGBM, up to 400 rounds, native missing values and categories), "
    "stops adding rounds when its time is up", preprocessing="lightgbm",
    explanations=("importances", "tree_shap"), time_aware=True, notes=time_bound_notes,
    space=LIGHTGBM_SPACE, streams=True))
register(Candidate(
    "random_forest", "traditional", ALL_TASKS, build_forest,
    "random forest of up to 200 trees (p/3 features per split for regression), stops adding "
    "trees when its time is up", preprocessing="tree", explanations=("importances", "tree_shap"),
    time_aware=True, notes=time_bound_notes, space=FOREST_SPACE))
register(Candidate(
    "svm", "traditional", ALL_TASKS, build_svm,
    "RBF support vector machine (kernel approximation above "
    f"{SVM_EXACT_MAX_ROWS:,} training rows)",
    notes=svm_notes, space=SVM_SPACE, growth=2.0))
