"""A user's own data: ``inputs``/``labels`` arrays from ``.npy``/``.npz`` files, or from a factory function.

Both end in ``checked_rows``, which refuses what would otherwise fail later or silently mislead:
rows of inputs and labels that do not pair up, labels that are not the integers 0..K-1, inputs
that are not finite numbers. Files are loaded with ``allow_pickle=False``, so a data file can
never run code.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ibpipe.errors import InputError, MissingFileError

# The default root of dataset.name arrays and custom; every stage that loads the dataset depends on
# this folder in dvc.yaml, so editing a file in it reruns them.
OWN_DATA_ROOT = Path("data") / "own"
ARRAY_FILES = ("inputs.npy", "labels.npy")
ARCHIVE_FILE = "data.npz"
ARRAY_KEYS = ("inputs", "labels")


def read_arrays(root: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (rows, features...) float32 and labels (rows,) int64 from ``root``'s npy pair or its ``data.npz``."""
    root = Path(root)
    pair = [root / name for name in ARRAY_FILES]
    archive = root / ARCHIVE_FILE
    present = [path for path in pair if path.exists()]
    if present and archive.exists():
        raise InputError(
            f"{root.resolve()} holds both {', '.join(path.name for path in present)} and {ARCHIVE_FILE}: "
            "keep one of the two layouts so it is clear which data is trained on"
        )
    if archive.exists():
        with _loaded(archive) as loaded:
            missing = [key for key in ARRAY_KEYS if key not in loaded.files]
            if missing:
                raise InputError(
                    f"{archive}: has no array {' or '.join(map(repr, missing))} (it holds {', '.join(loaded.files) or 'nothing'}); "
                    "save it with np.savez(path, inputs=..., labels=...)"
                )
            inputs, labels = (_array(loaded, key, archive) for key in ARRAY_KEYS)
        return checked_rows(inputs, labels, str(archive))
    if len(present) < len(pair):
        missing = [path.name for path in pair if not path.exists()]
        raise MissingFileError(
            f"dataset.name arrays: {', '.join(missing)} missing in {root.resolve()}. Put inputs.npy (rows, features...) "
            f"and labels.npy (rows,) there with np.save, or one {ARCHIVE_FILE} with np.savez(path, inputs=..., labels=...), "
            "or point dataset.root at the folder that holds them"
        )
    inputs, labels = (_load_npy(path) for path in pair)
    return checked_rows(inputs, labels, f"{pair[0]} and {pair[1].name}")


def _loaded(path: Path) -> Any:
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise InputError(f"{path}: not a readable NumPy file ({error}); write it again with np.save / np.savez") from error


def _load_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise _object_error(path) from error
        raise InputError(f"{path}: not a readable NumPy file ({error}); write it again with np.save") from error
    except (OSError, EOFError) as error:
        raise InputError(f"{path}: not a readable NumPy file ({error}); write it again with np.save") from error


def _array(loaded: Any, key: str, path: Path) -> np.ndarray:
    try:
        return loaded[key]
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise _object_error(path, key) from error
        raise InputError(f"{path}: array {key!r} cannot be read ({error})") from error


def _object_error(path: Path, key: str = "") -> InputError:
    where = f"{path} ({key!r})" if key else str(path)
    return InputError(
        f"{where}: holds Python objects (a pickled, dtype=object array), which are not loaded because they can run code; "
        "save plain numeric arrays, e.g. np.asarray(values, dtype=np.float32)"
    )


def checked_rows(inputs: Any, labels: Any, source: str) -> tuple[np.ndarray, np.ndarray]:
    """``inputs`` as float32 and ``labels`` as int64, or an ``InputError`` saying what is wrong with them and the fix."""
    inputs, labels = np.asarray(inputs), np.asarray(labels)
    if inputs.dtype.kind not in "biuf" or labels.dtype.kind not in "biuf":
        kind = "inputs" if inputs.dtype.kind not in "biuf" else "labels"
        dtype = (inputs if kind == "inputs" else labels).dtype
        raise InputError(f"{source}: {kind} have dtype {dtype}, not numbers; save them as a numeric array")
    if inputs.ndim < 2 or inputs.size == 0:
        raise InputError(
            f"{source}: inputs have shape {inputs.shape}; they must be (rows, features...) with at least one row "
            "and one feature (a single feature per row: inputs[:, None])"
        )
    if labels.ndim != 1:
        raise InputError(f"{source}: labels have shape {labels.shape}; they must be one class per row, shape (rows,)")
    if len(inputs) != len(labels):
        raise InputError(f"{source}: {len(inputs)} rows of inputs but {len(labels)} labels; each row needs one label")
    if labels.dtype.kind not in "iu":
        raise InputError(
            f"{source}: labels have dtype {labels.dtype}, not integers; give class numbers 0..K-1 "
            "(e.g. np.unique(labels, return_inverse=True)[1])"
        )
    if labels.min() < 0:
        raise InputError(f"{source}: labels include {labels.min()}; classes must be numbered 0..K-1, none negative")
    classes, counts = np.unique(labels, return_counts=True)
    absent = sorted(set(range(int(classes[-1]) + 1)) - set(classes.tolist()))
    if absent:
        raise InputError(
            f"{source}: labels are not contiguous: no row has class {', '.join(map(str, absent[:10]))}"
            f"{' ...' if len(absent) > 10 else ''} of 0..{classes[-1]}, so the class count would be wrong; "
            "renumber them with np.unique(labels, return_inverse=True)[1]"
        )
    if len(classes) < 2:
        raise InputError(f"{source}: every row has class {classes[0]}; information about the label needs two classes or more")
    lonely = classes[counts < 2]
    if len(lonely):
        raise InputError(
            f"{source}: class {', '.join(map(str, lonely[:10]))} has a single row; the stratified train/test split "
            "needs two rows or more per class"
        )
    values = inputs.astype(np.float32)
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        raise InputError(
            f"{source}: {int(bad.sum())} input values are NaN or infinite (first in row {row}) "
            "or too large for float32; clean or drop those rows"
        )
    return values, labels.astype(np.int64)


def factory_rows(import_path: str, root: str | Path) -> tuple[np.ndarray, np.ndarray, dict | None]:
    """Rows from ``package.module:function()``, with the layout of inputs made of several tensors (else None).

    The function returns arrays or a torch ``Dataset`` (map-style) of items, in one of these structures,
    the batch structure the model's ``forward`` then receives (the labels are never passed to it):

    - ``(inputs, labels)``: ``forward(x)``;
    - ``(x1, x2, ..., labels)``, or ``((x1, x2, ...), labels)``: ``forward(x1, x2, ...)``;
    - ``{"a": xa, "b": xb, ..., "labels": labels}``, or ``({"a": xa, ...}, labels)``: ``forward(a=xa, b=xb)``
      (the labels' key is ``labels`` or ``label``).

    Several input tensors are stored side by side as one float32 row (``pack_inputs``) and cut back
    into that structure for the model. ``root`` comes first on the import path, so a module kept there
    beside the data is found and, being under data/own by default, is a dep of the stages that load it.
    """
    from ibpipe.nn.recording import _factory

    key = "dataset.factory"
    module_name, separator, function_name = import_path.partition(":")
    if not separator or not module_name or not function_name:
        raise InputError(f"{key} = {import_path!r}: dataset.name custom needs an import path 'package.module:function'")
    for folder in (os.getcwd(), str(Path(root).resolve())):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    function = _factory(import_path, module_name, function_name, key=key)
    try:
        made = function()
    except Exception as error:
        raise InputError(f"{key} = {import_path!r} raised {type(error).__name__}: {error}") from error
    source = f"{key} = {import_path!r}"
    if isinstance(made, dict) or (isinstance(made, tuple) and len(made) >= 2):
        inputs, labels = _split_labels(made, source, "it")
        packed, layout = pack_inputs(inputs, source)
        values, labels = checked_rows(packed, _numpy(labels), source)
        return values, labels, layout
    if hasattr(made, "__getitem__") and hasattr(made, "__len__") and not isinstance(made, np.ndarray | str):
        inputs, labels = _stacked(made, source)
        packed, layout = pack_inputs(inputs, source)
        values, labels = checked_rows(packed, labels, source)
        return values, labels, layout
    raise InputError(
        f"{source} returned {type(made).__name__}; it must return a torch Dataset of (input, label) items "
        "or a pair (inputs, labels) of arrays (or several inputs: (x1, x2, labels) or a dict with a 'labels' key)"
    )


LABEL_KEYS = ("labels", "label")


def _split_labels(made: Any, source: str, what: str) -> tuple[Any, Any]:
    """(inputs, labels) of a tuple whose last element is the labels, or of a dict holding them under ``labels``."""
    if isinstance(made, dict):
        keys = [key for key in LABEL_KEYS if key in made]
        if len(keys) != 1:
            raise InputError(
                f"{source}: {what} is a dict with keys {', '.join(map(repr, made))}; it needs exactly one of "
                f"{' or '.join(map(repr, LABEL_KEYS))} holding the labels (the other keys are the model's inputs)"
            )
        inputs = {name: value for name, value in made.items() if name != keys[0]}
        if not inputs:
            raise InputError(f"{source}: {what} is a dict holding only the labels; add the model's inputs under their names")
        return inputs, made[keys[0]]
    if len(made) == 2:
        return made[0], made[1]
    return tuple(made[:-1]), made[-1]


def pack_inputs(inputs: Any, source: str) -> tuple[np.ndarray, dict | None]:
    """One array (rows, ...) as it is and layout None; a tuple or dict of arrays as float32 rows side by side
    and the layout ``{"kind": "tuple" | "dict", "parts": [{"name", "shape", "dtype"}, ...]}`` that
    ``ibpipe.nn.recording.unpack_inputs`` cuts them back with."""
    if not isinstance(inputs, tuple | list | dict):
        return _numpy(inputs), None
    named = list(inputs.items()) if isinstance(inputs, dict) else list(enumerate(inputs))
    if not named:
        raise InputError(f"{source}: the inputs hold no array")
    arrays = [(name, _numpy(value)) for name, value in named]
    rows = {len(array) if array.ndim else 0 for _, array in arrays}
    if len(rows) != 1 or 0 in rows:
        shapes = ", ".join(f"{name!r}: {array.shape}" for name, array in arrays)
        raise InputError(f"{source}: the input tensors have different numbers of rows ({shapes}); each needs one per row")
    parts, columns = [], []
    for name, array in arrays:
        if array.dtype.kind not in "biuf":
            raise InputError(f"{source}: input {name!r} has dtype {array.dtype}, not numbers; pass numeric arrays")
        if array.dtype.kind in "iu" and array.size and np.abs(array).max() >= 2**24:
            raise InputError(
                f"{source}: input {name!r} holds integers beyond 2**24, which float32 rows cannot keep exactly; "
                "renumber them (e.g. np.unique(values, return_inverse=True)[1])"
            )
        dtype = "bool" if array.dtype.kind == "b" else "int64" if array.dtype.kind in "iu" else "float32"
        parts.append({"name": name, "shape": [int(size) for size in array.shape[1:]], "dtype": dtype})
        columns.append(array.reshape(len(array), -1).astype(np.float32))
    layout = {"kind": "dict" if isinstance(inputs, dict) else "tuple", "parts": parts}
    return np.concatenate(columns, axis=1), layout


def _numpy(value: Any) -> np.ndarray:
    """An array from a NumPy array, a torch tensor (detached, on the CPU) or a list."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _stacked(dataset: Any, source: str) -> tuple[Any, np.ndarray]:
    """Every item of a map-style dataset, stacked: (inputs, labels), inputs an array or a tuple / dict of arrays."""
    inputs, labels = [], []
    for index in range(len(dataset)):
        item = dataset[index]
        if not isinstance(item, tuple | list | dict) or (not isinstance(item, dict) and len(item) < 2):
            raise InputError(
                f"{source}: item {index} of the dataset is {type(item).__name__}, not an (input, label) pair, "
                "an (x1, x2, ..., label) tuple or a dict with a 'labels' key"
            )
        if index == 0:
            first_structure = _structure(item)
        elif _structure(item) != first_structure:
            raise InputError(
                f"{source}: item {index} of the dataset is {type(item).__name__}, not {first_structure} like item 0; "
                "every item needs the same structure"
            )
        one, label = _split_labels(item if isinstance(item, dict) else tuple(item), source, f"item {index}")
        inputs.append(one)
        labels.append(_numpy(label))
    if not inputs:
        raise InputError(f"{source}: the dataset is empty")
    stacked = np.stack(labels)
    labels_array = stacked[:, 0] if stacked.ndim == 2 and stacked.shape[1] == 1 else stacked
    first = inputs[0]
    if isinstance(first, dict):
        return {name: _stack([item[name] for item in inputs], source, name) for name in first}, labels_array
    if isinstance(first, tuple):
        return tuple(_stack([item[i] for item in inputs], source, i) for i in range(len(first))), labels_array
    return _stack(inputs, source, None), labels_array


def _structure(item: Any) -> str:
    """An item's batch structure in words, to compare items: "an (input, label) pair", "a dict with keys ..."."""
    if isinstance(item, dict):
        return f"a dict with keys {', '.join(map(repr, item))}"
    return "an (input, label) pair" if len(item) == 2 else f"an (x1, ..., x{len(item) - 1}, label) tuple"


def _stack(values: list, source: str, name: Any) -> np.ndarray:
    arrays = [_numpy(value) for value in values]
    shapes = {value.shape for value in arrays}
    if len(shapes) > 1:
        which = "inputs" if name is None else f"input {name!r}"
        raise InputError(f"{source}: items have {which} of different shapes {sorted(shapes)[:3]}; all rows need one shape")
    return np.stack(arrays)
