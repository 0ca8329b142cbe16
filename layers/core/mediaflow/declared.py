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
of the declared class: plain objects with the fields as attributes. So a process that only reads configs the
compiler validated (a worker) never imports pydantic, and one that validates gets exactly pydantic's behaviour.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar, dataclass_transform

_T = TypeVar("_T")
_D = TypeVar("_D", bound="Declared")
_SKIPPED = frozenset({"__dict__", "__weakref__", "__declared__", "__compiled__", "__slots__"})
# How a declared instance is made is the declared class's (e.g. settings read from the environment first); the
# pydantic model keeps pydantic's, and a zero-argument super() there would name the declared class.
_NOT_REPLAYED = frozenset({"__init__", "__classcell__"})
_UNSET: Any = object()


class FieldSpec:
    """What :func:`Field` was given, for ``pydantic.Field`` when the model is built."""

    __slots__ = ("args", "kwargs")

    def __init__(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.args = args
        self.kwargs = kwargs


def Field(default: Any = _UNSET, *, default_factory: Callable[[], Any] | None = None,  # noqa: N802 (pydantic's)
          **kwargs: Any) -> Any:
    """``pydantic.Field``, recorded: the same arguments reach pydantic when the model is built. A tuple as
    ``validation_alias`` stands for ``AliasChoices`` of its names."""
    if default is not _UNSET:
        kwargs["default"] = default
    if default_factory is not None:
        kwargs["default_factory"] = default_factory
    return FieldSpec((), kwargs)


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


class DeclaredMeta(type):
    """Keeps each declared class's body (``__declared__``) for the pydantic model built from it."""

    def __new__(mcs, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **kwargs: Any) -> DeclaredMeta:
        cls = super().__new__(mcs, name, bases, namespace, **kwargs)
        type.__setattr__(cls, "__declared__", {key: value for key, value in namespace.items() if key not in _SKIPPED})
        return cls

    @property
    def model_fields(cls) -> dict[str, Any]:
        fields: dict[str, Any] = cls.compiled().model_fields  # type: ignore[attr-defined]
        return fields


@dataclass_transform(kw_only_default=True, field_specifiers=(Field,))
class Declared(metaclass=DeclaredMeta):
    """Base of declared models; a subclass's direct base is the declared parent it extends."""

    __declared__: ClassVar[dict[str, Any]]
    __fields_set: set[str]

    @classmethod
    def pydantic_config(cls) -> dict[str, Any]:
        """The ``model_config`` of the root pydantic model (a subclass of the root returns pydantic's names)."""
        return {}

    @classmethod
    def compiled(cls) -> Any:
        """The pydantic model of this class, built from its body on first use."""
        model = cls.__dict__.get("__compiled__")
        if model is None:
            model = _build(cls)
            type.__setattr__(cls, "__compiled__", model)
        return model

    def __init__(self, **data: Any) -> None:
        self._take(self.compiled()(**data))

    @classmethod
    def model_validate(cls: type[_D], obj: Any, **kwargs: Any) -> _D:
        if isinstance(obj, cls):
            return obj
        made = cls.__new__(cls)
        made._take(cls.compiled().model_validate(obj, **kwargs))
        return made

    @classmethod
    def model_validate_json(cls: type[_D], data: str | bytes, **kwargs: Any) -> _D:
        made = cls.__new__(cls)
        made._take(cls.compiled().model_validate_json(data, **kwargs))
        return made

    @classmethod
    def model_json_schema(cls, **kwargs: Any) -> dict[str, Any]:
        schema: dict[str, Any] = cls.compiled().model_json_schema(**kwargs)
        return schema

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        """As a field of a pydantic model (or of another declared one): validated by this class's model, kept as an
        instance of this class, serialised as the model serialises it."""
        from pydantic_core import core_schema

        inner = handler.generate_schema(cls.compiled())

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
        model = self.compiled()
        values = {name: getattr(self, name) for name in model.model_fields}
        return model.model_construct(_fields_set=set(self.__fields_set), **values)

    def model_dump(self, **kwargs: Any) -> dict[str, Any]:
        dumped: dict[str, Any] = self.as_pydantic().model_dump(**kwargs)
        return dumped

    def model_copy(self: _D, *, update: dict[str, Any] | None = None, deep: bool = False) -> _D:
        made = type(self).__new__(type(self))
        made._take(self.as_pydantic().model_copy(update=update, deep=deep))
        return made

    @property
    def model_fields_set(self) -> set[str]:
        return set(self.__fields_set)

    def model_dump_json(self, **kwargs: Any) -> str:
        dumped: str = self.as_pydantic().model_dump_json(**kwargs)
        return dumped

    def __setattr__(self, name: str, value: Any) -> None:
        self.as_pydantic().__setattr__(name, value)  # what pydantic says (e.g. frozen) ...
        object.__setattr__(self, name, value)  # ... and the change where it allows one

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.compiled().model_fields)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash((type(self), self._values()))

    def __repr__(self) -> str:
        return repr(self.as_pydantic())


def _build(cls: type[Declared]) -> Any:
    """Replay ``cls``'s body through pydantic's model class, on the pydantic model of its declared parent."""
    import pydantic

    parent = next((base for base in cls.__bases__ if isinstance(base, DeclaredMeta)), None)
    if parent is None or parent is Declared:
        root: Any = pydantic.BaseModel
    else:
        root = parent.compiled()  # type: ignore[attr-defined]
    namespace: dict[str, Any] = {}
    for key, value in cls.__declared__.items():
        if key in _NOT_REPLAYED:
            continue
        if isinstance(value, FieldSpec):
            kwargs = dict(value.kwargs)
            if isinstance(kwargs.get("validation_alias"), tuple):
                kwargs["validation_alias"] = pydantic.AliasChoices(*kwargs["validation_alias"])
            value = pydantic.Field(*value.args, **kwargs)
        elif isinstance(value, _Validator):
            value = value.replay()
        namespace[key] = value
    if root is pydantic.BaseModel:
        namespace["model_config"] = pydantic.ConfigDict(**cls.pydantic_config())  # type: ignore[typeddict-item]
    module = sys.modules.get(cls.__module__)
    if module is not None:  # annotations are resolved in the declaring module, as for the class itself
        namespace.setdefault("__module__", cls.__module__)
    return type(root)(cls.__name__, (root,), namespace)
