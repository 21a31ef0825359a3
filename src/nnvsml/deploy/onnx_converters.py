"""skl2onnx converters for nnvsml's own pipeline steps, so a tabular pipeline converts whole.

Imported only by :mod:`nnvsml.deploy.onnx_format`, once the ``onnx`` extra is known to be
installed (this module imports skl2onnx at the top).

Conventions of the graphs built here (:mod:`.onnx_format` feeds them):

* one graph input per raw column the model uses, ``[N, 1]``: numbers (numeric and boolean
  columns) as float64, categories as strings with ``""`` for a missing value (a string tensor
  has no NaN);
* numbers stay float64 through every step converted here: the native pipeline computes in
  float64, and a float32 step (skl2onnx's default) moves values across a tree threshold or a
  scaler's rounding enough to change labels (skl2onnx issues #611 and #1116).

:func:`register` adds the converters of nnvsml's classes to skl2onnx's registry (they are
nnvsml's types: nobody else converts them). :func:`overrides` returns converters that replace
skl2onnx's for scikit-learn classes, for one ``convert_sklearn`` call only, so that other
conversions in the same process keep skl2onnx's own behaviour.
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto
from skl2onnx import update_registered_converter
from skl2onnx._parse import _parse_sklearn
from skl2onnx.common._registration import (
    get_converter,
    register_converter,
    register_shape_calculator,
)
from skl2onnx.common.data_types import (
    BooleanTensorType,
    DoubleTensorType,
    FloatTensorType,
    Int64TensorType,
    StringTensorType,
)

#: The string that stands for a missing category in the graph.
MISSING_STRING = ""


class Unsupported(Exception):
    """A step these converters cannot express; the message says which and why."""


# ---- helpers -------------------------------------------------------------------------------------
def _name(scope, base: str) -> str:
    return scope.get_unique_variable_name(base)


def _node(scope, container, op_type: str, inputs, outputs, domain: str | None = None, **attrs):
    kwargs = {"name": scope.get_unique_operator_name(op_type), **attrs}
    if domain:
        kwargs["op_domain"] = domain
        kwargs["op_version"] = attrs.pop("op_version", None) or (2 if op_type == "LabelEncoder"
                                                                 else 1)
    container.add_node(op_type, inputs, outputs, **kwargs)


def _const(scope, container, base: str, value, proto=TensorProto.DOUBLE) -> str:
    name = _name(scope, base)
    value = np.asarray(value)
    container.add_initializer(name, proto, list(value.shape), value.ravel().tolist())
    return name


def _concat(scope, container, inputs: list[str], base: str) -> str:
    if len(inputs) == 1:
        return inputs[0]
    out = _name(scope, base)
    _node(scope, container, "Concat", inputs, [out], axis=1)
    return out


def _join(scope, container, parts: list[str], out: str) -> None:
    """Columns side by side into the named output (one part passes through)."""
    if len(parts) == 1:
        _node(scope, container, "Identity", parts, [out])
    else:
        _node(scope, container, "Concat", parts, [out], axis=1)


def _width(variable) -> int | None:
    shape = getattr(variable.type, "shape", None)
    return shape[1] if shape and len(shape) == 2 else None


def _same_type_outputs(operator):
    for inp, out in zip(operator.inputs, operator.outputs):
        out.type = inp.type.__class__([None, _width(inp)])


def _one_output(operator, type_cls=None, width=None):
    first = operator.inputs[0].type
    cls = type_cls or first.__class__
    if width is None:
        widths = [_width(i) for i in operator.inputs]
        width = None if None in widths else sum(widths)
    operator.outputs[0].type = cls([None, width])


# ---- TabularPreparer -------------------------------------------------------------------------------
def _parse_preparer(scope, model, inputs, custom_parsers=None):
    """One output per input column, named as the column, so that the ColumnTransformer after
    it finds its columns by name as it does on the graph's inputs."""
    op = scope.declare_local_operator("NnvsmlTabularPreparer", model)
    op.inputs = list(inputs)
    for inp in inputs:
        op.outputs.append(scope.declare_local_variable(inp.raw_name, inp.type.__class__([None, 1])))
    return list(op.outputs)


def _convert_preparer(scope, operator, container):
    """Numbers: an infinity is a missing value (NaN), as the native preparer makes it. Strings
    pass unchanged: the feed already wrote each category as its label."""
    nan = None
    for inp, out in zip(operator.inputs, operator.outputs):
        if isinstance(inp.type, StringTensorType):
            _node(scope, container, "Identity", [inp.full_name], [out.full_name])
            continue
        nan = nan or _const(scope, container, "nan", np.array([np.nan]))
        is_inf = _name(scope, "is_inf")
        _node(scope, container, "IsInf", [inp.full_name], [is_inf])
        _node(scope, container, "Where", [is_inf, nan, inp.full_name], [out.full_name])


# ---- PowerOfTwoScale ---------------------------------------------------------------------------------
def _shape_power_of_two(operator):
    _one_output(operator, DoubleTensorType)


def _convert_power_of_two(scope, operator, container):
    """x * 2**-e per column: exact in float64, as np.ldexp is."""
    model = operator.raw_operator
    x = _concat(scope, container, [i.full_name for i in operator.inputs], "p2_in")
    factors = np.ldexp(1.0, -np.asarray(model.exponent_, dtype=np.int64)).reshape(1, -1)
    if np.all(factors == 1.0):
        _node(scope, container, "Identity", [x], [operator.outputs[0].full_name])
        return
    scale = _const(scope, container, "p2_factor", factors)
    _node(scope, container, "Mul", [x, scale], [operator.outputs[0].full_name])


# ---- CategoryCodes -------------------------------------------------------------------------------
def _shape_category_codes(operator):
    _one_output(operator, Int64TensorType)


def _convert_category_codes(scope, operator, container):
    """Each string column to its code 1..K by a lookup table; missing ("") and unseen -> 0."""
    model = operator.raw_operator
    columns = _split_columns(scope, container, operator.inputs)
    outs = []
    for column, categories in zip(columns, model.categories_):
        keys = [str(c) for c in categories]
        out = _name(scope, "codes")
        _node(scope, container, "LabelEncoder", [column], [out], domain="ai.onnx.ml",
              keys_strings=keys, values_int64s=list(range(1, len(keys) + 1)), default_int64=0)
        outs.append(out)
    _node(scope, container, "Concat", outs, [operator.outputs[0].full_name], axis=1) \
        if len(outs) > 1 else _node(scope, container, "Identity", outs,
                                    [operator.outputs[0].full_name])


def _split_columns(scope, container, inputs) -> list[str]:
    """The graph columns ``[N, 1]`` of the (possibly several, possibly wide) inputs."""
    columns = []
    for inp in inputs:
        width = _width(inp)
        if width == 1:
            columns.append(inp.full_name)
            continue
        if width is None:
            raise Unsupported(f"input {inp.raw_name!r} has no known width")
        outs = [_name(scope, "col") for _ in range(width)]
        split = _const(scope, container, "split", np.ones(width, dtype=np.int64), TensorProto.INT64)
        _node(scope, container, "Split", [inp.full_name, split], outs, axis=1)
        columns.extend(outs)
    return columns


# ---- CategoryDtype (LightGBM's categories) and OrdinalEncoder on strings ------------------------
def _shape_string_lookup(operator):
    _one_output(operator, DoubleTensorType, width=len(_lookup_tables(operator.raw_operator)))


def _lookup_tables(model) -> list[tuple[list[str], float, float]]:
    """Per column: the categories in code order, the code of an unseen category and that of a
    missing one."""
    from nnvsml.models.preprocessing import CategoryDtype

    if isinstance(model, CategoryDtype):
        # LightGBM turns a pandas category into its code (the level's position), and an unseen
        # or missing one into NaN, before its categorical splits.
        return [([str(c) for c in model.levels_[col]], np.nan, np.nan)
                for col in model.feature_names_in_]
    if model.handle_unknown != "use_encoded_value":
        raise Unsupported("OrdinalEncoder that fails on unseen categories")
    tables = []
    for categories in model.categories_:
        present = [c for c in categories if not (isinstance(c, float) and np.isnan(c))]
        if any(not isinstance(c, str) for c in present):
            raise Unsupported("OrdinalEncoder on numbers")
        missing = (model.encoded_missing_value if len(present) < len(categories)
                   else model.unknown_value)
        tables.append((present, float(model.unknown_value), float(missing)))
    return tables


def _convert_string_lookup(scope, operator, container):
    """Each string column to its code (float64) by a lookup table; unseen and missing ("")
    categories to the codes the native step gives them."""
    if not all(isinstance(i.type, StringTensorType) for i in operator.inputs):
        raise Unsupported(f"{type(operator.raw_operator).__name__} on numbers")
    columns = _split_columns(scope, container, operator.inputs)
    outs = []
    for column, (keys, unseen, missing) in zip(columns, _lookup_tables(operator.raw_operator)):
        if MISSING_STRING in keys:
            raise Unsupported(f"a category spelled {MISSING_STRING!r}, the graph's missing value")
        codes, out = _name(scope, "codes32"), _name(scope, "codes")
        # float32 codes are exact (integers below 2**24) and NaN stays NaN.
        _node(scope, container, "LabelEncoder", [column], [codes], domain="ai.onnx.ml",
              keys_strings=keys + [MISSING_STRING],
              values_floats=[float(i) for i in range(len(keys))] + [missing],
              default_float=unseen)
        _node(scope, container, "Cast", [codes], [out], to=TensorProto.DOUBLE)
        outs.append(out)
    _join(scope, container, outs, operator.outputs[0].full_name)


# ---- TargetEncoder (per-call override) -----------------------------------------------------------
def _shape_target_encoder(operator):
    model = operator.raw_operator
    per_feature = len(model.classes_) if model.target_type_ == "multiclass" else 1
    operator.outputs[0].type = DoubleTensorType([None, len(model.categories_) * per_feature])


def _convert_target_encoder(scope, operator, container):
    """Each category to its learned encoding, an unseen one to the target mean, in float64 and
    for every target type (skl2onnx's converter takes binary and continuous targets only and
    goes through float32). Category -> row by a lookup, then a Gather from the table."""
    model = operator.raw_operator
    if not all(isinstance(i.type, StringTensorType) for i in operator.inputs):
        raise Unsupported("TargetEncoder on numbers")
    multiclass = model.target_type_ == "multiclass"
    n_out = len(model.classes_) if multiclass else 1
    mean = np.asarray(model.target_mean_, dtype=np.float64).reshape(-1)
    columns = _split_columns(scope, container, operator.inputs)
    shape = _const(scope, container, "te_shape", np.array([-1, n_out]), TensorProto.INT64)
    outs = []
    for j, (column, categories) in enumerate(zip(columns, model.categories_)):
        present = [c for c in categories if not (isinstance(c, float) and np.isnan(c))]
        if any(not isinstance(c, str) for c in present) or MISSING_STRING in present:
            raise Unsupported("TargetEncoder on categories that are not labels")
        if multiclass:
            table = np.stack([model.encodings_[j * n_out + k] for k in range(n_out)], axis=1)
        else:
            table = np.asarray(model.encodings_[j], dtype=np.float64).reshape(-1, 1)
        unseen = len(categories)
        # NaN was a category of its own when the training rows had missing values.
        missing = len(present) if len(present) < len(categories) else unseen
        table = np.vstack([table, mean.reshape(1, -1)])
        rows, picked, out = _name(scope, "te_row"), _name(scope, "te_pick"), _name(scope, "te")
        _node(scope, container, "LabelEncoder", [column], [rows], domain="ai.onnx.ml",
              keys_strings=present + [MISSING_STRING],
              values_int64s=list(range(len(present))) + [missing], default_int64=unseen)
        _node(scope, container, "Gather", [_const(scope, container, "te_table", table), rows],
              [picked], axis=0)
        _node(scope, container, "Reshape", [picked, shape], [out])
        outs.append(out)
    _join(scope, container, outs, operator.outputs[0].full_name)


# ---- SimpleImputer (per-call override) -----------------------------------------------------------
def _shape_imputer(operator):
    model = operator.raw_operator
    first = operator.inputs[0].type
    width = len(model.statistics_)
    if getattr(model, "indicator_", None) is not None:
        width += len(model.indicator_.features_)
    cls = StringTensorType if isinstance(first, StringTensorType) else DoubleTensorType
    operator.outputs[0].type = cls([None, width])


def _convert_imputer(scope, operator, container):
    """SimpleImputer in float64 (skl2onnx's stores its fill values as float32) and on strings
    whose missing value is NaN in scikit-learn and "" here; with its missing indicator."""
    model = operator.raw_operator
    out = operator.outputs[0].full_name
    strings = isinstance(operator.inputs[0].type, StringTensorType)
    x = _concat(scope, container, [i.full_name for i in operator.inputs], "imp_in")
    if not (model.missing_values is np.nan or (isinstance(model.missing_values, float)
                                                and np.isnan(model.missing_values))):
        raise Unsupported("SimpleImputer with missing values other than NaN")
    stats = model.statistics_
    if strings:
        fill = _const(scope, container, "fill", np.array([[str(s) for s in stats]], dtype=object),
                      TensorProto.STRING)
        is_missing = _is_missing_string(scope, container, x)
    else:
        if np.any(np.isnan(np.asarray(stats, dtype=np.float64))):
            raise Unsupported("SimpleImputer with an all-missing column")
        fill = _const(scope, container, "fill", np.asarray(stats, dtype=np.float64).reshape(1, -1))
        is_missing = _name(scope, "is_missing")
        _node(scope, container, "IsNaN", [x], [is_missing])
    indicator = getattr(model, "indicator_", None)
    filled = _name(scope, "filled") if indicator is not None else out
    _node(scope, container, "Where", [is_missing, fill, x], [filled])
    if indicator is None:
        return
    if strings:
        raise Unsupported("SimpleImputer with a missing indicator on categories")
    features = _const(scope, container, "ind_cols", np.asarray(indicator.features_, dtype=np.int64),
                      TensorProto.INT64)
    picked, flags = _name(scope, "ind_pick"), _name(scope, "ind_flags")
    _node(scope, container, "Gather", [is_missing, features], [picked], axis=1)
    _node(scope, container, "Cast", [picked], [flags], to=TensorProto.DOUBLE)
    _node(scope, container, "Concat", [filled, flags], [out], axis=1)


def _is_missing_string(scope, container, x: str) -> str:
    """A boolean tensor: True where ``x`` holds the missing string. (String ``Equal`` needs
    opset 19; the ML domain's LabelEncoder does it at any opset.)"""
    flag, is_missing = _name(scope, "miss_flag"), _name(scope, "is_missing")
    _node(scope, container, "LabelEncoder", [x], [flag], domain="ai.onnx.ml",
          keys_strings=[MISSING_STRING], values_int64s=[1], default_int64=0)
    _node(scope, container, "Cast", [flag], [is_missing], to=TensorProto.BOOL)
    return is_missing


# ---- StandardScaler (per-call override) ------------------------------------------------------------
def _shape_scaler(operator):
    _one_output(operator, DoubleTensorType, width=len(operator.raw_operator.scale_
                                                     if operator.raw_operator.scale_ is not None
                                                     else operator.raw_operator.mean_))


def _convert_scaler(scope, operator, container):
    """(x - mean) / scale in float64, a true division as scikit-learn's (skl2onnx's Scaler
    operator multiplies by 1/scale in float32)."""
    model = operator.raw_operator
    x = _concat(scope, container, [i.full_name for i in operator.inputs], "sc_in")
    out = operator.outputs[0].full_name
    if model.with_mean and model.mean_ is not None:
        mean = _const(scope, container, "mean", np.asarray(model.mean_).reshape(1, -1))
        centred = _name(scope, "centred")
        _node(scope, container, "Sub", [x, mean], [centred])
        x = centred
    if model.with_std and model.scale_ is not None:
        scale = _const(scope, container, "scale", np.asarray(model.scale_).reshape(1, -1))
        _node(scope, container, "Div", [x, scale], [out])
    else:
        _node(scope, container, "Identity", [x], [out])


# ---- MissingIndicator and QuantileTransformer (the networks' feature steps) ---------------------
def _shape_missing_indicator(operator):
    _one_output(operator, DoubleTensorType, width=len(operator.raw_operator.features_))


def _convert_missing_indicator(scope, operator, container):
    """1.0 where a value is missing, for the columns that had gaps when fitted (float64, as the
    column transformer stacks it with the numbers)."""
    model = operator.raw_operator
    if not (isinstance(model.missing_values, float) and np.isnan(model.missing_values)):
        raise Unsupported("MissingIndicator with missing values other than NaN")
    x = _concat(scope, container, [i.full_name for i in operator.inputs], "mi_in")
    features = _const(scope, container, "mi_cols", np.asarray(model.features_, dtype=np.int64),
                      TensorProto.INT64)
    picked, flags = _name(scope, "mi_pick"), _name(scope, "mi_flags")
    _node(scope, container, "Gather", [x, features], [picked], axis=1)
    _node(scope, container, "IsNaN", [picked], [flags])
    _node(scope, container, "Cast", [flags], [operator.outputs[0].full_name], to=TensorProto.DOUBLE)


#: Acklam's rational approximation of the normal quantile function (relative error below
#: 1.2e-9): central region numerator / denominator, tails numerator / denominator.
_PPF_A = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
          1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
_PPF_B = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
          6.680131188771972e+01, -1.328068155288572e+01, 1.0]
_PPF_C = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
          -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00]
_PPF_D = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
          3.754408661907416e+00, 1.0]
_PPF_LOW = 0.02425
#: scikit-learn's QuantileTransformer BOUNDS_THRESHOLD.
_BOUNDS = 1e-7


def _shape_quantile(operator):
    _one_output(operator, DoubleTensorType)


def _convert_quantile(scope, operator, container):
    """QuantileTransformer in float64, written here because skl2onnx's converter takes minutes
    to build its graph (its expression checks grow exponentially with the quantiles) and does
    not convert ``output_distribution="normal"``. As scikit-learn: ``np.interp`` over the
    quantiles in both directions, averaged (repeated quantiles); values within 1e-7 of the
    extreme quantiles (normal) or equal to them (uniform) set to 0 / 1; for normal, the
    clip and the normal quantile function. ONNX has no inverse error function: that one is
    Acklam's approximation, within 1.2e-9 (relative) of scipy's."""
    model = operator.raw_operator
    x = _concat(scope, container, [i.full_name for i in operator.inputs], "qt_in")
    quantiles = np.asarray(model.quantiles_, dtype=np.float64)
    references = np.asarray(model.references_, dtype=np.float64)

    def op(op_type, *inputs, **attrs):
        out = _name(scope, f"qt_{op_type.lower()}")
        _node(scope, container, op_type, list(inputs), [out], **attrs)
        return out

    def const(value, proto=TensorProto.DOUBLE):
        return _const(scope, container, "qt_c", np.asarray(value), proto)

    forward = _interp(op, const, x, quantiles, references)
    backward = _interp(op, const, op("Neg", x), -quantiles[::-1], -references[::-1])
    u = op("Mul", op("Sub", forward, backward), const(0.5))
    low, high = quantiles[0].reshape(1, -1), quantiles[-1].reshape(1, -1)
    if model.output_distribution == "normal":
        upper = op("Greater", op("Add", x, const(_BOUNDS)), const(high))
        lower = op("Less", op("Sub", x, const(_BOUNDS)), const(low))
    else:
        upper, lower = op("Equal", x, const(high)), op("Equal", x, const(low))
    p = op("Where", lower, const(0.0), op("Where", upper, const(1.0), u))
    if model.output_distribution == "normal":
        p = _normal_quantile(op, const, p)
    _node(scope, container, "Where", [op("IsNaN", x), x, p], [operator.outputs[0].full_name])


def _interp(op, const, x: str, xp: np.ndarray, fp: np.ndarray) -> str:
    """``np.interp(x[:, f], xp[:, f], fp)`` for every column f at once: a binary search for
    the number of points at or below x (log2 steps of Gather), then numpy's own formula."""
    n_points, n_features = xp.shape
    size = 1 << n_points.bit_length()  # a power of two above the points: the search's range
    table = np.full((n_features, size), np.inf)
    table[:, :n_points] = xp.T
    fp_table = np.tile(np.asarray(fp, dtype=np.float64), (n_features, 1))
    xp_flat, fp_flat = const(table.ravel()), const(fp_table.ravel())
    base = const((np.arange(n_features) * size).reshape(1, -1), TensorProto.INT64)
    base_fp = const((np.arange(n_features) * n_points).reshape(1, -1), TensorProto.INT64)
    # Zeros shaped as x (a NaN's flag times 0: Cast of a NaN to an integer is undefined).
    count = op("Mul", op("Cast", op("IsNaN", x), to=TensorProto.INT64),
               const(0, TensorProto.INT64))
    step = size // 2
    while step >= 1:  # count = the number of points <= x
        candidate = op("Add", count, const(step, TensorProto.INT64))
        value = op("Gather", xp_flat, op("Add", base, op("Sub", candidate,
                                                             const(1, TensorProto.INT64))))
        count = op("Where", op("GreaterOrEqual", x, value), candidate, count)
        step //= 2
    j = op("Max", op("Min", op("Sub", count, const(1, TensorProto.INT64)),
                     const(n_points - 2, TensorProto.INT64)), const(0, TensorProto.INT64))
    j1 = op("Add", j, const(1, TensorProto.INT64))
    x_lo = op("Gather", xp_flat, op("Add", base, j))
    x_hi = op("Gather", xp_flat, op("Add", base, j1))
    f_lo = op("Gather", fp_flat, op("Add", base_fp, j))
    f_hi = op("Gather", fp_flat, op("Add", base_fp, j1))
    slope = op("Div", op("Sub", f_hi, f_lo), op("Sub", x_hi, x_lo))
    inside = op("Add", op("Mul", slope, op("Sub", x, x_lo)), f_lo)
    below = op("Equal", count, const(0, TensorProto.INT64))
    above = op("GreaterOrEqual", count, const(n_points, TensorProto.INT64))
    return op("Where", below, const(float(fp[0])),
              op("Where", above, const(float(fp[-1])), inside))


def _normal_quantile(op, const, p: str) -> str:
    """scipy.stats.norm.ppf of p after scikit-learn's clip (clipping p is clipping ppf(p): it
    rises), by Acklam's rational approximation."""
    edge = _BOUNDS - np.spacing(1)
    p = op("Max", op("Min", p, const(1.0 - edge)), const(edge))

    def polynomial(coefficients, t):
        acc = const(coefficients[0])
        for c in coefficients[1:]:
            acc = op("Add", op("Mul", acc, t), const(c))
        return acc

    q = op("Sub", p, const(0.5))
    r = op("Mul", q, q)
    central = op("Div", op("Mul", polynomial(_PPF_A, r), q), polynomial(_PPF_B, r))
    tail_p = op("Min", p, op("Sub", const(1.0), p))
    t = op("Sqrt", op("Mul", const(-2.0), op("Log", tail_p)))
    tail = op("Div", polynomial(_PPF_C, t), polynomial(_PPF_D, t))  # the lower tail's value
    in_low, in_high = op("Less", p, const(_PPF_LOW)), op("Greater", p, const(1.0 - _PPF_LOW))
    return op("Where", in_low, tail, op("Where", in_high, op("Neg", tail), central))


# ---- trees and boosted trees: float32 features, as scikit-learn and onnxmltools compare them -----
def _shape_to_float32(operator):
    _one_output(operator, FloatTensorType)


def _convert_to_float32(scope, operator, container):
    x = _concat(scope, container, [i.full_name for i in operator.inputs], "f32_in")
    _node(scope, container, "Cast", [x], [operator.outputs[0].full_name], to=TensorProto.FLOAT)


def _parse_as_float32(scope, model, inputs, custom_parsers=None):
    """scikit-learn's trees cast the features to float32 before comparing them with their
    thresholds, so the graph does too, and skl2onnx then stores each threshold as the largest
    float32 not above it: every comparison is the native one. (In float64 skl2onnx searches a
    threshold per node, minutes for a forest, and builds a node ONNX Runtime rejects.)"""
    if len(inputs) > 1 or not isinstance(inputs[0].type, FloatTensorType):
        op = scope.declare_local_operator("NnvsmlToFloat32")
        op.inputs = list(inputs)
        out = scope.declare_local_variable("as_float32", FloatTensorType([None, None]))
        op.outputs.append(out)
        inputs = [out]
    rest = {k: v for k, v in (custom_parsers or {}).items() if k is not type(model)}
    return _parse_sklearn(scope, model, inputs, custom_parsers=rest)


def _convert_tree_with_missing(scope, operator, container):
    """skl2onnx's tree converter, then where missing values go: scikit-learn's trees send NaN
    down the side each node learned (``missing_go_to_left``), skl2onnx's graph always right."""
    from skl2onnx._supported_operators import sklearn_operator_name_map

    model = operator.raw_operator
    before = len(container.nodes)
    get_converter(sklearn_operator_name_map[type(model)])(scope, operator, container)
    trees = [model.tree_] if hasattr(model, "tree_") else [e.tree_ for e in model.estimators_]
    for node in container.nodes[before:]:
        if node.op_type in ("TreeEnsembleClassifier", "TreeEnsembleRegressor"):
            _route_missing(node, trees)


def _route_missing(node, trees) -> None:
    from onnx import helper

    attrs = {a.name: a for a in node.attribute}
    tree_ids, node_ids = attrs["nodes_treeids"].ints, attrs["nodes_nodeids"].ints
    modes = attrs["nodes_modes"].strings
    tracks = [int(m != b"LEAF" and bool(trees[t].missing_go_to_left[n]))
              for t, n, m in zip(tree_ids, node_ids, modes)]
    if "nodes_missing_value_tracks_true" in attrs:
        node.attribute.remove(attrs["nodes_missing_value_tracks_true"])
    node.attribute.append(helper.make_attribute("nodes_missing_value_tracks_true", tracks))


class _DoubleTrees:
    """A container that writes the tree ensembles added to it with float64 thresholds and leaf
    values (the ML opset 3 ``*_as_tensor`` attributes) where the converter gave them as Python
    floats, which skl2onnx would store as float32."""

    _DOUBLE = ("nodes_values", "target_weights", "class_weights", "base_values")

    def __init__(self, container):
        self._container = container

    def __getattr__(self, name):
        return getattr(self._container, name)

    def add_node(self, op_type, inputs, outputs, op_domain="", op_version=None, **attrs):
        from onnx import numpy_helper

        if op_domain == "ai.onnx.ml" and op_type in ("TreeEnsembleClassifier",
                                                     "TreeEnsembleRegressor"):
            for key in self._DOUBLE:
                if attrs.get(key) is not None:
                    values = np.asarray(attrs.pop(key), dtype=np.float64)
                    attrs[f"{key}_as_tensor"] = numpy_helper.from_array(values, key)
            op_version = 3
        return self._container.add_node(op_type, inputs, outputs, op_domain=op_domain,
                                        op_version=op_version, **attrs)


def _convert_lightgbm_double(scope, operator, container):
    """onnxmltools' LightGBM converter, writing float64 thresholds and leaf values and taking
    float64 features: LightGBM compares float64 features with float64 thresholds and sums
    float64 leaves. With onnxmltools' float32 ones a regression differed by 2e-5 relative near
    zero, beyond parity's 1e-5; in float64 the only rounding left is the float32 output of
    ONNX Runtime's tree ensembles (1e-7 relative)."""
    from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm

    x = _concat(scope, container, [i.full_name for i in operator.inputs], "lgbm_in")
    if not isinstance(operator.inputs[0].type, DoubleTensorType) or x != operator.inputs[0].full_name:
        x = _out(scope, container, "Cast", [x], "lgbm_x64", to=TensorProto.DOUBLE)
    convert_lightgbm(scope, _Fed(operator, x), _DoubleTrees(container))


class _Fed:
    """An operator seen through another input tensor (here: its features cast to float64)."""

    def __init__(self, operator, input_name: str):
        self._operator, self.input_full_names = operator, [input_name]

    def __getattr__(self, name):
        return getattr(self._operator, name)


def _shape_lightgbm(operator):
    """As skl2onnx's linear model shapes, except that ONNX Runtime's tree ensembles answer in
    float32 whatever their input."""
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    if hasattr(operator.raw_operator, "classes_"):
        calculate_linear_classifier_output_shapes(operator)
        operator.outputs[1].type = FloatTensorType([None, len(operator.raw_operator.classes_)])
    else:
        calculate_linear_regressor_output_shapes(operator)
        operator.outputs[0].type = FloatTensorType([None, 1])


# ---- k nearest neighbours --------------------------------------------------------------------------
def _shape_knn(operator):
    model = operator.raw_operator
    if hasattr(model, "classes_"):
        integer = np.issubdtype(np.asarray(model.classes_).dtype, np.integer)
        operator.outputs[0].type = (Int64TensorType if integer else StringTensorType)([None])
        operator.outputs[1].type = DoubleTensorType([None, len(model.classes_)])
    else:
        operator.outputs[0].type = DoubleTensorType([None, 1])


def _convert_knn(scope, operator, container):
    """k nearest neighbours in float64. skl2onnx's converter negates the distances that TopK
    returns from opset 11 on, so its distance weights are all 1e6: its probabilities differed
    by 0.05 from scikit-learn's on 50 rows. Euclidean distances as scikit-learn's brute force
    computes them (|x|^2 - 2 x.y + |y|^2); a zero distance takes all the weight, as in
    scikit-learn."""
    model = operator.raw_operator
    if model.effective_metric_ != "euclidean" or callable(model.weights):
        raise Unsupported("k nearest neighbours with a metric or weights other than euclidean, "
                          "uniform or distance")
    c = lambda base, value, proto=TensorProto.DOUBLE: _const(scope, container, base, value, proto)  # noqa: E731
    n = lambda op, inputs, base, **attrs: _out(scope, container, op, inputs, base, **attrs)  # noqa: E731
    x = _concat(scope, container, [i.full_name for i in operator.inputs], "knn_in")
    if not isinstance(operator.inputs[0].type, DoubleTensorType):
        x = n("Cast", [x], "knn_x", to=TensorProto.DOUBLE)
    train = np.asarray(model._fit_X, dtype=np.float64)
    axis1 = c("axis1", np.array([1]), TensorProto.INT64)
    xx = n("ReduceSum", [n("Mul", [x, x], "xsq"), axis1], "xx", keepdims=1)
    xy = n("MatMul", [x, c("train_t", train.T)], "xy")
    d2 = n("Add", [n("Sub", [xx, n("Mul", [xy, c("two", np.array(2.0))], "xy2")], "d2a"),
                   c("yy", (train ** 2).sum(axis=1).reshape(1, -1))], "d2")
    dist = n("Sqrt", [n("Max", [d2, c("zero", np.array(0.0))], "d2pos")], "dist")
    k = c("k", np.array([model.n_neighbors]), TensorProto.INT64)
    top, index = _name(scope, "top"), _name(scope, "index")
    _node(scope, container, "TopK", [dist, k], [top, index], axis=1, largest=0, sorted=1)
    if model.weights == "distance":
        inv = n("Reciprocal", [top], "inv")
        inf = n("IsInf", [inv], "inf")
        inf_d = n("Cast", [inf], "inf_d", to=TensorProto.DOUBLE)
        row = n("Cast", [n("ReduceMax", [inf_d, axis1], "rowinf", keepdims=1)], "rowinf_b",
                to=TensorProto.BOOL)
        row = n("Expand", [row, n("Shape", [inv], "shape")], "rowinf_e")
        weights = n("Where", [row, inf_d, inv], "weights")
    else:
        weights = n("Add", [n("Mul", [top, c("zero_w", np.array(0.0))], "w0"),
                            c("one", np.array(1.0))], "weights")
    if hasattr(model, "classes_"):
        codes = n("Gather", [c("train_y", np.asarray(model._y, dtype=np.int64), TensorProto.INT64),
                             index], "codes", axis=0)
        axis2 = c("axis2", np.array([2]), TensorProto.INT64)
        # One-hot by comparison (ONNX Runtime has no float64 OneHot): [N, k, classes].
        every = c("every_class", np.arange(len(model.classes_)).reshape(1, 1, -1),
                  TensorProto.INT64)
        onehot = n("Cast", [n("Equal", [n("Unsqueeze", [codes, axis2], "codes3"), every],
                              "is_class")], "onehot", to=TensorProto.DOUBLE)
        weighted = n("Mul", [onehot, n("Unsqueeze", [weights, axis2], "w3")], "weighted")
        votes = n("ReduceSum", [weighted, axis1], "votes", keepdims=0)
        total = n("ReduceSum", [votes, axis1], "total", keepdims=1)
        _node(scope, container, "Div", [votes, total], [operator.outputs[1].full_name])
        best = n("ArgMax", [operator.outputs[1].full_name], "best", axis=1, keepdims=0)
        classes = np.asarray(model.classes_)
        if np.issubdtype(classes.dtype, np.integer):
            labels = c("classes", classes.astype(np.int64), TensorProto.INT64)
        else:
            labels = c("classes", classes.astype(str).astype(object), TensorProto.STRING)
        _node(scope, container, "Gather", [labels, best], [operator.outputs[0].full_name], axis=0)
        return
    y = np.asarray(model._y, dtype=np.float64)
    if y.ndim != 1:
        raise Unsupported("k nearest neighbours with several targets")
    values = n("Gather", [c("train_y", y), index], "values", axis=0)
    num = n("ReduceSum", [n("Mul", [values, weights], "wv"), axis1], "num", keepdims=1)
    den = n("ReduceSum", [weights, axis1], "den", keepdims=1)
    _node(scope, container, "Div", [num, den], [operator.outputs[0].full_name])


def _out(scope, container, op_type, inputs, base, **attrs) -> str:
    out = _name(scope, base)
    _node(scope, container, op_type, inputs, [out], **attrs)
    return out


# ---- SVR (per-call override) -----------------------------------------------------------------------
def _shape_svr(operator):
    operator.outputs[0].type = DoubleTensorType([None, 1])


def _convert_svr(scope, operator, container):
    """An RBF or linear SVR in float64: ONNX Runtime's SVMRegressor computes in float32 only.
    The RBF kernel from |x|^2 + |s|^2 - 2 x.s, as libsvm computes it."""
    model = operator.raw_operator
    if model.kernel not in ("rbf", "linear"):
        raise Unsupported(f"SVR with a {model.kernel} kernel")
    n = lambda op, inputs, base, **attrs: _out(scope, container, op, inputs, base, **attrs)  # noqa: E731
    c = lambda base, value, proto=TensorProto.DOUBLE: _const(scope, container, base, value, proto)  # noqa: E731
    x = _concat(scope, container, [i.full_name for i in operator.inputs], "svr_in")
    if not isinstance(operator.inputs[0].type, DoubleTensorType):
        x = n("Cast", [x], "svr_x", to=TensorProto.DOUBLE)
    sv = np.asarray(model.support_vectors_, dtype=np.float64)
    xs = n("MatMul", [x, c("sv_t", sv.T)], "xs")
    if model.kernel == "rbf":
        axis1 = c("axis1", np.array([1]), TensorProto.INT64)
        xx = n("ReduceSum", [n("Mul", [x, x], "xsq"), axis1], "xx", keepdims=1)
        d2 = n("Add", [n("Sub", [xx, n("Mul", [xs, c("two", np.array(2.0))], "xs2")], "d2a"),
                       c("ss", (sv ** 2).sum(axis=1).reshape(1, -1))], "d2")
        kernel = n("Exp", [n("Mul", [d2, c("neg_gamma", np.array(-float(model._gamma)))],
                             "gd2")], "kernel")
    else:
        kernel = xs
    dual = np.asarray(model.dual_coef_, dtype=np.float64).reshape(-1, 1)
    summed = n("MatMul", [kernel, c("dual", dual)], "svr_sum")
    _node(scope, container, "Add", [summed, c("svr_b", np.asarray(model.intercept_,
                                                                     dtype=np.float64))],
          [operator.outputs[0].full_name])


# ---- Pixels ------------------------------------------------------------------------------------------
def _shape_pixels(operator):
    operator.outputs[0].type = FloatTensorType([None, int(operator.raw_operator.n_features_out_)])


def _convert_pixels(scope, operator, container):
    """uint8 images (n, h, w, c) -> float32 (n, h*w*c) / 255, as Pixels computes them."""
    model = operator.raw_operator
    shape = _const(scope, container, "px_shape", np.array([-1, int(model.n_features_out_)]),
                   TensorProto.INT64)
    flat, as_float = _name(scope, "px_flat"), _name(scope, "px_float")
    _node(scope, container, "Reshape", [operator.inputs[0].full_name, shape], [flat])
    _node(scope, container, "Cast", [flat], [as_float], to=TensorProto.FLOAT)
    scale = _const(scope, container, "px_255", np.array([255.0], dtype=np.float32),
                   TensorProto.FLOAT)
    _node(scope, container, "Div", [as_float, scale], [operator.outputs[0].full_name])


# ---- TransformedTargetRegressor (per-call parser) --------------------------------------------------
def _parse_transformed_target(scope, model, inputs, custom_parsers=None):
    """The regressor, then the target transformer's inverse: a StandardScaler's, in float64."""
    from sklearn.preprocessing import StandardScaler

    if not isinstance(model.transformer_, StandardScaler) or model.func is not None:
        raise Unsupported("TransformedTargetRegressor with a target transform other than a "
                          "StandardScaler")
    inner = _parse_sklearn(scope, model.regressor_, inputs, custom_parsers=custom_parsers)
    op = scope.declare_local_operator("NnvsmlTargetInverse", model)
    op.inputs = [inner[0]]
    op.outputs.append(scope.declare_local_variable("variable", DoubleTensorType([None, 1])))
    return list(op.outputs)


def _shape_target_inverse(operator):
    operator.outputs[0].type = DoubleTensorType([None, 1])


def _convert_target_inverse(scope, operator, container):
    scaler = operator.raw_operator.transformer_
    y = operator.inputs[0].full_name
    if not isinstance(operator.inputs[0].type, DoubleTensorType):
        y = _out(scope, container, "Cast", [y], "y64", to=TensorProto.DOUBLE)
    shape = _const(scope, container, "y_shape", np.array([-1, 1]), TensorProto.INT64)
    y = _out(scope, container, "Reshape", [y, shape], "y_col")
    scale = np.asarray(scaler.scale_ if scaler.with_std else [1.0], dtype=np.float64)
    mean = np.asarray(scaler.mean_ if scaler.with_mean else [0.0], dtype=np.float64)
    scaled = _out(scope, container, "Mul", [y, _const(scope, container, "y_scale", scale)], "ys")
    _node(scope, container, "Add", [scaled, _const(scope, container, "y_mean", mean)],
          [operator.outputs[0].full_name])


# ---- delegating wrappers ---------------------------------------------------------------------------
def _parse_delegating(scope, model, inputs, custom_parsers=None):
    """TimeBounded / Subsampled / a Calibrated whose estimator has probabilities: the fitted
    inner estimator is the model."""
    inner = model.estimator_
    _forward_options(scope, model, inner)
    return _parse_sklearn(scope, inner, inputs, custom_parsers=custom_parsers)


def _parse_calibrated(scope, model, inputs, custom_parsers=None):
    inner = model.estimator_
    if not hasattr(inner, "predict_proba"):
        raise Unsupported("Calibrated without calibration (softmax of raw scores)")
    method = getattr(inner, "method", "sigmoid")
    if method not in ("sigmoid", "isotonic"):
        raise Unsupported(f"{method} calibration")
    return _parse_delegating(scope, model, inputs, custom_parsers)


def _forward_options(scope, outer, inner) -> None:
    options = (scope.options or {}).get(id(outer))
    if options and id(inner) not in scope.options:
        scope.add_options(id(inner), options)


def _never_shape(operator):  # the parser replaces the wrapper: no operator of its own
    raise RuntimeError("a delegating wrapper has no operator of its own")


def _never(scope, operator, container):
    raise RuntimeError("a delegating wrapper has no operator of its own")


# ---- registration ----------------------------------------------------------------------------------
_REGISTERED = False


def register() -> None:
    """Add nnvsml's steps (and LightGBM's models, through onnxmltools) to skl2onnx; once."""
    global _REGISTERED
    if _REGISTERED:
        return
    from nnvsml.data import TabularPreparer
    from nnvsml.models.preprocessing import CategoryCodes, CategoryDtype, PowerOfTwoScale
    from nnvsml.models.features.images import Pixels
    from nnvsml.models.time_bounded import Calibrated, Subsampled, TimeBounded
    from sklearn.impute import MissingIndicator

    update_registered_converter(TabularPreparer, "NnvsmlTabularPreparer", _same_type_outputs,
                                _convert_preparer, parser=_parse_preparer)
    update_registered_converter(PowerOfTwoScale, "NnvsmlPowerOfTwoScale", _shape_power_of_two,
                                _convert_power_of_two)
    update_registered_converter(CategoryCodes, "NnvsmlCategoryCodes", _shape_category_codes,
                                _convert_category_codes)
    update_registered_converter(CategoryDtype, "NnvsmlCategoryDtype", _shape_string_lookup,
                                _convert_string_lookup)
    update_registered_converter(Pixels, "NnvsmlPixels", _shape_pixels, _convert_pixels)
    update_registered_converter(MissingIndicator, "NnvsmlMissingIndicator",
                                _shape_missing_indicator, _convert_missing_indicator)
    for alias, shape, convert in (
            ("NnvsmlToFloat32", _shape_to_float32, _convert_to_float32),
            ("NnvsmlTargetInverse", _shape_target_inverse, _convert_target_inverse)):
        register_converter(alias, convert)
        register_shape_calculator(alias, shape)
    for cls in (TimeBounded, Subsampled):
        update_registered_converter(cls, f"Nnvsml{cls.__name__}", _never_shape, _never,
                                    parser=_parse_delegating)
    update_registered_converter(Calibrated, "NnvsmlCalibrated", _never_shape, _never,
                                parser=_parse_calibrated)
    _register_lightgbm()
    _REGISTERED = True


def _register_lightgbm() -> None:
    """LightGBM through onnxmltools, as skl2onnx's documentation shows."""
    from lightgbm import LGBMClassifier, LGBMRegressor
    from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    update_registered_converter(
        LGBMClassifier, "LightGbmLGBMClassifier", calculate_linear_classifier_output_shapes,
        convert_lightgbm, options={"nocl": [True, False], "zipmap": [True, False, "columns"]})
    update_registered_converter(
        LGBMRegressor, "LightGbmLGBMRegressor", calculate_linear_regressor_output_shapes,
        convert_lightgbm, options={"split": None})


def overrides() -> dict:
    """``convert_sklearn`` keyword arguments that replace skl2onnx's handling of some
    scikit-learn classes, for that call only: SimpleImputer, StandardScaler and
    QuantileTransformer (with its normal output) in float64,
    OrdinalEncoder on strings with "" as missing, k nearest neighbours (see :func:`_convert_knn`),
    scikit-learn's trees fed float32 with missing values routed as the native trees route them,
    LightGBM in float64."""
    from lightgbm import LGBMClassifier, LGBMRegressor
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        ExtraTreesRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
    from sklearn.preprocessing import (
        OrdinalEncoder,
        QuantileTransformer,
        StandardScaler,
        TargetEncoder,
    )
    from sklearn.svm import SVR
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    trees = (DecisionTreeClassifier, DecisionTreeRegressor, RandomForestClassifier,
             RandomForestRegressor, ExtraTreesClassifier, ExtraTreesRegressor)
    converters = {SimpleImputer: _convert_imputer, StandardScaler: _convert_scaler,
                  OrdinalEncoder: _convert_string_lookup, TargetEncoder: _convert_target_encoder,
                  KNeighborsClassifier: _convert_knn, KNeighborsRegressor: _convert_knn,
                  SVR: _convert_svr, QuantileTransformer: _convert_quantile,
                  **{cls: _convert_tree_with_missing for cls in trees}}
    shapes = {SimpleImputer: _shape_imputer, StandardScaler: _shape_scaler,
              OrdinalEncoder: _shape_string_lookup, TargetEncoder: _shape_target_encoder,
              KNeighborsClassifier: _shape_knn, KNeighborsRegressor: _shape_knn,
              SVR: _shape_svr, LGBMClassifier: _shape_lightgbm, LGBMRegressor: _shape_lightgbm,
              QuantileTransformer: _shape_quantile}
    converters.update({LGBMClassifier: _convert_lightgbm_double,
                       LGBMRegressor: _convert_lightgbm_double})
    parsers = {cls: _parse_as_float32 for cls in trees}
    parsers[TransformedTargetRegressor] = _parse_transformed_target
    return {"custom_conversion_functions": converters, "custom_shape_calculators": shapes,
            "custom_parsers": parsers}


__all__ = ["MISSING_STRING", "Unsupported", "overrides", "register", "BooleanTensorType",
           "FloatTensorType"]
