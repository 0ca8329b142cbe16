"""Models declared without importing pydantic: the class body is kept, and replayed through pydantic the first time
the model validates or describes itself (ADR 0010).

A declared model is written like a pydantic model, with :func:`Field`, :func:`field_validator` and
:func:`model_validator` from this module::

    class Config(NodeConfig):
        width: int | None = Field(default=None, ge=1)

        @model_validator(mode="after")
        def _needs_a_size(self) -> Config: ...

Defining it imports nothing. Constructing it (``Config(width=1)``), :meth:`Declared.model_validate`,
``model_json_schema()`` and ``model_fields`` build the pydantic model from the same class body on first use (the
same fields, validators, methods and config, so the same validation, errors and schema) and give back instances
of the declared class: plain objects with the fields as attributes.

What needs no validation needs no pydantic: :meth:`Declared.trusted` makes an instance from data that was
validated before (a compiled Task, a reference this process stored), and ``model_dump``, ``model_copy``, equality
and ``repr`` work on the fields directly, as pydantic's would (``tests/unit/test_declared.py`` holds them equal).
So a process that only reads what the compiler validated (a worker) never imports pydantic, and one that
validates gets exactly pydantic's behaviour.
"""

from __future__ import annotations

import copy
import math
import re
import sys
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import PurePath
from typing import Any, ClassVar, TypeVar, dataclass_transform

_T = TypeVar("_T")
_D = TypeVar("_D", bound="Declared")
_SKIPPED = frozenset({"__dict__", "__weakref__", "__slots__"})
# How a declared instance is made is the declared class's (e.g. settings read from the environment first); the
# pydantic model keeps pydantic's, and a zero-argument super() there would name the declared class.
_NOT_REPLAYED = frozenset({"__init__", "__classcell__"})
_UNSET: Any = object()
_DUMP_OPTIONS = frozenset({"mode", "by_alias", "exclude_none", "exclude_unset"})


def to_camel(snake: str) -> str:
    """``pydantic.alias_generators.to_camel`` without importing pydantic (a unit test holds the two equal)."""
    if re.match("^[a-z]+[A-Za-z0-9]*$", snake) and not re.search(r"\d[a-z]", snake):
        return snake
    pascal = re.sub("([0-9A-Za-z])_(?=[0-9A-Z])", lambda m: m.group(1), snake.title())
    return re.sub("(^_*[A-Z])", lambda m: m.group(1).lower(), pascal)


class FieldSpec:
    """What :func:`Field` was given, for ``pydantic.Field`` when the model is built."""

    __slots__ = ("kwargs",)

    def __init__(self, kwargs: dict[str, Any]) -> None:
        self.kwargs = kwargs


def Field(default: Any = _UNSET, *, default_factory: Callable[[], Any] | None = None,  # noqa: N802 (pydantic's)
          **kwargs: Any) -> Any:
    """``pydantic.Field``, recorded: the same arguments reach pydantic when the model is built. A tuple as
    ``validation_alias`` stands for ``AliasChoices`` of its names."""
    if default is not _UNSET:
        kwargs["default"] = default
    if default_factory is not None:
        kwargs["default_factory"] = default_factory
    return FieldSpec(kwargs)


class _Validator:
    __slots__ = ("args", "decorator", "function", "kwargs")

    def __init__(self, decorator: str, args: tuple[Any, ...], kwargs: dict[str, Any], function: Any) -> None:
        self.decorator, self.args, self.kwargs, self.function = decorator, args, kwargs, function

    def __call__(self, *args: Any, **kwargs: Any) -> Any:  # the function stays callable on the declared class
        return self.function(*args, **kwargs)

    def replay(self) -> Any:
        import pydantic

        return getattr(pydantic, self.decorator)(*self.args, **self.kwargs)(self.function)


def field_validator(*fields: str, **kwargs: Any) -> Callable[[_T], _T]:
    """``pydantic.field_validator``, recorded."""
    def record(function: _T) -> _T:
        return _Validator("field_validator", fields, kwargs, function)  # type: ignore[return-value]
    return record


def model_validator(**kwargs: Any) -> Callable[[_T], _T]:
    """``pydantic.model_validator``, recorded."""
    def record(function: _T) -> _T:
        return _Validator("model_validator", (), kwargs, function)  # type: ignore[return-value]
    return record


class _Unsupported(Exception):
    """A value or an option the light path does not handle: pydantic does it instead."""


class _Field:
    """One field as the light path sees it: its names, its default and how trusted data becomes its value."""

    __slots__ = ("alias", "convert", "default", "factory", "name")

    def __init__(self, name: str, alias: str, default: Any, factory: Callable[[], Any] | None,
                 convert: Callable[[Any], Any] | None) -> None:
        self.name, self.alias, self.default, self.factory, self.convert = name, alias, default, factory, convert

    def default_value(self) -> Any:
        if self.factory is not None:
            return self.factory()
        if self.default is _UNSET:
            raise _Unsupported(self.name)
        if isinstance(self.default, (list, dict, set)):
            return copy.deepcopy(self.default)  # pydantic copies a mutable default for each instance too
        return self.default


class DeclaredMeta(type):
    """Keeps each declared class's body (``__declared__``) for the pydantic model built from it."""

    def __new__(mcs, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **kwargs: Any) -> DeclaredMeta:
        cls = super().__new__(mcs, name, bases, namespace, **kwargs)
        type.__setattr__(cls, "__declared__", {key: value for key, value in namespace.items() if key not in _SKIPPED})
        return cls

    @property
    def model_fields(cls) -> dict[str, Any]:
        fields: dict[str, Any] = cls.pydantic_model().model_fields  # type: ignore[attr-defined]
        return fields


@dataclass_transform(kw_only_default=True, field_specifiers=(Field,))
class Declared(metaclass=DeclaredMeta):
    """Base of declared models; a subclass's direct base is the declared parent it extends."""

    __declared__: ClassVar[dict[str, Any]]
    __fields_set: set[str]

    @classmethod
    def pydantic_config(cls) -> dict[str, Any]:
        """The ``model_config`` of the root pydantic model. Kept free of pydantic's own objects (an alias generator
        is :func:`to_camel` from here), as the light path reads it too."""
        return {}

    @classmethod
    def pydantic_model(cls) -> Any:
        """The pydantic model of this class, built from its body on first use."""
        model = cls.__dict__.get("__pydantic_model__")
        if model is None:
            model = _build(cls)
            type.__setattr__(cls, "__pydantic_model__", model)
        return model

    def __init__(self, **data: Any) -> None:
        self._take(self.pydantic_model()(**data))

    @classmethod
    def trusted(cls: type[_D], data: Mapping[str, Any]) -> _D:
        """An instance of data validated before (by field name or alias; missing fields take their defaults),
        without validating it again; data the light path cannot place (a required field missing, a reference
        left out) is validated instead."""
        try:
            return cls._trusted(data)
        except _Unsupported:
            return cls.model_validate(dict(data))

    @classmethod
    def _trusted(cls: type[_D], data: Mapping[str, Any]) -> _D:
        made = cls.__new__(cls)
        given: set[str] = set()
        for field in _fields(cls):
            if field.alias in data:
                value = data[field.alias]
            elif field.name in data:
                value = data[field.name]
            else:
                object.__setattr__(made, field.name, field.default_value())
                continue
            given.add(field.name)
            object.__setattr__(made, field.name, value if field.convert is None else field.convert(value))
        object.__setattr__(made, "_Declared__fields_set", given)
        return made

    @classmethod
    def model_validate(cls: type[_D], obj: Any, **kwargs: Any) -> _D:
        if isinstance(obj, cls):
            return obj
        made = cls.__new__(cls)
        made._take(cls.pydantic_model().model_validate(obj, **kwargs))
        return made

    @classmethod
    def model_validate_json(cls: type[_D], data: str | bytes, **kwargs: Any) -> _D:
        made = cls.__new__(cls)
        made._take(cls.pydantic_model().model_validate_json(data, **kwargs))
        return made

    @classmethod
    def model_json_schema(cls, **kwargs: Any) -> dict[str, Any]:
        schema: dict[str, Any] = cls.pydantic_model().model_json_schema(**kwargs)
        return schema

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        """As a field of a pydantic model (or of another declared one): validated by this class's model, kept as an
        instance of this class, serialised as the model serialises it."""
        from pydantic_core import core_schema

        inner = handler.generate_schema(cls.pydantic_model())

        def validate(value: Any, validate_model: Any) -> Any:
            if isinstance(value, cls):
                return value
            made = cls.__new__(cls)
            made._take(validate_model(value))
            return made

        def serialise(value: Any, serialise_model: Any) -> Any:
            return serialise_model(value.as_pydantic() if isinstance(value, Declared) else value)

        return core_schema.no_info_wrap_validator_function(
            validate, inner, serialization=core_schema.wrap_serializer_function_ser_schema(serialise, schema=inner))

    def _take(self, model: Any) -> None:
        for name in type(model).model_fields:
            object.__setattr__(self, name, getattr(model, name))
        object.__setattr__(self, "_Declared__fields_set", set(model.model_fields_set))

    def as_pydantic(self) -> Any:
        """This instance as its pydantic model's, without validating again."""
        model = self.pydantic_model()
        values = {name: getattr(self, name) for name in model.model_fields}
        return model.model_construct(_fields_set=set(self.__fields_set), **values)

    @property
    def model_fields_set(self) -> set[str]:
        return set(self.__fields_set)

    def model_dump(self, **options: Any) -> dict[str, Any]:
        """As pydantic's ``model_dump``; ``mode``, ``by_alias``, ``exclude_none`` and ``exclude_unset`` without
        pydantic, any other option (or a value of another kind) through it."""
        if options.keys() <= _DUMP_OPTIONS and options.get("mode", "python") in ("python", "json"):
            try:
                return self._dump(options.get("mode", "python") == "json", bool(options.get("by_alias")),
                                  bool(options.get("exclude_none")), bool(options.get("exclude_unset")))
            except _Unsupported:
                pass
        dumped: dict[str, Any] = self.as_pydantic().model_dump(**options)
        return dumped

    def _dump(self, json: bool, by_alias: bool, exclude_none: bool, exclude_unset: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for field in _fields(type(self)):
            if exclude_unset and field.name not in self.__fields_set:
                continue
            value = getattr(self, field.name)
            if exclude_none and value is None:
                continue
            out[field.alias if by_alias else field.name] = _dumped(value, json, by_alias, exclude_none,
                                                                   exclude_unset)
        return out

    def model_dump_json(self, **kwargs: Any) -> str:
        dumped: str = self.as_pydantic().model_dump_json(**kwargs)
        return dumped

    def model_copy(self: _D, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> _D:
        """As pydantic's: the fields copied (deep with ``deep``), ``update`` set by field name, not validated."""
        names = _names(type(self))
        if update and not update.keys() <= names:
            made = type(self).__new__(type(self))
            made._take(self.as_pydantic().model_copy(update=dict(update), deep=deep))
            return made
        made = type(self).__new__(type(self))
        for name in names:
            value = getattr(self, name)
            object.__setattr__(made, name, copy.deepcopy(value) if deep else value)
        for name, value in (update or {}).items():
            object.__setattr__(made, name, value)
        object.__setattr__(made, "_Declared__fields_set", self.__fields_set | set(update or ()))
        return made

    def __setattr__(self, name: str, value: Any) -> None:
        if self.pydantic_config().get("frozen") or name not in _names(type(self)):
            self.as_pydantic().__setattr__(name, value)  # what pydantic says (frozen, unknown field) ...
        object.__setattr__(self, name, value)  # ... and the change where it allows one
        self.__fields_set.add(name)

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, field.name) for field in _fields(type(self)))

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash((type(self), self._values()))

    def __repr__(self) -> str:
        shown = ", ".join(f"{field.name}={getattr(self, field.name)!r}" for field in _fields(type(self)))
        return f"{type(self).__name__}({shown})"


def _dumped(value: Any, json: bool, by_alias: bool, exclude_none: bool, exclude_unset: bool) -> Any:
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        if json and not math.isfinite(value):
            raise _Unsupported("float")  # pydantic writes inf and nan as null in JSON mode
        return value
    if isinstance(value, Declared):
        return value._dump(json, by_alias, exclude_none, exclude_unset)
    if isinstance(value, dict):
        return {key: _dumped(item, json, by_alias, exclude_none, exclude_unset) for key, item in value.items()}
    if isinstance(value, list):
        return [_dumped(item, json, by_alias, exclude_none, exclude_unset) for item in value]
    if isinstance(value, tuple):
        items = [_dumped(item, json, by_alias, exclude_none, exclude_unset) for item in value]
        return items if json else tuple(items)
    if isinstance(value, PurePath):
        return str(value) if json else value
    raise _Unsupported(type(value).__name__)


class Declaration:
    """One field as its class body declares it: for readers of raw input that want pydantic's answer without
    pydantic where the input is plain (the settings read from the environment)."""

    __slots__ = ("after", "hint", "name", "options")

    def __init__(self, name: str, hint: Any, options: dict[str, Any], after: list[Callable[[Any], Any]]) -> None:
        self.name, self.hint, self.options, self.after = name, hint, options, after


def declarations(cls: type[Declared]) -> list[Declaration]:
    """Each field of ``cls``: its evaluated type (``_UNKNOWN`` when it names a type imported for type checkers
    only), what ``Field`` was given, and its ``mode="after"`` field validators as plain functions of the value.
    Read from the class bodies once a class."""
    kept: list[Declaration] | None = cls.__dict__.get("__declarations__")
    if kept is not None:
        return kept
    found: dict[str, Declaration] = {}
    for klass in reversed(cls.__mro__):
        if not isinstance(klass, DeclaredMeta) or klass is Declared:
            continue
        body: dict[str, Any] = klass.__declared__  # type: ignore[attr-defined]
        module = sys.modules.get(klass.__module__)
        for name, annotation in body.get("__annotations__", {}).items():
            if name.startswith("_") or "ClassVar" in str(annotation):
                continue
            given = body.get(name, _UNSET)
            options = dict(given.kwargs) if isinstance(given, FieldSpec) else {"default": given}
            found[name] = Declaration(name, _evaluated(annotation, module), options, [])
        for value in body.values():
            if isinstance(value, _Validator) and value.decorator == "field_validator" \
                    and value.kwargs.get("mode", "after") == "after":
                check = value.function.__get__(None, cls) if isinstance(value.function, classmethod) else value.function
                for name in value.args:
                    if name in found:
                        found[name].after.append(check)
    kept = list(found.values())
    type.__setattr__(cls, "__declarations__", kept)
    return kept


def _fields(cls: type[Declared]) -> list[_Field]:
    """The fields of ``cls`` as the light path reads them, in pydantic's order (a parent's first)."""
    plan: list[_Field] | None = cls.__dict__.get("__plan__")
    if plan is not None:
        return plan
    alias_of = cls.pydantic_config().get("alias_generator") or (lambda name: name)
    plan = []
    for declared in declarations(cls):
        default = declared.options.get("default", _UNSET)
        # A type named for type checkers only is pydantic's to know: such a field's data is validated.
        convert = _raise_unsupported if declared.hint is _UNKNOWN else _convert_to(declared.hint)
        plan.append(_Field(declared.name, declared.options.get("alias") or alias_of(declared.name),
                           _UNSET if default is Ellipsis else default, declared.options.get("default_factory"),
                           convert))
    type.__setattr__(cls, "__plan__", plan)
    type.__setattr__(cls, "__names__", frozenset(field.name for field in plan))
    return plan


def _names(cls: type[Declared]) -> frozenset[str]:
    names: frozenset[str] | None = cls.__dict__.get("__names__")
    if names is None:
        _fields(cls)
        names = cls.__dict__["__names__"]
    return names


_UNKNOWN: Any = object()


def _evaluated(annotation: Any, module: types.ModuleType | None) -> Any:
    """The type a (string) annotation names in its module; ``_UNKNOWN`` for a name imported for type checkers only."""
    if not isinstance(annotation, str):
        return annotation
    try:
        return eval(annotation, vars(module)) if module is not None else _UNKNOWN
    except Exception:
        return _UNKNOWN


_PLAIN = (str, int, bool, type(None))


def _convert_to(hint: Any) -> Callable[[Any], Any] | None:
    """How trusted data becomes the value of a field of this type: None where the data is the value (text,
    numbers, literals, plain containers of them), a conversion for declared models, paths and floats, and one
    that sends the data to validation for any other type (a pydantic model, an enum), as only pydantic builds it."""
    if hint is Any or hint in _PLAIN:
        return None
    if hint is float:
        return lambda value: float(value) if type(value) is int else value  # as pydantic turns 1 into 1.0
    if isinstance(hint, type) and issubclass(hint, PurePath):
        return lambda value: hint(value) if isinstance(value, str) else value
    if isinstance(hint, type) and issubclass(hint, Declared):
        def declared(value: Any) -> Any:
            if isinstance(value, hint):
                return value
            if not isinstance(value, Mapping):
                raise _Unsupported(hint.__name__)  # e.g. None where a before-validator makes one
            return hint._trusted(value)
        return declared
    origin, arguments = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Literal:
        return None
    if origin in (types.UnionType, typing.Union):
        choices = [argument for argument in arguments if argument is not type(None)]
        converts = [_convert_to(argument) for argument in choices]
        if all(convert is None for convert in converts):
            return None
        if len(choices) == 1 and converts[0] is not None:
            one = converts[0]
            return lambda value: None if value is None else one(value)
        return _raise_unsupported
    if origin is list and len(arguments) == 1:
        item = _convert_to(arguments[0])
        return None if item is None else lambda value: [item(one) for one in value]
    if origin is dict and len(arguments) == 2 and arguments[0] is str:
        entry = _convert_to(arguments[1])
        return None if entry is None else lambda value: {key: entry(one) for key, one in value.items()}
    return _raise_unsupported


def _raise_unsupported(value: Any) -> Any:
    raise _Unsupported(type(value).__name__)


def _build(cls: type[Declared]) -> Any:
    """Replay ``cls``'s body through pydantic's model class, on the pydantic model of its declared parent."""
    import pydantic

    parent = next((base for base in cls.__bases__ if isinstance(base, DeclaredMeta)), None)
    if parent is None or parent is Declared:
        root: Any = pydantic.BaseModel
    else:
        root = parent.pydantic_model()  # type: ignore[attr-defined]
    namespace: dict[str, Any] = {}
    for key, value in cls.__declared__.items():
        if key in _NOT_REPLAYED:
            continue
        if isinstance(value, FieldSpec):
            kwargs = dict(value.kwargs)
            if isinstance(kwargs.get("validation_alias"), tuple):
                kwargs["validation_alias"] = pydantic.AliasChoices(*kwargs["validation_alias"])
            value = pydantic.Field(**kwargs)
        elif isinstance(value, _Validator):
            value = value.replay()
        namespace[key] = value
    if root is pydantic.BaseModel:
        namespace["model_config"] = pydantic.ConfigDict(**cls.pydantic_config())  # type: ignore[typeddict-item]
    namespace.setdefault("__module__", cls.__module__)
    return type(root)(cls.__name__, (root,), namespace)
