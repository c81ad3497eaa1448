import param
from param.parameterized import _InstancePrivate


class _Declaration:
    def __init__(self, units=None, default=None, doc=""):
        self.default, self.doc, self.units = default, doc, units
        self.set_hook = param.identity_hook


class SNumber(_Declaration):
    pass


class SInteger(_Declaration):
    pass


class SString(_Declaration):
    pass


class SParameterSet(_Declaration):
    pass


class MozaikParametrized:
    # param 1.x keeps values as _<name>_param_value, param 2.x in _param__private
    param2 = False

    def __init__(self, **params):
        decl = {}
        for klass in reversed(type(self).__mro__):
            decl.update({k: v for k, v in vars(klass).items()
                         if isinstance(v, _Declaration)})
        values = {k: params.pop(k, d.default) for k, d in decl.items()}
        assert not params, params
        values["name"] = type(self).__name__
        if self.param2:
            self._param__private = _InstancePrivate(values)
        else:
            for k, v in values.items():
                self.__dict__[f"_{k}_param_value"] = v
            self.cached_get_param_values = sorted(values.items())
        self.module_path = type(self).__module__
        self.expanded_paramset_params_dict = decl

    def _values(self):
        private = self.__dict__.get("_param__private")
        if private is not None:
            return dict(private.values)
        return {k[1:-12]: v for k, v in self.__dict__.items()
                if k.endswith("_param_value")}

    def __getattr__(self, name):
        values = self._values()
        if name in values:
            return values[name]
        raise AttributeError(name)

    def __str__(self):
        items = sorted(self._values().items())
        pairs = ", ".join(f'"{k}":{v!r}' for k, v in items)
        return '{"module_path" :"' + self.module_path + '",' + pairs + "}"
