"""Text candidates. Traditional ones learn linear models on TF-IDF n-grams; every candidate's
estimator takes nnvsml's raw text layout, a 1-D object array of ``str`` (one document per row).

The vocabulary and the IDF weights are learned inside the pipeline, so each fit sees the
training rows only. Defaults are the ones a practitioner would reach for first.
"""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from nnvsml.models import spaces
from nnvsml.models.registry import BuildContext, Candidate, register
from nnvsml.models.time_bounded import Calibrated

CLASSIFICATION = frozenset({"binary", "multiclass"})
TEXT = frozenset({"text"})

#: Each vectoriser keeps at most this many n-grams (the most frequent): bounds memory and time
#: on large corpora and loses little, the rare n-grams being the ones dropped.
MAX_NGRAMS = 100_000
#: Below this many training documents an n-gram seen once is kept: dropping it would leave
#: too small a vocabulary.
MIN_DOCS_FOR_MIN_DF = 100

TFIDF = ("TF-IDF of word 1-2-grams + character 2-5-grams within word boundaries (sublinear tf, "
         f"n-grams in at least 2 documents, at most {MAX_NGRAMS:,} of each)")


def tfidf_features(ctx: BuildContext) -> FeatureUnion:
    """Word and character n-gram TF-IDF side by side: words carry the topic, characters catch
    misspellings, word forms and the obfuscations spam and short messages are full of."""
    min_df = 2 if ctx.n_train >= MIN_DOCS_FOR_MIN_DF else 1
    common = dict(sublinear_tf=True, min_df=min_df, max_features=MAX_NGRAMS, dtype=np.float32)
    return FeatureUnion([
        # Single-character tokens count too ("u", "2", "I"): the default pattern drops them.
        ("words", TfidfVectorizer(analyzer="word", ngram_range=(1, 2),
                                  token_pattern=r"(?u)\b\w+\b", **common)),
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), **common)),
    ])


def tfidf_notes(ctx: BuildContext) -> dict:
    min_df = 2 if ctx.n_train >= MIN_DOCS_FOR_MIN_DF else 1
    return {"tfidf_min_df": min_df,
            "tfidf_rule": f"n-grams kept if in at least {min_df} training document(s) "
                          f"({ctx.n_train} documents; 1 below {MIN_DOCS_FOR_MIN_DF})"}


# C=10: TF-IDF rows have unit norm and hundreds of thousands of sparse features, where the
# default C=1 regularises so hard that rare classes are never predicted.
LOGISTIC_SPACE = spaces.inverse_regularisation(C=10.0)
SVM_SPACE = spaces.inverse_regularisation(C=1.0)
# alpha=0.1: with ~10^5 features the default add-one smoothing swamps the evidence.
NAIVE_BAYES_SPACE = spaces.naive_bayes_smoothing(alpha=0.1)


def build_tfidf_logistic(ctx: BuildContext):
    model = LogisticRegression(**ctx.hyper(LOGISTIC_SPACE), max_iter=1_000)
    return Pipeline([("tfidf", tfidf_features(ctx)), ("model", model)])


def build_tfidf_linear_svm(ctx: BuildContext):
    model = Calibrated(LinearSVC(**ctx.hyper(SVM_SPACE), random_state=ctx.seed))
    return Pipeline([("tfidf", tfidf_features(ctx)), ("model", model)])


def build_tfidf_naive_bayes(ctx: BuildContext):
    # On the same TF-IDF features as the other candidates rather than raw counts, so that the
    # comparison is between models; TF-IDF also helps multinomial naive Bayes (Rennie et al.
    # 2003).
    return Pipeline([("tfidf", tfidf_features(ctx)),
                     ("model", MultinomialNB(**ctx.hyper(NAIVE_BAYES_SPACE)))])


register(Candidate(
    "tfidf_naive_bayes", "traditional", CLASSIFICATION, build_tfidf_naive_bayes,
    "multinomial naive Bayes (alpha=0.1) on TF-IDF n-grams",
    modalities=TEXT, preprocessing=TFIDF, notes=tfidf_notes, space=NAIVE_BAYES_SPACE))
register(Candidate(
    "tfidf_logistic_regression", "traditional", CLASSIFICATION, build_tfidf_logistic,
    "L2-regularised logistic regression (C=10, multinomial) on TF-IDF n-grams",
    modalities=TEXT, preprocessing=TFIDF, explanations=("coefficients",), notes=tfidf_notes,
    space=LOGISTIC_SPACE))
register(Candidate(
    "tfidf_linear_svm", "traditional", CLASSIFICATION, build_tfidf_linear_svm,
    "linear SVM (one-vs-rest) on TF-IDF n-grams, Platt-calibrated probabilities (3 folds)",
    modalities=TEXT, preprocessing=TFIDF, notes=tfidf_notes, space=SVM_SPACE))
